//! The Okta checks: `okta_reachable`, `token`, `groups`, `roles`, `factors`, `change_feed`,
//! `rate_limit`.
//!
//! One users call proves the host is an Okta org and the token works (and its rate-limit
//! headers give the headroom); only then do the permission reads run, side by side (they are
//! metered in different buckets). Every answer is turned into a typed outcome here and worded by
//! [`super::verdicts`].

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::header::HeaderMap;

use super::verdicts::{
    self, GrantFailure, Permission, ReadOutcome, ScopeState, TransportFailure, UsersBucket,
    UsersOutcome, CHANGE_FEED, FACTORS, GROUPS, ROLES,
};
use super::{Budget, Check, CheckName, Deadline};
use crate::backoff::BackoffPolicy;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::okta::auth::Grant;
use crate::okta::endpoints::expr::okta_time;
use crate::okta::model::IdOnly;
use crate::okta::rate_limit::{server_date, RateLimitHeaders, WINDOW};
use crate::okta::{ApiError, OktaClient, OktaError, Response};

/// How far back the System Log probe looks: recent enough that Okta has little to scan and
/// the answer is at most one small event.
const LOGS_LOOKBACK: SignedDuration = SignedDuration::from_mins(15);

/// Every Okta check, in report order.
pub(super) async fn checks(config: &Config, clock: SharedClock, deadline: &Deadline) -> Vec<Check> {
    let host = config.tenant_host();
    let client = match check_client(config, clock, deadline.budget()) {
        Ok(client) => client,
        Err(error) => {
            let failed = verdicts::client_setup_failed(error.to_string());
            return complete(vec![failed], verdicts::SKIP_UNREACHABLE);
        }
    };

    let grant = match fetch_grant(&client, deadline).await {
        Ok(grant) => grant,
        Err(failure) => {
            let (reachable, token) = verdicts::grant_failed(&host, &failure);
            let why = skip_reason(&reachable);
            return complete(vec![reachable, token], why);
        }
    };

    let users_url = client.url("/api/v1/users", &[("limit", "1")]);
    let users = deadline.bound(client.get(users_url)).await;
    let outcome = users_outcome(&users);
    let (reachable, mut token) = verdicts::users(&host, &outcome);
    if let Some(grant) = &grant {
        token = verdicts::oauth_token(token, grant);
    }
    let why = skip_reason(&reachable);
    let mut checks = vec![reachable, token];
    // Only a good token on a real Okta org makes the other reads meaningful: a login page
    // answering 200 to every path would otherwise pass them all.
    let users = match users {
        Some(Ok(users)) if outcome == UsersOutcome::Listed => users,
        _ => return complete(checks, why),
    };
    let first_user = serde_json::from_slice::<Vec<IdOnly>>(&users.body)
        .ok()
        .and_then(|users| users.into_iter().next());

    let okta = Reads {
        client: &client,
        host: &host,
        deadline,
        grant: grant.as_ref(),
    };
    let (groups, roles, factors, change_feed) = tokio::join!(
        okta.groups(),
        okta.roles(config.enrich_roles),
        okta.factors(config.enrich_mfa, first_user.as_ref()),
        okta.change_feed(),
    );
    checks.extend([groups, roles, factors, change_feed]);
    checks.push(verdicts::rate_limit(
        users_bucket(&users.headers),
        config.rate_limit_share,
    ));
    checks
}

/// With OAuth, the access token first: its answer says which scopes the app holds. `None` with
/// an SSWS token.
async fn fetch_grant(
    client: &OktaClient,
    deadline: &Deadline,
) -> Result<Option<Grant>, GrantFailure> {
    match deadline.bound(client.oauth_grant()).await {
        None => Err(GrantFailure::Unreachable(TransportFailure::timed_out())),
        Some(None) => Ok(None),
        Some(Some(Ok(grant))) => Ok(Some(grant)),
        Some(Some(Err(error))) => Err(grant_failure(&error)),
    }
}

/// `checks` with a `skipped` verdict for every Okta check not in it.
fn complete(mut checks: Vec<Check>, why: &str) -> Vec<Check> {
    for name in CheckName::ALL.into_iter().filter(|c| c.talks_to_okta()) {
        if !checks.iter().any(|c| c.name == name) {
            checks.push(Check::skipped(name, why));
        }
    }
    checks
}

/// Why the checks after `okta_reachable` and `token` did not run.
fn skip_reason(reachable: &Check) -> &'static str {
    if reachable.status == super::Status::Fail {
        verdicts::SKIP_UNREACHABLE
    } else {
        verdicts::SKIP_TOKEN
    }
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

/// The error itself, looking through the retry wrapper (the check client never retries, so a
/// failure still arrives wrapped in `Exhausted` after its single attempt).
fn innermost(error: &OktaError) -> &OktaError {
    match error {
        OktaError::Exhausted { last, .. } => innermost(last),
        other => other,
    }
}

fn transport(error: &OktaError) -> TransportFailure {
    match innermost(error) {
        OktaError::Transport { detail, .. } => TransportFailure::from_detail(detail.clone()),
        other => TransportFailure::from_detail(other.to_string()),
    }
}

fn grant_failure(error: &OktaError) -> GrantFailure {
    match innermost(error) {
        OktaError::Token(token) => GrantFailure::Refused((**token).clone()),
        OktaError::Transport { .. } => GrantFailure::Unreachable(transport(error)),
        other => GrantFailure::Other(other.to_string()),
    }
}

/// What the users call's answer says about the host and the token.
pub(super) fn users_outcome(result: &Option<Result<Response, OktaError>>) -> UsersOutcome {
    let error = match result {
        None => return UsersOutcome::Unreachable(TransportFailure::timed_out()),
        Some(Ok(response)) if serde_json::from_slice::<Vec<IdOnly>>(&response.body).is_ok() => {
            return UsersOutcome::Listed
        }
        Some(Ok(response)) => {
            return UsersOutcome::NotOkta(format!(
                "HTTP {} with something else than a list of users",
                response.status
            ))
        }
        Some(Err(error)) => error,
    };
    match innermost(error) {
        OktaError::Api(api) if api.code.is_some() => UsersOutcome::Refused((**api).clone()),
        // Any server error or rate limit, with or without Okta's body, says the host is busy or
        // down right now, not that it is the wrong host.
        OktaError::Api(api) if api.status >= 500 || api.status == 429 => {
            UsersOutcome::Unavailable(api.status)
        }
        OktaError::Api(api) => {
            let html = api.summary.as_deref().is_some_and(|s| s.contains("HTML"));
            let body = if html {
                " with an HTML page"
            } else {
                " without an Okta error body"
            };
            UsersOutcome::NotOkta(format!("HTTP {}{body}", api.status))
        }
        OktaError::Redirect {
            status, location, ..
        } => UsersOutcome::NotOkta(format!("a redirect (HTTP {status}) to {location}")),
        OktaError::InvalidBody { .. } => UsersOutcome::NotOkta("something that is not JSON".into()),
        OktaError::BodyTooLarge { .. } => {
            UsersOutcome::NotOkta("an answer larger than any Okta page".into())
        }
        OktaError::Settings(message) => UsersOutcome::BadTokenHeader(message.clone()),
        _ => UsersOutcome::Unreachable(transport(error)),
    }
}

/// What a permission read's answer says. Only 401/403 count as a permission problem.
pub(super) fn read_outcome<T>(result: &Option<Result<T, OktaError>>) -> ReadOutcome {
    let error = match result {
        None => return ReadOutcome::NoAnswer(TransportFailure::timed_out()),
        Some(Ok(_)) => return ReadOutcome::Readable,
        Some(Err(error)) => error,
    };
    match innermost(error) {
        OktaError::Api(api) => api_outcome(api),
        OktaError::Transport { .. } => ReadOutcome::NoAnswer(transport(error)),
        other => ReadOutcome::Unexpected(other.to_string()),
    }
}

fn api_outcome(api: &ApiError) -> ReadOutcome {
    let api = api.clone();
    match api.code.as_deref() {
        // Okta sends `E0000015` as a 401, but it is the org's plan, not the token's permission:
        // it is tested before the permission rule.
        Some("E0000015") => ReadOutcome::FeatureOff(api),
        Some("E0000047") => ReadOutcome::RateLimited(api),
        _ if api.status == 429 => ReadOutcome::RateLimited(api),
        _ if api.is_permission_problem() => ReadOutcome::Denied(api),
        _ if (500..=599).contains(&api.status) => ReadOutcome::ServerError(api),
        _ => ReadOutcome::Other(api),
    }
}

/// The users bucket from the users call's headers.
fn users_bucket(headers: &HeaderMap) -> Option<UsersBucket> {
    let limits = RateLimitHeaders::parse(headers)?;
    let window = WINDOW.as_secs();
    // Saturating: the reset is whatever the answer said, up to i64::MIN or i64::MAX.
    let seconds_into_window = server_date(headers).map(|date| {
        let until_reset = limits.reset.saturating_sub(date.as_second()).max(0);
        window - u64::try_from(until_reset).unwrap_or(window).min(window)
    });
    Some(UsersBucket {
        limit: limits.limit,
        remaining: limits.remaining,
        seconds_into_window,
    })
}

/// What the permission reads share.
struct Reads<'a> {
    client: &'a OktaClient,
    host: &'a str,
    deadline: &'a Deadline,
    grant: Option<&'a Grant>,
}

impl Reads<'_> {
    /// Runs one read for `permission` within the budget and judges it.
    async fn read<T>(
        &self,
        permission: &Permission,
        request: impl std::future::Future<Output = Result<T, OktaError>>,
    ) -> Check {
        if self.deadline.expired() {
            return verdicts::out_of_time(permission.name, self.deadline.budget().total);
        }
        let result = self.deadline.bound(request).await;
        let scope = self.grant.map(|g| ScopeState::of(g, permission.scope));
        verdicts::read(permission, &read_outcome(&result), self.host, scope)
    }

    async fn groups(&self) -> Check {
        let url = self.client.url("/api/v1/groups", &[("limit", "1")]);
        self.read(&GROUPS, self.client.get(url)).await
    }

    async fn roles(&self, enabled: bool) -> Check {
        if !enabled {
            return verdicts::roles_turned_off();
        }
        let url = self
            .client
            .url("/api/v1/iam/assignees/users", &[("limit", "1")]);
        self.read(&ROLES, self.client.get(url)).await
    }

    async fn factors(&self, enabled: bool, user: Option<&IdOnly>) -> Check {
        if !enabled {
            return verdicts::factors_turned_off();
        }
        let Some(user) = user else {
            return verdicts::no_user_for_factors();
        };
        self.read(&FACTORS, self.client.list_user_factors(&user.id))
            .await
    }

    /// One event at most from the System Log: a polling query (a `since`, no `until`), as the
    /// change feed makes, starting shortly before Okta's own clock.
    async fn change_feed(&self) -> Check {
        let since = logs_since(self.client.server_time());
        let url = self
            .client
            .url("/api/v1/logs", &[("since", &since), ("limit", "1")]);
        self.read(&CHANGE_FEED, self.client.get(url)).await
    }
}

fn logs_since(okta_now: Timestamp) -> String {
    okta_time(okta_now.checked_sub(LOGS_LOOKBACK).unwrap_or(okta_now))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use reqwest::header::HeaderValue;

    use super::*;

    fn api(status: u16, code: Option<&str>) -> ApiError {
        ApiError {
            status,
            code: code.map(str::to_string),
            summary: Some("summary".into()),
            request_id: Some("req-1".into()),
            url: "https://acme.okta.com/api/v1/x".into(),
            oauth: false,
        }
    }

    fn failed<T>(error: OktaError) -> Option<Result<T, OktaError>> {
        // As the check client reports it: one attempt, wrapped.
        Some(Err(OktaError::Exhausted {
            url: "https://acme.okta.com/api/v1/x".into(),
            attempts: 1,
            last: Box::new(error),
        }))
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            url: "https://acme.okta.com/api/v1/users?limit=1"
                .parse()
                .unwrap(),
            status,
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn only_401_and_403_are_permission_problems() {
        let outcome =
            |status, code| read_outcome::<()>(&failed(OktaError::Api(Box::new(api(status, code)))));
        // Each status and code, and the kind of outcome it is, carrying Okta's error.
        type Kind = fn(ApiError) -> ReadOutcome;
        let cases: [(u16, Option<&str>, Kind); 11] = [
            (403, Some("E0000006"), ReadOutcome::Denied),
            (401, Some("E0000011"), ReadOutcome::Denied),
            (401, None, ReadOutcome::Denied),
            (500, Some("E0000009"), ReadOutcome::ServerError),
            (503, None, ReadOutcome::ServerError),
            (429, Some("E0000047"), ReadOutcome::RateLimited),
            (400, Some("E0000015"), ReadOutcome::FeatureOff),
            // Okta's own spec sends E0000015 as a 401: still the org's plan, not the token.
            (401, Some("E0000015"), ReadOutcome::FeatureOff),
            (429, None, ReadOutcome::RateLimited),
            (404, Some("E0000007"), ReadOutcome::Other),
            (409, None, ReadOutcome::Other),
        ];
        for (status, code, kind) in cases {
            let expected = kind(api(status, code));
            assert_eq!(outcome(status, code), expected, "{status} {code:?}");
        }
    }

    #[test]
    fn no_answer_is_not_a_permission_problem() {
        let timeout = read_outcome::<()>(&None);
        assert_eq!(
            timeout,
            ReadOutcome::NoAnswer(TransportFailure::timed_out())
        );
        let reset = read_outcome::<()>(&failed(OktaError::Transport {
            url: String::new(),
            detail: "connection reset by peer".into(),
        }));
        assert!(matches!(
            reset,
            ReadOutcome::NoAnswer(TransportFailure {
                kind: verdicts::TransportKind::Other,
                ..
            })
        ));
        let body = read_outcome::<()>(&failed(OktaError::InvalidBody {
            url: "u".into(),
            detail: "eof".into(),
            request_id: None,
        }));
        assert!(matches!(body, ReadOutcome::Unexpected(_)));
        assert_eq!(
            read_outcome(&Some(Ok::<_, OktaError>(()))),
            ReadOutcome::Readable
        );
    }

    #[test]
    fn users_answers_tell_okta_from_other_hosts() {
        assert_eq!(
            users_outcome(&Some(Ok(response(200, r#"[{"id":"00u1"}]"#)))),
            UsersOutcome::Listed
        );
        assert_eq!(
            users_outcome(&Some(Ok(response(200, "[]")))),
            UsersOutcome::Listed
        );
        assert!(matches!(
            users_outcome(&Some(Ok(response(200, r#"{"hello":1}"#)))),
            UsersOutcome::NotOkta(what) if what.contains("HTTP 200")
        ));
        assert!(matches!(
            users_outcome(&failed(OktaError::Api(Box::new(api(
                401,
                Some("E0000011")
            ))))),
            UsersOutcome::Refused(_)
        ));
        assert_eq!(
            users_outcome(&failed(OktaError::Api(Box::new(api(503, None))))),
            UsersOutcome::Unavailable(503)
        );
        for status in [429, 500, 501, 505, 520, 527, 599] {
            assert_eq!(
                users_outcome(&failed(OktaError::Api(Box::new(api(status, None))))),
                UsersOutcome::Unavailable(status),
                "HTTP {status} without an Okta body is transient, not a wrong base_url"
            );
        }
        let mut html = api(404, None);
        html.summary = Some("an HTML page".into());
        assert_eq!(
            users_outcome(&failed(OktaError::Api(Box::new(html)))),
            UsersOutcome::NotOkta("HTTP 404 with an HTML page".into())
        );
        assert!(matches!(
            users_outcome(&failed(OktaError::Redirect { url: "u".into(), status: 302, location: "https://login".into() })),
            UsersOutcome::NotOkta(what) if what.contains("redirect (HTTP 302) to https://login")
        ));
        assert!(matches!(
            users_outcome(&Some(Err(OktaError::Settings("bad header".into())))),
            UsersOutcome::BadTokenHeader(_)
        ));
        assert!(matches!(
            users_outcome(&failed(OktaError::Transport {
                url: String::new(),
                detail: "dns error: failed to lookup".into()
            })),
            UsersOutcome::Unreachable(TransportFailure {
                kind: verdicts::TransportKind::Dns,
                ..
            })
        ));
        assert_eq!(
            users_outcome(&None),
            UsersOutcome::Unreachable(TransportFailure::timed_out())
        );
    }

    #[test]
    fn the_bucket_comes_from_the_rate_limit_and_date_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(users_bucket(&headers), None);
        headers.insert("x-rate-limit-limit", HeaderValue::from_static("600"));
        headers.insert("x-rate-limit-remaining", HeaderValue::from_static("590"));
        // Reset at 12:01:00, answered at 12:00:20: 20 s into the window.
        let reset: Timestamp = "2026-03-01T12:01:00Z".parse().unwrap();
        headers.insert(
            "x-rate-limit-reset",
            HeaderValue::from_str(&reset.as_second().to_string()).unwrap(),
        );
        assert_eq!(users_bucket(&headers).unwrap().seconds_into_window, None);
        headers.insert(
            "date",
            HeaderValue::from_static("Sun, 01 Mar 2026 12:00:20 GMT"),
        );
        assert_eq!(
            users_bucket(&headers),
            Some(UsersBucket {
                limit: 600,
                remaining: 590,
                seconds_into_window: Some(20)
            })
        );
    }

    #[test]
    fn hostile_rate_limit_headers_do_not_overflow() {
        let date = "Sun, 01 Mar 2026 12:00:20 GMT";
        let bucket = |reset: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                "x-rate-limit-limit",
                HeaderValue::from_static("18446744073709551615"),
            );
            headers.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
            headers.insert("x-rate-limit-reset", HeaderValue::from_str(reset).unwrap());
            headers.insert("date", HeaderValue::from_static(date));
            users_bucket(&headers).unwrap()
        };
        // A reset far ahead: the window has just begun; far behind: it is over.
        assert_eq!(bucket(&i64::MAX.to_string()).seconds_into_window, Some(0));
        assert_eq!(bucket(&i64::MIN.to_string()).seconds_into_window, Some(60));
        assert_eq!(bucket(&i64::MAX.to_string()).limit, u64::MAX);
    }

    #[test]
    fn the_logs_probe_looks_back_a_quarter_hour_on_oktas_clock() {
        let now: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(logs_since(now), "2026-03-01T11:45:00.000Z");
    }
}
