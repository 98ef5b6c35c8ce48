//! A fake of the Sekoia.io platform's side of the connector runtime, as the Sekoia SDK uses it:
//!
//! - `GET …/secrets`: the module's secrets, `{"value": {...}}`;
//! - `POST …/logs`: `{"logs": [{"date", "level", "message"}, ...]}`, checked entry by entry
//!   (strings only; `level` one of `debug`, `info`, `warning`, `error`, `critical`; `date` a naive
//!   ISO 8601 time) and recorded;
//! - `PATCH …/callback`: `{"status": "running"}` is answered with the module configuration's
//!   secrets (`{"module_configuration": {"value": {...}}}`), `{"status": "finished", "results":
//!   {"success": bool}, "error"?: "..."}` is recorded.
//!
//! Every endpoint wants `Authorization: Bearer <token>` (401 otherwise). Every request is
//! recorded whole, for secret-canary scans. The asset-connector API itself is [`FakeIntake`].
//!
//! [`FakeIntake`]: crate::FakeIntake

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};

use crate::http::{handler, Reply, Request, TestServer};

/// The path of the callback (the others replace `/callback`).
pub const CALLBACK_PATH: &str =
    "/api/v1/runtime/runs/5b1e6c1a-3c2d-4f1e-9a7b-2c4d6e8f0a1b/callback";

#[derive(Default)]
struct State {
    token: String,
    secrets: Value,
    logs: Vec<Value>,
    patches: Vec<Value>,
    requests: Vec<Request>,
    fail_next: (u32, u16),
}

/// A running fake platform; stops when dropped.
pub struct FakePlatform {
    server: TestServer,
    state: Arc<Mutex<State>>,
}

impl FakePlatform {
    /// Starts on a free loopback port, serving `secrets` (a JSON object) to `token`.
    pub async fn start(token: &str, secrets: Value) -> FakePlatform {
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            secrets,
            ..State::default()
        }));
        let shared = state.clone();
        let server = TestServer::start(
            0,
            handler(move |request| {
                let state = shared.clone();
                async move { serve(&state, request) }
            }),
        )
        .await
        .expect("start the fake platform");
        FakePlatform { server, state }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake platform lock")
    }

    /// `http://127.0.0.1:P/api/v1/runtime/runs/<id>/callback`: the runtime's `url_callback`.
    pub fn callback_url(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.server.url())
    }

    /// Replaces the secrets served.
    pub fn set_secrets(&self, secrets: Value) {
        self.state().secrets = secrets;
    }

    /// Every log entry received, in order.
    pub fn logs(&self) -> Vec<Value> {
        self.state().logs.clone()
    }

    /// Every PATCH body of the callback, in order.
    pub fn patches(&self) -> Vec<Value> {
        self.state().patches.clone()
    }

    /// Every request received, whole.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Answers the next `count` requests with `status`.
    pub fn fail_next(&self, count: u32, status: u16) {
        self.state().fail_next = (count, status);
    }
}

fn error(status: u16, reason: &str) -> Reply {
    Reply::json(status, json!({ "message": reason }).to_string())
}

fn serve(state: &Mutex<State>, request: Request) -> Reply {
    let mut s = state.lock().expect("fake platform lock");
    s.requests.push(request.clone());
    if s.fail_next.0 > 0 {
        s.fail_next.0 -= 1;
        return error(s.fail_next.1, "injected failure");
    }
    if request.header("authorization") != Some(format!("Bearer {}", s.token).as_str()) {
        return error(401, "missing or invalid token");
    }
    let path = request.path.as_str();
    match request.method.as_str() {
        "GET" if path.ends_with("/secrets") => {
            Reply::json(200, json!({ "value": s.secrets }).to_string())
        }
        "POST" if path.ends_with("/logs") => match log_entries(&request.body) {
            Ok(entries) => {
                s.logs.extend(entries);
                Reply::json(200, "{}")
            }
            Err(why) => error(400, &why),
        },
        "PATCH" if path.ends_with("/callback") => match status_report(&request.body) {
            Ok((body, running)) => {
                s.patches.push(body);
                let answer = if running {
                    json!({
                        "status": "running",
                        "module_configuration": { "value": s.secrets },
                    })
                } else {
                    json!({ "status": "finished" })
                };
                Reply::json(200, answer.to_string())
            }
            Err(why) => error(400, &why),
        },
        _ => error(404, "no such endpoint"),
    }
}

const LEVELS: [&str; 5] = ["debug", "info", "warning", "error", "critical"];

/// The entries of a logs body, each checked.
fn log_entries(body: &[u8]) -> Result<Vec<Value>, String> {
    let document: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let entries = document["logs"]
        .as_array()
        .ok_or("expected {\"logs\": [...]}")?;
    for (n, entry) in entries.iter().enumerate() {
        let field = |name: &str| {
            entry[name]
                .as_str()
                .ok_or(format!("logs[{n}].{name} is not a string"))
        };
        if !LEVELS.contains(&field("level")?) {
            return Err(format!("logs[{n}].level is not one of {LEVELS:?}"));
        }
        field("message")?;
        if !is_naive_iso(field("date")?) {
            return Err(format!("logs[{n}].date is not a naive ISO 8601 time"));
        }
    }
    Ok(entries.clone())
}

/// `YYYY-MM-DDTHH:MM:SS` with optional fraction and no offset, as Python's `isoformat()` of a
/// naive `datetime`.
fn is_naive_iso(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    whole.parse::<jiff::civil::DateTime>().is_ok()
        && whole.len() == 19
        && !fraction.is_empty()
        && fraction.len() <= 9
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A callback PATCH body, and whether it says `running`.
fn status_report(body: &[u8]) -> Result<(Value, bool), String> {
    let document: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    match document["status"].as_str() {
        Some("running") => Ok((document, true)),
        Some("finished") => {
            if !document["results"]["success"].is_boolean() {
                return Err("a finished report needs results.success (a boolean)".into());
            }
            if !(document["error"].is_null() || document["error"].is_string()) {
                return Err("error must be a string".into());
            }
            Ok((document, false))
        }
        _ => Err("status must be \"running\" or \"finished\"".into()),
    }
}
