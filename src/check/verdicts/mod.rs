//! The wording of every verdict: a typed outcome in, a [`Check`] out (status, one-line reason,
//! one-line fix). Nothing here does I/O, so each verdict is unit-tested from its inputs.
//!
//! One rule runs through all of them: only an answer that says "not allowed" (HTTP 401/403) is
//! called a permission problem. A server error, a timeout or a rate limit says nothing about
//! permissions: it is transient, and `sync` retries it.

mod connection;
mod intake;
mod reads;
mod state_dir;

pub use connection::*;
pub use intake::*;
pub use reads::*;
pub use state_dir::*;

use super::{Check, CheckName, Status};
use crate::okta::ApiError;

pub const SKIP_CONFIG_INVALID: &str = "not checked: the configuration is invalid";
pub const SKIP_UNREACHABLE: &str = "not checked: Okta is not reachable";
pub const SKIP_TOKEN: &str = "not checked: the token check did not pass";
pub const SKIP_NOT_RUN: &str = "not checked";

/// The Okta scope of the System Log.
pub const LOGS_SCOPE: &str = "okta.logs.read";

const CONFIG_FIX: &str =
    "see docs/configuration.md for every key, its environment variable and flag";
pub(super) const RETRY_FIX: &str = "run check again in a few minutes; if it persists, see status.okta.com and quote the request id to Okta support";
pub(super) const STATE_DIR_KEYS: &str = "state_dir (STATE_DIR, --state-dir)";

pub fn config_ok() -> Check {
    Check::new(CheckName::Config, Status::Ok, "configuration is valid", "")
}

pub fn config_invalid(message: String) -> Check {
    Check::new(CheckName::Config, Status::Fail, message, CONFIG_FIX)
}

/// A check that could not start before the run's time budget ran out.
pub fn out_of_time(name: CheckName, total: std::time::Duration) -> Check {
    Check::skipped(
        name,
        format!(
            "not checked: the {} s time budget of `check` ran out",
            total.as_secs_f64()
        ),
    )
}

// ------------------------------------------------------------------------------ Okta answers

pub(super) fn request_id(api: &ApiError) -> String {
    api.request_id
        .as_deref()
        .map(|id| format!(", request id {id}"))
        .unwrap_or_default()
}

/// `HTTP 500 E0000009 (Internal Server Error), request id X`.
pub(super) fn answer(api: &ApiError) -> String {
    let mut text = format!("HTTP {}", api.status);
    if let Some(code) = &api.code {
        text.push_str(&format!(" {code}"));
    }
    if let Some(summary) = &api.summary {
        text.push_str(&format!(" ({summary})"));
    }
    text + &request_id(api)
}

/// `E0000006, request id X` (or the status when Okta sent no code).
pub(super) fn code_and_id(api: &ApiError) -> String {
    let code = api
        .code
        .clone()
        .unwrap_or_else(|| format!("HTTP {}", api.status));
    code + &request_id(api)
}

pub(super) fn transient_reason(what: &str, failure: &str) -> String {
    format!("could not check {what}: Okta failed to answer (transient; sync retries it): {failure}")
}

pub(super) fn rate_limited_reason(what: &str, api: &ApiError) -> String {
    format!(
        "could not check {what}: Okta rate-limited the request (transient; sync waits for the next window): {}",
        code_and_id(api)
    )
}

#[cfg(test)]
mod tests;
