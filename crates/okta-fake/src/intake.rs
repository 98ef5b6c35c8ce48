//! A fake intake (Sekoia.io asset-connector API, or a generic NDJSON collector): checks the
//! `Authorization` header and the envelope, records the items it accepts, and injects faults.
//!
//! Order of checks for each request (a fault that fires ends the request):
//! slow → drop_next → fail_next → rate_limit_next → fail_randomly → method POST (405) →
//! `Authorization: Bearer <key>` (401) → gunzip when `Content-Encoding: gzip` (400) →
//! `max_body_bytes` on the decoded body (413) → content type and envelope (400) →
//! `max_items` (413) → record the items → accept_then_drop_next (records, then drops) → 200.
//!
//! The envelope rules are this crate's own reading of each intake, not the connector's.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::http::{Reply, Request, TestServer};
use crate::rng::Rng;

/// The wire format the fake intake expects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Envelope {
    /// Sekoia.io's asset-connector API: `application/json`, `{"version": 1, "items": [ ... ]}`.
    #[default]
    Sekoia,
    /// A generic OCSF collector: `application/x-ndjson`, one event object per line, each line
    /// ending with a newline.
    Ocsf,
}

impl Envelope {
    /// The media type a request must carry.
    pub fn content_type(self) -> &'static str {
        match self {
            Envelope::Sekoia => "application/json",
            Envelope::Ocsf => "application/x-ndjson",
        }
    }
}

impl fmt::Display for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Envelope::Sekoia => "sekoia",
            Envelope::Ocsf => "ocsf",
        })
    }
}

/// Path of the fake's connector URL (any path is accepted and recorded).
pub const CONNECTOR_PATH: &str =
    "/api/v2/asset-management/asset-connector/6f3b0a6e-2a8e-4f5b-9d3c-0e7a1c2b4d5f";

#[derive(Default)]
struct State {
    api_key: String,
    format: Envelope,
    /// False: items are checked and counted, not kept (long benchmarks).
    keep_items: bool,
    items: Vec<Value>,
    item_count: u64,
    paths: Vec<String>,
    requests: u64,
    accepted_batches: u64,
    rejected: u64,
    dropped: u64,
    bodies_bytes: u64,
    fail_next: (u32, u16),
    /// Every request fails with this status once this many batches were accepted.
    fail_from: Option<(u64, u16)>,
    rate_limit_next: (u32, u64),
    max_items: Option<usize>,
    max_body_bytes: Option<usize>,
    slow: Duration,
    drop_next: u32,
    accept_then_drop_next: u32,
    random: Option<(f64, Rng)>,
}

/// A running fake intake; stops when dropped.
pub struct FakeIntake {
    server: TestServer,
    state: Arc<Mutex<State>>,
}

impl FakeIntake {
    /// Starts on a free loopback port, expecting `Authorization: Bearer <api_key>` and the
    /// `sekoia` envelope.
    pub async fn start(api_key: &str) -> FakeIntake {
        let state = Arc::new(Mutex::new(State {
            api_key: api_key.to_string(),
            keep_items: true,
            ..State::default()
        }));
        let server = TestServer::serving("the fake intake", &state, |state, request| async move {
            serve(&state, request).await
        })
        .await;
        FakeIntake { server, state }
    }

    /// The connector URL: `http://127.0.0.1:P/api/v2/asset-management/asset-connector/<uuid>`.
    pub fn url(&self) -> String {
        format!("{}{CONNECTOR_PATH}", self.server.url())
    }

    /// `http://127.0.0.1:P`, for a `sekoia_base_url`.
    pub fn base_url(&self) -> String {
        self.server.url()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake intake lock")
    }

    /// Every item accepted (2xx, or accepted then dropped), in arrival order (none are kept
    /// after [`FakeIntake::keep_items`]`(false)`).
    pub fn items(&self) -> Vec<Value> {
        self.state().items.clone()
    }

    /// How many items were accepted, kept or not.
    pub fn item_count(&self) -> u64 {
        self.state().item_count
    }

    /// Whether accepted items are kept for [`FakeIntake::items`] (the default) or only checked
    /// and counted, so that a long benchmark's memory stays flat.
    pub fn keep_items(&self, keep: bool) {
        self.state().keep_items = keep;
    }

    /// Accepted items keyed by `item["user"]["uid"]` (items without one under `""`).
    pub fn items_by_user(&self) -> BTreeMap<String, Vec<Value>> {
        let mut by_user: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for item in self.items() {
            let uid = item["user"]["uid"].as_str().unwrap_or_default().to_string();
            by_user.entry(uid).or_default().push(item);
        }
        by_user
    }

    /// Path of every request, in arrival order.
    pub fn paths(&self) -> Vec<String> {
        self.state().paths.clone()
    }

    /// Every request received, faults included.
    pub fn requests(&self) -> u64 {
        self.state().requests
    }

    /// Requests whose items were recorded.
    pub fn accepted_batches(&self) -> u64 {
        self.state().accepted_batches
    }

    /// Requests answered with a non-2xx status.
    pub fn rejected(&self) -> u64 {
        self.state().rejected
    }

    /// Connections dropped on purpose (drop_next, accept_then_drop_next, fail_randomly).
    pub fn dropped(&self) -> u64 {
        self.state().dropped
    }

    /// Request body bytes (as received, i.e. compressed when gzipped) of accepted batches.
    pub fn bodies_bytes(&self) -> u64 {
        self.state().bodies_bytes
    }

    /// What the fake expects: the `sekoia` envelope as `application/json` or `ocsf` NDJSON as
    /// `application/x-ndjson`.
    pub fn set_format(&self, format: Envelope) {
        self.state().format = format;
    }

    /// Answers the next `count` requests with `status` and a JSON message.
    pub fn fail_next(&self, count: u32, status: u16) {
        self.state().fail_next = (count, status);
    }

    /// Answers the next `count` requests with 429 and `Retry-After: retry_after_secs`.
    /// Accepts batches until `accepted` were accepted in all (counting those before), then
    /// fails every request with `status`: an intake that goes down in the middle of a cycle,
    /// at an exact point whatever the timing.
    pub fn fail_after_accepted(&self, accepted: u64, status: u16) {
        self.state().fail_from = Some((accepted, status));
    }

    pub fn rate_limit_next(&self, count: u32, retry_after_secs: u64) {
        self.state().rate_limit_next = (count, retry_after_secs);
    }

    /// 413 for a batch of more than `n` items.
    pub fn max_items(&self, n: Option<usize>) {
        self.state().max_items = n;
    }

    /// 413 for a (decoded) body larger than `n` bytes.
    pub fn max_body_bytes(&self, n: Option<usize>) {
        self.state().max_body_bytes = n;
    }

    /// Waits `delay` before handling each request.
    pub fn slow(&self, delay: Duration) {
        self.state().slow = delay;
    }

    /// Closes the connection without a response for the next `count` requests.
    pub fn drop_next(&self, count: u32) {
        self.state().drop_next = count;
    }

    /// Records the items of the next `count` valid requests, then closes the connection without
    /// a response: the client cannot know they arrived and sends them again.
    pub fn accept_then_drop_next(&self, count: u32) {
        self.state().accept_then_drop_next = count;
    }

    /// Each request fails with `probability`: half of those with 503, half with a dropped
    /// connection, drawn from a generator seeded with `seed` (same seed, same faults).
    pub fn fail_randomly(&self, probability: f64, seed: u64) {
        self.state().random = Some((probability, Rng::new(seed)));
    }

    /// Removes every fault and limit.
    pub fn clear_faults(&self) {
        let mut state = self.state();
        state.fail_next = (0, 0);
        state.fail_from = None;
        state.rate_limit_next = (0, 0);
        state.max_items = None;
        state.max_body_bytes = None;
        state.slow = Duration::ZERO;
        state.drop_next = 0;
        state.accept_then_drop_next = 0;
        state.random = None;
    }
}

fn message(status: u16, text: &str) -> Reply {
    Reply::json(status, json!({ "message": text }).to_string())
}

async fn serve(state: &Mutex<State>, request: Request) -> Reply {
    let slow = {
        let mut s = state.lock().expect("fake intake lock");
        s.requests += 1;
        s.paths.push(request.path.clone());
        s.slow
    };
    if !slow.is_zero() {
        tokio::time::sleep(slow).await;
    }
    let mut s = state.lock().expect("fake intake lock");
    let reply = judge(&mut s, &request);
    match &reply {
        Reply::Drop => s.dropped += 1,
        Reply::Full { status, .. } | Reply::Truncated { status, .. } if *status >= 300 => {
            s.rejected += 1
        }
        _ => {}
    }
    reply
}

fn judge(s: &mut State, request: &Request) -> Reply {
    if s.drop_next > 0 {
        s.drop_next -= 1;
        return Reply::Drop;
    }
    if s.fail_next.0 > 0 {
        s.fail_next.0 -= 1;
        let status = s.fail_next.1;
        return message(status, &format!("injected failure (HTTP {status})"));
    }
    if let Some((accepted, status)) = s.fail_from {
        if s.accepted_batches >= accepted {
            return message(status, &format!("injected failure (HTTP {status})"));
        }
    }
    if s.rate_limit_next.0 > 0 {
        s.rate_limit_next.0 -= 1;
        return message(429, "too many requests")
            .with_header("retry-after", s.rate_limit_next.1.to_string());
    }
    if let Some((probability, rng)) = &mut s.random {
        if rng.chance(*probability) {
            return if rng.chance(0.5) {
                message(503, "injected random failure")
            } else {
                Reply::Drop
            };
        }
    }
    if request.method != "POST" {
        return message(405, "only POST is accepted").with_header("allow", "POST");
    }
    let expected = format!("Bearer {}", s.api_key);
    if request.header("authorization") != Some(expected.as_str()) {
        // Never echo what was sent: a wrong key is still someone's secret.
        return message(401, "missing or invalid API key");
    }
    let body = match request.header("content-encoding") {
        None | Some("identity") => request.body.to_vec(),
        Some(enc) if enc.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(&request.body[..])
                .read_to_end(&mut out)
                .is_err()
            {
                return message(400, "Content-Encoding: gzip but the body is not gzip");
            }
            out
        }
        Some(other) => return message(415, &format!("unsupported Content-Encoding {other}")),
    };
    if let Some(max) = s.max_body_bytes {
        if body.len() > max {
            return message(413, &format!("body of {} bytes exceeds {max}", body.len()));
        }
    }
    let items = match parse(s.format, request.header("content-type"), &body) {
        Ok(items) => items,
        Err(why) => return message(400, &why),
    };
    if let Some(max) = s.max_items {
        if items.len() > max {
            return message(413, &format!("{} items exceed {max}", items.len()));
        }
    }
    s.item_count += items.len() as u64;
    if s.keep_items {
        let kept = items.iter().map(|item| {
            serde_json::from_str::<Value>(item.get()).expect("an item already parsed as JSON")
        });
        s.items.extend(kept);
    }
    s.accepted_batches += 1;
    s.bodies_bytes += request.body.len() as u64;
    if s.accept_then_drop_next > 0 {
        s.accept_then_drop_next -= 1;
        return Reply::Drop;
    }
    Reply::json(200, json!({ "status": "accepted" }).to_string())
}

/// Checks content type and envelope; the items of the body (each a JSON object, unparsed).
fn parse<'a>(
    format: Envelope,
    content_type: Option<&str>,
    body: &'a [u8],
) -> Result<Vec<&'a RawValue>, String> {
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != format.content_type() {
        return Err(format!(
            "expected Content-Type {} for the {format} format, got {:?}",
            format.content_type(),
            content_type.unwrap_or("")
        ));
    }
    let is_object = |item: &RawValue| item.get().trim_start().starts_with('{');
    match format {
        Envelope::Sekoia => {
            #[derive(serde::Deserialize)]
            struct Body<'a> {
                version: Option<&'a RawValue>,
                #[serde(borrow)]
                items: Option<&'a RawValue>,
            }
            let envelope: Body<'a> =
                serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
            match envelope.version.map(RawValue::get) {
                Some("1") => {}
                other => {
                    return Err(format!(
                        "unsupported envelope version {other:?}: expected 1"
                    ))
                }
            }
            let items: Vec<&RawValue> = envelope
                .items
                .and_then(|items| serde_json::from_str(items.get()).ok())
                .ok_or("missing `items` array")?;
            if let Some(bad) = items.iter().position(|i| !is_object(i)) {
                return Err(format!("item {bad} is not an object"));
            }
            Ok(items)
        }
        Envelope::Ocsf => {
            let text = std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
            if !text.is_empty() && !text.ends_with('\n') {
                return Err("NDJSON body must end with a newline".into());
            }
            text.lines()
                .enumerate()
                .map(|(n, line)| match serde_json::from_str::<&RawValue>(line) {
                    Ok(v) if is_object(v) => Ok(v),
                    Ok(_) => Err(format!("line {} is not a JSON object", n + 1)),
                    Err(e) => Err(format!("line {}: invalid JSON: {e}", n + 1)),
                })
                .collect()
        }
    }
}
