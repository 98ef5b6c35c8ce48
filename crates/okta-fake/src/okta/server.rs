//! Request handling: auth, counters, concurrency and quota, faults, routing, JSON and paging.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::filter::{self, AttrKind, AttrValue, Expr, Resource};
use super::org::{push_json_str, FakeFactor, FakeGroup, FakeRole, FakeUser, GroupType, Org};
use super::{Bucket, Shared, StatsAdminSpelling};
use crate::http::{Reply, Request};
use crate::rng::mix;
use crate::time::{http_date, okta};

/// An answer before the common headers are added.
pub(super) struct Answer {
    pub status: u16,
    pub body: String,
    pub links: Vec<String>,
}

impl Answer {
    /// A page of a list: `body`, and the `Link` headers to the next page.
    pub fn page(body: String, links: Vec<String>) -> Answer {
        Answer {
            status: 200,
            body,
            links,
        }
    }

    pub fn ok(body: String) -> Answer {
        Answer {
            status: 200,
            body,
            links: Vec::new(),
        }
    }
}

fn error_body(shared: &Shared, n: u64, code: &str, summary: &str) -> String {
    error_body_with(shared, n, code, summary, &[])
}

/// An Okta error body; each cause becomes `{"errorSummary": cause}` in `errorCauses`.
fn error_body_with(
    shared: &Shared,
    n: u64,
    code: &str,
    summary: &str,
    causes: &[String],
) -> String {
    let mut out = String::from("{\"errorCode\":");
    push_json_str(&mut out, code);
    out.push_str(",\"errorSummary\":");
    push_json_str(&mut out, summary);
    out.push_str(",\"errorLink\":");
    push_json_str(&mut out, code);
    out.push_str(",\"errorId\":\"oae");
    out.push_str(&b64(&mix(n ^ shared.salt ^ 0xE220).to_le_bytes())[..11]);
    out.push_str(&b64(&mix(n.wrapping_add(shared.salt)).to_le_bytes())[..11]);
    out.push_str("\",\"errorCauses\":[");
    for (i, cause) in causes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"errorSummary\":");
        push_json_str(&mut out, cause);
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// 400 `E0000001` naming the parameter, with the reason as an error cause.
pub(super) fn invalid_param(shared: &Shared, n: u64, param: &str, reason: &str) -> Answer {
    Answer {
        status: 400,
        body: error_body_with(
            shared,
            n,
            "E0000001",
            &format!("Api validation failed: {param}"),
            &[reason.to_string()],
        ),
        links: Vec::new(),
    }
}

fn error(shared: &Shared, n: u64, status: u16, code: &str, summary: &str) -> Answer {
    Answer {
        status,
        body: error_body(shared, n, code, summary),
        links: Vec::new(),
    }
}

/// The Okta error for an injected status.
fn injected(shared: &Shared, n: u64, status: u16) -> Answer {
    let (code, summary) = match status {
        400 => ("E0000001", "Api validation failed"),
        401 => ("E0000011", "Invalid token provided"),
        403 => (
            "E0000006",
            "You do not have permission to perform the requested action",
        ),
        404 => ("E0000007", "Not found: Resource not found"),
        429 => (
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        ),
        500 => ("E0000009", "Internal Server Error"),
        502 | 504 => ("E0000009", "Internal Server Error"),
        503 => ("E0000010", "Service is in read only mode"),
        _ => ("E0000009", "Internal Server Error"),
    };
    error(shared, n, status, code, summary)
}

/// `GET /api/v1/users/00uABC/roles` → `GET /api/v1/users/{id}/roles`.
fn endpoint_key(method: &str, path: &str) -> String {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut out = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        // ["", "api", "v1", "users"|"groups", id, ...]
        let is_id =
            (i == 4 && matches!(segs[3], "users" | "groups")) || (i == 6 && segs[5] == "factors");
        if is_id {
            out.push("{id}");
        } else {
            out.push(s);
        }
    }
    format!("{method} {}", out.join("/"))
}

struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(super) async fn handle(shared: Arc<Shared>, req: Request) -> Reply {
    // The org authorization server: counted apart from the API buckets.
    if req.path.starts_with("/oauth2/") {
        return shared.oauth.token_endpoint(&req, shared.clock.now_ms());
    }
    let n = shared.seen.fetch_add(1, Ordering::SeqCst) + 1;
    let bucket = Bucket::of_path(&req.path);
    {
        let mut c = shared.counters.lock().unwrap();
        c.total += 1;
        *c.per_bucket.entry(bucket).or_default() += 1;
        *c.per_endpoint
            .entry(endpoint_key(&req.method, &req.path))
            .or_default() += 1;
    }
    let in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&shared);
    let reply = respond(&shared, &req, n, bucket, in_flight).await;
    if shared.options.verbose {
        let status = match &reply {
            Reply::Full { status, .. } | Reply::Truncated { status, .. } => status.to_string(),
            Reply::Drop => "dropped".into(),
        };
        let q = if req.query.is_empty() { "" } else { "?" };
        eprintln!(
            "fake-okta: {} {}{q}{} -> {status}",
            req.method, req.path, req.query
        );
    }
    reply
}

async fn respond(
    shared: &Shared,
    req: &Request,
    n: u64,
    bucket: Bucket,
    in_flight: usize,
) -> Reply {
    if let Some(delay) = shared.faults.delay() {
        tokio::time::sleep(delay).await;
    }
    let now_ms = shared.clock.now_ms();
    let reset = shared.limits.reset_at(now_ms);
    let finish = |answer: Answer, limit: u32, remaining: u32, truncate: bool| -> Reply {
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/json".into()),
            ("x-okta-request-id".into(), request_id(shared, n)),
            ("date".into(), http_date(crate::time::from_ms(now_ms))),
            ("x-rate-limit-limit".into(), limit.to_string()),
            ("x-rate-limit-remaining".into(), remaining.to_string()),
            ("x-rate-limit-reset".into(), reset.to_string()),
        ];
        for link in answer.links {
            headers.push(("link".into(), link));
        }
        let body = Bytes::from(answer.body);
        if truncate && body.len() > 1 {
            let sent = body.len() / 2;
            Reply::Truncated {
                status: answer.status,
                headers,
                body,
                sent,
            }
        } else {
            Reply::Full {
                status: answer.status,
                headers,
                body,
            }
        }
    };
    let count_429 = |concurrency: bool| {
        let mut c = shared.counters.lock().unwrap();
        c.http_429 += 1;
        if concurrency {
            c.http_429_concurrency += 1;
        }
    };
    const RATE: &str = "API call exceeded rate limit due to too many requests.";

    // Concurrency: Okta answers 429 with Limit 0 / Remaining 0.
    if let Some(cap) = shared.options.concurrency_cap {
        if in_flight > cap {
            count_429(true);
            return finish(error(shared, n, 429, "E0000047", RATE), 0, 0, false);
        }
    }
    // `SSWS <token>`; the space is optional because the official Python SDK (okta 3.x,
    // configuration.py `authorization_mode + access_token`) sends `SSWS<token>`.
    // OAuth: `Bearer <token>` or `DPoP <token>` (+ a DPoP proof), issued by `oauth`.
    let authorization = req.header("authorization").unwrap_or("");
    let oauth = authorization.starts_with("Bearer ") || authorization.starts_with("DPoP ");
    let (token_ok, granted) = if oauth {
        match shared.oauth.authorize(req, now_ms) {
            Ok(scopes) => (true, Some(scopes)),
            Err(_) => (false, None),
        }
    } else {
        let ok = authorization
            .strip_prefix("SSWS")
            .is_some_and(|t| t.trim() == shared.options.token);
        (ok, None)
    };
    let verdict = shared
        .limits
        .admit(bucket, now_ms, shared.faults.external(bucket));
    let (limit, remaining) = (verdict.limit, verdict.remaining);
    // An error answer within the bucket's limits.
    let refuse = |status, code, summary| {
        let answer = error(shared, n, status, code, summary);
        finish(answer, limit, remaining, false)
    };
    const DENIED: &str = "You do not have permission to perform the requested action";
    if !token_ok {
        return refuse(401, "E0000011", "Invalid token provided");
    }
    if !verdict.allowed {
        count_429(false);
        return finish(error(shared, n, 429, "E0000047", RATE), limit, 0, false);
    }
    let needed = super::oauth::required_scope(&req.path);
    if let (Some(scopes), Some(needed)) = (&granted, needed) {
        if !scopes.iter().any(|s| s == needed) {
            shared.oauth.count_insufficient_scope();
            return refuse(403, "E0000006", DENIED).with_header(
                "www-authenticate",
                format!("Bearer error=\"insufficient_scope\", error_description=\"The access token provided does not contain the required scopes.\", scope=\"{needed}\""),
            );
        }
    }
    if shared.forbidden.lock().unwrap().contains(&bucket) {
        return refuse(403, "E0000006", DENIED);
    }
    let decision = shared.faults.decide(n, &req.path, &req.query);
    if decision.drop {
        return Reply::Drop;
    }
    if let Some(status) = decision.status {
        if status == 429 {
            count_429(false);
        }
        return finish(injected(shared, n, status), limit, remaining, false);
    }
    let answer = route(shared, req, n);
    finish(answer, limit, remaining, decision.truncate)
}

fn request_id(shared: &Shared, n: u64) -> String {
    let mut bytes = mix(n ^ shared.salt).to_le_bytes().to_vec();
    bytes.extend_from_slice(&mix(n.wrapping_mul(7) ^ shared.salt).to_le_bytes()[..4]);
    format!("aQ{}", b64(&bytes))
}

// ------------------------------------------------------------------------------ cursors

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut buf = [0u8; 3];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = (buf[0] as u32) << 16 | (buf[1] as u32) << 8 | buf[2] as u32;
        for i in 0..=chunk.len() {
            out.push(B64[((v >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        bits = bits << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

const ODD: u64 = 0x9E37_79B9_7F4A_7C15 | 1;

fn inverse(a: u64) -> u64 {
    let mut x = a;
    for _ in 0..6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
    }
    x
}

/// An opaque cursor for "after sequence number `seq`": a keyed, invertible scramble plus a
/// check value, base64url. Not derivable from ids; forged or mangled cursors are refused.
pub(super) fn encode_cursor(salt: u64, seq: u64) -> String {
    let body = (seq ^ salt).wrapping_mul(ODD).rotate_left(17) ^ (salt >> 7);
    let check = (mix(seq.wrapping_add(salt)) >> 32) as u32;
    let mut bytes = body.to_be_bytes().to_vec();
    bytes.extend_from_slice(&check.to_be_bytes());
    b64(&bytes)
}

pub(super) fn decode_cursor(salt: u64, cursor: &str) -> Option<u64> {
    let bytes = unb64(cursor)?;
    if bytes.len() != 12 {
        return None;
    }
    let body = u64::from_be_bytes(bytes[..8].try_into().ok()?);
    let check = u32::from_be_bytes(bytes[8..].try_into().ok()?);
    let seq = ((body ^ (salt >> 7)).rotate_right(17)).wrapping_mul(inverse(ODD)) ^ salt;
    ((mix(seq.wrapping_add(salt)) >> 32) as u32 == check).then_some(seq)
}

// ------------------------------------------------------------------------------ links

pub(super) fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn pct_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Paging parameters and link building for one list request.
struct Paging {
    base: String,
    path: String,
    /// Original query pairs (decoded), `after` removed, `limit` added if absent.
    params: Vec<(String, String)>,
    limit: usize,
    after: Option<u64>,
}

impl Paging {
    fn new(
        shared: &Shared,
        req: &Request,
        base: &str,
        default: usize,
        max: usize,
    ) -> Result<Paging, String> {
        let mut params = req.query_pairs();
        let after = match params.iter().find(|(k, _)| k == "after") {
            Some((_, v)) if v.is_empty() => None,
            Some((_, v)) => Some(decode_cursor(shared.salt, v).ok_or("after")?),
            None => None,
        };
        params.retain(|(k, _)| k != "after");
        let limit = match params.iter().find(|(k, _)| k == "limit") {
            Some((_, v)) => match v.trim().parse::<i64>() {
                Ok(l) if l >= 1 => (l as usize).min(max),
                Ok(_) => default,
                Err(_) => return Err("limit".into()),
            },
            None => {
                params.push(("limit".into(), default.to_string()));
                default
            }
        };
        Ok(Paging {
            base: base.to_string(),
            path: req.path.trim_end_matches('/').to_string(),
            params,
            limit,
            after,
        })
    }

    fn url(&self, origin: &str, cursor: Option<&str>) -> String {
        let mut q: Vec<String> = Vec::new();
        if let Some(c) = cursor {
            q.push(format!("after={}", pct(c)));
        }
        q.extend(
            self.params
                .iter()
                .map(|(k, v)| format!("{}={}", pct(k), pct(v))),
        );
        format!("{origin}{}?{}", self.path, q.join("&"))
    }

    /// `Link` header values: self (with the request's cursor), and next when there is more.
    fn links(&self, salt: u64, next: Option<u64>, foreign: Option<String>) -> Vec<String> {
        let this = self.after.map(|s| encode_cursor(salt, s));
        let mut links = vec![format!(
            "<{}>; rel=\"self\"",
            self.url(&self.base, this.as_deref())
        )];
        if let Some(seq) = next {
            let origin = foreign.unwrap_or_else(|| self.base.clone());
            let cursor = encode_cursor(salt, seq);
            links.push(format!(
                "<{}>; rel=\"next\"",
                self.url(&origin, Some(&cursor))
            ));
        }
        links
    }
}

/// One page of `items` (ascending `seq`), those with seq > `after` matching `keep`.
/// Returns the page and, when more matching items follow, the cursor sequence for next.
fn page<T>(
    items: impl Iterator<Item = (u64, T)>,
    paging: &Paging,
    mut keep: impl FnMut(&T) -> bool,
) -> (Vec<T>, Option<u64>) {
    let after = paging.after.unwrap_or(0);
    let mut out = Vec::new();
    let mut last = None;
    for (seq, item) in items {
        if seq <= after || !keep(&item) {
            continue;
        }
        if out.len() == paging.limit {
            return (out, last);
        }
        last = Some(seq);
        out.push(item);
    }
    (out, None)
}

// ------------------------------------------------------------------------------ routing

fn route(shared: &Shared, req: &Request, n: u64) -> Answer {
    let base = req
        .header("host")
        .map(|h| format!("http://{h}"))
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", shared.options.port));
    if req.method != "GET" {
        return error(
            shared,
            n,
            405,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        );
    }
    let path = req.path.trim_end_matches('/');
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return not_found_path(shared, n, path);
    };
    let segs: Vec<String> = rest.split('/').map(pct_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let omit_credentials = req
        .header("content-type")
        .is_some_and(|c| c.contains("omitCredentials"));
    let mut org = shared.org.lock().unwrap();
    if segs.as_slice() == ["logs"] {
        // Sign-ins due by now are recorded before anyone can query past their time.
        let now_ms = shared.clock.now_ms();
        org.catch_up_sign_ins(now_ms);
        return super::log_api::list_logs(shared, req, n, &org, &base, now_ms);
    }
    let org = &*org;
    match segs.as_slice() {
        ["users"] => list_users(shared, req, n, org, &base, omit_credentials),
        ["users", id] => match org.find_user(id) {
            Some(u) => {
                let mut out = String::new();
                user_json(&mut out, org, &org.users[u], &base, omit_credentials);
                Answer::ok(out)
            }
            None => not_found(shared, n, id, "User"),
        },
        ["users", id, sub] => {
            let Some(u) = org.find_user(id) else {
                return not_found(shared, n, id, "User");
            };
            let user = &org.users[u];
            match *sub {
                "roles" => Answer::ok(user_roles_json(org, user, &base)),
                "factors" => {
                    let login = user.login();
                    let out = json_array(user.factors.iter(), 0, |out, f| {
                        factor_json(out, user, &login, f, &base)
                    });
                    Answer::ok(out)
                }
                "groups" => {
                    let paging = match Paging::new(shared, req, &base, 200, 200) {
                        Ok(p) => p,
                        Err(what) => return bad_param(shared, n, &what),
                    };
                    let items = user.groups.iter().map(|&g| {
                        let g = &org.groups[g as usize];
                        (g.seq, g)
                    });
                    let (groups, next) = page(items, &paging, |_| true);
                    let out =
                        json_array(groups.iter(), 0, |out, g| group_json(out, g, &base, None));
                    Answer::page(out, paging.links(shared.salt, next, None))
                }
                _ => not_found_path(shared, n, path),
            }
        }
        ["groups"] => list_groups(shared, req, n, org, &base),
        ["groups", id] => match org.group_index(id) {
            Some(g) => {
                let mut out = String::new();
                let stats = wants_stats(req).then_some(shared.options.stats_admin_spelling);
                group_json(&mut out, &org.groups[g], &base, stats);
                Answer::ok(out)
            }
            None => not_found(shared, n, id, "UserGroup"),
        },
        ["groups", id, "users"] => {
            let Some(g) = org.group_index(id) else {
                return not_found(shared, n, id, "UserGroup");
            };
            let paging = match Paging::new(shared, req, &base, 1000, 1000) {
                Ok(p) => p,
                Err(what) => return bad_param(shared, n, &what),
            };
            let items = org.groups[g].members.iter().map(|&u| {
                let u = org.user_at(u);
                (u.seq, u)
            });
            let (users, next) = page(items, &paging, |_| true);
            let out = json_array(users.iter(), users.len() * 900 + 2, |out, u| {
                user_json(out, org, u, &base, omit_credentials)
            });
            Answer::page(out, paging.links(shared.salt, next, None))
        }
        ["groups", id, "roles"] => {
            let Some(g) = org.group_index(id) else {
                return not_found(shared, n, id, "UserGroup");
            };
            let group = &org.groups[g];
            let href = format!("{base}/api/v1/groups/{}", group.id);
            let out = json_array(group.roles.iter(), 0, |out, r| {
                role_json(out, r, "GROUP", &href, &base)
            });
            Answer::ok(out)
        }
        ["iam", "assignees", "users"] => {
            let paging = match Paging::new(shared, req, &base, 100, 100) {
                Ok(p) => p,
                Err(what) => return bad_param(shared, n, &what),
            };
            let admins = org.assignee_indices(shared.options.assignees_include_groups);
            let items = admins.iter().map(|&u| {
                let u = org.user_at(u);
                (u.seq, u)
            });
            let (users, next) = page(items, &paging, |_| true);
            let value = json_array(users.iter(), 0, |out, u| {
                out.push_str(&format!(
                    "{{\"id\":\"{id}\",\"orn\":\"orn:okta:directory:{org}:users:{id}\",\"_links\":{{\"self\":{{\"href\":\"{base}/api/v1/users/{id}\"}},\"roles\":{{\"href\":\"{base}/api/v1/users/{id}/roles\"}}}}}}",
                    id = u.id,
                    org = org.org_id,
                ))
            });
            let mut out = format!("{{\"value\":{value},\"_links\":{{");
            if let Some(seq) = next {
                let href = paging.url(&base, Some(&encode_cursor(shared.salt, seq)));
                out.push_str("\"next\":{\"href\":");
                push_json_str(&mut out, &href);
                out.push('}');
            }
            out.push_str("}}");
            Answer::ok(out)
        }
        _ => not_found_path(shared, n, path),
    }
}

fn not_found(shared: &Shared, n: u64, id: &str, kind: &str) -> Answer {
    error(
        shared,
        n,
        404,
        "E0000007",
        &format!("Not found: Resource not found: {id} ({kind})"),
    )
}

fn not_found_path(shared: &Shared, n: u64, path: &str) -> Answer {
    error(
        shared,
        n,
        404,
        "E0000022",
        &format!("The endpoint does not support the provided HTTP method or path: {path}"),
    )
}

fn bad_param(shared: &Shared, n: u64, what: &str) -> Answer {
    error(
        shared,
        n,
        400,
        "E0000001",
        &format!("Api validation failed: {what}"),
    )
}

fn invalid_search(shared: &Shared, n: u64) -> Answer {
    error(shared, n, 400, "E0000031", "Invalid search")
}

// ------------------------------------------------------------------------------ search

struct UserView<'a> {
    user: &'a FakeUser,
    profile: Option<serde_json::Map<String, Value>>,
}

fn time_attr(t: Option<jiff::Timestamp>) -> AttrValue {
    t.map_or(AttrValue::Missing, |t| AttrValue::Time(t.as_millisecond()))
}

impl Resource for UserView<'_> {
    fn kind(attr: &str) -> Option<AttrKind> {
        match attr {
            "id" | "status" | "type.id" => Some(AttrKind::Str),
            "created" | "activated" | "statusChanged" | "lastUpdated" | "passwordChanged"
            | "lastLogin" => Some(AttrKind::Time),
            a if a.starts_with("profile.") && a.len() > 8 => Some(AttrKind::Any),
            _ => None,
        }
    }

    fn get(&self, attr: &str) -> AttrValue {
        let u = self.user;
        match attr {
            "id" => AttrValue::Str(u.id.clone()),
            "status" => AttrValue::Str(u.status.clone()),
            "created" => time_attr(Some(u.created)),
            "activated" => time_attr(u.activated),
            "statusChanged" => time_attr(u.status_changed),
            "lastUpdated" => time_attr(Some(u.last_updated)),
            "passwordChanged" => time_attr(u.password_changed),
            "lastLogin" => time_attr(u.last_login),
            a => match (a.strip_prefix("profile."), &self.profile) {
                (Some(field), Some(p)) => p
                    .get(field)
                    .cloned()
                    .map_or(AttrValue::Missing, AttrValue::Json),
                _ => AttrValue::Missing,
            },
        }
    }
}

struct GroupView<'a>(&'a FakeGroup);

impl Resource for GroupView<'_> {
    fn kind(attr: &str) -> Option<AttrKind> {
        match attr {
            "id" | "type" | "profile.name" | "profile.description" => Some(AttrKind::Str),
            "created" | "lastUpdated" | "lastMembershipUpdated" => Some(AttrKind::Time),
            _ => None,
        }
    }

    fn get(&self, attr: &str) -> AttrValue {
        let g = self.0;
        match attr {
            "id" => AttrValue::Str(g.id.clone()),
            "type" => AttrValue::Str(g.group_type.as_str().into()),
            "profile.name" => AttrValue::Str(g.name.clone()),
            "profile.description" => g
                .description
                .clone()
                .map_or(AttrValue::Missing, AttrValue::Str),
            "created" => time_attr(Some(g.created)),
            "lastUpdated" => time_attr(Some(g.last_updated)),
            "lastMembershipUpdated" => time_attr(Some(g.last_membership_updated)),
            _ => AttrValue::Missing,
        }
    }
}

/// `search` and `filter` of a request, parsed and combined with `and`.
fn expressions<R: Resource>(req: &Request) -> Result<Option<Expr>, ()> {
    let mut parts = Vec::new();
    for key in ["search", "filter"] {
        if let Some(s) = req.query_param(key) {
            if s.trim().is_empty() {
                return Err(());
            }
            parts.push(filter::parse::<R>(&s).map_err(|_| ())?);
        }
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Expr::And(parts)),
    })
}

/// What a list request asks for: its search or filter, its page, and its `q` (lower case); or
/// the error answer to a malformed one.
fn list_request<R: Resource>(
    shared: &Shared,
    req: &Request,
    n: u64,
    base: &str,
    limit: usize,
) -> Result<(Option<Expr>, Paging, Option<String>), Answer> {
    let expr = expressions::<R>(req).map_err(|()| invalid_search(shared, n))?;
    let paging =
        Paging::new(shared, req, base, limit, limit).map_err(|what| bad_param(shared, n, &what))?;
    let q = req.query_param("q").map(|q| q.to_lowercase());
    Ok((expr, paging, q))
}

fn list_users(shared: &Shared, req: &Request, n: u64, org: &Org, base: &str, omit: bool) -> Answer {
    let (expr, paging, q) = match list_request::<UserView>(shared, req, n, base, 200) {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    let needs_profile = q.is_some() || expr.as_ref().is_some_and(filter::uses_profile);
    let items = org.users.iter().map(|u| (u.seq, u));
    let (users, next) = page(items, &paging, |u| {
        let view = UserView {
            user: u,
            profile: needs_profile.then(|| u.profile()),
        };
        match (&expr, &q) {
            (Some(e), _) => filter::eval(e, &view),
            (None, Some(q)) => {
                u.status != "DEPROVISIONED"
                    && ["firstName", "lastName", "email", "login"].iter().any(|f| {
                        view.profile
                            .as_ref()
                            .and_then(|p| p.get(*f))
                            .and_then(Value::as_str)
                            .is_some_and(|v| v.to_lowercase().starts_with(q.as_str()))
                    })
            }
            // A plain list omits DEPROVISIONED users.
            (None, None) => u.status != "DEPROVISIONED",
        }
    });
    let out = json_array(users.iter(), users.len() * 900 + 2, |out, u| {
        user_json(out, org, u, base, omit)
    });
    let foreign = if next.is_some() {
        shared.faults.take_foreign()
    } else {
        None
    };
    Answer::page(out, paging.links(shared.salt, next, foreign))
}

fn list_groups(shared: &Shared, req: &Request, n: u64, org: &Org, base: &str) -> Answer {
    let (expr, paging, q) = match list_request::<GroupView>(shared, req, n, base, 10_000) {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    let items = org.groups.iter().map(|g| (g.seq, g));
    let (groups, next) = page(items, &paging, |g| {
        let by_expr = match &expr {
            Some(e) => filter::eval(e, &GroupView(g)),
            None => true,
        };
        let by_q = match &q {
            Some(q) => g.name.to_lowercase().starts_with(q.as_str()),
            None => true,
        };
        by_expr && by_q
    });
    let stats = wants_stats(req).then_some(shared.options.stats_admin_spelling);
    let out = json_array(groups.iter(), 0, |out, g| group_json(out, g, base, stats));
    Answer::page(out, paging.links(shared.salt, next, None))
}

// ------------------------------------------------------------------------------ JSON

/// `[item,item,…]`, each written by `write`, in a string of `capacity` bytes to start with.
fn json_array<T>(
    items: impl IntoIterator<Item = T>,
    capacity: usize,
    mut write: impl FnMut(&mut String, T),
) -> String {
    let mut out = String::with_capacity(capacity);
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(&mut out, item);
    }
    out.push(']');
    out
}

/// `{"id":"…"`: the start of an object, its id escaped.
fn open_with_id(out: &mut String, id: &str) {
    out.push_str("{\"id\":");
    push_json_str(out, id);
}

/// `,"key":"value"`, the value escaped.
fn str_field(out: &mut String, key: &str, value: &str) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    push_json_str(out, value);
}

fn ts_field(out: &mut String, key: &str, t: Option<jiff::Timestamp>) {
    out.push_str(",\"");
    out.push_str(key);
    out.push_str("\":");
    match t {
        Some(t) => {
            out.push('"');
            out.push_str(&okta(t));
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

fn user_json(out: &mut String, org: &Org, u: &FakeUser, base: &str, omit_credentials: bool) {
    out.push_str("{\"id\":\"");
    out.push_str(&u.id);
    out.push_str("\",\"status\":");
    push_json_str(out, &u.status);
    ts_field(out, "created", Some(u.created));
    ts_field(out, "activated", u.activated);
    ts_field(out, "statusChanged", u.status_changed);
    ts_field(out, "lastLogin", u.last_login);
    ts_field(out, "lastUpdated", Some(u.last_updated));
    ts_field(out, "passwordChanged", u.password_changed);
    out.push_str(",\"type\":{\"id\":\"");
    out.push_str(&org.type_id);
    out.push_str("\"},\"profile\":");
    out.push_str(&u.profile_json);
    if let (Some(c), false) = (&u.credentials_json, omit_credentials) {
        out.push_str(",\"credentials\":");
        out.push_str(c);
    }
    out.push_str(",\"_links\":{\"self\":{\"href\":\"");
    out.push_str(base);
    out.push_str("/api/v1/users/");
    out.push_str(&u.id);
    out.push_str("\"}}}");
}

/// `expand=stats` (alone or in a comma-separated list, as `stats,app`).
fn wants_stats(req: &Request) -> bool {
    req.query_param("expand")
        .is_some_and(|e| e.split(',').any(|v| v.trim() == "stats"))
}

/// `_embedded.stats` of a group: member count, app and push-mapping counts, and whether a role
/// is assigned to the group (of any status).
fn stats_json(out: &mut String, g: &FakeGroup, base: &str, spelling: StatsAdminSpelling) {
    // The fake has no apps or push mappings: small made-up counts, stable per group.
    let apps = mix(g.seq ^ 0xA995) % 4;
    out.push_str(&format!(
        ",\"_embedded\":{{\"stats\":{{\"usersCount\":{},\"appsCount\":{apps},\"groupPushMappingsCount\":0,\"{}\":{},\"_links\":{{\"self\":{{\"href\":\"{base}/api/v1/groups/{}/stats\"}}}}}}}}",
        g.members.len(),
        spelling.key(),
        !g.roles.is_empty(),
        g.id,
    ));
}

fn group_json(out: &mut String, g: &FakeGroup, base: &str, stats: Option<StatsAdminSpelling>) {
    out.push_str("{\"id\":\"");
    out.push_str(&g.id);
    out.push('"');
    ts_field(out, "created", Some(g.created));
    ts_field(out, "lastUpdated", Some(g.last_updated));
    ts_field(
        out,
        "lastMembershipUpdated",
        Some(g.last_membership_updated),
    );
    let app = g.group_type == GroupType::App;
    out.push_str(if app {
        ",\"objectClass\":[\"okta:windows_security_principal\"]"
    } else {
        ",\"objectClass\":[\"okta:user_group\"]"
    });
    out.push_str(",\"type\":\"");
    out.push_str(g.group_type.as_str());
    out.push_str("\",\"profile\":{\"name\":");
    push_json_str(out, &g.name);
    out.push_str(",\"description\":");
    match &g.description {
        Some(d) => push_json_str(out, d),
        None => out.push_str("null"),
    }
    if app {
        let sid = mix(g.seq) % 1_000_000;
        out.push_str(",\"groupType\":\"Security\",\"samAccountName\":");
        push_json_str(out, &g.name);
        out.push_str(&format!(
            ",\"objectSid\":\"S-1-5-21-3623811015-3361044348-30300820-{sid}\",\"groupScope\":\"Global\""
        ));
        out.push_str(",\"dn\":");
        push_json_str(
            out,
            &format!("CN={},OU=Groups,DC=corp,DC=example,DC=com", g.name),
        );
        out.push_str(",\"windowsDomainQualifiedName\":");
        push_json_str(out, &format!("CORP\\{}", g.name));
        out.push_str(&format!(",\"externalId\":\"{}==\"", &g.id[3..]));
    }
    out.push('}');
    if app {
        out.push_str(",\"source\":{\"id\":\"0oa1appsource0000ad1\"}");
    }
    if let Some(spelling) = stats {
        stats_json(out, g, base, spelling);
    }
    out.push_str(",\"_links\":{\"logo\":[{\"name\":\"medium\",\"href\":\"https://ok12static.oktacdn.com/assets/img/logos/groups/odyssey/okta-medium.svg\",\"type\":\"image/png\"}],\"users\":{\"href\":\"");
    out.push_str(base);
    out.push_str("/api/v1/groups/");
    out.push_str(&g.id);
    out.push_str("/users\"},\"apps\":{\"href\":\"");
    out.push_str(base);
    out.push_str("/api/v1/groups/");
    out.push_str(&g.id);
    out.push_str("/apps\"}");
    if app {
        // An imported group links to the app it comes from.
        out.push_str(",\"source\":{\"href\":\"");
        out.push_str(base);
        out.push_str("/api/v1/apps/0oa1appsource0000ad1\"}");
    }
    out.push_str("}}");
}

fn role_json(out: &mut String, r: &FakeRole, assignment: &str, assignee: &str, base: &str) {
    open_with_id(out, &r.id);
    str_field(out, "label", &r.label);
    str_field(out, "type", &r.role_type);
    str_field(out, "status", &r.status);
    ts_field(out, "created", Some(r.created));
    ts_field(out, "lastUpdated", Some(r.last_updated));
    out.push_str(",\"assignmentType\":\"");
    out.push_str(assignment);
    out.push('"');
    let custom = r.role_type == "CUSTOM";
    if custom {
        out.push_str(
            ",\"resource-set\":\"iamcustomresourceset01\",\"role\":\"cr0customrole000001\"",
        );
    }
    out.push_str(",\"_links\":{\"assignee\":{\"href\":");
    push_json_str(out, assignee);
    out.push('}');
    if custom {
        out.push_str(&format!(
            ",\"role\":{{\"href\":\"{base}/api/v1/iam/roles/cr0customrole000001\"}},\"resource-set\":{{\"href\":\"{base}/api/v1/iam/resource-sets/iamcustomresourceset01\"}}"
        ));
    }
    out.push_str("}}");
}

fn user_roles_json(org: &Org, user: &FakeUser, base: &str) -> String {
    let href = format!("{base}/api/v1/users/{}", user.id);
    json_array(org.user_roles(&user.id), 0, |out, r| {
        let assignee = match r.via_group {
            Some(g) => format!("{base}/api/v1/groups/{}", g.id),
            None => href.clone(),
        };
        role_json(out, r.role, r.assignment_type(), &assignee, base);
    })
}

fn factor_json(out: &mut String, u: &FakeUser, login: &str, f: &FakeFactor, base: &str) {
    open_with_id(out, &f.id);
    str_field(out, "factorType", &f.factor_type);
    str_field(out, "provider", &f.provider);
    str_field(out, "vendorName", &f.vendor_name);
    str_field(out, "status", &f.status);
    ts_field(out, "created", Some(f.created));
    ts_field(out, "lastUpdated", Some(f.last_updated));
    let tail = (mix(u.seq) % 10_000) as u32;
    let profile = match f.factor_type.as_str() {
        "push" => {
            serde_json::json!({"credentialId": login, "deviceType": "SmartPhone_IPhone", "keys": [{"kty": "EC", "use": "sig", "kid": "default", "crv": "P-256"}], "name": "iPhone", "platform": "IOS", "version": "17.4"})
        }
        "token:software:totp" | "token:hardware" => serde_json::json!({"credentialId": login}),
        // E.164, as the spec requires and the API returns (masking is the admin console's).
        "sms" | "call" => serde_json::json!({"phoneNumber": format!("+1555010{tail:04}")}),
        "webauthn" => {
            serde_json::json!({"credentialId": format!("cred-{}", &f.id[3..]), "authenticatorName": "YubiKey 5 NFC"})
        }
        "email" => serde_json::json!({"email": login}),
        "question" => {
            serde_json::json!({"question": "disliked_food", "questionText": "What is the food you least liked as a child?"})
        }
        "signed_nonce" => {
            serde_json::json!({"name": "MacBook Pro", "platform": "MACOS", "deviceType": "Laptop"})
        }
        _ => serde_json::json!({}),
    };
    out.push_str(",\"profile\":");
    out.push_str(&profile.to_string());
    out.push_str(&format!(
        ",\"_links\":{{\"self\":{{\"href\":\"{base}/api/v1/users/{}/factors/{}\",\"hints\":{{\"allow\":[\"GET\",\"DELETE\"]}}}},\"user\":{{\"href\":\"{base}/api/v1/users/{}\"}}}}}}",
        u.id, f.id, u.id
    ));
}
