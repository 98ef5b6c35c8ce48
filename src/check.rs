//! `check`: the platform's "Test connector" button (BRIEF §8, docs/check.md).
//!
//! Ordered, read-only checks, each `ok` / `warn` / `fail` / `skipped` with one line of reason and
//! one line of fix. The Okta calls are the cheapest reads of each permission (`limit=1`), made
//! without retries and with short timeouts, and the whole run is bounded, so a hanging host gives
//! a verdict in seconds instead of a stuck button. The intake probe posts an empty batch
//! (`{"version":1,"items":[]}`), which creates and changes nothing; it runs alongside the Okta
//! checks so a hanging Okta host cannot starve it of time.
//!
//! Every report lists the same eight checks in the same order ([`CHECK_NAMES`]), so the platform
//! can show a stable list; a check that could not run is `skipped` with the reason why.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde::Serialize;

use crate::backoff::BackoffPolicy;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::intake::{HttpIntake, IntakeError};
use crate::okta::model::IdOnly;
use crate::okta::rate_limit::{server_date, RateLimitHeaders};
use crate::okta::{ApiError, OktaClient, OktaError, Response};

/// Every check, in the order it is reported.
pub const CHECK_NAMES: [&str; 8] = [
    "config",
    "okta_reachable",
    "token",
    "groups",
    "roles",
    "factors",
    "rate_limit",
    "intake",
];

/// Okta's rate-limit windows last one minute.
const OKTA_WINDOW_SECS: i64 = 60;
/// Below this many seconds into a window, other clients' use is too little to extrapolate.
const MIN_ELAPSED_TO_PROJECT_SECS: i64 = 5;

/// How long `check` may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The whole run ends within this (plus a little bookkeeping).
    pub total: Duration,
    /// One Okta or intake request may take at most this long.
    pub per_request: Duration,
}

impl Default for Budget {
    /// 30 s in all, 8 s per request: a hanging host costs one request's time, and the button
    /// still answers well within a minute.
    fn default() -> Budget {
        Budget {
            total: Duration::from_secs(30),
            per_request: Duration::from_secs(8),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// Not run: an earlier check failed, or the time budget ran out.
    Skipped,
}

/// One verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier, one of [`CHECK_NAMES`].
    pub name: &'static str,
    pub status: Status,
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

/// The `--json` document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// True when no check failed (warnings and skips allowed).
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
            success: !checks.iter().any(|c| c.status == Status::Fail),
            error,
            checks,
        }
    }

    /// The report when the configuration itself is invalid: nothing else can be checked.
    pub fn config_error(message: String) -> Report {
        let mut checks = vec![check(
            "config",
            Status::Fail,
            message,
            "see docs/configuration.md for every key, its environment variable and flag",
        )];
        checks.extend(skip_all(
            &CHECK_NAMES[1..],
            "not checked: the configuration is invalid",
        ));
        Report::from_checks(checks)
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
        out.push_str(if self.success {
            "result: OK\n"
        } else {
            "result: FAILED\n"
        });
        out
    }
}

fn check(
    name: &'static str,
    status: Status,
    reason: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        name,
        status,
        reason: reason.into(),
        fix: fix.into(),
    }
}

fn skip_all(names: &[&'static str], reason: &str) -> Vec<Check> {
    names
        .iter()
        .map(|name| check(name, Status::Skipped, reason, ""))
        .collect()
}

/// Runs every check against a validated configuration, within the default 30 s [`Budget`].
pub async fn run(config: &Config, clock: SharedClock) -> Report {
    run_with_budget(config, clock, Budget::default()).await
}

/// Runs every check within `budget`.
pub async fn run_with_budget(config: &Config, clock: SharedClock, budget: Budget) -> Report {
    let deadline = Deadline::new(budget);
    let (okta, intake) = tokio::join!(
        okta_checks(config, clock.clone(), deadline),
        intake_verdict(config, clock, deadline),
    );
    let mut checks = vec![check("config", Status::Ok, "configuration is valid", "")];
    checks.extend(okta);
    checks.push(intake);
    Report::from_checks(checks)
}

/// The end of the run and the per-request bound.
#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: Instant,
    budget: Budget,
}

impl Deadline {
    fn new(budget: Budget) -> Deadline {
        Deadline {
            at: Instant::now() + budget.total,
            budget,
        }
    }

    /// How long the next request may take: the per-request bound, or what is left of the run.
    fn next_request(&self) -> Duration {
        self.at
            .saturating_duration_since(Instant::now())
            .min(self.budget.per_request)
    }

    fn expired(&self) -> bool {
        Instant::now() >= self.at
    }

    fn skipped(&self, name: &'static str) -> Check {
        check(
            name,
            Status::Skipped,
            format!(
                "not checked: the {} s time budget of `check` ran out",
                self.budget.total.as_secs_f64()
            ),
            "",
        )
    }
}

/// `okta_reachable`, `token`, `groups`, `roles`, `factors`, `rate_limit`, in this order.
async fn okta_checks(config: &Config, clock: SharedClock, deadline: Deadline) -> Vec<Check> {
    let host = config.tenant_host();
    let client = match check_client(config, clock, deadline.budget) {
        Ok(client) => client,
        Err(error) => {
            let mut checks = vec![check(
                "okta_reachable",
                Status::Fail,
                format!("cannot set up the Okta client: {error}"),
                "check base_url",
            )];
            checks.extend(skip_all(
                &CHECK_NAMES[2..7],
                "not checked: Okta is not reachable",
            ));
            return checks;
        }
    };

    // OAuth: get the access token first; its answer says which scopes the app holds.
    let grant = tokio::time::timeout(deadline.next_request(), client.oauth_grant())
        .await
        .unwrap_or_else(|_| {
            Some(Err(OktaError::Transport {
                url: String::new(),
                detail: "timed out".into(),
            }))
        });
    let grant = match grant {
        None => None,
        Some(Ok(grant)) => Some(grant),
        Some(Err(error)) => {
            let mut checks = oauth_failure(&host, &error);
            checks.extend(skip_all(
                &CHECK_NAMES[3..7],
                "not checked: the token check did not pass",
            ));
            return checks;
        }
    };

    // Users: proves the host is an Okta org, reachable, and that the token works.
    let users = bounded(
        deadline,
        client.get(client.url("/api/v1/users", &[("limit", "1")])),
    )
    .await;
    let (reachable, mut token) = users_verdicts(&users, &host);
    if let Some(grant) = &grant {
        token = oauth_token_verdict(token, grant);
    }
    // Only a good token on a real Okta org makes the other reads meaningful: a login page
    // answering 200 to every path would otherwise pass them all.
    let usable = matches!(token.status, Status::Ok | Status::Warn);
    let why = if reachable.status == Status::Fail {
        "not checked: Okta is not reachable"
    } else {
        "not checked: the token check did not pass"
    };
    let mut checks = vec![reachable, token];
    let users = match users {
        Ok(users) if usable => users,
        _ => {
            checks.extend(skip_all(&CHECK_NAMES[3..7], why));
            return checks;
        }
    };
    let first_user = serde_json::from_slice::<Vec<IdOnly>>(&users.body)
        .ok()
        .and_then(|users| users.into_iter().next());

    let okta = Okta {
        client: &client,
        host: &host,
        deadline,
    };
    checks.push(groups_verdict(&okta).await);
    checks.push(roles_verdict(config, &okta).await);
    checks.push(factors_verdict(config, &okta, first_user.as_ref()).await);
    checks.push(rate_limit_verdict(&users.headers, config.rate_limit_share));
    checks
}

/// A client that fails fast: no retries, short timeouts, no waiting out rate limits.
fn check_client(
    config: &Config,
    clock: SharedClock,
    budget: Budget,
) -> Result<OktaClient, OktaError> {
    let mut settings = config.okta_settings();
    settings.connect_timeout = budget.per_request.min(Duration::from_secs(5));
    settings.request_timeout = budget.per_request;
    settings.max_body_bytes = 4 * 1024 * 1024;
    settings.backoff = BackoffPolicy {
        max_retries: 0,
        ..BackoffPolicy::default()
    };
    settings.max_rate_limit_waits = 0;
    OktaClient::new(settings, clock)
}

/// The request's result, or a timeout error when its share of the budget ran out (the client's
/// own timeout normally fires first; this also covers time spent before the request is sent).
async fn bounded<T>(
    deadline: Deadline,
    future: impl std::future::Future<Output = Result<T, OktaError>>,
) -> Result<T, OktaError> {
    match tokio::time::timeout(deadline.next_request(), future).await {
        Ok(result) => result,
        Err(_) => Err(OktaError::Transport {
            url: String::new(),
            detail: "timed out".into(),
        }),
    }
}

/// The error itself, looking through the retry wrapper (the check client never retries, so a
/// failure still arrives wrapped in `Exhausted` after its single attempt).
fn innermost(error: &OktaError) -> &OktaError {
    match error {
        OktaError::Exhausted { last, .. } => innermost(last),
        other => other,
    }
}

/// Two verdicts from the users call: is the host an Okta org we can reach, and is the token good.
fn users_verdicts(result: &Result<Response, OktaError>, host: &str) -> (Check, Check) {
    let reachable_ok = || {
        check(
            "okta_reachable",
            Status::Ok,
            format!("{host} answers as an Okta org"),
            "",
        )
    };
    let token_skipped = || {
        check(
            "token",
            Status::Skipped,
            "not checked: Okta is not reachable",
            "",
        )
    };
    let error = match result {
        Ok(response) if serde_json::from_slice::<Vec<IdOnly>>(&response.body).is_ok() => {
            let token = check(
                "token",
                Status::Ok,
                "API token valid: users are readable",
                "",
            );
            return (reachable_ok(), token);
        }
        Ok(response) => {
            let what = format!(
                "HTTP {} with something else than a list of users",
                response.status
            );
            return (not_okta(host, &what), token_skipped());
        }
        Err(error) => innermost(error),
    };
    match error {
        OktaError::Api(api) if api.code.is_some() => (reachable_ok(), token_verdict(api)),
        OktaError::Api(api) => {
            let html = api.summary.as_deref().is_some_and(|s| s.contains("HTML"));
            let what = format!(
                "HTTP {}{}",
                api.status,
                if html { " with an HTML page" } else { " without an Okta error body" }
            );
            (not_okta(host, &what), token_skipped())
        }
        OktaError::Redirect { status, location, .. } => {
            let what = format!("a redirect (HTTP {status}) to {location}");
            (not_okta(host, &what), token_skipped())
        }
        OktaError::InvalidBody { .. } => (not_okta(host, "something that is not JSON"), token_skipped()),
        OktaError::BodyTooLarge { .. } => (not_okta(host, "an answer larger than any Okta page"), token_skipped()),
        // The only settings error left once the client is built: the token cannot be a header.
        OktaError::Settings(message) => (
            check("okta_reachable", Status::Skipped, "not checked: no request could be sent", ""),
            check(
                "token",
                Status::Fail,
                message.clone(),
                "copy the API token again, without quotes, spaces or line breaks, into OKTA_API_TOKEN",
            ),
        ),
        other => (
            check("okta_reachable", Status::Fail, transport_reason(host, other), transport_fix(other)),
            token_skipped(),
        ),
    }
}

/// The `token` verdict with OAuth: which scopes the service app was granted, which are missing.
fn oauth_token_verdict(token: Check, grant: &crate::okta::auth::Grant) -> Check {
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
        Status::Ok if grant.missing.is_empty() => check("token", Status::Ok, format!("{reason}; users are readable"), ""),
        Status::Ok => check(
            "token",
            Status::Warn,
            format!("{reason} (the matching reads fail below)"),
            format!(
                "grant {} to the service app in the Okta admin console (Applications > the app > Okta API Scopes > Grant), and assign it the Read-Only Administrator role (Admin roles tab)",
                grant.missing.join(", ")
            ),
        ),
        _ => check("token", token.status, format!("{reason}; but {}", token.reason), token.fix),
    }
}

/// `okta_reachable` and `token` when the OAuth token request itself failed.
fn oauth_failure(host: &str, error: &OktaError) -> Vec<Check> {
    let reachable_ok = check(
        "okta_reachable",
        Status::Ok,
        format!("{host} answers as an Okta org"),
        "",
    );
    match innermost(error) {
        OktaError::Token(token) => {
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
            vec![
                reachable_ok,
                check("token", Status::Fail, reason, token.hint()),
            ]
        }
        OktaError::Transport { .. } => vec![
            check(
                "okta_reachable",
                Status::Fail,
                transport_reason(host, error),
                transport_fix(error),
            ),
            check(
                "token",
                Status::Skipped,
                "not checked: Okta is not reachable",
                "",
            ),
        ],
        other => vec![
            check(
                "okta_reachable",
                Status::Fail,
                format!("{host}: the OAuth token request failed: {other}"),
                "check base_url is your Okta org URL (e.g. https://acme.okta.com)",
            ),
            check(
                "token",
                Status::Skipped,
                "not checked: Okta is not reachable",
                "",
            ),
        ],
    }
}

/// The host answered, but not as the Okta API does: the base URL is wrong.
fn not_okta(host: &str, answer: &str) -> Check {
    check(
        "okta_reachable",
        Status::Fail,
        format!("{host} answered {answer}: it is not the Okta API (wrong base_url?)"),
        "set base_url to your Okta org URL, e.g. https://acme.okta.com (not the admin console, a custom login page or an app URL)",
    )
}

/// The token verdict from an Okta error answer to the users call.
fn token_verdict(api: &ApiError) -> Check {
    let id = request_id(api);
    match api.code.as_deref() {
        Some("E0000011" | "E0000006") if api.oauth => {
            check("token", Status::Fail, api_summary(api), api.hint())
        }
        Some("E0000011") => check(
            "token",
            Status::Fail,
            format!("API token invalid, expired or revoked (E0000011{id})"),
            "create a new API token in the Okta admin console (Security > API > Tokens) and set it in OKTA_API_TOKEN (or apikey)",
        ),
        Some("E0000006") => check(
            "token",
            Status::Fail,
            format!("the token may not read users (E0000006{id})"),
            "create the token from an admin holding the Read-Only Administrator role (it grants okta.users.read)",
        ),
        Some("E0000047") => check(
            "token",
            Status::Fail,
            format!("could not check the token: Okta rate-limited us (E0000047{id}), the users bucket is spent for this minute"),
            "retry in a minute; if it persists, other integrations use the whole users budget (see Okta's rate-limit dashboard)",
        ),
        _ => check("token", Status::Fail, api_summary(api), api.hint()),
    }
}

fn request_id(api: &ApiError) -> String {
    api.request_id
        .as_deref()
        .map(|id| format!(", request id {id}"))
        .unwrap_or_default()
}

/// `Okta answered HTTP 500 E0000009 (Internal Server Error), request id X`: the error without
/// its hint (the hint goes to `fix`).
fn api_summary(api: &ApiError) -> String {
    let mut text = format!("Okta answered HTTP {}", api.status);
    if let Some(code) = &api.code {
        text.push_str(&format!(" {code}"));
    }
    if let Some(summary) = &api.summary {
        text.push_str(&format!(" ({summary})"));
    }
    text + &request_id(api)
}

/// The transport failure's own words (not our hint, which mentions DNS and TLS itself).
fn transport_detail(error: &OktaError) -> String {
    match innermost(error) {
        OktaError::Transport { detail, .. } => detail.clone(),
        other => other.to_string(),
    }
}

fn transport_reason(host: &str, error: &OktaError) -> String {
    let text = transport_detail(error);
    let lower = text.to_lowercase();
    if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
        format!("{host} does not resolve (DNS): {text}")
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
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
    let text = transport_detail(error).to_lowercase();
    if text.contains("certificate") {
        "a TLS-intercepting proxy? install its CA certificate in the system trust store"
    } else if text.contains("timed out") {
        "check base_url, and that a proxy or firewall lets outbound HTTPS (443) through to Okta"
    } else {
        "check base_url (e.g. https://acme.okta.com), DNS, proxy and that outbound HTTPS (443) is allowed"
    }
}

/// What a permission check reads and what its absence costs.
struct Permission {
    name: &'static str,
    /// `groups`, `admin roles`, `MFA factors`.
    what: &'static str,
    /// The Okta scope the Read-Only Administrator role grants for it.
    scope: &'static str,
    /// `fail` when the connector cannot work without it, `warn` when only an enrichment is lost.
    denied: Status,
    /// What happens without it, for warnings (empty for failures).
    consequence: &'static str,
}

const GROUPS: Permission = Permission {
    name: "groups",
    what: "groups",
    scope: "okta.groups.read",
    denied: Status::Fail,
    consequence: "",
};

const ROLES: Permission = Permission {
    name: "roles",
    what: "admin roles",
    scope: "okta.roles.read",
    denied: Status::Warn,
    consequence: "admin detection is disabled (user type Admin/User omitted)",
};

const FACTORS: Permission = Permission {
    name: "factors",
    what: "MFA factors",
    scope: "okta.users.read",
    denied: Status::Warn,
    consequence: "MFA enrichment is disabled (has_mfa omitted)",
};

impl Permission {
    fn ok(&self) -> Check {
        check(self.name, Status::Ok, format!("{} readable", self.what), "")
    }

    /// `reason`, followed by the consequence when the check only warns.
    fn denied(&self, reason: String, fix: impl Into<String>) -> Check {
        let reason = if self.consequence.is_empty() {
            reason
        } else {
            format!("{reason}: {}", self.consequence)
        };
        check(self.name, self.denied, reason, fix)
    }

    fn verdict<T>(&self, result: &Result<T, OktaError>, host: &str) -> Check {
        let error = match result {
            Ok(_) => return self.ok(),
            Err(error) => error,
        };
        let Some(api) = error.api() else {
            let reason = format!(
                "cannot read {}: {}",
                self.what,
                transport_reason(host, error)
            );
            return self.denied(reason, "retry; if it persists see docs/troubleshooting.md");
        };
        let id = request_id(api);
        match api.code.as_deref() {
            Some("E0000006") if api.oauth => self.denied(
                format!("the service app may not read {} (E0000006{id})", self.what),
                format!(
                    "grant {} to the service app (Applications > the app > Okta API Scopes) and assign it the Read-Only Administrator role (Admin roles tab)",
                    self.scope
                ),
            ),
            Some("E0000006") => self.denied(
                format!("the token may not read {} (E0000006{id})", self.what),
                format!(
                    "create the token from an admin holding the Read-Only Administrator role (it grants {})",
                    self.scope
                ),
            ),
            Some("E0000015") => self.denied(
                format!("{} are not available: the Okta feature is not enabled for this org (E0000015{id})", self.what),
                api.hint(),
            ),
            Some("E0000047") => self.denied(
                format!("could not read {}: Okta rate-limited us (E0000047{id})", self.what),
                "retry in a minute; if it persists, other integrations use this whole bucket",
            ),
            _ => self.denied(format!("cannot read {}: {}", self.what, api_summary(api)), api.hint()),
        }
    }
}

/// What the permission checks share.
struct Okta<'a> {
    client: &'a OktaClient,
    host: &'a str,
    deadline: Deadline,
}

impl Okta<'_> {
    /// Runs one read for `permission` within the budget and judges it.
    async fn read<T>(
        &self,
        permission: &Permission,
        request: impl std::future::Future<Output = Result<T, OktaError>>,
    ) -> Check {
        if self.deadline.expired() {
            return self.deadline.skipped(permission.name);
        }
        let result = bounded(self.deadline, request).await;
        permission.verdict(&result, self.host)
    }
}

async fn groups_verdict(okta: &Okta<'_>) -> Check {
    let url = okta.client.url("/api/v1/groups", &[("limit", "1")]);
    okta.read(&GROUPS, okta.client.get(url)).await
}

async fn roles_verdict(config: &Config, okta: &Okta<'_>) -> Check {
    if !config.enrich_roles {
        return check(
            ROLES.name,
            Status::Warn,
            "admin role enrichment is turned off (enrich_roles = false / --no-roles): admin detection is disabled",
            "",
        );
    }
    let url = okta
        .client
        .url("/api/v1/iam/assignees/users", &[("limit", "1")]);
    okta.read(&ROLES, okta.client.get(url)).await
}

async fn factors_verdict(config: &Config, okta: &Okta<'_>, user: Option<&IdOnly>) -> Check {
    if !config.enrich_mfa {
        return check(
            FACTORS.name,
            Status::Warn,
            "MFA enrichment is turned off (enrich_mfa = false / --no-mfa)",
            "",
        );
    }
    let Some(user) = user else {
        return check(
            FACTORS.name,
            Status::Warn,
            "the org has no user to test reading MFA factors with",
            "",
        );
    };
    okta.read(&FACTORS, okta.client.list_user_factors(&user.id))
        .await
}

/// Headroom of the users bucket, from the rate-limit headers of the users call.
///
/// `remaining` alone depends on when in the minute the check runs (early in a window every
/// bucket looks empty), so other clients' use so far is also extrapolated to the whole window:
/// the check warns when they leave less than this connector's share, or when the bucket is
/// nearly spent right now.
fn rate_limit_verdict(headers: &HeaderMap, share: f64) -> Check {
    let Some(limits) = RateLimitHeaders::parse(headers) else {
        return check(
            "rate_limit",
            Status::Warn,
            "Okta sent no rate-limit headers: headroom unknown",
            "",
        );
    };
    let (limit, remaining) = (limits.limit, limits.remaining);
    let ours = ((limit as f64 * share).floor() as u64).max(1);
    // Our own users call is counted in `remaining` too.
    let others_used = limit.saturating_sub(remaining).saturating_sub(1);
    let elapsed = server_date(headers).map(|date| {
        OKTA_WINDOW_SECS - (limits.reset - date.as_second()).clamp(0, OKTA_WINDOW_SECS)
    });
    let others_per_window = match elapsed {
        Some(elapsed) if elapsed >= MIN_ELAPSED_TO_PROJECT_SECS => {
            (others_used * OKTA_WINDOW_SECS as u64 / elapsed as u64).min(limit)
        }
        _ => others_used,
    };
    let left_for_us = limit - others_per_window;
    let reason = format!(
        "users bucket: {remaining} of {limit} requests left this minute; other clients use about {others_per_window}/min; this connector may use {ours}/min (rate_limit_share {share})"
    );
    if remaining * 5 < limit || left_for_us < ours {
        check(
            "rate_limit",
            Status::Warn,
            reason,
            "other integrations use most of this bucket: syncs will be slower; review them in Okta's rate-limit dashboard, or ask Okta for a higher limit",
        )
    } else {
        check("rate_limit", Status::Ok, reason, "")
    }
}

/// Posts one empty batch: proves the intake is reachable and takes the key, changes nothing.
async fn intake_verdict(config: &Config, clock: SharedClock, deadline: Deadline) -> Check {
    let Some(mut settings) = config.intake.clone() else {
        return check(
            "intake",
            Status::Warn,
            "no intake configured: only `sync --output` can be used",
            "set connector_uuid (CONNECTOR_UUID) or intake_url, and INTAKE_API_KEY",
        );
    };
    settings.timeout = deadline.budget.per_request;
    let intake = match HttpIntake::new(settings, clock) {
        Ok(intake) => intake,
        Err(error) => {
            return check(
                "intake",
                Status::Fail,
                error.to_string(),
                "check INTAKE_API_KEY (sekoia_api_key)",
            )
        }
    };
    let shown = intake.url().to_string();
    match tokio::time::timeout(deadline.next_request(), intake.probe()).await {
        Err(_) => intake_timeout(&shown),
        Ok(Ok(status)) => check(
            "intake",
            Status::Ok,
            format!("intake {shown} accepted the key (HTTP {status} for an empty batch)"),
            "",
        ),
        Ok(Err(error)) => intake_failure(&shown, &error),
    }
}

fn intake_timeout(shown: &str) -> Check {
    check(
        "intake",
        Status::Fail,
        format!("intake {shown} is unreachable: it did not answer in time"),
        "check intake_url / sekoia_base_url, proxy, and that outbound HTTPS is allowed",
    )
}

fn intake_failure(shown: &str, error: &IntakeError) -> Check {
    let (reason, fix) = match (error, error.status()) {
        (_, Some(status @ (401 | 403))) => (
            format!("intake {shown} rejected the key (HTTP {status})"),
            "check INTAKE_API_KEY (sekoia_api_key) and that the key may push assets for this connector",
        ),
        (_, Some(404)) => (
            format!("intake {shown} answered 404: wrong URL or connector UUID"),
            "check connector_uuid (CONNECTOR_UUID) or intake_url",
        ),
        (_, Some(status @ (408 | 429 | 500..=599))) => (
            format!("intake {shown} is unavailable right now (HTTP {status})"),
            "retry in a few minutes; if it persists, check the platform's status",
        ),
        (IntakeError::Exhausted { last, .. }, None) if last.contains("timed out") => {
            return intake_timeout(shown)
        }
        (IntakeError::Exhausted { last, .. }, None) => (
            format!("intake {shown} is unreachable: {last}"),
            "check intake_url / sekoia_base_url, proxy, and that outbound HTTPS is allowed",
        ),
        _ => (
            format!("intake {shown} refused the empty test batch: {error}"),
            "check intake_url and format (sekoia or ocsf); see docs/troubleshooting.md",
        ),
    };
    check("intake", Status::Fail, reason, fix)
}
