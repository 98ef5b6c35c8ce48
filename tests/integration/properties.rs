//! Property tests: the parsers and builders that see untrusted or operator-typed
//! input never panic and keep their promises, whatever they are given.
//!
//! - `okta::paging::next_link`: any `Link` header values → no panic; a `rel="next"` link among
//!   other links, in separate fields or comma-joined, is found exactly.
//! - `config::normalize_okta_origin`: any text → no panic; what it accepts is an `https` origin
//!   (or loopback `http` when allowed) with no path, query, fragment or credentials; its errors
//!   never echo a password typed into the URL.
//! - `okta::endpoints::expr`: ids never break out of their quotes; timestamps always have Okta's
//!   format.
//! - The user page reader and the mapper: any JSON array served as a user page → every item is
//!   either an event that validates (OCSF 1.8.0 + Sekoia rules) or a counted skip.
//!
//! Case counts are bounded so `cargo test` stays fast (64 to 256 per property). For a longer
//! run: `PROPTEST_CASES=100000 cargo test --release --test properties` (the environment
//! variable overrides every property's count).

use crate::support;

use std::sync::{Arc, Mutex, OnceLock};

use jiff::Timestamp;
use okta_asset_connector::clock::{ManualClock, SharedClock};
use okta_asset_connector::config::normalize_okta_origin;
use okta_asset_connector::mapping::{is_mappable, map_user, Enrichment, MapContext, TimeUnit};
use okta_asset_connector::okta::endpoints::expr;
use okta_asset_connector::okta::paging::next_link;
use okta_asset_connector::okta::{OktaClient, OktaSettings};
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue, LINK};
use serde_json::Value;

use support::ocsf::validate_event_as;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Cases per property unless `PROPTEST_CASES` says otherwise.
fn cases(n: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------------------ Link headers

fn headers(values: &[String]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for value in values {
        if let Ok(value) = HeaderValue::from_str(value) {
            map.append(LINK, value);
        }
    }
    map
}

/// A link that is not `next`: random target (commas, semicolons, quotes included) and rel.
fn other_link() -> impl Strategy<Value = String> {
    (
        "https://[a-z]{1,8}\\.okta\\.com/[a-zA-Z0-9/?=&,;:._~%-]{0,40}",
        prop_oneof![
            Just("self"),
            Just("prev"),
            Just("first"),
            Just("last"),
            Just("nextish"),
            Just("previous next-page"),
        ],
        prop_oneof![Just("\""), Just("")],
        "[ ]{0,2}",
    )
        .prop_map(|(target, rel, quote, space)| {
            if rel.contains(' ') && quote.is_empty() {
                format!("<{target}>;{space}rel=\"{rel}\"")
            } else {
                format!("<{target}>;{space}rel={quote}{rel}{quote}")
            }
        })
}

fn next_target() -> impl Strategy<Value = String> {
    "https://acme\\.okta\\.com/api/v1/users\\?after=[A-Za-z0-9_%-]{1,24}&limit=[0-9]{1,4}(&search=[a-z%0-9+]{0,12})?"
}

fn next_param() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("rel=\"next\"".to_string()),
        Just("rel=next".to_string()),
        Just("REL=\"NEXT\"".to_string()),
        Just("rel=\"prev next\"".to_string()),
        Just("type=\"text/html\"; rel=\"next\"".to_string()),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn link_parser_never_panics(values in prop::collection::vec("[ -~]{0,120}", 0..5)) {
        let _ = next_link(&headers(&values));
    }

    #[test]
    fn link_parser_never_panics_on_link_like_noise(
        values in prop::collection::vec("[<>;=\", a-z:/.?&]{0,80}", 0..5),
    ) {
        let _ = next_link(&headers(&values));
    }

    #[test]
    fn next_link_is_found_among_others_in_fields_or_comma_joined(
        before in prop::collection::vec(other_link(), 0..3),
        after in prop::collection::vec(other_link(), 0..3),
        target in next_target(),
        param in next_param(),
        joined in any::<bool>(),
    ) {
        let next = format!("<{target}>; {param}");
        let mut links = before;
        links.push(next);
        links.extend(after);
        let values = if joined { vec![links.join(", ")] } else { links };
        prop_assert_eq!(next_link(&headers(&values)), Some(target));
    }

    #[test]
    fn no_next_link_means_none(links in prop::collection::vec(other_link(), 0..5), joined in any::<bool>()) {
        let values = if joined { vec![links.join(", ")] } else { links };
        prop_assert_eq!(next_link(&headers(&values)), None);
    }
}

// ------------------------------------------------------------------------------ base URL

/// Checks what an accepted base URL must be.
fn assert_origin(input: &str, allow_http: bool) -> Result<(), TestCaseError> {
    if let Ok(url) = normalize_okta_origin(input, allow_http) {
        let scheme_ok = url.scheme() == "https"
            || (allow_http
                && url.scheme() == "http"
                && matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
                || allow_http
                    && url.scheme() == "http"
                    && url.host_str().is_some_and(|h| {
                        h.parse::<std::net::Ipv4Addr>()
                            .is_ok_and(|ip| ip.is_loopback())
                    }));
        prop_assert!(scheme_ok, "{input:?} accepted as {url}");
        prop_assert_eq!(url.path(), "/", "{:?} → {}", input, url);
        prop_assert!(
            url.query().is_none() && url.fragment().is_none(),
            "{input:?} → {url}"
        );
        prop_assert!(
            url.username().is_empty() && url.password().is_none(),
            "{input:?} → {url}"
        );
        prop_assert!(
            url.host_str().is_some_and(|h| !h.is_empty()),
            "{input:?} → {url}"
        );
    }
    Ok(())
}

fn url_like() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just(""),
            Just("https://"),
            Just("http://"),
            Just("HTTPS://"),
            Just("ftp://"),
            Just("//"),
        ],
        prop_oneof![Just(String::new()), "[a-z]{1,6}(:[a-zA-Z0-9@]{0,8})?@",],
        prop_oneof![
            "[a-z0-9-]{1,12}(\\.[a-z0-9-]{1,10}){0,3}",
            Just("127.0.0.1".to_string()),
            Just("[::1]".to_string()),
            Just("localhost".to_string()),
            Just("acme-admin.okta.com".to_string()),
        ],
        prop_oneof![Just(String::new()), ":[0-9]{0,6}"],
        prop_oneof![
            Just(String::new()),
            Just("/".to_string()),
            "/[a-zA-Z0-9/._%-]{0,20}",
        ],
        prop_oneof![Just(String::new()), "[?#][a-z=&]{0,10}"],
        "[ \t]{0,2}",
    )
        .prop_map(|(scheme, userinfo, host, port, path, tail, space)| {
            format!("{space}{scheme}{userinfo}{host}{port}{path}{tail}{space}")
        })
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn base_url_normaliser_never_panics_on_any_text(input in "\\PC{0,60}", allow in any::<bool>()) {
        assert_origin(&input, allow)?;
    }

    #[test]
    fn accepted_base_urls_are_bare_origins(input in url_like(), allow in any::<bool>()) {
        assert_origin(&input, allow)?;
    }

    #[test]
    fn base_url_errors_never_echo_a_password(
        scheme in prop_oneof![Just("https://"), Just("http://"), Just("")],
        user in "[a-z]{0,6}",
        secret in "[A-Za-z0-9!$&'()*+,;=@:~._%/?#\\[\\]-]{4,24}",
        host in prop_oneof![Just("acme.okta.com"), Just("127.0.0.1:8080"), Just("bad host")],
        tail in prop_oneof![Just(""), Just("/api/v1"), Just("?x=1")],
        allow in any::<bool>(),
    ) {
        // A distinctive prefix: never a port, never a word of an error message.
        let password = format!("Pw9{secret}");
        let input = format!("{scheme}{user}:{password}@{host}{tail}");
        let shown = match normalize_okta_origin(&input, allow) {
            Ok(url) => url.to_string(),
            Err(error) => error.to_string(),
        };
        let encoded: String =
            url::form_urlencoded::byte_serialize(password.as_bytes()).collect();
        // The longest run of the password that survives splitting at URL delimiters.
        for piece in password.split(['/', '?', '#', '@']).filter(|p| p.len() >= 6) {
            prop_assert!(!shown.contains(piece), "{input:?} → {shown}");
        }
        prop_assert!(!shown.contains(&password), "{input:?} → {shown}");
        prop_assert!(!shown.contains(&encoded) || encoded.len() < 6, "{input:?} → {shown}");
    }
}

// ------------------------------------------------------------------------------ expressions

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn ids_never_break_out_of_their_quotes(ids in prop::collection::vec("\\PC{0,12}|[A-Za-z0-9]{1,20}", 0..8)) {
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let built = expr::ids(&refs);
        let valid: Vec<&str> = refs
            .iter()
            .copied()
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect();
        if valid.is_empty() {
            prop_assert_eq!(built, "");
            return Ok(());
        }
        // Parses back: `id eq "X"` clauses joined by ` or `, X exactly the valid ids in order.
        let parsed: Vec<&str> = built
            .split(" or ")
            .map(|clause| {
                clause
                    .strip_prefix("id eq \"")
                    .and_then(|rest| rest.strip_suffix('"'))
                    .expect("a well-formed clause")
            })
            .collect();
        prop_assert_eq!(&parsed, &valid);
        prop_assert_eq!(built.matches('"').count(), 2 * valid.len());
    }

    #[test]
    fn timestamps_in_expressions_have_okta_format(ms in 0i64..4_102_444_800_000) {
        let at = Timestamp::from_millisecond(ms).unwrap();
        let time = expr::okta_time(at);
        prop_assert_eq!(time.len(), 24, "{}", time);
        prop_assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{}", time);
        prop_assert_eq!(time.parse::<Timestamp>().unwrap(), at);
        prop_assert_eq!(expr::users_updated_since(at), format!("lastUpdated gt \"{time}\""));
        let groups = expr::groups_changed_since(at);
        prop_assert_eq!(groups.matches(time.as_str()).count(), 2);
    }
}

// ------------------------------------------------------------------------------ pages → events

/// One loopback server for every case: it serves whatever body the case put in `body`.
struct PageServer {
    runtime: tokio::runtime::Runtime,
    _server: MockServer,
    client: OktaClient,
    body: Arc<Mutex<Vec<u8>>>,
}

fn page_server() -> &'static PageServer {
    static SERVER: OnceLock<PageServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let body: Arc<Mutex<Vec<u8>>> = Arc::default();
        let served = body.clone();
        let server = runtime.block_on(async {
            let server = MockServer::start().await;
            Mock::given(wiremock::matchers::any())
                .respond_with(move |_: &wiremock::Request| {
                    let body = served.lock().unwrap().clone();
                    ResponseTemplate::new(200).set_body_raw(body, "application/json")
                })
                .mount(&server)
                .await;
            server
        });
        let url = server.uri();
        let clock: SharedClock = Arc::new(ManualClock::new(Timestamp::now()));
        let client = OktaClient::new(
            OktaSettings::new(url.parse().unwrap(), "t".to_string().into()),
            clock,
        )
        .unwrap();
        PageServer {
            runtime,
            _server: server,
            client,
            body,
        }
    })
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
        "[a-z0-9.]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}".prop_map(Value::from),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\\.[0-9]{3}Z"
            .prop_map(Value::from),
    ]
}

fn json_any() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-zA-Z]{1,10}",
                    Just("login".to_string()),
                    Just("email".to_string()),
                    Just("firstName".to_string()),
                    Just("status".to_string()),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Something shaped like an Okta user, every part of it arbitrary JSON at times.
fn user_like() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            4 => "00u[A-Za-z0-9]{5,17}".prop_map(Value::from),
            1 => json_leaf(),
        ],
        prop_oneof![
            4 => prop_oneof![
                Just("ACTIVE"), Just("DEPROVISIONED"), Just("LOCKED_OUT"), Just("ACTIVATING"),
                Just("SOMETHING_NEW"),
            ].prop_map(Value::from),
            1 => json_leaf(),
        ],
        prop::collection::btree_map(
            prop_oneof![
                Just("login".to_string()),
                Just("email".to_string()),
                Just("secondEmail".to_string()),
                Just("firstName".to_string()),
                Just("lastName".to_string()),
                Just("displayName".to_string()),
                Just("mobilePhone".to_string()),
                Just("managerId".to_string()),
                Just("countryCode".to_string()),
                "x_[a-z]{1,8}",
            ],
            json_any(),
            0..8,
        ),
        prop::collection::btree_map(
            prop_oneof![
                Just("created".to_string()),
                Just("lastUpdated".to_string()),
                Just("lastLogin".to_string()),
                Just("activated".to_string()),
                Just("_links".to_string()),
                Just("credentials".to_string()),
            ],
            json_any(),
            0..4,
        ),
    )
        .prop_map(|(id, status, profile, extra)| {
            let mut user = serde_json::Map::new();
            user.insert("id".into(), id);
            user.insert("status".into(), status);
            user.insert(
                "profile".into(),
                Value::Object(profile.into_iter().collect()),
            );
            user.extend(extra);
            Value::Object(user)
        })
}

proptest! {
    #![proptest_config(cases(64))]

    #[test]
    fn any_user_page_yields_valid_events_or_counted_skips(
        items in prop::collection::vec(prop_oneof![4 => user_like(), 1 => json_any()], 0..12),
        seconds in any::<bool>(),
    ) {
        let server = page_server();
        *server.body.lock().unwrap() = serde_json::to_vec(&Value::from(items.clone())).unwrap();
        let page = server
            .runtime
            .block_on(async { server.client.search_users(expr::ALL_USERS).next_page().await })
            .expect("a JSON array page is read")
            .expect("one page");
        // Every record is read or counted, none lost silently.
        prop_assert_eq!(page.items.len() + page.skipped, items.len());
        let unit = if seconds { TimeUnit::Seconds } else { TimeUnit::Milliseconds };
        let context = MapContext {
            tenant_uid: "acme.okta.com".into(),
            collected_at: "2026-03-04T05:06:07.089Z".parse().unwrap(),
            time_unit: unit,
        };
        for user in &page.items {
            if !is_mappable(user) {
                continue; // counted as skipped by the sync (`skipped_records`)
            }
            let enrichment = Enrichment { groups: None, is_admin: None, has_mfa: None };
            let event: Value = serde_json::from_slice(
                &map_user(user, &enrichment, &context).to_json_bytes(),
            )
            .unwrap();
            if let Err(errors) = validate_event_as(&event, unit) {
                prop_assert!(false, "{user:?}\n{errors:#?}\n{event:#}");
            }
        }
    }
}
