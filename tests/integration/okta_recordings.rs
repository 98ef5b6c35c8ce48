//! Replay of real Okta answers (VCR cassettes recorded by the Okta Python SDK's integration tests,
//! vendored in `tests/fixtures/okta-recordings/`).
//!
//! Two levels: every recorded body the connector would read parses through the model types, and
//! the recorded answers (status, headers including every `Link` field, body) are served by
//! wiremock, hosts rewritten to the mock server, and read through the real client and `Pager`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use okta_asset_connector::clock::{ManualClock, SharedClock};
use okta_asset_connector::okta::model::{
    ErrorBody, Factor, Group, GroupType, IdOnly, RoleAssignment, User, UserStatus,
};
use okta_asset_connector::okta::rate_limit::RateLimitHeaders;
use okta_asset_connector::okta::retry::{decide, Decision};
use okta_asset_connector::okta::{Bucket, OktaClient, OktaError, OktaSettings};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const RECORDED_ORIGIN: &str = "https://test.okta.com";

// ---------------------------------------------------------------------------------------------
// Cassettes
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct Cassette {
    interactions: Vec<Interaction>,
}

#[derive(Debug, Clone, Deserialize)]
struct Interaction {
    request: RecordedRequest,
    response: RecordedResponse,
}

#[derive(Debug, Clone, Deserialize)]
struct RecordedRequest {
    method: String,
    uri: String,
    #[serde(default)]
    headers: BTreeMap<String, Values>,
}

#[derive(Debug, Clone, Deserialize)]
struct RecordedResponse {
    status: Status,
    #[serde(default)]
    headers: BTreeMap<String, Values>,
    body: Body,
}

#[derive(Debug, Clone, Deserialize)]
struct Status {
    code: u16,
}

#[derive(Debug, Clone, Deserialize)]
struct Body {
    #[serde(default)]
    string: Option<String>,
}

/// Older cassettes record one value per header, newer ones a list (a repeated header).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
}

impl Values {
    fn all(&self) -> Vec<&str> {
        match self {
            Values::One(value) => vec![value.as_str()],
            Values::Many(values) => values.iter().map(String::as_str).collect(),
        }
    }
}

impl RecordedRequest {
    fn url(&self) -> Url {
        Url::parse(&self.uri).unwrap()
    }

    fn header(&self, name: &str) -> Vec<&str> {
        header_values(&self.headers, name)
    }
}

impl RecordedResponse {
    fn body(&self) -> &str {
        self.body.string.as_deref().unwrap_or("")
    }

    fn header(&self, name: &str) -> Vec<&str> {
        header_values(&self.headers, name)
    }

    /// The recorded headers as the client sees them.
    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, values) in &self.headers {
            for value in values.all() {
                map.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
        }
        map
    }
}

fn header_values<'a>(headers: &'a BTreeMap<String, Values>, name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.all())
        .collect()
}

/// The first record of `records` that `is` picks.
fn the<T>(records: &[T], is: impl Fn(&T) -> bool) -> &T {
    records.iter().find(|record| is(record)).expect("a record")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/okta-recordings")
}

fn cassette(name: &str) -> Cassette {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn all_cassettes() -> Vec<(String, Cassette)> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "cassettes missing: {names:?}");
    names
        .into_iter()
        .map(|name| (name.clone(), cassette(&name)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Every recorded body the connector reads parses through the model
// ---------------------------------------------------------------------------------------------

/// What a recorded path holds, for the paths the connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Resource {
    Users,
    Groups,
    GroupMembers,
    Roles,
    Factors,
}

fn resource_of(path: &str) -> Option<Resource> {
    let segments: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
    match segments.as_slice() {
        ["users"] | ["users", _] => Some(Resource::Users),
        ["users", _, "roles"] | ["groups", _, "roles"] => Some(Resource::Roles),
        ["users", _, "factors"] => Some(Resource::Factors),
        ["users", _, "groups"] | ["groups"] | ["groups", _] => Some(Resource::Groups),
        ["groups", _, "users"] => Some(Resource::GroupMembers),
        _ => None,
    }
}

/// A list answer item by item, or a single object (`GET /users/{id}`, answers to a create).
fn parse_records<T: DeserializeOwned>(body: &str) -> Result<Vec<T>, serde_json::Error> {
    match serde_json::from_str::<serde_json::Value>(body)? {
        serde_json::Value::Array(items) => items.into_iter().map(serde_json::from_value).collect(),
        object => Ok(vec![serde_json::from_value(object)?]),
    }
}

fn records<T: DeserializeOwned>(body: &str, what: &str) -> Vec<T> {
    parse_records(body).unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[derive(Default)]
struct Parsed {
    users: Vec<User>,
    groups: Vec<Group>,
    members: Vec<IdOnly>,
    roles: Vec<RoleAssignment>,
    factors: Vec<Factor>,
    answers: BTreeMap<Resource, usize>,
    errors: Vec<ErrorBody>,
}

fn parse_every_recording() -> Parsed {
    let mut parsed = Parsed::default();
    for (name, cassette) in all_cassettes() {
        for interaction in &cassette.interactions {
            let response = &interaction.response;
            let url = interaction.request.url();
            let what = format!(
                "{name}: {} {url} -> {}",
                interaction.request.method, response.status.code
            );
            if response.status.code >= 400 {
                let error: ErrorBody =
                    serde_json::from_str(response.body()).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(
                    error
                        .error_code
                        .as_deref()
                        .is_some_and(|c| c.starts_with("E0000")),
                    "{what}"
                );
                assert!(error.error_summary.is_some(), "{what}");
                parsed.errors.push(error);
                continue;
            }
            if !matches!(response.status.code, 200 | 201) || response.body().trim().is_empty() {
                continue;
            }
            let Some(resource) = resource_of(url.path()) else {
                continue;
            };
            // Any sub-path the connector does not read (lifecycle operations) is not classified.
            let body = response.body();
            match resource {
                Resource::Users => parsed.users.extend(records::<User>(body, &what)),
                Resource::Groups => parsed.groups.extend(records::<Group>(body, &what)),
                Resource::GroupMembers => {
                    // The connector reads members as ids; the records are full users.
                    parsed.members.extend(records::<IdOnly>(body, &what));
                    parsed.users.extend(records::<User>(body, &what));
                }
                Resource::Roles => parsed.roles.extend(records::<RoleAssignment>(body, &what)),
                Resource::Factors => parsed.factors.extend(records::<Factor>(body, &what)),
            }
            *parsed.answers.entry(resource).or_default() += 1;
        }
    }
    parsed
}

#[test]
fn every_recorded_answer_parses_through_the_model() {
    let parsed = parse_every_recording();
    let answers = &parsed.answers;
    // Every kind of answer the connector reads is present in the recordings and parsed.
    for resource in [
        Resource::Users,
        Resource::Groups,
        Resource::GroupMembers,
        Resource::Roles,
        Resource::Factors,
    ] {
        assert!(
            answers.get(&resource).copied().unwrap_or(0) > 0,
            "no recorded {resource:?}: {answers:?}"
        );
    }
    assert!(parsed.users.len() >= 8, "{}", parsed.users.len());
    assert!(parsed.groups.len() >= 8, "{}", parsed.groups.len());
    assert_eq!(parsed.members.len(), 1);
    assert!(parsed.roles.len() >= 5, "{}", parsed.roles.len());
    // The recorded factor list of a brand-new user is empty: it parses as "no factors".
    assert!(parsed.factors.is_empty());
    assert!(parsed
        .users
        .iter()
        .all(|u| !u.id.is_empty() && u.profile.login.is_some()));
    assert!(parsed
        .groups
        .iter()
        .all(|g| g.id.starts_with("00g") && g.profile.name.is_some()));
    // The 429 and the 404 error bodies.
    let codes: Vec<_> = parsed
        .errors
        .iter()
        .filter_map(|e| e.error_code.as_deref())
        .collect();
    assert!(
        codes.contains(&"E0000047") && codes.contains(&"E0000007"),
        "{codes:?}"
    );
}

#[test]
fn recorded_values_survive_parsing() {
    let parsed = parse_every_recording();

    // 2026 recording: an ACTIVE user whose `activated` is null.
    let binoy = the(&parsed.users, |u| u.id == "00unwlw0tbo8E6aVj5d7");
    assert_eq!(binoy.status, UserStatus::Active);
    assert_eq!(binoy.activated, None);
    assert_eq!(binoy.created, Some("2025-03-19T08:01:48Z".parse().unwrap()));
    assert_eq!(
        binoy.last_login,
        Some("2026-03-27T11:05:20Z".parse().unwrap())
    );
    assert_eq!(binoy.profile.login.as_deref(), Some("binoy.oza@okta.com"));
    assert_eq!(binoy.profile.first_name.as_deref(), Some("Binoy"));
    assert_eq!(binoy.profile.mobile_phone, None);

    // STAGED users with null activated / statusChanged / lastLogin.
    let staged: Vec<_> = parsed
        .users
        .iter()
        .filter(|u| u.status == UserStatus::Staged)
        .collect();
    assert!(!staged.is_empty());
    assert!(staged
        .iter()
        .all(|u| u.activated.is_none() && u.last_login.is_none() && !u.status.is_enabled()));

    // The BUILT_IN "Everyone" group, with its membership timestamp.
    let everyone = the(&parsed.groups, |g| {
        g.profile.name.as_deref() == Some("Everyone")
    });
    assert_eq!(everyone.group_type, GroupType::BuiltIn);
    assert_eq!(everyone.id, "00gc04qatkiyWnGoq4x6");
    assert_eq!(
        everyone.last_membership_updated,
        Some("2020-08-27T18:15:41Z".parse().unwrap())
    );
    assert!(parsed
        .groups
        .iter()
        .any(|g| g.group_type == GroupType::OktaGroup));

    // A group's role, and a user's direct role.
    let inherited = the(&parsed.roles, |r| {
        r.role_type.as_deref() == Some("APP_ADMIN")
    });
    assert_eq!(inherited.assignment_type.as_deref(), Some("GROUP"));
    assert_eq!(inherited.display_label(), Some("Application Administrator"));
    assert!(inherited.is_active());
    let direct = the(&parsed.roles, |r| {
        r.assignment_type.as_deref() == Some("USER")
    });
    assert_eq!(direct.role_type.as_deref(), Some("USER_ADMIN"));
    assert_eq!(direct.label.as_deref(), Some("User Administrator"));

    // The group member is the user created in the same recording.
    assert_eq!(parsed.members[0].id, "00usfbpcapvcITLwi4x6");
}

// ---------------------------------------------------------------------------------------------
// The real 429
// ---------------------------------------------------------------------------------------------

fn recorded_429() -> Interaction {
    let cassette =
        cassette("TestAgentPoolsResource.test_list_agent_pools_with_multiple_pool_types.yaml");
    cassette
        .interactions
        .into_iter()
        .find(|i| i.response.status.code == 429)
        .unwrap()
}

#[test]
fn recorded_429_waits_reset_minus_date_plus_one_second() {
    let recorded = recorded_429();
    let headers = recorded.response.header_map();
    let limits = RateLimitHeaders::parse(&headers).unwrap();
    assert_eq!(
        (limits.limit, limits.remaining, limits.reset),
        (10, 0, 1_757_607_758)
    );
    assert!(!limits.is_concurrency_violation());
    // Date 16:21:50 = 1757607710; 1757607758 − 1757607710 + 1 = 49, whatever the local clock says.
    for local in [
        "1970-01-01T00:00:00Z",
        "2025-09-11T16:21:50Z",
        "2040-01-01T00:00:00Z",
    ] {
        let decision = decide(429, &headers, None, local.parse().unwrap());
        assert_eq!(
            decision,
            Decision::WaitForReset(Duration::from_secs(49)),
            "local clock {local}"
        );
    }
    let body: ErrorBody = serde_json::from_str(recorded.response.body()).unwrap();
    assert_eq!(body.error_code.as_deref(), Some("E0000047"));
    assert_eq!(body.error_id.as_deref(), Some("oae_A2-4_P9RtWIEh-N4O0qfg"));
    assert!(body.error_summary.unwrap().contains("rate limit"));
}

// ---------------------------------------------------------------------------------------------
// Replay through wiremock and the real client
// ---------------------------------------------------------------------------------------------

/// Serves recorded answers per path, in recorded order. When a path's recording runs out (the
/// cassette stopped before the last page), answers an empty last page.
struct Replay {
    origin: String,
    queues: Mutex<HashMap<String, VecDeque<RecordedResponse>>>,
}

impl Replay {
    fn template(&self, recorded: &RecordedResponse) -> ResponseTemplate {
        let mut template = ResponseTemplate::new(recorded.status.code).set_body_bytes(
            recorded
                .body()
                .replace(RECORDED_ORIGIN, &self.origin)
                .into_bytes(),
        );
        for (name, values) in &recorded.headers {
            // The recorded body is already decoded; framing is the mock server's business.
            let skip = [
                "content-encoding",
                "transfer-encoding",
                "content-length",
                "connection",
            ];
            if skip.iter().any(|s| name.eq_ignore_ascii_case(s)) {
                continue;
            }
            for value in values.all() {
                template = template.append_header(
                    name.as_str(),
                    value.replace(RECORDED_ORIGIN, &self.origin).as_str(),
                );
            }
        }
        template
    }
}

impl Respond for Replay {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let next = self
            .queues
            .lock()
            .unwrap()
            .get_mut(request.url.path())
            .and_then(VecDeque::pop_front);
        match next {
            Some(recorded) => self.template(&recorded),
            None => ResponseTemplate::new(200).set_body_raw("[]", "application/json"),
        }
    }
}

struct Replayed {
    server: MockServer,
    client: OktaClient,
    clock: Arc<ManualClock>,
}

async fn replay(interactions: &[&Interaction]) -> Replayed {
    let server = MockServer::start().await;
    let mut queues: HashMap<String, VecDeque<RecordedResponse>> = HashMap::new();
    for interaction in interactions {
        let path = interaction.request.url().path().to_string();
        queues
            .entry(path)
            .or_default()
            .push_back(interaction.response.clone());
    }
    Mock::given(any())
        .respond_with(Replay {
            origin: server.uri(),
            queues: Mutex::new(queues),
        })
        .mount(&server)
        .await;
    let settings = OktaSettings::new(
        Url::parse(&server.uri()).unwrap(),
        SecretString::from("recorded-token"),
    );
    let clock = Arc::new(ManualClock::new(
        "2030-01-01T00:00:00Z".parse::<Timestamp>().unwrap(),
    ));
    let shared: SharedClock = clock.clone();
    let client = OktaClient::new(settings, shared).unwrap();
    Replayed {
        server,
        client,
        clock,
    }
}

fn gets(cassette: &Cassette) -> Vec<&Interaction> {
    cassette
        .interactions
        .iter()
        .filter(|i| i.request.method == "GET")
        .collect()
}

/// Path and query as sent (wiremock rebuilds `Request::url` on `http://localhost`).
fn target(request: &Request) -> &str {
    &request.url[url::Position::BeforePath..]
}

fn recorded_target(uri: &str) -> &str {
    uri.strip_prefix(RECORDED_ORIGIN).unwrap()
}

/// The `rel="next"` target of a recorded answer, as recorded.
fn recorded_next(response: &RecordedResponse) -> Option<String> {
    response
        .header("link")
        .into_iter()
        .flat_map(|v| v.split(", <"))
        .find(|link| link.contains("rel=\"next\""))
        .map(|link| {
            let start = link.find('<').map_or(0, |i| i + 1);
            let end = link.find('>').unwrap();
            recorded_target(&link[start..end]).to_string()
        })
}

async fn read_all_users(client: &OktaClient) -> (Vec<String>, usize) {
    let mut pager = client.search_users("status pr");
    let (mut ids, mut pages) = (Vec::new(), 0);
    while let Some(page) = pager.next_page().await.unwrap() {
        assert_eq!(page.skipped, 0);
        ids.extend(page.items.into_iter().map(|u| u.id));
        pages += 1;
    }
    (ids, pages)
}

#[tokio::test]
async fn users_pagination_recording_pages_through_the_pager() {
    // 2020 recording: one `link` header per answer, carrying only `rel="next"`.
    let cassette = cassette("TestUsersResource.test_user_pagination.yaml");
    let list: Vec<&Interaction> = gets(&cassette)
        .into_iter()
        .filter(|i| i.request.url().path() == "/api/v1/users")
        .collect();
    assert_eq!(list.len(), 2);
    let replayed = replay(&list).await;

    let (ids, pages) = read_all_users(&replayed.client).await;
    let mut recorded_ids = Vec::new();
    for interaction in &list {
        recorded_ids.extend(
            parse_records::<User>(interaction.response.body())
                .unwrap()
                .into_iter()
                .map(|u| u.id),
        );
    }
    assert_eq!(recorded_ids.len(), 2);
    assert_eq!(ids, recorded_ids);
    assert_eq!(
        pages, 3,
        "two recorded pages, then the empty last page after the recording ends"
    );

    let sent = replayed.server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 3);
    // The recorded cursor is followed exactly: the second request is the one the SDK made.
    assert_eq!(target(&sent[1]), recorded_target(&list[1].request.uri));
    assert_eq!(
        Some(target(&sent[2]).to_string()),
        recorded_next(&list[1].response)
    );
    // The recorded rate-limit headers were read (users list bucket, limit 600).
    let (limit, _) = replayed
        .client
        .rate_limit_snapshot(Bucket::UsersList)
        .unwrap();
    assert_eq!(limit, 600);
    assert_eq!(replayed.client.stats().quota_429, 0);
}

#[tokio::test]
async fn two_link_fields_recording_follows_the_next_field() {
    // 2026 recording: `self` and `next` in two separate `Link` header fields.
    let cassette = cassette("TestDPoPBackwardCompatibility.test_ssws_auth_unchanged.yaml");
    let list = gets(&cassette);
    assert_eq!(
        list[0].response.header("link").len(),
        2,
        "the fixture has two Link fields"
    );
    let replayed = replay(&list).await;

    let (ids, _) = read_all_users(&replayed.client).await;
    assert_eq!(ids, ["00unwlw0tbo8E6aVj5d7"]);
    let sent = replayed.server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        target(&sent[1]),
        "/api/v1/users?after=200unwlw0tbo8E6aVj5d7&limit=1"
    );
    let (limit, remaining) = replayed
        .client
        .rate_limit_snapshot(Bucket::UsersList)
        .unwrap();
    assert_eq!((limit, remaining), (50, 49));
}

/// The recorded paths [`read_through_client`] has an endpoint function for.
fn has_endpoint_function(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
    matches!(
        segments.as_slice(),
        ["users", _]
            | ["users", _, "roles" | "factors"]
            | ["groups"]
            | ["groups", _, "users" | "roles"]
    )
}

/// Reads what a recorded GET answered through the endpoint function the sync uses, and returns
/// the ids it got (None: not an endpoint the client has).
async fn read_through_client(
    client: &OktaClient,
    url: &Url,
) -> Option<Result<Vec<String>, OktaError>> {
    let segments: Vec<&str> = url
        .path()
        .trim_start_matches("/api/v1/")
        .split('/')
        .collect();
    Some(match segments.as_slice() {
        ["users", id] => client.get_user(id).await.map(|u| vec![u.id]),
        ["users", id, "roles"] => ids(client.list_user_roles(id), |r| r.id).await,
        ["users", id, "factors"] => ids(client.list_user_factors(id), |f| f.id).await,
        ["groups"] => ids(client.list_groups(None).collect_all(), |g| Some(g.id)).await,
        ["groups", id, "users"] => {
            ids(client.list_group_members(id).collect_all(), |m| Some(m.id)).await
        }
        ["groups", id, "roles"] => ids(client.list_group_roles(id), |r| r.id).await,
        _ => return None,
    })
}

/// The ids of what `read` returns (records without one left out).
async fn ids<T>(
    read: impl std::future::Future<Output = Result<Vec<T>, OktaError>>,
    id: fn(T) -> Option<String>,
) -> Result<Vec<String>, OktaError> {
    read.await
        .map(|items| items.into_iter().filter_map(id).collect())
}

#[tokio::test]
async fn every_recorded_read_replays_through_the_endpoint_functions() {
    let mut replayed_reads = 0;
    for (name, cassette) in all_cassettes() {
        let reads: Vec<&Interaction> = gets(&cassette)
            .into_iter()
            // List users is covered page by page above.
            .filter(|i| has_endpoint_function(i.request.url().path()))
            .collect();
        if reads.is_empty() {
            continue;
        }
        let replayed = replay(&reads).await;
        for interaction in &reads {
            let url = interaction.request.url();
            let what = format!("{name}: GET {url}");
            let got = read_through_client(&replayed.client, &url)
                .await
                .unwrap_or_else(|| panic!("{what}"));
            let response = &interaction.response;
            if response.status.code == 200 {
                let expected: Vec<String> =
                    serde_json::from_str::<serde_json::Value>(response.body())
                        .map(|v| match v {
                            serde_json::Value::Array(items) => items,
                            object => vec![object],
                        })
                        .unwrap()
                        .iter()
                        .filter_map(|item| item["id"].as_str().map(str::to_string))
                        .collect();
                assert_eq!(
                    got.unwrap_or_else(|e| panic!("{what}: {e}")),
                    expected,
                    "{what}"
                );
            } else {
                let error = got.expect_err(&what);
                let body: ErrorBody = serde_json::from_str(response.body()).unwrap();
                assert_eq!(error.code(), body.error_code.as_deref(), "{what}");
                assert_eq!(error.status(), Some(response.status.code), "{what}");
                let request_id = response.header("x-okta-request-id")[0];
                assert!(error.to_string().contains(request_id), "{what}: {error}");
            }
            replayed_reads += 1;
        }
        // The client asked for what the SDK asked for (same paths), with its own page sizes.
        let sent = replayed.server.received_requests().await.unwrap();
        assert_eq!(
            sent.len(),
            reads.len(),
            "{name}: one request per recorded read"
        );
        for (request, interaction) in sent.iter().zip(&reads) {
            assert_eq!(
                request.url.path(),
                interaction.request.url().path(),
                "{name}"
            );
            let limit = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "limit")
                .map(|(_, v)| v.into_owned());
            match request.url.path() {
                "/api/v1/groups" => assert_eq!(limit.as_deref(), Some("200")),
                p if p.ends_with("/users") => assert_eq!(limit.as_deref(), Some("1000")),
                _ => {}
            }
        }
        assert!(
            replayed
                .clock
                .sleeps()
                .iter()
                .all(|d| *d < Duration::from_secs(2)),
            "{name}"
        );
    }
    // users/{id} (the 404), user roles ×2, factors, groups, group search, members ×2, group roles ×2.
    assert!(replayed_reads >= 10, "{replayed_reads}");
}

#[tokio::test]
async fn recorded_429_then_success_replays_with_the_exact_wait_and_retry_headers() {
    let cassette =
        cassette("TestAgentPoolsResource.test_list_agent_pools_with_multiple_pool_types.yaml");
    let radius: Vec<&Interaction> = cassette
        .interactions
        .iter()
        .filter(|i| i.request.uri.contains("poolType=Radius"))
        .collect();
    assert_eq!(
        radius
            .iter()
            .map(|i| i.response.status.code)
            .collect::<Vec<_>>(),
        [429, 200]
    );
    let replayed = replay(&radius).await;

    let url = replayed.client.url(
        "/api/v1/agentPools",
        &[("limitPerPoolType", "5"), ("poolType", "Radius")],
    );
    let response = replayed.client.get(url).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(&response.body[..], b"[]");

    assert_eq!(replayed.clock.sleeps(), [Duration::from_secs(49)]);
    assert_eq!(replayed.client.stats().quota_429, 1);
    let sent = replayed.server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 2);
    // Our retry carries the same retry headers the SDK sent in the recording.
    let recorded_retry = &radius[1].request;
    for name in ["X-Okta-Retry-Count", "X-Okta-Retry-For"] {
        let ours = sent[1]
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            ours.as_deref(),
            recorded_retry.header(name).first().copied(),
            "{name}"
        );
    }
    assert_eq!(
        sent[1].headers.get("x-okta-retry-for").unwrap(),
        radius[0].response.header("x-okta-request-id")[0]
    );
}
