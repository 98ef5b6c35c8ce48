//! The kinds of value a configuration key holds, and how each is read from text (environment,
//! flags) and from JSON (config files, which are TOML or JSON, and the Sekoia runtime files).
//!
//! No parse error quotes the value it refused: a secret typed into the wrong key (a token in
//! `FREQUENCY`, an API key in a number field) must never reach a log line. Errors say what was
//! expected instead.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::url::redact_url_text;

/// A value as a source gave it, with an optional note worth a warning (e.g. a prefix removed).
pub type Parsed<T> = Result<(T, Option<&'static str>), String>;

/// One kind of configuration value: its Rust type and how it is read and shown.
pub trait Kind {
    type Value;
    /// Secrets have no flag and are shown only as `set` or `unset`.
    const SECRET: bool = false;

    /// Reads the text of an environment variable or a flag (already known not to be blank).
    fn from_text(text: &str) -> Parsed<Self::Value>;

    /// Reads a JSON value. `lenient` (the Sekoia runtime files) also takes numbers and
    /// booleans written as strings, as the platform's own SDK (pydantic, lax mode) does.
    fn from_json(value: &Value, lenient: bool) -> Parsed<Self::Value> {
        let _ = lenient;
        match value {
            Value::String(text) => Self::from_text(text),
            _ => Err("expected a string".into()),
        }
    }

    /// The value as `okta-asset-connector config` prints it (never called for secrets).
    fn show(value: &Self::Value) -> String;
}

/// Free text (a client ID, a choice such as `sekoia` or `ocsf`), surrounding spaces trimmed.
pub struct Text;
impl Kind for Text {
    type Value = String;
    fn from_text(text: &str) -> Parsed<String> {
        Ok((text.trim().to_string(), None))
    }
    fn show(value: &String) -> String {
        value.clone()
    }
}

/// A URL: stored as written (validated later), shown without credentials or query.
pub struct UrlText;
impl Kind for UrlText {
    type Value = String;
    fn from_text(text: &str) -> Parsed<String> {
        Text::from_text(text)
    }
    fn show(value: &String) -> String {
        redact_url_text(value)
    }
}

/// A filesystem path.
pub struct PathValue;
impl Kind for PathValue {
    type Value = PathBuf;
    fn from_text(text: &str) -> Parsed<PathBuf> {
        Ok((PathBuf::from(text.trim()), None))
    }
    fn show(value: &PathBuf) -> String {
        value.display().to_string()
    }
}

/// Reads an unsigned integer from JSON: a number, or (lenient) a string holding one.
fn json_integer(value: &Value, lenient: bool, expected: &'static str) -> Result<u64, String> {
    match value {
        Value::Number(number) => number.as_u64().ok_or_else(|| expected.to_string()),
        Value::String(text) if lenient => text.trim().parse().map_err(|_| expected.to_string()),
        _ => Err(expected.to_string()),
    }
}

/// A whole number of seconds.
pub struct Seconds;
const SECONDS_EXPECTED: &str = "expected a whole number of seconds, e.g. 1200";
impl Kind for Seconds {
    type Value = u64;
    fn from_text(text: &str) -> Parsed<u64> {
        let value = text
            .trim()
            .parse()
            .map_err(|_| SECONDS_EXPECTED.to_string())?;
        Ok((value, None))
    }
    fn from_json(value: &Value, lenient: bool) -> Parsed<u64> {
        Ok((json_integer(value, lenient, SECONDS_EXPECTED)?, None))
    }
    fn show(value: &u64) -> String {
        value.to_string()
    }
}

/// A count (events per batch, requests in flight).
pub struct Count;
const COUNT_EXPECTED: &str = "expected a whole number, e.g. 100";
impl Kind for Count {
    type Value = usize;
    fn from_text(text: &str) -> Parsed<usize> {
        let value = text
            .trim()
            .parse()
            .map_err(|_| COUNT_EXPECTED.to_string())?;
        Ok((value, None))
    }
    fn from_json(value: &Value, lenient: bool) -> Parsed<usize> {
        let number = json_integer(value, lenient, COUNT_EXPECTED)?;
        let value = usize::try_from(number).map_err(|_| COUNT_EXPECTED.to_string())?;
        Ok((value, None))
    }
    fn show(value: &usize) -> String {
        value.to_string()
    }
}

/// A decimal number (a fraction of a rate-limit bucket).
pub struct Number;
const NUMBER_EXPECTED: &str = "expected a decimal number, e.g. 0.5";
impl Kind for Number {
    type Value = f64;
    fn from_text(text: &str) -> Parsed<f64> {
        let value = text
            .trim()
            .parse()
            .map_err(|_| NUMBER_EXPECTED.to_string())?;
        Ok((value, None))
    }
    fn from_json(value: &Value, lenient: bool) -> Parsed<f64> {
        match value {
            Value::Number(number) => number
                .as_f64()
                .map(|value| (value, None))
                .ok_or_else(|| NUMBER_EXPECTED.to_string()),
            Value::String(text) if lenient => Self::from_text(text),
            _ => Err(NUMBER_EXPECTED.into()),
        }
    }
    fn show(value: &f64) -> String {
        value.to_string()
    }
}

/// A boolean: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off` in text (any case).
pub struct Bool;
const BOOL_EXPECTED: &str = "expected true or false";
impl Kind for Bool {
    type Value = bool;
    fn from_text(text: &str) -> Parsed<bool> {
        match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok((true, None)),
            "0" | "false" | "no" | "off" => Ok((false, None)),
            _ => Err(BOOL_EXPECTED.into()),
        }
    }
    fn from_json(value: &Value, lenient: bool) -> Parsed<bool> {
        match value {
            Value::Bool(value) => Ok((*value, None)),
            Value::String(text) if lenient => Self::from_text(text),
            _ => Err(BOOL_EXPECTED.into()),
        }
    }
    fn show(value: &bool) -> String {
        value.to_string()
    }
}

/// `dpop` as written: `"auto"`, `"true"`, `true`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopSetting {
    Bool(bool),
    Text(String),
}

/// `dpop`: a boolean in a file, or text (`auto`, `true`, `false`).
pub struct Dpop;
impl Kind for Dpop {
    type Value = DpopSetting;
    fn from_text(text: &str) -> Parsed<DpopSetting> {
        Ok((DpopSetting::Text(text.trim().to_string()), None))
    }
    fn from_json(value: &Value, _lenient: bool) -> Parsed<DpopSetting> {
        match value {
            Value::Bool(value) => Ok((DpopSetting::Bool(*value), None)),
            Value::String(text) => Self::from_text(text),
            _ => Err("expected \"auto\", true or false".into()),
        }
    }
    fn show(value: &DpopSetting) -> String {
        match value {
            DpopSetting::Bool(value) => value.to_string(),
            DpopSetting::Text(text) => text.clone(),
        }
    }
}

/// A secret kept as written (the OAuth private key: PEM spans lines).
pub struct Secret;
impl Kind for Secret {
    type Value = SecretString;
    const SECRET: bool = true;
    fn from_text(text: &str) -> Parsed<SecretString> {
        Ok((SecretString::from(text.to_string()), None))
    }
    fn show(_: &SecretString) -> String {
        "set".into()
    }
}

/// The Okta API token: sent as `Authorization: SSWS <token>`.
pub struct OktaToken;
impl Kind for OktaToken {
    type Value = SecretString;
    const SECRET: bool = true;
    fn from_text(text: &str) -> Parsed<SecretString> {
        header_secret(text, "SSWS", "the Okta API token")
    }
    fn show(_: &SecretString) -> String {
        "set".into()
    }
}

/// The intake API key: sent as `Authorization: Bearer <key>`.
pub struct IntakeKey;
impl Kind for IntakeKey {
    type Value = SecretString;
    const SECRET: bool = true;
    fn from_text(text: &str) -> Parsed<SecretString> {
        header_secret(text, "Bearer", "the intake API key")
    }
    fn show(_: &SecretString) -> String {
        "set".into()
    }
}

/// The hygiene of a pasted token or key, which goes after `scheme ` in an `Authorization`
/// header: surrounding whitespace is trimmed (a trailing newline from `$(cat file)` or a
/// mounted secret is common and harmless); a pasted `scheme ` prefix is removed with a
/// warning; quotes, inner whitespace, line breaks and other characters no token has are
/// refused with the fix, because sending them would only earn an "invalid token" answer that
/// points the user at the wrong cause.
fn header_secret(text: &str, scheme: &str, what: &str) -> Parsed<SecretString> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("{what} is empty"));
    }
    let (token, note) = match strip_scheme(trimmed, scheme) {
        Some(rest) => (rest, Some(prefix_note(scheme))),
        None => (trimmed, None),
    };
    if let Some(problem) = token_problem(token) {
        return Err(format!("{what} {problem}"));
    }
    Ok((SecretString::from(token.to_string()), note))
}

/// The text after `scheme` and whitespace, when `text` starts with it (any case).
fn strip_scheme<'a>(text: &'a str, scheme: &str) -> Option<&'a str> {
    let head = text.get(..scheme.len())?;
    let rest = &text[scheme.len()..];
    let after = rest.trim_start();
    (head.eq_ignore_ascii_case(scheme) && after.len() < rest.len() && !after.is_empty())
        .then_some(after)
}

fn prefix_note(scheme: &str) -> &'static str {
    match scheme {
        "SSWS" => "it started with \"SSWS \", which was removed (the connector adds it itself); set the token alone",
        _ => "it started with \"Bearer \", which was removed (the connector adds it itself); set the key alone",
    }
}

/// What makes `token` unusable, as the end of a sentence with its fix.
fn token_problem(token: &str) -> Option<&'static str> {
    let quoted = |q: char| token.len() >= 2 && token.starts_with(q) && token.ends_with(q);
    if quoted('"') || quoted('\'') {
        return Some("is wrapped in quotes, which would be sent as part of it; remove them (quotes around a value in a shell command are fine, but a .env file, `docker --env-file`, a Kubernetes Secret or a TOML string takes the value alone)");
    }
    if token.contains(['"', '\'']) {
        return Some(
            "contains a quote character, which no token has; copy it again without quotes",
        );
    }
    if token.contains(['\n', '\r']) {
        return Some("spans several lines; put it on one line, with nothing else in the value");
    }
    if token.chars().any(char::is_whitespace) {
        return Some("contains a space; paste the token alone, without a label or a second value");
    }
    if token.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Some("contains control or non-ASCII characters, which no token has; copy it again from where it was issued");
    }
    None
}

/// The token hygiene rules, for values that did not come through a source (tests, code):
/// `None` when `secret` is usable as is.
pub fn header_secret_problem(secret: &SecretString) -> Option<&'static str> {
    let text = secret.expose_secret();
    if text.trim().is_empty() {
        return Some("is empty");
    }
    token_problem(text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(text: &str) -> Result<(String, Option<&'static str>), String> {
        OktaToken::from_text(text).map(|(t, note)| (t.expose_secret().to_string(), note))
    }

    #[test]
    fn tokens_are_trimmed_and_stripped_of_their_scheme() {
        assert_eq!(token("  00abc-_x \n").unwrap(), ("00abc-_x".into(), None));
        let (value, note) = token("SSWS 00abc").unwrap();
        assert_eq!(value, "00abc");
        assert!(note.unwrap().contains("\"SSWS \""));
        assert_eq!(token("ssws   00abc").unwrap().0, "00abc");
        // "SSWS" alone, or glued to the token, is not a prefix.
        assert!(token("SSWS").is_ok());
        assert_eq!(token("SSWS00abc").unwrap().0, "SSWS00abc");
        let (key, note) = IntakeKey::from_text("Bearer k-1").unwrap();
        assert_eq!(key.expose_secret(), "k-1");
        assert!(note.unwrap().contains("Bearer"));
    }

    #[test]
    fn token_mistakes_are_refused_with_the_fix_and_without_the_value() {
        for (text, needle) in [
            ("\"00abcsecret\"", "wrapped in quotes"),
            ("'00abcsecret'", "wrapped in quotes"),
            ("00abc\"secret", "quote character"),
            ("00abc\nsecret", "several lines"),
            ("00abc secret", "contains a space"),
            ("SSWS 00abc secret", "contains a space"),
            ("00abc\u{7}secret", "control"),
            ("   ", "is empty"),
        ] {
            let error = token(text).unwrap_err();
            assert!(error.contains(needle), "{text:?}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }

    #[test]
    fn numbers_from_json_are_strict_in_files_and_lax_in_runtime_files() {
        assert_eq!(Seconds::from_json(&json!(60), false).unwrap().0, 60);
        assert!(Seconds::from_json(&json!("60"), false).is_err());
        assert_eq!(Seconds::from_json(&json!(" 60 "), true).unwrap().0, 60);
        assert!(Seconds::from_json(&json!(-1), false).is_err());
        assert!(Seconds::from_json(&json!(1.5), true).is_err());
        assert_eq!(Count::from_json(&json!("7"), true).unwrap().0, 7);
        assert_eq!(Number::from_json(&json!(1), false).unwrap().0, 1.0);
        assert!(Bool::from_json(&json!("true"), false).is_err());
        assert!(Bool::from_json(&json!("true"), true).unwrap().0);
        assert!(Text::from_json(&json!(5), true).is_err());
    }

    #[test]
    fn parse_errors_never_quote_the_value() {
        for error in [
            Seconds::from_text("s3cr3t").unwrap_err(),
            Count::from_text("s3cr3t").unwrap_err(),
            Number::from_text("s3cr3t").unwrap_err(),
            Bool::from_text("s3cr3t").unwrap_err(),
            Seconds::from_json(&json!("s3cr3t"), true).unwrap_err(),
            Text::from_json(&json!(12345), false).unwrap_err(),
        ] {
            assert!(
                !error.contains("s3cr3t") && !error.contains("12345"),
                "{error}"
            );
        }
    }
}
