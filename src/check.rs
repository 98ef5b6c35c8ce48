//! `check`: the platform's "Test connector" button (BRIEF §8).
//!
//! Ordered, read-only checks, each `ok` / `warn` / `fail` with one line of reason and one line
//! of fix. The Okta calls are the cheapest reads of each permission (`limit=1`), made without
//! retries and with short timeouts, and the whole run is bounded, so a hanging host gives a
//! verdict in seconds instead of a stuck button. The intake probe posts an empty batch
//! (`{"version":1,"items":[]}`), which creates and changes nothing.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backoff::BackoffPolicy;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::intake::{HttpIntake, IntakeError};
use crate::okta::model::IdOnly;
use crate::okta::{Bucket, OktaClient, OktaError};

/// The whole `check` run ends within this bound (plus a little bookkeeping).
pub const TOTAL_BUDGET: Duration = Duration::from_secs(30);
/// One Okta or intake request may take at most this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// Not run because an earlier check failed.
    Skipped,
}

/// One verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier: `config`, `okta_reachable`, `token`, `groups`, `roles`, `factors`,
    /// `rate_limit`, `intake`.
    pub name: &'static str,
    pub status: Status,
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

/// The `--json` document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub success: bool,
    /// The first failure's reason, empty on success.
    pub error: String,
    pub checks: Vec<Check>,
}

impl Report {
    fn from_checks(checks: Vec<Check>) -> Report {
        let error = checks
            .iter()
            .find(|c| c.status == Status::Fail)
            .map(|c| c.reason.clone())
            .unwrap_or_default();
        Report {
            success: error.is_empty() && !checks.iter().any(|c| c.status == Status::Fail),
            error,
            checks,
        }
    }

    /// The report when the configuration itself is invalid.
    pub fn config_error(message: String) -> Report {
        Report::from_checks(vec![Check {
            name: "config",
            status: Status::Fail,
            reason: message,
            fix: "see docs/configuration.md for every key, its environment variable and flag".into(),
        }])
    }

    /// Human-readable lines.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            let tag = match check.status {
                Status::Ok => "  ok ",
                Status::Warn => " warn",
                Status::Fail => " FAIL",
                Status::Skipped => " skip",
            };
            out.push_str(&format!("[{tag}] {:<15} {}\n", check.name, check.reason));
            if !check.fix.is_empty() && check.status != Status::Ok {
                out.push_str(&format!("        {:<15} fix: {}\n", "", check.fix));
            }
        }
        out.push_str(if self.success { "result: OK\n" } else { "result: FAILED\n" });
        out
    }
}

fn check(name: &'static str, status: Status, reason: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name,
        status,
        reason: reason.into(),
        fix: fix.into(),
    }
}

/// Runs every check against a validated configuration.
pub async fn run(config: &Config, clock: SharedClock) -> Report {
    let deadline = Instant::now() + TOTAL_BUDGET;
    let mut checks = vec![check("config", Status::Ok, "configuration is valid", "")];
    let client = match check_client(config, clock.clone()) {
        Ok(client) => client,
        Err(error) => {
            checks.push(check("okta_reachable", Status::Fail, error.to_string(), "check base_url"));
            return Report::from_checks(checks);
        }
    };

    // Users: proves the host is an Okta org, reachable, and that the token works.
    let users = bounded(deadline, client.get(client.url("/api/v1/users", &[("limit", "1")]))).await;
    let first_user = match &users {
        Ok(response) => serde_json::from_slice::<Vec<IdOnly>>(&response.body)
            .ok()
            .and_then(|users| users.into_iter().next()),
        Err(_) => None,
    };
    let (reachable, token) = users_verdicts(&users, config);
    let okta_usable = token.status == Status::Ok;
    checks.push(reachable);
    checks.push(token);
    if !okta_usable {
        for name in ["groups", "roles", "factors", "rate_limit"] {
            checks.push(check(name, Status::Skipped, "not checked: Okta is not usable yet", ""));
        }
    } else {
        let groups = bounded(deadline, client.get(client.url("/api/v1/groups", &[("limit", "1")]))).await;
        checks.push(permission_verdict("groups", &groups, Status::Fail, "groups readable", "okta.groups.read"));

        let roles = if config.enrich_roles {
            let url = client.url("/api/v1/iam/assignees/users", &[("limit", "1")]);
            let roles = bounded(deadline, client.get(url)).await;
            permission_verdict(
                "roles",
                &roles,
                Status::Warn,
                "admin roles readable",
                "okta.roles.read (without it admin detection is disabled)",
            )
        } else {
            check("roles", Status::Warn, "admin role enrichment is disabled (enrich_roles = false)", "")
        };
        checks.push(roles);

        checks.push(factors_verdict(config, &client, first_user.as_ref(), deadline).await);
        checks.push(rate_limit_verdict(&client, config.rate_limit_share));
    }
    checks.push(intake_verdict(config, clock, deadline).await);
    Report::from_checks(checks)
}

/// A client that fails fast: no retries, short timeouts, no waiting out rate limits.
fn check_client(config: &Config, clock: SharedClock) -> Result<OktaClient, OktaError> {
    let mut settings = config.okta_settings();
    settings.connect_timeout = Duration::from_secs(5);
    settings.request_timeout = REQUEST_TIMEOUT;
    settings.max_body_bytes = 4 * 1024 * 1024;
    settings.backoff = BackoffPolicy {
        max_retries: 0,
        ..BackoffPolicy::default()
    };
    settings.max_rate_limit_waits = 0;
    OktaClient::new(settings, clock)
}

/// The request's result, or a timeout error when the overall budget ran out.
async fn bounded<T>(
    deadline: Instant,
    future: impl std::future::Future<Output = Result<T, OktaError>>,
) -> Result<T, OktaError> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left.min(REQUEST_TIMEOUT + Duration::from_secs(2)), future).await {
        Ok(result) => result,
        Err(_) => Err(OktaError::Transport {
            url: String::new(),
            detail: "no answer in time (timed out)".into(),
        }),
    }
}

/// Two verdicts from the users call: is the host an Okta org we can reach, and is the token good.
fn users_verdicts(result: &Result<crate::okta::Response, OktaError>, config: &Config) -> (Check, Check) {
    let host = config.tenant_host();
    let skipped = || check("token", Status::Skipped, "not checked: Okta is not reachable", "");
    match result {
        Ok(response) if serde_json::from_slice::<Vec<IdOnly>>(&response.body).is_ok() => (
            check("okta_reachable", Status::Ok, format!("{host} answers as an Okta org"), ""),
            check("token", Status::Ok, "API token valid: users are readable", ""),
        ),
        Ok(_) | Err(OktaError::InvalidBody { .. }) => (
            check(
                "okta_reachable",
                Status::Fail,
                format!("{host} answered, but not like the Okta API (an HTML page or another service)"),
                "set base_url to your Okta org URL, e.g. https://acme.okta.com (not the admin console or an app URL)",
            ),
            skipped(),
        ),
        Err(error) => match error.api() {
            Some(api) if api.code.is_some() => {
                let reachable = check("okta_reachable", Status::Ok, format!("{host} answers as an Okta org"), "");
                let token = match api.code.as_deref() {
                    Some("E0000011") => check(
                        "token",
                        Status::Fail,
                        format!("API token invalid, expired or revoked (E0000011{})", request_id(api)),
                        "create a new API token (Security > API > Tokens) and set OKTA_API_TOKEN",
                    ),
                    Some("E0000006") => check(
                        "token",
                        Status::Fail,
                        format!("the token may not read users (E0000006{})", request_id(api)),
                        "create the token from an admin with the Read-Only Administrator role (okta.users.read)",
                    ),
                    Some("E0000047") => check(
                        "token",
                        Status::Fail,
                        "Okta rate-limited us (E0000047): the users bucket is exhausted right now",
                        "retry in a minute; if it persists, other integrations are using the whole budget",
                    ),
                    _ => check("token", Status::Fail, api.to_string(), api.hint()),
                };
                (reachable, token)
            }
            Some(api) => (
                check(
                    "okta_reachable",
                    Status::Fail,
                    format!("{host} answered HTTP {} without an Okta error body: not an Okta org?", api.status),
                    "set base_url to your Okta org URL, e.g. https://acme.okta.com",
                ),
                skipped(),
            ),
            None => (
                check("okta_reachable", Status::Fail, transport_reason(&host, error), transport_fix(error)),
                skipped(),
            ),
        },
    }
}

fn request_id(api: &crate::okta::ApiError) -> String {
    api.request_id
        .as_deref()
        .map(|id| format!(", request id {id}"))
        .unwrap_or_default()
}

/// The transport failure's own words (not our hint, which mentions DNS and TLS itself).
fn transport_detail(error: &OktaError) -> String {
    match error {
        OktaError::Transport { detail, .. } => detail.clone(),
        OktaError::Exhausted { last, .. } => transport_detail(last),
        other => other.to_string(),
    }
}

fn transport_reason(host: &str, error: &OktaError) -> String {
    let text = transport_detail(error);
    let lower = text.to_lowercase();
    if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
        format!("{host} does not resolve (DNS)")
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        format!("TLS with {host} failed: {text}")
    } else if lower.contains("timed out") {
        format!("{host} did not answer in time")
    } else if lower.contains("refused") {
        format!("{host} refused the connection")
    } else {
        format!("cannot reach {host}: {text}")
    }
}

fn transport_fix(error: &OktaError) -> &'static str {
    if transport_detail(error).to_lowercase().contains("certificate") {
        "a TLS-intercepting proxy? install its CA certificate in the system trust store"
    } else {
        "check base_url (e.g. https://acme.okta.com), DNS, proxy and that outbound HTTPS (443) is allowed"
    }
}

/// A permission check: ok when readable, `denied` status when Okta says no.
fn permission_verdict(
    name: &'static str,
    result: &Result<crate::okta::Response, OktaError>,
    denied: Status,
    ok_reason: &str,
    scope: &str,
) -> Check {
    match result {
        Ok(_) => check(name, Status::Ok, ok_reason, ""),
        Err(error) => match error.code() {
            Some("E0000006") | Some("E0000015") => check(
                name,
                denied,
                format!("the token may not read {name} ({})", error.code().unwrap_or_default()),
                format!("grant {scope}: create the token from a Read-Only Administrator"),
            ),
            _ => check(name, denied, format!("cannot read {name}: {error}"), "retry; see docs/troubleshooting.md"),
        },
    }
}

async fn factors_verdict(config: &Config, client: &OktaClient, user: Option<&IdOnly>, deadline: Instant) -> Check {
    if !config.enrich_mfa {
        return check("factors", Status::Warn, "MFA enrichment is disabled (enrich_mfa = false)", "");
    }
    let Some(user) = user else {
        return check("factors", Status::Warn, "no user in the org to test factor access with", "");
    };
    let result = bounded(deadline, client.list_user_factors(&user.id)).await;
    match result {
        Ok(_) => check("factors", Status::Ok, "MFA factors readable", ""),
        Err(error) => match error.code() {
            Some("E0000006") | Some("E0000015") => check(
                "factors",
                Status::Warn,
                format!(
                    "the token may not read MFA factors ({}): MFA enrichment will be unknown",
                    error.code().unwrap_or_default()
                ),
                "create the token from a Read-Only Administrator (okta.users.read), or set enrich_mfa = false",
            ),
            _ => check("factors", Status::Warn, format!("cannot read MFA factors: {error}"), "retry later"),
        },
    }
}

fn rate_limit_verdict(client: &OktaClient, share: f64) -> Check {
    match client.rate_limit_snapshot(Bucket::UsersList) {
        None => check("rate_limit", Status::Warn, "Okta sent no rate-limit headers", ""),
        Some((limit, remaining)) => {
            let ours = (limit as f64 * share).floor() as u64;
            let reason = format!(
                "users bucket: {remaining} of {limit} requests left this minute; this connector uses at most {ours}/min (rate_limit_share {share})"
            );
            if remaining * 5 < limit {
                check(
                    "rate_limit",
                    Status::Warn,
                    reason,
                    "other integrations use most of this bucket: syncs will be slower; consider Okta's rate-limit dashboard",
                )
            } else {
                check("rate_limit", Status::Ok, reason, "")
            }
        }
    }
}

async fn intake_verdict(config: &Config, clock: SharedClock, deadline: Instant) -> Check {
    let Some(settings) = config.intake.clone() else {
        return check(
            "intake",
            Status::Warn,
            "no intake configured: only `sync --output` can be used",
            "set connector_uuid (CONNECTOR_UUID) or intake_url, and INTAKE_API_KEY",
        );
    };
    let url = settings.url.clone();
    let mut settings = settings;
    settings.timeout = REQUEST_TIMEOUT;
    let intake = match HttpIntake::new(settings, clock) {
        Ok(intake) => intake,
        Err(error) => return check("intake", Status::Fail, error.to_string(), ""),
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    match tokio::time::timeout(left, intake.probe()).await {
        Err(_) => check("intake", Status::Fail, format!("intake {shown} did not answer in time"), "check intake_url and network"),
        Ok(Ok(status)) => check(
            "intake",
            Status::Ok,
            format!("intake {shown} accepted the key (HTTP {status} for an empty batch)"),
            "",
        ),
        Ok(Err(error)) => {
            let status = error.status();
            let (reason, fix) = match (&error, status) {
                (_, Some(401 | 403)) => (
                    format!("intake {shown} rejected the key (HTTP {})", status.unwrap_or_default()),
                    "check INTAKE_API_KEY (sekoia_api_key) and that the key may push assets for this connector",
                ),
                (_, Some(404)) => (
                    format!("intake {shown} answered 404: wrong URL or connector UUID"),
                    "check connector_uuid (CONNECTOR_UUID) or intake_url",
                ),
                (IntakeError::Exhausted { .. }, None) => (
                    format!("intake {shown} is unreachable: {error}"),
                    "check intake_url / sekoia_base_url and outbound HTTPS",
                ),
                _ => (format!("intake {shown}: {error}"), "see docs/troubleshooting.md"),
            };
            check("intake", Status::Fail, reason, fix)
        }
    }
}
