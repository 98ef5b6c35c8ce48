//! A small parser and evaluator for Okta `search` / `filter` expressions.
//!
//! Grammar (`and` binds tighter than `or`, as in SCIM):
//! `expr := and ("or" and)*`, `and := atom ("and" atom)*`,
//! `atom := "(" expr ")" | attr "pr" | attr op literal`, `op := eq|ne|gt|ge|lt|le|sw|co`.
//! Attributes are checked against what the resource supports; anything else is rejected
//! (the server answers 400 `E0000031`).

use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '"' => {
                chars.next();
                let mut lit = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => lit.push(e),
                            None => return Err("bad escape".into()),
                        },
                        Some(c) => lit.push(c),
                    }
                }
                out.push(Tok::Str(lit));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Tok::Word(word));
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Sw,
    Co,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Time(i64),
    Bool(bool),
    Num(f64),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Present(String),
    Cmp(String, Op, Literal),
}

/// How an attribute of a resource is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    Str,
    Time,
    /// Any JSON (custom profile attributes).
    Any,
}

/// A value of an attribute on one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Time(i64),
    Json(serde_json::Value),
    Missing,
}

pub trait Resource {
    /// The kind of a supported attribute; `None` = not searchable.
    fn kind(attr: &str) -> Option<AttrKind>;
    fn get(&self, attr: &str) -> AttrValue;
}

pub fn parse<R: Resource>(input: &str) -> Result<Expr, String> {
    let toks = tokenize(input)?;
    let mut p = Parser::<R> {
        toks,
        pos: 0,
        _r: std::marker::PhantomData,
    };
    let e = p.expr()?;
    if p.pos != p.toks.len() {
        return Err("trailing tokens".into());
    }
    Ok(e)
}

struct Parser<R> {
    toks: Vec<Tok>,
    pos: usize,
    _r: std::marker::PhantomData<R>,
}

impl<R: Resource> Parser<R> {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.joined("or", Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, String> {
        self.joined("and", Self::atom, Expr::And)
    }

    /// `operand (keyword operand)*`: a lone operand as it is, several joined by `join`.
    fn joined(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Expr, String>,
        join: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, String> {
        let mut parts = vec![operand(self)?];
        while self.peek_word(keyword) {
            self.pos += 1;
            parts.push(operand(self)?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            join(parts)
        })
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let tok = self.toks.get(self.pos).cloned().ok_or("unexpected end")?;
        self.pos += 1;
        let attr = match tok {
            Tok::Open => {
                let e = self.expr()?;
                if self.toks.get(self.pos) != Some(&Tok::Close) {
                    return Err("missing )".into());
                }
                self.pos += 1;
                return Ok(e);
            }
            Tok::Word(w) => w,
            other => return Err(format!("unexpected {other:?}")),
        };
        let kind = R::kind(&attr).ok_or_else(|| format!("unsupported attribute {attr}"))?;
        let op = match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            _ => return Err("missing operator".into()),
        };
        self.pos += 1;
        let op = match op.as_str() {
            "pr" => return Ok(Expr::Present(attr)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "sw" => Op::Sw,
            "co" => Op::Co,
            other => return Err(format!("unsupported operator {other}")),
        };
        let lit = match self.toks.get(self.pos).cloned() {
            Some(Tok::Str(s)) => match kind {
                AttrKind::Time => {
                    let t: Timestamp = s.parse().map_err(|_| format!("bad timestamp {s}"))?;
                    Literal::Time(t.as_millisecond())
                }
                _ => Literal::Str(s),
            },
            Some(Tok::Word(w)) if kind == AttrKind::Any => match w.as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                n => Literal::Num(n.parse().map_err(|_| format!("bad literal {n}"))?),
            },
            _ => return Err("missing value".into()),
        };
        self.pos += 1;
        match (kind, op) {
            (AttrKind::Time, Op::Sw | Op::Co) => return Err("bad operator for a date".into()),
            (AttrKind::Str, Op::Gt | Op::Ge | Op::Lt | Op::Le) => {
                return Err("bad operator for a string".into())
            }
            _ => {}
        }
        Ok(Expr::Cmp(attr, op, lit))
    }
}

pub fn eval<R: Resource>(e: &Expr, r: &R) -> bool {
    match e {
        Expr::Or(parts) => parts.iter().any(|p| eval(p, r)),
        Expr::And(parts) => parts.iter().all(|p| eval(p, r)),
        Expr::Present(attr) => !matches!(
            r.get(attr),
            AttrValue::Missing | AttrValue::Json(serde_json::Value::Null)
        ),
        Expr::Cmp(attr, op, lit) => {
            let v = r.get(attr);
            match (v, lit) {
                (AttrValue::Time(a), Literal::Time(b)) => cmp_ord(*op, a.cmp(b)),
                (AttrValue::Str(a), Literal::Str(b)) => cmp_str(*op, &a, b),
                (AttrValue::Json(serde_json::Value::String(a)), Literal::Str(b)) => {
                    cmp_str(*op, &a, b)
                }
                (AttrValue::Json(serde_json::Value::Bool(a)), Literal::Bool(b)) => {
                    cmp_ord(*op, a.cmp(b))
                }
                (AttrValue::Json(serde_json::Value::Number(a)), Literal::Num(b)) => a
                    .as_f64()
                    .and_then(|a| a.partial_cmp(b))
                    .is_some_and(|o| cmp_ord(*op, o)),
                (AttrValue::Json(serde_json::Value::Null) | AttrValue::Missing, Literal::Null) => {
                    *op == Op::Eq
                }
                _ => *op == Op::Ne,
            }
        }
    }
}

fn cmp_ord(op: Op, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => o == Equal,
        Op::Ne => o != Equal,
        Op::Gt => o == Greater,
        Op::Ge => o != Less,
        Op::Lt => o == Less,
        Op::Le => o != Greater,
        Op::Sw | Op::Co => false,
    }
}

fn cmp_str(op: Op, a: &str, b: &str) -> bool {
    match op {
        Op::Sw => a.to_lowercase().starts_with(&b.to_lowercase()),
        Op::Co => a.to_lowercase().contains(&b.to_lowercase()),
        // Okta compares case-insensitively for most string attributes.
        _ => cmp_ord(op, a.to_lowercase().cmp(&b.to_lowercase())),
    }
}

/// Does the expression look at `profile.*` (so the evaluator must parse profiles)?
pub fn uses_profile(e: &Expr) -> bool {
    match e {
        Expr::Or(p) | Expr::And(p) => p.iter().any(uses_profile),
        Expr::Present(a) | Expr::Cmp(a, _, _) => a.starts_with("profile."),
    }
}
