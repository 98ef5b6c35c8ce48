//! The Okta client against wiremock: pagination, origin checks, rate limits, retries, typed errors.
//!
//! Every client runs on a `ManualClock`: its sleeps return at once, advance `now` and are recorded,
//! so rate-limit waits of minutes take no real time and are asserted exactly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use okta_asset_connector::backoff::BackoffPolicy;
use okta_asset_connector::clock::{Clock, ManualClock, SharedClock};
use okta_asset_connector::okta::model::{IdOnly, User};
use okta_asset_connector::okta::rate_limit::AdaptiveConcurrency;
use okta_asset_connector::okta::{Bucket, OktaClient, OktaError, OktaSettings, Pager};
use secrecy::SecretString;
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{any, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::assert_matches;
use crate::support::wire::{
    answer_always, answer_first, header, json_answer, json_page, received as requests,
};

/// A token no test response ever contains: if it shows up in an error text, the client leaked it.
const TOKEN: &str = "canaryT0ken-00Okta-SSWS-must-never-leak";
/// The parameter value holds commas, so it is a quoted-string (RFC 9110), as Okta's API reference
/// writes it.
const OKTA_CONTENT_TYPE: &str =
    "application/json; okta-response=\"omitCredentials,omitCredentialsLinks,omitTransitioningToStatus\"";
/// `Date` of the recorded real 429 (Thu, 11 Sep 2025 16:21:50 GMT = 1757607710).
const OKTA_DATE: &str = "Thu, 11 Sep 2025 16:21:50 GMT";
const OKTA_DATE_EPOCH: i64 = 1_757_607_710;
const RATE_LIMITED: &str = "API call exceeded rate limit due to too many requests.";

/// The local clock starts years away from Okta's `Date`: waits must come from Okta's clock.
fn local_start() -> Timestamp {
    "2031-06-01T00:00:00Z".parse().unwrap()
}

fn client_at(
    origin: Url,
    start: Timestamp,
    tweak: impl FnOnce(&mut OktaSettings),
) -> (OktaClient, Arc<ManualClock>) {
    let mut settings = OktaSettings::new(origin, SecretString::from(TOKEN));
    tweak(&mut settings);
    let clock = Arc::new(ManualClock::new(start));
    let shared: SharedClock = clock.clone();
    (OktaClient::new(settings, shared).unwrap(), clock)
}

fn client_with(
    server: &MockServer,
    tweak: impl FnOnce(&mut OktaSettings),
) -> (OktaClient, Arc<ManualClock>) {
    client_at(Url::parse(&server.uri()).unwrap(), local_start(), tweak)
}

fn client_for(server: &MockServer) -> (OktaClient, Arc<ManualClock>) {
    client_with(server, |_| {})
}

/// Retries after delays of at most `min` then doubling up to `max`, `retries` times.
fn backoff(min: Duration, max: Duration, retries: usize) -> impl FnOnce(&mut OktaSettings) {
    move |settings| {
        settings.backoff = BackoffPolicy {
            min_delay: min,
            max_delay: max,
            max_retries: retries,
        }
    }
}

fn user(id: &str) -> Value {
    json!({
        "id": id, "status": "ACTIVE", "created": "2026-01-02T03:04:05.000Z", "activated": null,
        "lastUpdated": "2026-01-02T03:04:05.000Z",
        "profile": {"login": format!("{id}@example.com"), "email": format!("{id}@example.com")},
        "_links": {"self": {"href": "https://ignored.example/api/v1/users/x"}}
    })
}

fn error_answer(status: u16, code: &str, summary: &str, request_id: &str) -> ResponseTemplate {
    let body = json!({"errorCode": code, "errorSummary": summary, "errorLink": code,
        "errorId": "oae1234", "errorCauses": []});
    json_answer(status, &body).insert_header("X-Okta-Request-Id", request_id)
}

/// `answer` with one `Link` header per `(rel, target)`, as Okta sends them.
fn linked(answer: ResponseTemplate, links: &[(&str, &str)]) -> ResponseTemplate {
    links.iter().fold(answer, |answer, (rel, target)| {
        answer.append_header("Link", format!("<{target}>; rel=\"{rel}\""))
    })
}

/// Answers GETs of `at` that carry every parameter of `query`; without an `after` among them,
/// only the first page (no cursor).
async fn answer_get(
    server: &MockServer,
    at: &str,
    query: &[(&str, &str)],
    answer: ResponseTemplate,
) {
    let mut mock = Mock::given(method("GET")).and(path(at));
    if !query.iter().any(|(name, _)| *name == "after") {
        mock = mock.and(query_param_is_missing("after"));
    }
    for (name, value) in query {
        mock = mock.and(query_param(*name, *value));
    }
    mock.respond_with(answer).mount(server).await;
}

fn header_all(request: &Request, name: &str) -> Vec<String> {
    request
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The request retries an earlier one for the `count`-th time, naming its request id.
fn assert_retry_of(request: &Request, count: &str, request_id: &str) {
    assert_eq!(
        header(request, "x-okta-retry-count").as_deref(),
        Some(count)
    );
    assert_eq!(
        header(request, "x-okta-retry-for").as_deref(),
        Some(request_id)
    );
}

/// What was asked for: path and query exactly as they came over the wire (wiremock rebuilds
/// `Request::url` on `http://localhost`, so the origin is checked through the `Host` header).
fn target(request: &Request) -> &str {
    &request.url[url::Position::BeforePath..]
}

/// The path and query of an absolute link on `server`, as written (no parsing, no normalisation).
fn link_target<'a>(server: &MockServer, link: &'a str) -> &'a str {
    link.strip_prefix(&server.uri())
        .expect("a link on the server")
}

fn assert_sent_to(server: &MockServer, request: &Request, link: &str) {
    assert_eq!(target(request), link_target(server, link));
    assert_eq!(header(request, "host"), Some(server.address().to_string()));
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn all_ids<T>(
    mut pager: Pager<T>,
    id: impl Fn(&T) -> String,
) -> Result<Vec<String>, OktaError>
where
    T: serde::de::DeserializeOwned,
{
    let mut ids = Vec::new();
    while let Some(page) = pager.next_page().await? {
        assert_eq!(page.skipped, 0);
        ids.extend(page.items.iter().map(&id));
    }
    Ok(ids)
}

async fn user_ids(client: &OktaClient) -> Result<Vec<String>, OktaError> {
    all_ids(client.search_users("status pr"), |u: &User| u.id.clone()).await
}

async fn assignee_ids(client: &OktaClient) -> Result<Vec<String>, OktaError> {
    all_ids(client.list_role_assignees(), |a: &IdOnly| a.id.clone()).await
}

/// The error the first page of the user search ends in.
async fn first_users_page_error(client: &OktaClient) -> OktaError {
    client
        .search_users("status pr")
        .next_page()
        .await
        .unwrap_err()
}

fn assert_no_secret(error: &OktaError) {
    let shown = format!("{error} / {error:?}");
    assert!(
        !shown.contains(TOKEN),
        "the token leaked into an error: {shown}"
    );
    assert!(
        !shown.contains("SSWS"),
        "the auth header leaked into an error: {shown}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1-3. Pagination and the origin rule
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn users_pages_follow_separate_link_fields_exactly_and_in_order() {
    let server = MockServer::start().await;
    let base = server.uri();
    // Opaque cursors with characters a careless client would re-encode or rebuild.
    let page2 =
        format!("{base}/api/v1/users?after=00u%2Bopaque~Cur-sor_9.z%3D&limit=200&search=status+pr");
    let page3 = format!("{base}/api/v1/users?search=status+pr&limit=200&after=LAST.Cursor-2026");
    let page1 = format!("{base}/api/v1/users?search=status+pr&limit=200");

    let first = json_page(json!([user("00u1"), user("00u2")]));
    let second = json_page(json!([user("00u3"), user("00u4")]));
    let third = json_page(json!([user("00u5")]));
    let users = "/api/v1/users";
    let links = [("self", page1.as_str()), ("next", &page2)];
    answer_get(&server, users, &[], linked(first, &links)).await;
    let links = [("self", page2.as_str()), ("next", &page3)];
    let cursor = [("after", "00u+opaque~Cur-sor_9.z=")];
    answer_get(&server, users, &cursor, linked(second, &links)).await;
    let cursor = [("after", "LAST.Cursor-2026")];
    answer_get(&server, users, &cursor, linked(third, &[("self", &page3)])).await;

    let (client, clock) = client_for(&server);
    let ids = user_ids(&client).await.unwrap();
    assert_eq!(ids, ["00u1", "00u2", "00u3", "00u4", "00u5"]);

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 3, "each page exactly once");
    // First request: a search (so DEPROVISIONED users are included), never `q`, with a page size.
    assert_eq!(query(&sent[0], "search").as_deref(), Some("status pr"));
    assert_eq!(query(&sent[0], "limit").as_deref(), Some("200"));
    assert_eq!(query(&sent[0], "q"), None);
    assert_eq!(query(&sent[0], "after"), None);
    // The next links are followed byte for byte.
    assert_sent_to(&server, &sent[1], &page2);
    assert_sent_to(&server, &sent[2], &page3);
    for request in &sent {
        assert_eq!(
            header_all(request, "authorization"),
            [format!("SSWS {TOKEN}")]
        );
        assert_eq!(header_all(request, "accept"), ["application/json"]);
        assert_eq!(header_all(request, "content-type"), [OKTA_CONTENT_TYPE]);
        let agent = header(request, "user-agent").unwrap();
        assert!(agent.starts_with("okta-asset-connector/"), "{agent}");
        assert_eq!(header(request, "x-okta-retry-count"), None, "not a retry");
        assert_eq!(header(request, "x-okta-retry-for"), None, "not a retry");
    }
    assert_eq!(client.stats().requests_in(Bucket::UsersList), 3);
    assert_eq!(client.stats().retries, 0);
    assert!(
        clock.sleeps().is_empty(),
        "no rate-limit headers, no retries: no wait"
    );
}

#[tokio::test]
async fn comma_joined_link_header_is_read() {
    let server = MockServer::start().await;
    let base = server.uri();
    let next = format!("{base}/api/v1/groups?after=00g%2Fnext%2Cpage&limit=200");
    let everyone = json!([{"id": "00g1", "type": "BUILT_IN", "profile": {"name": "Everyone"}}]);
    let joined = format!("<{base}/api/v1/groups?limit=200>; rel=\"self\", <{next}>; rel=\"next\"");
    let first = json_page(everyone).insert_header("Link", joined);
    answer_get(&server, "/api/v1/groups", &[], first).await;
    let ad = json!([{"id": "00g2", "type": "APP_GROUP", "profile": {"name": "AD"}}]);
    let second = linked(json_page(ad), &[("self", &next)]);
    answer_get(
        &server,
        "/api/v1/groups",
        &[("after", "00g/next,page")],
        second,
    )
    .await;

    let (client, _clock) = client_for(&server);
    let ids = all_ids(client.list_groups(None), |g| g.id.clone())
        .await
        .unwrap();
    assert_eq!(ids, ["00g1", "00g2"]);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(query(&sent[0], "limit").as_deref(), Some("200"));
    assert_sent_to(&server, &sent[1], &next);
}

/// The org got one request, not repeated or followed elsewhere, and the error shows no secret.
async fn assert_stayed_home(error: &OktaError, server: &MockServer, elsewhere: &MockServer) {
    assert_no_secret(error);
    assert_eq!(
        requests(server).await.len(),
        1,
        "a refused link or redirect was requested or retried"
    );
    assert!(
        requests(elsewhere).await.is_empty(),
        "the token was sent to another origin"
    );
}

#[tokio::test]
async fn next_link_to_another_origin_is_refused_and_nothing_is_sent_there() {
    let elsewhere = MockServer::start().await;
    answer_always(&elsewhere, json_page(json!([user("00uEVIL")]))).await;
    let other_port = format!("{}/api/v1/users?after=x&limit=200", elsewhere.uri());

    let server = MockServer::start().await;
    let port = server.address().port();
    let foreign_links = [
        other_port.clone(),
        // Same port as the org, but another host, scheme or with credentials: still foreign.
        format!("http://localhost:{port}/api/v1/users?after=x&limit=200"),
        format!("https://127.0.0.1:{port}/api/v1/users?after=x&limit=200"),
        format!("http://someone:secret@127.0.0.1:{port}/api/v1/users?after=x&limit=200"),
    ];
    for link in foreign_links {
        server.reset().await;
        let page = linked(json_page(json!([user("00u1")])), &[("next", &link)]);
        answer_get(&server, "/api/v1/users", &[], page).await;
        let (client, _clock) = client_for(&server);
        let error = user_ids(&client).await.unwrap_err();
        match &error {
            OktaError::ForeignLink { origin, .. } => assert_eq!(*origin, server.uri()),
            other => panic!("{link}: expected ForeignLink, got {other:?}"),
        }
        assert_stayed_home(&error, &server, &elsewhere).await;
    }
}

#[tokio::test]
async fn redirect_is_not_followed_and_fails_fast() {
    let elsewhere = MockServer::start().await;
    answer_always(&elsewhere, json_page(json!([]))).await;
    let server = MockServer::start().await;
    let location = format!("{}/api/v1/users", elsewhere.uri());
    answer_always(
        &server,
        ResponseTemplate::new(302).insert_header("Location", location.as_str()),
    )
    .await;

    let (client, clock) = client_for(&server);
    let error = first_users_page_error(&client).await;
    match &error {
        OktaError::Redirect {
            status, location, ..
        } => {
            assert_eq!(*status, 302);
            assert!(location.starts_with(&elsewhere.uri()), "{location}");
        }
        other => panic!("expected Redirect, got {other:?}"),
    }
    assert_stayed_home(&error, &server, &elsewhere).await;
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn get_refuses_a_url_on_another_origin_before_sending() {
    let elsewhere = MockServer::start().await;
    let server = MockServer::start().await;
    let (client, _clock) = client_for(&server);
    let url = Url::parse(&format!("{}/api/v1/users", elsewhere.uri())).unwrap();
    let error = client.get(url).await.unwrap_err();
    assert_matches!(error, OktaError::ForeignLink { .. });
    assert!(requests(&elsewhere).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// 4-7. Rate limits and retries
// ---------------------------------------------------------------------------------------------

/// A 429 as Okta sends it: `X-Rate-Limit-Limit` is `limit` (0 for a concurrency limit) and the
/// window resets `reset_in` seconds after `Date`.
fn rate_limited(request_id: &str, limit: &str, reset_in: i64) -> ResponseTemplate {
    error_answer(429, "E0000047", RATE_LIMITED, request_id)
        .insert_header("X-Rate-Limit-Limit", limit)
        .insert_header("X-Rate-Limit-Remaining", "0")
        .insert_header(
            "X-Rate-Limit-Reset",
            (OKTA_DATE_EPOCH + reset_in).to_string().as_str(),
        )
        .insert_header("Date", OKTA_DATE)
}

fn quota_429(request_id: &str) -> ResponseTemplate {
    rate_limited(request_id, "10", 49)
}

#[tokio::test]
async fn quota_429_waits_reset_minus_server_date_plus_one_whatever_the_local_clock() {
    // Local clocks years ahead of and behind Okta's: the wait is the same.
    for start in ["2031-06-01T00:00:00Z", "2001-01-01T00:00:00Z"] {
        let server = MockServer::start().await;
        answer_first(&server, 1, quota_429("req-429-first")).await;
        answer_get(
            &server,
            "/api/v1/users",
            &[],
            json_page(json!([user("00u1")])),
        )
        .await;

        let origin = Url::parse(&server.uri()).unwrap();
        let (client, clock) = client_at(origin, start.parse().unwrap(), |_| {});
        let page = client
            .search_users("status pr")
            .next_page()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(page.items.len(), 1);

        // Reset − Date + 1 s = 49 + 1.
        assert_eq!(
            clock.sleeps(),
            [Duration::from_secs(50)],
            "local clock {start}"
        );
        let stats = client.stats();
        assert_eq!(stats.quota_429, 1);
        assert_eq!(stats.concurrency_429, 0);
        assert_eq!(stats.rate_limit_wait, Duration::from_secs(50));

        let sent = requests(&server).await;
        assert_eq!(sent.len(), 2);
        assert_eq!(header(&sent[0], "x-okta-retry-count"), None);
        assert_retry_of(&sent[1], "1", "req-429-first");
        assert_eq!(sent[1].url, sent[0].url, "the same page is asked again");
    }
}

#[tokio::test]
async fn repeated_429_counts_retries_and_keeps_the_first_request_id() {
    let server = MockServer::start().await;
    answer_first(&server, 1, quota_429("req-A")).await;
    answer_first(&server, 1, quota_429("req-B")).await;
    answer_always(&server, json_page(json!([]))).await;
    let (client, clock) = client_for(&server);
    client.search_users("status pr").next_page().await.unwrap();
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(50), Duration::from_secs(50)]
    );
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 3);
    assert_retry_of(&sent[2], "2", "req-A");
}

#[tokio::test]
async fn quota_429_without_end_gives_up_after_the_configured_waits() {
    let server = MockServer::start().await;
    answer_always(&server, quota_429("req-429")).await;
    let (client, clock) = client_with(&server, |s| s.max_rate_limit_waits = 3);
    let error = client
        .get(client.url("/api/v1/users", &[]))
        .await
        .unwrap_err();
    assert_matches!(error, OktaError::Exhausted { .. });
    assert_eq!(error.code(), Some("E0000047"));
    assert_eq!(requests(&server).await.len(), 4);
    assert_eq!(clock.sleeps(), [Duration::from_secs(50); 3]);
}

#[tokio::test]
async fn concurrency_429_backs_off_with_jitter_and_succeeds() {
    let server = MockServer::start().await;
    answer_first(&server, 1, rate_limited("req-conc", "0", 40)).await;
    answer_always(&server, json_page(json!([{"id": "00u1"}]))).await;

    let min_delay = Duration::from_secs(1);
    let (client, clock) = client_with(&server, backoff(min_delay, Duration::from_secs(8), 4));
    let members = client
        .list_group_members("00g1")
        .collect_all()
        .await
        .unwrap();
    assert_eq!(members, [IdOnly { id: "00u1".into() }]);

    let stats = client.stats();
    assert_eq!(stats.concurrency_429, 1);
    assert_eq!(
        stats.quota_429, 0,
        "a concurrency 429 is not a quota 429: no wait for reset"
    );
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 1, "{sleeps:?}");
    assert!(
        sleeps[0] <= min_delay,
        "{sleeps:?}: a jittered first backoff, not a reset wait"
    );
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_retry_of(&sent[1], "1", "req-conc");
}

/// Poll a future briefly: `Some` when it completes at once.
async fn ready_now<F: std::future::Future>(future: F) -> Option<F::Output> {
    tokio::time::timeout(Duration::from_millis(20), future)
        .await
        .ok()
}

#[tokio::test]
async fn adaptive_concurrency_halves_on_violation_and_recovers_slowly() {
    let limiter = AdaptiveConcurrency::new(4);
    assert_eq!(limiter.current_limit(), 4);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(ready_now(limiter.acquire()).await.expect("a free slot"));
    }
    assert!(
        ready_now(limiter.acquire()).await.is_none(),
        "a fifth request at limit 4"
    );

    limiter.on_violation();
    assert_eq!(limiter.current_limit(), 2);
    held.truncate(2);
    assert!(
        ready_now(limiter.acquire()).await.is_none(),
        "2 in flight at limit 2"
    );
    held.truncate(1);
    held.push(
        ready_now(limiter.acquire())
            .await
            .expect("1 in flight at limit 2"),
    );

    // Additive increase: `limit` successes raise it by one, never above the maximum.
    limiter.on_success();
    assert_eq!(limiter.current_limit(), 2);
    limiter.on_success();
    assert_eq!(limiter.current_limit(), 3);
    for _ in 0..20 {
        limiter.on_success();
    }
    assert_eq!(limiter.current_limit(), 4);

    for _ in 0..10 {
        limiter.on_violation();
    }
    assert_eq!(limiter.current_limit(), 1, "never below one");
}

fn unavailable(request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(503).insert_header("X-Okta-Request-Id", request_id)
}

#[tokio::test]
async fn server_error_503_is_retried_after_a_bounded_backoff() {
    let server = MockServer::start().await;
    answer_first(&server, 1, unavailable("req-503")).await;
    answer_always(&server, json_page(user("00u9"))).await;
    let policy = backoff(Duration::from_secs(2), Duration::from_secs(30), 5);
    let (client, clock) = client_with(&server, policy);
    let found = client.get_user("00u9").await.unwrap();
    assert_eq!(found.id, "00u9");

    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 1, "{sleeps:?}");
    assert!(
        sleeps[0] <= Duration::from_secs(2),
        "first backoff above its envelope: {sleeps:?}"
    );
    assert_eq!(client.stats().retries, 1);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].url.path(), "/api/v1/users/00u9");
    assert_retry_of(&sent[1], "1", "req-503");
}

#[tokio::test]
async fn server_error_500_on_a_large_member_page_retries_the_same_cursor_smaller() {
    let server = MockServer::start().await;
    let base = server.uri();
    let next = format!("{base}/api/v1/groups/00gBIG/users?after=00uCURSOR%3D&limit=1000");
    let members = "/api/v1/groups/00gBIG/users";
    let first = json_page(json!([{"id": "00u1"}, {"id": "00u2"}]));
    answer_get(&server, members, &[], linked(first, &[("next", &next)])).await;
    let internal = error_answer(500, "E0000009", "Internal Server Error", "req-500");
    let large = [("after", "00uCURSOR="), ("limit", "1000")];
    answer_get(&server, members, &large, internal).await;
    let smaller = [("after", "00uCURSOR="), ("limit", "500")];
    answer_get(
        &server,
        members,
        &smaller,
        json_page(json!([{"id": "00u3"}])),
    )
    .await;

    let (client, _clock) = client_for(&server);
    let ids = all_ids(client.list_group_members("00gBIG"), |m: &IdOnly| {
        m.id.clone()
    })
    .await
    .unwrap();
    assert_eq!(ids, ["00u1", "00u2", "00u3"]);

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 3);
    assert_eq!(query(&sent[0], "limit").as_deref(), Some("1000"));
    assert_sent_to(&server, &sent[1], &next);
    assert_eq!(
        sent[2].url.query(),
        Some("after=00uCURSOR%3D&limit=500"),
        "same cursor, smaller page, nothing else changed"
    );
    assert_retry_of(&sent[2], "1", "req-500");
}

/// The last error behind an `Exhausted` after `attempts` attempts.
fn exhausted_after(error: &OktaError, attempts: u32) -> &OktaError {
    match error {
        OktaError::Exhausted {
            attempts: made,
            last,
            ..
        } => {
            assert_eq!(*made, attempts);
            last
        }
        other => panic!("expected Exhausted, got {other:?}"),
    }
}

#[tokio::test]
async fn always_503_is_exhausted_after_max_retries_plus_one_attempts() {
    let server = MockServer::start().await;
    answer_always(&server, unavailable("req-down")).await;
    let policy = backoff(Duration::from_millis(100), Duration::from_millis(400), 3);
    let (client, clock) = client_with(&server, policy);
    let error = client.get_user("00uDOWN").await.unwrap_err();
    assert_eq!(exhausted_after(&error, 4).status(), Some(503));
    assert_eq!(requests(&server).await.len(), 4);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3);
    for (sleep, envelope) in sleeps.iter().zip([100, 200, 400]) {
        assert!(*sleep <= Duration::from_millis(envelope), "{sleeps:?}");
    }
    let text = error.to_string();
    assert!(
        text.contains(&format!("{}/api/v1/users/00uDOWN", server.uri())),
        "{text}"
    );
    assert!(text.contains("req-down"), "{text}");
    assert_no_secret(&error);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported_as_transport() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let policy = backoff(Duration::from_millis(10), Duration::from_millis(10), 2);
    let (client, clock) = client_at(origin, local_start(), policy);
    let error = first_users_page_error(&client).await;
    assert_matches!(exhausted_after(&error, 3), OktaError::Transport { .. });
    assert_eq!(clock.sleeps().len(), 2);
    assert_no_secret(&error);
}

#[tokio::test]
async fn request_timeout_is_a_transport_error() {
    let server = MockServer::start().await;
    answer_always(
        &server,
        json_page(json!([])).set_delay(Duration::from_secs(5)),
    )
    .await;
    let (client, _clock) = client_with(&server, |s| {
        s.request_timeout = Duration::from_millis(200);
        s.backoff.max_retries = 0;
    });
    let error = first_users_page_error(&client).await;
    match exhausted_after(&error, 1) {
        OktaError::Transport { detail, .. } => {
            assert!(detail.contains("timed out"), "{detail}")
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Errors that retrying cannot fix
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn auth_permission_and_not_found_fail_fast_with_code_hint_and_request_id() {
    let cases = [
        (
            401,
            "E0000011",
            "Invalid token provided",
            "invalid, expired or revoked",
        ),
        (
            403,
            "E0000006",
            "You do not have permission to perform the requested action",
            "lacks a permission",
        ),
        (
            404,
            "E0000007",
            "Not found: Resource not found: 00uX (User)",
            "resource not found",
        ),
    ];
    for (status, code, summary, hint) in cases {
        let server = MockServer::start().await;
        let request_id = format!("req-{status}-xyz");
        answer_always(&server, error_answer(status, code, summary, &request_id)).await;
        let (client, clock) = client_for(&server);
        let error = match status {
            401 => first_users_page_error(&client).await,
            403 => client.list_user_roles("00uX").await.unwrap_err(),
            _ => client.get_user("00uX").await.unwrap_err(),
        };

        assert!(
            matches!(error, OktaError::Api(_)),
            "{status}: not failed fast: {error:?}"
        );
        assert_eq!(error.code(), Some(code));
        assert_eq!(error.status(), Some(status));
        let text = error.to_string();
        assert!(text.contains(hint), "{status}: no hint in {text}");
        assert!(text.contains(summary), "{status}: no summary in {text}");
        assert!(
            text.contains(&request_id),
            "{status}: no request id in {text}"
        );
        assert_no_secret(&error);
        assert_eq!(requests(&server).await.len(), 1, "{status} retried");
        assert!(clock.sleeps().is_empty(), "{status}: slept");
        assert_eq!(client.stats().retries, 0);
    }
}

#[tokio::test]
async fn client_debug_does_not_show_the_token() {
    let server = MockServer::start().await;
    let (client, _clock) = client_for(&server);
    let shown = format!("{client:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
}

// ---------------------------------------------------------------------------------------------
// 9, 13. Bodies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn truncated_or_html_body_is_invalid_body_not_a_panic() {
    let bodies = [
        (r#"[{"id":"00u1","status":"ACTIVE""#, "application/json"),
        (
            "<!DOCTYPE html><html><body>Sign in to Okta</body></html>",
            "text/html",
        ),
    ];
    for (body, mime) in bodies {
        let server = MockServer::start().await;
        let answer = ResponseTemplate::new(200)
            .set_body_raw(body, mime)
            .insert_header("X-Okta-Request-Id", "req-bad");
        answer_always(&server, answer).await;
        let (client, _clock) = client_for(&server);
        match &first_users_page_error(&client).await {
            OktaError::InvalidBody { request_id, .. } => {
                assert_eq!(request_id.as_deref(), Some("req-bad"))
            }
            other => panic!("{body}: expected InvalidBody, got {other:?}"),
        }
        let error = client.get_user("00u1").await.unwrap_err();
        assert_matches!(error, OktaError::InvalidBody { .. });
        assert_no_secret(&error);
    }
}

/// The ids of the next page, after asserting how many records it skipped.
async fn next_ids(pager: &mut Pager<User>, skipped: usize) -> Vec<String> {
    let page = pager.next_page().await.unwrap().unwrap();
    assert_eq!(page.skipped, skipped);
    page.items.into_iter().map(|u| u.id).collect()
}

#[tokio::test]
async fn one_bad_record_is_skipped_and_counted_the_others_kept() {
    let server = MockServer::start().await;
    let base = server.uri();
    let next = format!("{base}/api/v1/users?after=p2&limit=200");
    let mut numeric_id = user("00uBAD");
    numeric_id["id"] = json!(12345);
    let mut missing_id = user("00uBAD2");
    missing_id.as_object_mut().unwrap().remove("id");
    let first = json_page(json!([user("00u1"), numeric_id, user("00u2")]));
    Mock::given(query_param_is_missing("after"))
        .respond_with(linked(first, &[("next", &next)]))
        .mount(&server)
        .await;
    Mock::given(query_param("after", "p2"))
        .respond_with(json_page(json!([missing_id, user("00u3")])))
        .mount(&server)
        .await;

    let (client, _clock) = client_for(&server);
    let mut pager = client.search_users("status pr");
    assert_eq!(next_ids(&mut pager, 1).await, ["00u1", "00u2"]);
    assert_eq!(next_ids(&mut pager, 1).await, ["00u3"]);
    assert!(pager.next_page().await.unwrap().is_none());
}

/// A list read whole (roles, factors, a user's groups, the assignees) is read as complete: a
/// role missing from it means "not held". One unreadable record fails the list instead of
/// shortening it, so "not admin" or "no MFA" is never concluded from what could not be read.
#[tokio::test]
async fn a_whole_list_with_an_unreadable_record_is_an_error_not_a_shorter_list() {
    let server = MockServer::start().await;
    let role =
        json!({"id": "ra1", "type": "SUPER_ADMIN", "status": "ACTIVE", "assignmentType": "USER"});
    Mock::given(wiremock::matchers::path("/api/v1/users/00u1/roles"))
        .respond_with(json_page(json!([12345, role])))
        .mount(&server)
        .await;
    let (client, _clock) = client_for(&server);
    let error = client.list_user_roles("00u1").await.unwrap_err();
    assert!(
        matches!(error, OktaError::UnreadableRecords { count: 1, .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("/api/v1/users/00u1/roles"),
        "{error}"
    );
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let server = MockServer::start().await;
    let big: Vec<Value> = (0..100).map(|i| user(&format!("00u{i}"))).collect();
    let body = Value::Array(big);
    assert!(body.to_string().len() > 4096);
    answer_always(&server, json_page(body)).await;
    let (client, clock) = client_with(&server, |s| s.max_body_bytes = 1024);
    match &first_users_page_error(&client).await {
        OktaError::BodyTooLarge { limit, .. } => assert_eq!(*limit, 1024),
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    assert_eq!(
        requests(&server).await.len(),
        1,
        "an oversized answer is not fetched again"
    );
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn oversized_chunked_body_without_content_length_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // wiremock always sends Content-Length; a raw server streams 64 KiB in chunks without one.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let served = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let _ = socket.read(&mut request).await.unwrap();
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("{:x}\r\n{}\r\n", 1024, " ".repeat(1024));
        for _ in 0..64 {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                return; // the client hung up: good
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    let (client, _clock) = client_at(origin, local_start(), |s| s.max_body_bytes = 4096);
    let error = first_users_page_error(&client).await;
    assert_matches!(error, OktaError::BodyTooLarge { limit: 4096, .. });
    served.abort();
}

// ---------------------------------------------------------------------------------------------
// 12. Body-link paging (`/api/v1/iam/assignees/users`)
// ---------------------------------------------------------------------------------------------

fn assignee(id: &str) -> Value {
    json!({"id": id, "orn": format!("orn:okta:directory:00o1:users:{id}"),
        "_links": {"self": {"href": "https://x.example/api/v1/users/x"}}})
}

/// A page of role assignees whose body links to `rel` at `href`.
fn assignees(ids: &[&str], rel: &str, href: &str) -> ResponseTemplate {
    let value: Vec<Value> = ids.iter().map(|id| assignee(id)).collect();
    json_page(json!({"value": value, "_links": {rel: {"href": href}}}))
}

#[tokio::test]
async fn role_assignees_page_through_body_links() {
    let server = MockServer::start().await;
    let base = server.uri();
    let next = format!("{base}/api/v1/iam/assignees/users?after=00uA%3D&limit=100");
    Mock::given(path("/api/v1/iam/assignees/users"))
        .and(query_param_is_missing("after"))
        .respond_with(assignees(&["00uA", "00uB"], "next", &next))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/iam/assignees/users"))
        .and(query_param("after", "00uA="))
        .respond_with(assignees(&["00uC"], "self", &next))
        .mount(&server)
        .await;

    let (client, _clock) = client_for(&server);
    let ids = assignee_ids(&client).await.unwrap();
    assert_eq!(ids, ["00uA", "00uB", "00uC"]);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(query(&sent[0], "limit").as_deref(), Some("100"));
    assert_sent_to(&server, &sent[1], &next);
    assert_eq!(client.stats().requests_in(Bucket::Iam), 2);
}

#[tokio::test]
async fn same_next_link_twice_is_a_pagination_loop() {
    let server = MockServer::start().await;
    let base = server.uri();
    let next = format!("{base}/api/v1/iam/assignees/users?after=again&limit=100");
    answer_always(&server, assignees(&["00uA"], "next", &next)).await;
    let (client, _clock) = client_for(&server);
    let error = assignee_ids(&client).await.unwrap_err();
    assert_matches!(error, OktaError::PaginationLoop { .. });
    assert_eq!(
        requests(&server).await.len(),
        2,
        "the repeated link is not requested again"
    );
}

#[tokio::test]
async fn body_next_link_to_another_origin_is_refused() {
    let elsewhere = MockServer::start().await;
    let server = MockServer::start().await;
    let next = format!("{}/api/v1/iam/assignees/users?after=x", elsewhere.uri());
    answer_always(&server, assignees(&["00uA"], "next", &next)).await;
    let (client, _clock) = client_for(&server);
    let error = assignee_ids(&client).await.unwrap_err();
    assert_matches!(error, OktaError::ForeignLink { .. });
    assert!(requests(&elsewhere).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// 10. Pacing
// ---------------------------------------------------------------------------------------------

/// A fake Okta bucket on the manual clock: fixed one-minute windows, `Date` and
/// `X-Rate-Limit-*` computed per request from the shared clock, 429 once the bucket is spent.
struct PacedBucket {
    clock: Arc<ManualClock>,
    limit: u64,
    window: i64,
    /// Requests other clients make in each new window.
    others_per_window: u64,
    state: Mutex<BucketLog>,
}

#[derive(Default)]
struct BucketLog {
    reset: Option<i64>,
    used: u64,
    /// Manual-clock time of every request, and whether it was refused.
    sent: Vec<(Timestamp, bool)>,
}

impl Respond for PacedBucket {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let now = self.clock.now();
        let second = now.as_second();
        let mut log = self.state.lock().unwrap();
        if log.reset.is_none_or(|reset| second >= reset) {
            log.reset = Some(second + self.window);
            log.used = self.others_per_window;
        }
        let reset = log.reset.unwrap();
        let refused = log.used >= self.limit;
        if !refused {
            log.used += 1;
        }
        log.sent.push((now, refused));
        let date = Timestamp::from_second(second)
            .unwrap()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let answer = if refused {
            error_answer(429, "E0000047", RATE_LIMITED, "req-429")
        } else {
            json_page(json!([]))
        };
        answer
            .insert_header("Date", date.as_str())
            .insert_header("X-Rate-Limit-Limit", self.limit.to_string().as_str())
            .insert_header(
                "X-Rate-Limit-Remaining",
                (self.limit - log.used).to_string().as_str(),
            )
            .insert_header("X-Rate-Limit-Reset", reset.to_string().as_str())
    }
}

struct SharedResponder(Arc<PacedBucket>);

impl Respond for SharedResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

/// `count` GETs of `url_path` by a client that keeps to half of a bucket of 100 a `window`, of
/// which other clients spend `others` at the start of each: the client, and when each request
/// reached the bucket and whether it was refused.
async fn paced_requests(
    window: i64,
    others: u64,
    url_path: &str,
    query: &[(&str, &str)],
    count: usize,
) -> (OktaClient, Vec<(Timestamp, bool)>) {
    let server = MockServer::start().await;
    let origin = Url::parse(&server.uri()).unwrap();
    let (client, clock) = client_at(origin, local_start(), |s| s.rate_limit_share = 0.5);
    let bucket = Arc::new(PacedBucket {
        clock,
        limit: 100,
        window,
        others_per_window: others,
        state: Mutex::new(BucketLog::default()),
    });
    Mock::given(any())
        .respond_with(SharedResponder(bucket.clone()))
        .mount(&server)
        .await;
    for _ in 0..count {
        client.get(client.url(url_path, query)).await.unwrap();
    }
    let sent = bucket.state.lock().unwrap().sent.clone();
    (client, sent)
}

#[tokio::test]
async fn pacing_keeps_each_minute_at_or_under_the_share_of_the_bucket() {
    let (client, sent) = paced_requests(60, 0, "/api/v1/users", &[("limit", "200")], 150).await;
    assert_eq!(sent.len(), 150);
    assert!(
        sent.iter().all(|(_, refused)| !refused),
        "a 429 in a quiet org"
    );
    let times: Vec<Timestamp> = sent.iter().map(|(at, _)| *at).collect();
    let minute = jiff::SignedDuration::from_secs(60);
    for (i, start) in times.iter().enumerate() {
        let end = start.checked_add(minute).unwrap();
        let in_window = times[i..].iter().take_while(|at| **at < end).count();
        assert!(
            in_window <= 50,
            "{in_window} requests in the minute from {start}"
        );
    }
    // Good citizen, but not idle: 150 requests at 50 a minute fit in a bit over three windows.
    let elapsed = times[149].duration_since(times[0]);
    assert!(
        elapsed >= jiff::SignedDuration::from_secs(120),
        "{elapsed:?}"
    );
    assert!(
        elapsed <= jiff::SignedDuration::from_secs(185),
        "pacing too slow: {elapsed:?}"
    );
    assert_eq!(client.stats().quota_429, 0);
    assert_eq!(
        client
            .rate_limit_snapshot(Bucket::UsersList)
            .map(|(limit, _)| limit),
        Some(100)
    );
}

#[tokio::test]
async fn pacing_waits_for_the_reset_when_other_clients_spent_the_bucket() {
    // Other integrations used 98 of 100: our first request leaves 1.
    let (client, sent) = paced_requests(30, 98, "/api/v1/groups", &[], 3).await;
    assert!(
        sent.iter().all(|(_, refused)| !refused),
        "sent into a 429 instead of waiting"
    );
    assert_eq!(sent.len(), 3);
    let waited = sent[1].0.duration_since(sent[0].0);
    assert!(
        waited >= jiff::SignedDuration::from_secs(30)
            && waited <= jiff::SignedDuration::from_secs(32),
        "second request {waited:?} after the first; the window reset after 30 s"
    );
    assert_eq!(client.stats().quota_429, 0);
}

// ---------------------------------------------------------------------------------------------
// Paging is lazy
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn pager_requests_nothing_until_asked() {
    let server = MockServer::start().await;
    answer_always(&server, json_page(json!([]))).await;
    let (client, _clock) = client_for(&server);
    let pager = client.search_users("status pr");
    assert!(requests(&server).await.is_empty());
    drop(pager);
    assert!(requests(&server).await.is_empty());
}
