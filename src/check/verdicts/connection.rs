//! `okta_reachable` and `token`: the transport, the users call and the OAuth grant.

use super::{answer, code_and_id, request_id, transient_reason, RETRY_FIX, SKIP_UNREACHABLE};
use crate::check::{Check, CheckName, Status};
use crate::http::is_unknown_host;
use crate::okta::auth::Grant;
use crate::okta::ApiError;
use crate::okta::TokenError;

/// Why a connection gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The resolver answered that the host name does not exist: the base URL is wrong.
    UnknownHost,
    /// The name could not be resolved, without a definite "no such name" (e.g. "Temporary
    /// failure in name resolution"): possibly transient, and `sync` retries it.
    Dns,
    Tls,
    TimedOut,
    Refused,
    Other,
}

/// A request that got no HTTP answer, with the transport's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportFailure {
    pub kind: TransportKind,
    pub detail: String,
}

impl TransportFailure {
    pub fn timed_out() -> TransportFailure {
        TransportFailure {
            kind: TransportKind::TimedOut,
            detail: "timed out".into(),
        }
    }

    /// Classifies the transport's error text (the HTTP client reports causes only as text).
    pub fn from_detail(detail: impl Into<String>) -> TransportFailure {
        let detail = detail.into();
        let lower = detail.to_lowercase();
        // The same rule as `sync`'s retries: only a definite unknown host is a wrong base URL.
        let kind = if is_unknown_host(&detail) {
            TransportKind::UnknownHost
        } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolv") {
            TransportKind::Dns
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
        {
            TransportKind::Tls
        } else if lower.contains("timed out") {
            TransportKind::TimedOut
        } else if lower.contains("refused") {
            TransportKind::Refused
        } else {
            TransportKind::Other
        };
        TransportFailure { kind, detail }
    }

    pub(super) fn reason(&self, host: &str) -> String {
        let detail = &self.detail;
        match self.kind {
            TransportKind::UnknownHost => format!("{host} does not resolve (DNS): {detail}"),
            TransportKind::Dns => format!(
                "{host} could not be resolved right now (DNS lookup failed, possibly transient; sync retries it): {detail}"
            ),
            TransportKind::Tls => format!("TLS with {host} failed: {detail}"),
            TransportKind::TimedOut => format!("{host} did not answer in time"),
            TransportKind::Refused => format!("{host} refused the connection"),
            TransportKind::Other => format!("cannot reach {host}: {detail}"),
        }
    }

    fn fix(&self) -> &'static str {
        match self.kind {
            TransportKind::Tls if self.detail.to_lowercase().contains("certificate") => {
                "a TLS-intercepting proxy? install its CA certificate in the system trust store"
            }
            TransportKind::TimedOut => {
                "check base_url, and that a proxy or firewall lets outbound HTTPS (443) through to Okta"
            }
            TransportKind::UnknownHost => {
                "DNS has no such name: check base_url (e.g. https://acme.okta.com) for a typo"
            }
            TransportKind::Dns => {
                "run check again in a minute; if it persists, check this host's DNS resolver (/etc/resolv.conf, a proxy) and base_url"
            }
            _ => "check base_url (e.g. https://acme.okta.com), DNS, proxy and that outbound HTTPS (443) is allowed",
        }
    }
}

// ------------------------------------------------------------------------------ users call

/// How the first call, `GET /api/v1/users?limit=1`, ended.
#[derive(Debug, Clone, PartialEq)]
pub enum UsersOutcome {
    /// 200 with a list of users.
    Listed,
    /// The host answered, but not as the Okta API does (what it answered).
    NotOkta(String),
    /// HTTP 429 or 5xx without an Okta error body: Okta, or a gateway in between, is down or
    /// rate-limiting right now.
    Unavailable(u16),
    /// Okta answered with its error body.
    Refused(ApiError),
    /// The token cannot be sent as a header (the only settings error left once the client is
    /// built).
    BadTokenHeader(String),
    Unreachable(TransportFailure),
}

/// `okta_reachable` and `token` from the users call.
pub fn users(host: &str, outcome: &UsersOutcome) -> (Check, Check) {
    match outcome {
        UsersOutcome::Listed => (
            reachable(host),
            Check::new(
                CheckName::Token,
                Status::Ok,
                "API token valid: users are readable",
                "",
            ),
        ),
        UsersOutcome::NotOkta(what) => (not_okta(host, what), token_skipped()),
        UsersOutcome::Unavailable(status) => unusable(
            format!("{host} answered HTTP {status} without an Okta error body: Okta, or a proxy in between, is {} right now (transient)", busy_or_down(*status)),
            "run check again in a few minutes; if it persists, check base_url and any proxy between here and Okta",
        ),
        UsersOutcome::Refused(api) => (reachable(host), token_refused(api)),
        UsersOutcome::BadTokenHeader(message) => (
            Check::skipped(CheckName::OktaReachable, "not checked: no request could be sent"),
            Check::new(
                CheckName::Token,
                Status::Fail,
                message.clone(),
                "copy the API token again, without quotes, spaces or line breaks, into OKTA_API_TOKEN",
            ),
        ),
        UsersOutcome::Unreachable(failure) => (unreachable(host, failure), token_skipped()),
    }
}

/// What a body-less 429 or 5xx says about the host.
fn busy_or_down(status: u16) -> &'static str {
    if status == 429 {
        "rate-limiting requests"
    } else {
        "unavailable"
    }
}

/// The token is not checked when Okta cannot be used.
fn token_skipped() -> Check {
    Check::skipped(CheckName::Token, SKIP_UNREACHABLE)
}

/// Okta cannot be used, for `reason`: `okta_reachable` fails, the token is not checked.
fn unusable(reason: String, fix: &str) -> (Check, Check) {
    (okta_fails(reason, fix), token_skipped())
}

/// `okta_reachable` failed: Okta cannot be used.
fn okta_fails(reason: impl Into<String>, fix: impl Into<String>) -> Check {
    Check::new(CheckName::OktaReachable, Status::Fail, reason, fix)
}

fn reachable(host: &str) -> Check {
    Check::new(
        CheckName::OktaReachable,
        Status::Ok,
        format!("{host} answers as an Okta org"),
        "",
    )
}

fn unreachable(host: &str, failure: &TransportFailure) -> Check {
    okta_fails(failure.reason(host), failure.fix())
}

/// The host answered, but not as the Okta API does: the base URL is wrong.
fn not_okta(host: &str, what: &str) -> Check {
    okta_fails(
        format!("{host} answered {what}: it is not the Okta API (wrong base_url?)"),
        "set base_url to your Okta org URL, e.g. https://acme.okta.com (not the admin console, a custom login page or an app URL)",
    )
}

/// The Okta client could not even be built.
pub fn client_setup_failed(message: String) -> Check {
    okta_fails(
        format!("cannot set up the Okta client: {message}"),
        "check base_url",
    )
}

/// The token verdict from Okta's error answer to the users call.
fn token_refused(api: &ApiError) -> Check {
    let id = request_id(api);
    let fail = |reason: String, fix: &str| Check::new(CheckName::Token, Status::Fail, reason, fix);
    match (api.code.as_deref(), api.status) {
        (Some("E0000047"), _) | (_, 429) => fail(
            format!("could not check the token: Okta rate-limited us ({}), the users bucket is spent for this minute", code_and_id(api)),
            "retry in a minute; if it persists, other integrations use the whole users budget (see Okta's rate-limit dashboard)",
        ),
        (_, 500..=599) => fail(transient_reason("the token", &answer(api)), RETRY_FIX),
        (Some("E0000011" | "E0000006"), _) if api.oauth => {
            fail(format!("Okta answered {}", answer(api)), api.hint())
        }
        (Some("E0000011"), _) => fail(
            format!("API token invalid, expired or revoked (E0000011{id})"),
            "create a new API token in the Okta admin console (Security > API > Tokens) and set it in OKTA_API_TOKEN (or apikey)",
        ),
        (Some("E0000006"), _) => fail(
            format!("the token may not read users (E0000006{id})"),
            "create the token from an admin holding the Read-Only Administrator role (it grants okta.users.read)",
        ),
        _ => fail(format!("Okta answered {}", answer(api)), api.hint()),
    }
}

// ------------------------------------------------------------------------------ OAuth

/// The `token` verdict with OAuth: which scopes the service app was granted, which are missing.
pub fn oauth_token(token: Check, grant: &Grant) -> Check {
    let binding = if grant.dpop { "DPoP-bound " } else { "" };
    let mut reason = format!(
        "OAuth service app {}: {binding}access token issued with scopes {}",
        grant.client_id,
        grant.granted.join(" ")
    );
    if !grant.missing.is_empty() {
        reason.push_str(&format!("; missing: {}", grant.missing.join(" ")));
    }
    match token.status {
        Status::Ok if grant.missing.is_empty() => Check::new(
            CheckName::Token,
            Status::Ok,
            format!("{reason}; users are readable"),
            "",
        ),
        Status::Ok => Check::new(
            CheckName::Token,
            Status::Warn,
            format!("{reason} (the matching reads are checked below)"),
            format!(
                "grant {} to the service app in the Okta admin console (Applications > the app > Okta API Scopes > Grant), and assign it the Read-Only Administrator role (Admin roles tab)",
                grant.missing.join(", ")
            ),
        ),
        _ => Check::new(
            CheckName::Token,
            token.status,
            format!("{reason}; but {}", token.reason),
            token.fix,
        ),
    }
}

/// Why the OAuth token request failed.
#[derive(Debug, Clone)]
pub enum GrantFailure {
    /// Okta's token endpoint refused the service app.
    Refused(TokenError),
    Unreachable(TransportFailure),
    Other(String),
}

/// `okta_reachable` and `token` when the OAuth token request itself failed.
pub fn grant_failed(host: &str, failure: &GrantFailure) -> (Check, Check) {
    match failure {
        GrantFailure::Refused(token) => {
            let mut reason = format!(
                "Okta refused the service app's token request: {}",
                token.error
            );
            if let Some(description) = &token.description {
                reason.push_str(&format!(" ({description})"));
            }
            if let Some(id) = &token.request_id {
                reason.push_str(&format!(", request id {id}"));
            }
            (
                reachable(host),
                Check::new(CheckName::Token, Status::Fail, reason, token.hint()),
            )
        }
        GrantFailure::Unreachable(failure) => (unreachable(host, failure), token_skipped()),
        GrantFailure::Other(message) => unusable(
            format!("{host}: the OAuth token request failed: {message}"),
            "check base_url is your Okta org URL (e.g. https://acme.okta.com)",
        ),
    }
}

/// Where a scope stands with an OAuth service app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeState {
    Granted,
    /// Requested, but the org did not grant it to the app.
    NotGranted,
    /// Not in the configured `scopes`: the access token cannot carry it.
    NotRequested,
}

impl ScopeState {
    pub fn of(grant: &Grant, scope: &str) -> ScopeState {
        if grant.granted.iter().any(|s| s == scope) {
            ScopeState::Granted
        } else if grant.requested.iter().any(|s| s == scope) {
            ScopeState::NotGranted
        } else {
            ScopeState::NotRequested
        }
    }
}
