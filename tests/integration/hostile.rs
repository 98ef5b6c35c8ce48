//! Hostile answers cannot stall, steer or spoof the client: rate-limit resets far in the future,
//! endless pagination, next links to other endpoints, ids that would climb out of a path, a
//! `Date` far ahead, a token that "never expires", redirects and oversized answers at the token
//! endpoint and the intake, and echoes of the intake key in encoded forms.
//!
//! Every client runs on a `ManualClock`: waits are recorded, not slept, so a wait of 10⁹ s shows
//! up as a number instead of a hang.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use okta_asset_connector::backoff::BackoffPolicy;
use okta_asset_connector::clock::{Clock, ManualClock, SharedClock};
use okta_asset_connector::intake::{Batch, HttpIntake, IntakeError, IntakeSettings};
use okta_asset_connector::okta::auth::{DpopMode, OAuthSettings, PrivateKey};
use okta_asset_connector::okta::{
    OktaClient, OktaCredential, OktaError, OktaSettings, OnEmptyPage, PageLimits,
};
use secrecy::SecretString;
use serde_json::json;
use url::Url;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "hostile-test-token-must-not-leak";
/// Okta's windows are one minute; a wait is never longer than this.
const MAX_WAIT: Duration = Duration::from_secs(65);

fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn http_date(at: Timestamp) -> String {
    at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn client(
    server: &MockServer,
    credential: Option<OktaCredential>,
) -> (OktaClient, Arc<ManualClock>) {
    let origin = Url::parse(&server.uri()).unwrap();
    let credential =
        credential.unwrap_or_else(|| OktaCredential::ApiToken(SecretString::from(TOKEN)));
    let mut settings = OktaSettings::with_credential(origin, credential);
    settings.backoff = FAST_BACKOFF;
    let (clock, shared) = manual_clock();
    (OktaClient::new(settings, shared).unwrap(), clock)
}

/// Short, bounded retries: these tests are about waits the server asks for.
const FAST_BACKOFF: BackoffPolicy = BackoffPolicy {
    min_delay: Duration::from_millis(10),
    max_delay: Duration::from_millis(50),
    max_retries: 2,
};

fn manual_clock() -> (Arc<ManualClock>, SharedClock) {
    let clock = Arc::new(ManualClock::new(now()));
    (clock.clone(), clock)
}

/// Answers every request with `template`, `times` times at most (then the next mock answers).
async fn serve(server: &MockServer, template: ResponseTemplate, times: Option<u64>) {
    let mock = Mock::given(any()).respond_with(template);
    match times {
        Some(n) => mock.up_to_n_times(n).mount(server).await,
        None => mock.mount(server).await,
    }
}

fn page(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

// ------------------------------------------------------------------------------ rate limits

/// A quota 429 whose `X-Rate-Limit-Reset` is 10⁹ s ahead of its `Date`.
fn far_reset(status: u16, remaining: &str) -> ResponseTemplate {
    let date = now();
    let template = if status == 429 {
        ResponseTemplate::new(429).set_body_raw(
            json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"})
                .to_string(),
            "application/json",
        )
    } else {
        page(json!([{"id": "00u1"}]))
    };
    template
        .insert_header("Date", http_date(date).as_str())
        .insert_header("X-Rate-Limit-Limit", "10")
        .insert_header("X-Rate-Limit-Remaining", remaining)
        .insert_header(
            "X-Rate-Limit-Reset",
            (date.as_second() + 1_000_000_000).to_string().as_str(),
        )
}

#[tokio::test]
async fn a_429_with_a_reset_far_ahead_waits_at_most_a_window() {
    let server = MockServer::start().await;
    serve(&server, far_reset(429, "0"), Some(2)).await;
    serve(&server, page(json!([])), None).await;
    let (client, clock) = client(&server, None);
    assert!(client.list_user_roles("00u1").await.unwrap().is_empty());
    let sleeps = clock.sleeps();
    assert!(!sleeps.is_empty(), "the 429s were waited for");
    assert!(sleeps.iter().all(|s| *s <= MAX_WAIT), "{sleeps:?}");
    assert!(client.stats().rate_limit_wait <= MAX_WAIT * 2);
    assert_eq!(received(&server).await.len(), 3);
}

#[tokio::test]
async fn a_200_with_nothing_remaining_and_a_reset_far_ahead_waits_at_most_a_window() {
    let server = MockServer::start().await;
    serve(&server, far_reset(200, "0"), None).await;
    let (client, clock) = client(&server, None);
    for _ in 0..3 {
        client.get_user("00u1").await.unwrap_err(); // the body is a list, not a user: fine
    }
    let sleeps = clock.sleeps();
    assert!(!sleeps.is_empty(), "a spent bucket is waited for");
    assert!(sleeps.iter().all(|s| *s <= MAX_WAIT), "{sleeps:?}");
    assert_eq!(received(&server).await.len(), 3);
}

// ------------------------------------------------------------------------------ pagination

/// Every page links to a next one with a cursor never seen before.
struct EverNewCursors {
    count: AtomicUsize,
    items: serde_json::Value,
    /// Gives up (last page) after this many, so a client that never stops still ends the test.
    stop_after: usize,
}

impl Respond for EverNewCursors {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        let answer = page(self.items.clone());
        if n + 1 >= self.stop_after {
            return answer;
        }
        // A relative link on the same path, with a cursor never sent before.
        let link = format!(
            "<{}?after=cursor{n}&limit=1000>; rel=\"next\"",
            request.url.path()
        );
        answer.append_header("Link", link.as_str())
    }
}

async fn ever_new_cursors(items: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(EverNewCursors {
            count: AtomicUsize::new(0),
            items,
            stop_after: 60,
        })
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn empty_pages_with_ever_new_cursors_end_the_listing() {
    let server = ever_new_cursors(json!([])).await;
    let (client, _clock) = client(&server, None);
    let error = client
        .list_group_members("00g1")
        .collect_all()
        .await
        .unwrap_err();
    assert!(
        matches!(error, OktaError::EmptyPages { count: 10, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("endless listing"), "{error}");
    assert_eq!(received(&server).await.len(), 10);
}

#[tokio::test]
async fn a_polled_feed_stops_at_its_first_empty_page_and_keeps_the_link() {
    let server = ever_new_cursors(json!([])).await;
    let (client, _clock) = client(&server, None);
    let mut pager = client.list_group_members("00g1").with_limits(PageLimits {
        on_empty: OnEmptyPage::Stop,
        ..PageLimits::default()
    });
    let page = pager.next_page().await.unwrap().unwrap();
    assert!(page.items.is_empty());
    assert!(pager.next_page().await.unwrap().is_none());
    let resume = pager.resume_link().expect("the link to poll next time");
    assert_eq!(resume.query(), Some("after=cursor0&limit=1000"));
    assert_eq!(received(&server).await.len(), 1);
}

#[tokio::test]
async fn a_listing_longer_than_the_page_cap_ends_with_an_error() {
    let server = ever_new_cursors(json!([{"id": "00u1"}])).await;
    let (client, _clock) = client(&server, None);
    let mut pager = client.list_group_members("00g1").with_limits(PageLimits {
        max_pages: 5,
        ..PageLimits::default()
    });
    let mut pages = 0;
    let error = loop {
        match pager.next_page().await {
            Ok(Some(_)) => pages += 1,
            Ok(None) => panic!("the listing ended by itself after {pages} pages"),
            Err(error) => break error,
        }
    };
    assert_eq!(pages, 5, "the pages read are delivered");
    assert!(
        matches!(error, OktaError::TooManyPages { max: 5, .. }),
        "{error:?}"
    );
    assert_eq!(received(&server).await.len(), 5);
}

#[tokio::test]
async fn a_next_link_to_another_path_is_refused_and_nothing_is_sent_there() {
    for target in [
        "/api/v1/users/00u1/lifecycle/deactivate",
        "/oauth2/v1/token",
        "/api/v1/groups/00g1/users/../../../users",
    ] {
        let server = MockServer::start().await;
        let link = format!("<{}{target}?after=x>; rel=\"next\"", server.uri());
        Mock::given(path("/api/v1/groups/00g1/users"))
            .respond_with(page(json!([{"id": "00u1"}])).append_header("Link", link.as_str()))
            .mount(&server)
            .await;
        let (client, _clock) = client(&server, None);
        let mut pager = client.list_group_members("00g1");
        let first = pager.next_page().await.unwrap().unwrap();
        assert_eq!(
            first.items.len(),
            1,
            "the page that carried the link is kept"
        );
        let error = pager.next_page().await.unwrap_err();
        assert!(
            matches!(error, OktaError::LinkPathChanged { .. }),
            "{target}: {error:?}"
        );
        let sent = received(&server).await;
        assert_eq!(
            sent.len(),
            1,
            "{target}: the token went to {:?}",
            sent.last().map(|r| r.url.path().to_string())
        );
    }
}

// ------------------------------------------------------------------------------ ids in paths

#[tokio::test]
async fn ids_outside_okta_s_alphabet_never_reach_a_path() {
    let server = MockServer::start().await;
    serve(&server, page(json!([])), None).await;
    let (client, _clock) = client(&server, None);
    for id in [".", "..", "", "a/b", "00u1 x", "00u1?limit=1"] {
        let refused = |error: OktaError| matches!(error, OktaError::InvalidId { .. });
        assert!(
            refused(
                client
                    .list_group_members(id)
                    .collect_all()
                    .await
                    .unwrap_err()
            ),
            "{id:?}"
        );
        assert!(
            refused(client.list_group_roles(id).await.unwrap_err()),
            "{id:?}"
        );
        assert!(
            refused(client.list_user_factors(id).await.unwrap_err()),
            "{id:?}"
        );
        assert!(
            refused(client.list_user_roles(id).await.unwrap_err()),
            "{id:?}"
        );
        assert!(refused(client.get_user(id).await.unwrap_err()), "{id:?}");
    }
    let sent: Vec<String> = received(&server)
        .await
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert!(sent.is_empty(), "requests reached {sent:?}");
}

// ------------------------------------------------------------------------------ Okta's clock

#[tokio::test]
async fn a_date_far_ahead_does_not_move_cursors_into_the_future() {
    let server = MockServer::start().await;
    let ahead = now()
        .checked_add(SignedDuration::from_hours(30 * 24))
        .unwrap();
    serve(
        &server,
        page(json!([])).insert_header("Date", http_date(ahead).as_str()),
        None,
    )
    .await;
    let (client, clock) = client(&server, None);
    client
        .list_group_members("00g1")
        .collect_all()
        .await
        .unwrap();
    let server_time = client.server_time();
    let local = clock.now();
    assert!(
        server_time <= local.checked_add(SignedDuration::from_mins(5)).unwrap(),
        "server time {server_time} for a local {local}"
    );
    assert!(server_time >= local, "{server_time}");
}

// ------------------------------------------------------------------------------ OAuth

fn ec_key() -> PrivateKey {
    use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
    );
    PrivateKey::parse(&SecretString::from(pem)).unwrap()
}

fn service_app() -> OktaCredential {
    let mut settings = OAuthSettings::new("0oa1hostile0000000ab", ec_key());
    settings.dpop = DpopMode::Never;
    OktaCredential::ServiceApp(settings)
}

#[tokio::test]
async fn a_token_that_never_expires_is_fetched_once_not_before_every_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(page(json!({
            "access_token": "at-1", "token_type": "Bearer",
            "expires_in": i64::MAX, "scope": "okta.users.read okta.groups.read okta.roles.read"
        })))
        .mount(&server)
        .await;
    serve(&server, page(json!([])), None).await;
    let (client, _clock) = client(&server, Some(service_app()));
    for _ in 0..3 {
        client.list_group_roles("00g1").await.unwrap();
    }
    let sent = received(&server).await;
    let token_requests = sent
        .iter()
        .filter(|r| r.url.path() == "/oauth2/v1/token")
        .count();
    assert_eq!(token_requests, 1, "one token for every call");
    assert_eq!(sent.len(), 4);
}

#[tokio::test]
async fn the_token_endpoint_redirect_and_oversized_answer_are_refused() {
    let elsewhere = MockServer::start().await;
    let server = MockServer::start().await;
    Mock::given(path("/oauth2/v1/token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth2/v1/token"))
        .respond_with(page(json!({"access_token": "x".repeat(100_000)})))
        .mount(&server)
        .await;
    let (client, clock) = client(&server, Some(service_app()));
    let error = client.list_group_roles("00g1").await.unwrap_err();
    let OktaError::Redirect { location, .. } = &error else {
        panic!("expected a redirect error, got {error:?}")
    };
    assert!(location.ends_with("/steal"), "{location}");
    let error = client.list_group_roles("00g1").await.unwrap_err();
    assert!(matches!(error, OktaError::BodyTooLarge { .. }), "{error:?}");
    assert!(
        received(&elsewhere).await.is_empty(),
        "the redirect was followed"
    );
    assert!(clock.sleeps().is_empty(), "neither is retried");
}

#[tokio::test]
async fn a_429_at_the_token_endpoint_waits_at_most_a_window() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth2/v1/token"))
        .respond_with(far_reset(429, "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth2/v1/token"))
        .respond_with(page(json!({"access_token": "at-2", "expires_in": 3600})))
        .mount(&server)
        .await;
    serve(&server, page(json!([])), None).await;
    let (client, clock) = client(&server, Some(service_app()));
    client.list_group_roles("00g1").await.unwrap();
    assert_eq!(clock.sleeps(), [MAX_WAIT]);
}

// ------------------------------------------------------------------------------ the intake

const INTAKE_KEY: &str = "CANARY-sk-9f8e7d6c/5b4a";

fn intake(server: &MockServer) -> (HttpIntake, Arc<ManualClock>) {
    let url = format!("{}/api/v2/intake", server.uri());
    let mut settings = IntakeSettings::new(url.parse().unwrap(), SecretString::from(INTAKE_KEY));
    settings.backoff = FAST_BACKOFF;
    let (clock, shared) = manual_clock();
    (HttpIntake::new(settings, shared).unwrap(), clock)
}

fn one_event() -> Batch {
    Batch::from_items(vec![br#"{"user":{"uid":"00u1"}}"#.to_vec()])
}

#[tokio::test]
async fn encoded_echoes_of_the_intake_key_never_reach_an_error() {
    let escaped: String = INTAKE_KEY
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let percent: String = INTAKE_KEY.bytes().map(|b| format!("%{b:02X}")).collect();
    for (status, echo) in [
        // Retried, then quoted in the exhaustion error.
        (503, format!(r#"{{"code":503,"echo":"Bearer {escaped}"}}"#)),
        // Refused at once, quoted in the refusal.
        (400, format!(r#"{{"code":400,"echo":"Bearer {escaped}"}}"#)),
        (401, format!("bad credentials: {percent}")),
    ] {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(
                ResponseTemplate::new(status).set_body_raw(echo.clone(), "application/json"),
            )
            .mount(&server)
            .await;
        let (intake, _clock) = intake(&server);
        let error = intake.deliver(one_event()).await.unwrap_err();
        let text = format!("{error} {error:?}");
        assert!(text.contains("[redacted]"), "{status}: {text}");
        for leaked in [INTAKE_KEY, &escaped[..24], &percent[..24], "9f8e7d6c"] {
            assert!(!text.contains(leaked), "{status}: {leaked} in {text}");
        }
    }
}

#[tokio::test]
async fn an_intake_redirect_is_not_followed_and_names_its_target() {
    let elsewhere = MockServer::start().await;
    serve(&elsewhere, ResponseTemplate::new(200), None).await;
    let server = MockServer::start().await;
    let location = format!("{}/collect", elsewhere.uri());
    let redirect = ResponseTemplate::new(308).insert_header("Location", location.as_str());
    serve(&server, redirect, None).await;
    let (intake, clock) = intake(&server);
    let error = intake.deliver(one_event()).await.unwrap_err();
    let IntakeError::Rejected { message, .. } = &error else {
        panic!("expected a rejection, got {error:?}")
    };
    assert_eq!(error.status(), Some(308));
    assert!(message.contains("/collect"), "{message}");
    assert!(
        received(&elsewhere).await.is_empty(),
        "the key followed the redirect"
    );
    assert_eq!(received(&server).await.len(), 1, "not retried");
    assert!(clock.sleeps().is_empty());
}

// ------------------------------------------------------------------------------ content type

#[tokio::test]
async fn the_okta_response_parameter_is_a_quoted_string() {
    let server = MockServer::start().await;
    serve(&server, page(json!([])), None).await;
    let (client, _clock) = client(&server, None);
    client.list_group_roles("00g1").await.unwrap();
    let sent = received(&server).await;
    let content_type = sent[0]
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    let (media_type, parameter) = content_type.split_once(';').unwrap();
    assert_eq!(media_type, "application/json");
    let value = parameter.trim().strip_prefix("okta-response=").unwrap();
    assert_eq!(
        value, r#""omitCredentials,omitCredentialsLinks,omitTransitioningToStatus""#,
        "a value with commas must be quoted to be one parameter value"
    );
}
