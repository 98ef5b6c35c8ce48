//! The reliability matrix: every fault we can simulate, each a named test stating the
//! fault and the expected outcome, run through the real sync path (`app::sync_once`) against the
//! fake Okta tenant and the fake intake, or against the Okta client where a finer view helps.
//! `docs/reliability.md` lists every row.
//!
//! The no-loss rule (state moves only after the intake acknowledged) is asserted the same way everywhere: after a failed cycle the
//! state's cursors are exactly what the last good cycle committed, and the next good cycle
//! delivers everything (or every change) again.
//!
//! Time: the fake tenant runs on a compressed clock (`time_scale`) and the connector on a
//! matching `ScaledClock`, so backoffs and rate-limit windows pass in milliseconds while every
//! wait is still computed from Okta's own `Date` and `X-Rate-Limit-Reset` headers.

use crate::support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okta_asset_connector::app::{self, AppError, Exit};
use okta_asset_connector::backoff::BackoffPolicy;
use okta_asset_connector::clock::{ManualClock, ScaledClock, SharedClock};
use okta_asset_connector::config::{Config, RawConfig};
use okta_asset_connector::intake::IntakeError;
use okta_asset_connector::okta::{OktaClient, OktaError, OktaSettings};
use okta_asset_connector::state::{Cursors, StateStore};
use okta_asset_connector::sync::Summary;
use okta_fake::http::{Reply, Request};
use okta_fake::proxy::{edit, Proxy};
use okta_fake::FakeIntake;
use okta_fake::{Bucket, FakeOkta, FakeOptions, Org, OrgSpec};
use serde_json::Value;
use support::connector::{config, INTAKE_KEY};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

// ------------------------------------------------------------------------------ harness

/// Virtual seconds per real second, for the fake tenant and the connector alike.
const SCALE: f64 = 50.0;

/// 450 users: three user pages of 200, so faults can hit a page in the middle.
const USERS: usize = 450;

struct Env {
    okta: FakeOkta,
    intake: FakeIntake,
    clock: SharedClock,
}

impl Env {
    async fn start(users: usize, options: FakeOptions) -> Env {
        let okta = FakeOkta::start(
            Org::generate(&OrgSpec::small(users, 8, 808)),
            FakeOptions {
                time_scale: SCALE,
                ..options
            },
        )
        .await;
        let intake = FakeIntake::start(INTAKE_KEY).await;
        let clock: SharedClock = Arc::new(ScaledClock::new(okta.virtual_now(), SCALE));
        Env {
            okta,
            intake,
            clock,
        }
    }

    async fn new() -> Env {
        Env::start(USERS, FakeOptions::default()).await
    }

    /// A configuration for the fakes, MFA off unless `tweak` turns it on (fewer requests).
    fn config(&self, tweak: impl FnOnce(&mut RawConfig)) -> Config {
        config(&self.okta, Some(&self.intake), |raw| {
            raw.enrich_mfa = Some(false);
            tweak(raw);
        })
    }

    /// The same, with Okta reached through `proxy`.
    fn config_via(&self, proxy: &Proxy) -> Config {
        let url = proxy.url();
        self.config(|raw| raw.base_url = Some(url))
    }

    async fn sync(&self, config: &Config, full: bool) -> (Summary, Result<(), AppError>) {
        let (summary, result) = app::sync_once(config, None, full, self.clock.clone()).await;
        (summary.unwrap_or_else(|| Summary::new("none")), result)
    }

    async fn sync_ok(&self, config: &Config, full: bool) -> Summary {
        let (summary, result) = self.sync(config, full).await;
        if let Err(error) = result {
            panic!("cycle failed: {error}");
        }
        summary
    }

    fn user_ids(&self) -> BTreeSet<String> {
        self.okta
            .with_org(|org| org.users().iter().map(|u| u.id.clone()).collect())
    }

    fn items(&self) -> usize {
        self.intake.items().len()
    }

    /// `user.uid` → number of events since item number `mark`.
    fn delivered_since(&self, mark: usize) -> BTreeMap<String, usize> {
        let mut count = BTreeMap::new();
        for item in &self.intake.items()[mark..] {
            let uid = item["user"]["uid"].as_str().unwrap_or_default().to_string();
            *count.entry(uid).or_default() += 1;
        }
        count
    }

    /// Every user of the org arrived at least once since `mark`.
    fn assert_everyone_since(&self, mark: usize) {
        let got: BTreeSet<String> = self.delivered_since(mark).into_keys().collect();
        let missing: Vec<_> = self.user_ids().difference(&got).cloned().collect();
        assert!(missing.is_empty(), "users never delivered: {missing:?}");
    }

    /// Every user of the org arrived exactly once since `mark`.
    fn assert_everyone_once_since(&self, mark: usize) {
        self.assert_everyone_since(mark);
        let twice: Vec<_> = self
            .delivered_since(mark)
            .into_iter()
            .filter(|(_, n)| *n != 1)
            .collect();
        assert!(
            twice.is_empty(),
            "users delivered more than once: {twice:?}"
        );
    }

    /// Events since `mark` that announce a deletion.
    fn deletions_since(&self, mark: usize) -> Vec<String> {
        self.intake.items()[mark..]
            .iter()
            .filter(|e| e["enrichments"][0]["value"] == "DELETED")
            .filter_map(|e| e["user"]["uid"].as_str().map(str::to_string))
            .collect()
    }
}

fn cursors(config: &Config) -> Cursors {
    StateStore::open(&config.state_dir, config.okta_origin.as_str())
        .expect("state opens")
        .cursors()
        .expect("cursors read")
}

/// The committed state of a good cycle: all three cursors set.
fn assert_committed(config: &Config) -> Cursors {
    let c = cursors(config);
    assert!(
        c.users.is_some() && c.groups.is_some() && c.last_full_sync.is_some(),
        "a good cycle commits its cursors: {c:?}"
    );
    c
}

/// The no-loss rule for a failed cycle: nothing moved; then a good full cycle delivers everyone.
async fn assert_nothing_lost(env: &Env, config: &Config, before: Cursors) {
    assert_eq!(
        cursors(config),
        before,
        "a failed cycle must not move the cursors"
    );
    let mark = env.items();
    env.sync_ok(config, true).await;
    env.assert_everyone_since(mark);
    assert!(cursors(config).users >= before.users);
}

fn okta_error(result: Result<(), AppError>) -> OktaError {
    match result {
        Err(AppError::Okta(error)) => error,
        Err(other) => panic!("expected an Okta error, got: {other}"),
        Ok(()) => panic!("expected the cycle to fail"),
    }
}

fn intake_error(result: Result<(), AppError>) -> IntakeError {
    match result {
        Err(AppError::Intake(error)) => error,
        Err(other) => panic!("expected an intake error, got: {other}"),
        Ok(()) => panic!("expected the cycle to fail"),
    }
}

fn is_users_page(request: &Request) -> bool {
    request.path == "/api/v1/users" && request.query_param("search").is_some()
}

fn is_later_users_page(request: &Request) -> bool {
    is_users_page(request) && request.query_param("after").is_some()
}

/// A server that must never be contacted: records whatever reaches it.
struct Catcher {
    server: MockServer,
}

impl Catcher {
    async fn start() -> Catcher {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_raw("[]", "application/json"))
            .mount(&server)
            .await;
        Catcher { server }
    }

    fn url(&self) -> String {
        self.server.uri()
    }

    async fn requests(&self) -> usize {
        let seen = self.server.received_requests().await;
        seen.expect("the catcher records requests").len()
    }
}

/// A client for `origin` with fast, bounded retries (client-level rows).
fn fast_client(origin: &str, tweak: impl FnOnce(&mut OktaSettings)) -> OktaClient {
    let mut settings = OktaSettings::new(
        origin.parse().expect("origin"),
        "reliability-token".to_string().into(),
    );
    settings.backoff = BackoffPolicy {
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retries: 2,
    };
    tweak(&mut settings);
    let clock: SharedClock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    OktaClient::new(settings, clock).expect("client")
}

/// A raw HTTP/1.1 server on a plain thread: for each connection, reads the request head, then
/// runs `answer` on the socket (so it can trickle, stream forever or hang).
fn raw_server(answer: impl Fn(&mut std::net::TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                answer(&mut stream);
            });
        }
    });
    url
}

// ------------------------------------------------------------------------------ Okta: rate limits

/// Fault: a storm of quota 429s (`E0000047`): tiny buckets (4 requests per 2-second window)
/// half eaten by another integration, and five 429s in a row on top. Expected: each 429 waits
/// for the window's reset (computed from Okta's `Date` and `X-Rate-Limit-Reset`, never the
/// local clock), the cycle completes, everyone arrives once, and the cursors are committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_quota_429_storm_waits_for_each_reset_and_delivers_everyone() {
    let env = Env::start(
        USERS,
        FakeOptions {
            rate_limit: Some(4),
            window_secs: 2,
            ..FakeOptions::default()
        },
    )
    .await;
    for bucket in Bucket::ALL {
        env.okta.faults().external_consumer(bucket, 0.5);
    }
    env.okta.faults().fail_next(5, 429);
    let config = env.config(|raw| {
        raw.rate_limit_share = Some(1.0);
        raw.enrich_roles = Some(false);
    });
    let summary = env.sync_ok(&config, true).await;
    let counters = env.okta.counters();
    assert!(
        counters.http_429 - counters.http_429_concurrency >= 5 && summary.okta_429_quota >= 5,
        "the storm happened: {counters:?}"
    );
    assert!(summary.okta_rate_limit_wait_s > 0.0, "waited for resets");
    env.assert_everyone_once_since(0);
    assert_committed(&config);
}

/// Fault: Okta's concurrent-request cap is 2 while the connector may run 8 requests at once
/// (factor calls per user); Okta answers concurrency 429s (`Limit: 0`, `Remaining: 0`).
/// Expected: the connector lowers its concurrency, backs off with jitter, completes, and every
/// user arrives once with MFA known.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_concurrency_429_storm_lowers_concurrency_and_delivers_everyone() {
    let env = Env::start(
        200,
        FakeOptions {
            concurrency_cap: Some(2),
            ..FakeOptions::default()
        },
    )
    .await;
    env.okta.faults().slow(Duration::from_millis(3));
    let config = env.config(|raw| {
        raw.enrich_mfa = Some(true);
        raw.max_concurrency = Some(8);
    });
    let summary = env.sync_ok(&config, true).await;
    assert!(
        env.okta.counters().http_429_concurrency > 0 && summary.okta_429_concurrency > 0,
        "the storm happened: {:?}",
        env.okta.counters()
    );
    env.assert_everyone_once_since(0);
    assert_eq!(
        summary.mfa_unknown, 0,
        "every factor call eventually succeeded"
    );
}

// ------------------------------------------------------------------------------ Okta: 5xx, time

/// Fault: bursts of 500/502/503/504 on several endpoints. Expected: each failed request is
/// retried with backoff (a 500 on a large page with a smaller page), the cycle completes and
/// everyone arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_5xx_burst_is_retried_and_the_cycle_completes() {
    let env = Env::new().await;
    let faults = env.okta.faults();
    faults.fail_next(3, 503);
    faults.fail_path_contains("/api/v1/users", 502, Some(3));
    faults.fail_path_contains("/users", 504, Some(2));
    faults.fail_nth(20, 500);
    let config = env.config(|_| {});
    let summary = env.sync_ok(&config, true).await;
    assert!(
        summary.okta_retries >= 9,
        "retries: {}",
        summary.okta_retries
    );
    env.assert_everyone_once_since(0);
}

/// Fault: the users listing answers 503 for longer than the retry budget. Expected: the cycle
/// fails with the Okta status and a hint, commits nothing (cursors of the previous cycle kept),
/// and the next cycle delivers everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_5xx_beyond_the_retry_budget_fails_the_cycle_and_moves_no_cursor() {
    let env = Env::new().await;
    let config = env.config(|_| {});
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    env.okta
        .faults()
        .fail_path_contains("/api/v1/users", 503, None);
    let (_, result) = env.sync(&config, true).await;
    let error = okta_error(result);
    assert!(
        matches!(error, OktaError::Exhausted { .. }) && error.status() == Some(503),
        "{error}"
    );
    assert!(error.to_string().contains("hint"), "{error}");
    env.okta.faults().clear();
    assert_nothing_lost(&env, &config, before).await;
}

/// Fault: every Okta answer is slow (but within the request timeout). Expected: the cycle just
/// takes longer and completes; everyone arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_slow_answers_are_waited_for() {
    let env = Env::start(250, FakeOptions::default()).await;
    env.okta.faults().slow(Duration::from_millis(40));
    let config = env.config(|_| {});
    env.sync_ok(&config, true).await;
    env.assert_everyone_once_since(0);
}

/// Fault: Okta accepts the connection and never answers. Expected: the request timeout fires,
/// the attempt is retried, and when every attempt times out the error says "timed out" (no hang).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_timeout_is_retried_then_reported() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let url = raw_server(move |_stream| {
        counter.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(5));
    });
    let client = fast_client(&url, |s| s.request_timeout = Duration::from_millis(300));
    let started = std::time::Instant::now();
    let error = client
        .get(client.url("/api/v1/users", &[("limit", "200")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, OktaError::Exhausted { last, attempts: 3, .. }
            if matches!(**last, OktaError::Transport { .. })),
        "{error}"
    );
    assert!(error.to_string().contains("timed out"), "{error}");
    assert_eq!(hits.load(Ordering::SeqCst), 3, "first attempt + 2 retries");
    assert!(started.elapsed() < Duration::from_secs(4), "no hang");
}

/// Fault: the headers arrive at once but the body trickles in one byte at a time, for ever.
/// Expected: the request timeout covers the body too; retried, then reported as timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_slow_body_hits_the_request_timeout() {
    let url = raw_server(|stream| {
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n[",
        );
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(50));
            if stream.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let client = fast_client(&url, |s| s.request_timeout = Duration::from_millis(400));
    let started = std::time::Instant::now();
    let error = client
        .get(client.url("/api/v1/users", &[("limit", "200")]))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("timed out"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(4), "no hang");
}

// ------------------------------------------------------------------------------ Okta: broken bodies

/// Fault: connections reset in the middle of a body (`Content-Length` announced, half sent).
/// Expected: the cut-off answer is a transport error, retried; the cycle completes, everyone
/// arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_connection_reset_mid_body_is_retried_and_the_cycle_completes() {
    let env = Env::new().await;
    env.okta.faults().truncate_next(4);
    let config = env.config(|_| {});
    let summary = env.sync_ok(&config, true).await;
    assert!(
        summary.okta_retries >= 4,
        "retries: {}",
        summary.okta_retries
    );
    env.assert_everyone_once_since(0);
}

/// Fault: connections closed without any answer. Expected: retried; the cycle completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_dropped_connection_is_retried_and_the_cycle_completes() {
    let env = Env::new().await;
    env.okta.faults().drop_next(4);
    let config = env.config(|_| {});
    let summary = env.sync_ok(&config, true).await;
    assert!(
        summary.okta_retries >= 4,
        "retries: {}",
        summary.okta_retries
    );
    env.assert_everyone_once_since(0);
}

/// Fault: a complete HTTP answer whose JSON is cut in the middle (a proxy that buffered badly).
/// Expected: an "invalid JSON" error naming the URL and request id, no panic, nothing committed;
/// the next cycle delivers everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_truncated_json_fails_the_cycle_and_moves_no_cursor() {
    let env = Env::new().await;
    let proxy = Proxy::start(&env.okta.base_url()).await;
    let config = env.config_via(&proxy);
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    proxy.tamper(|request, reply| {
        if !is_later_users_page(request) {
            return reply;
        }
        let Reply::Full { body, .. } = &reply else {
            return reply;
        };
        let half = body.slice(..body.len() / 2);
        edit::with_body(reply, half)
    });
    let (_, result) = env.sync(&config, true).await;
    let error = okta_error(result);
    assert!(
        matches!(error, OktaError::InvalidBody { .. }),
        "expected invalid JSON: {error}"
    );
    assert!(error.to_string().contains("/api/v1/users"), "{error}");
    proxy.clear();
    assert_nothing_lost(&env, &config, before).await;
}

/// Fault: a user page with bytes that are not UTF-8 inside a string. Expected: refused as
/// invalid JSON (serde checks UTF-8), no panic, nothing committed; the next cycle delivers
/// everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_invalid_utf8_fails_the_cycle_and_moves_no_cursor() {
    let env = Env::new().await;
    let proxy = Proxy::start(&env.okta.base_url()).await;
    let config = env.config_via(&proxy);
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    proxy.tamper(|request, reply| {
        if !is_later_users_page(request) {
            return reply;
        }
        let Reply::Full { body, .. } = &reply else {
            return reply;
        };
        let mut bytes = body.to_vec();
        let at = bytes
            .windows(9)
            .position(|w| w == b"\"login\":\"")
            .expect("a login")
            + 9;
        bytes.splice(at..at, [0xff, 0xfe, 0xc3]);
        edit::with_body(reply, bytes)
    });
    let (_, result) = env.sync(&config, true).await;
    let error = okta_error(result);
    assert!(matches!(error, OktaError::InvalidBody { .. }), "{error}");
    proxy.clear();
    assert_nothing_lost(&env, &config, before).await;
}

/// Fault: a 50 MB answer with its `Content-Length`. Expected: refused before reading it
/// (`BodyTooLarge`, with a hint), nothing committed; the next cycle delivers everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_50_mb_body_is_refused_and_moves_no_cursor() {
    let env = Env::new().await;
    let proxy = Proxy::start(&env.okta.base_url()).await;
    let config = env.config_via(&proxy);
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    let huge = bytes::Bytes::from(vec![b' '; 50 * 1024 * 1024]);
    proxy.intercept(move |request| {
        is_later_users_page(request).then(|| Reply::json(200, huge.clone()))
    });
    let (_, result) = env.sync(&config, true).await;
    let error = okta_error(result);
    assert!(matches!(error, OktaError::BodyTooLarge { .. }), "{error}");
    assert!(error.to_string().contains("limit"), "{error}");
    proxy.clear();
    assert_nothing_lost(&env, &config, before).await;
}

/// Counts the live heap bytes allocated by the current thread, and their peak (for the bounded
/// memory row: the test runs the client on a single-threaded runtime).
struct CountingAlloc;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        track(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Fault: a 50 MB answer streamed in chunks without `Content-Length`. Expected: reading stops
/// at the body limit with `BodyTooLarge` (not retried), and the heap never holds much more than
/// the limit: memory stays bounded whatever Okta (or a proxy) sends.
#[test]
fn okta_50_mb_streamed_body_is_cut_off_at_the_limit_with_bounded_memory() {
    const LIMIT: usize = 4 * 1024 * 1024;
    const BODY: usize = 50 * 1024 * 1024;
    let url = raw_server(|stream| {
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        let chunk = vec![b' '; 1024 * 1024];
        for _ in 0..BODY / chunk.len() {
            let head = format!("{:x}\r\n", chunk.len());
            if stream.write_all(head.as_bytes()).is_err()
                || stream.write_all(&chunk).is_err()
                || stream.write_all(b"\r\n").is_err()
            {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n");
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (error, growth) = runtime.block_on(async {
        let client = fast_client(&url, |s| s.max_body_bytes = LIMIT);
        let start = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(start));
        let error = client
            .get(client.url("/api/v1/users", &[("limit", "200")]))
            .await
            .unwrap_err();
        (error, PEAK.with(Cell::get) - start)
    });
    assert!(matches!(error, OktaError::BodyTooLarge { .. }), "{error}");
    assert!(
        growth < (3 * LIMIT) as isize,
        "peak heap growth {growth} bytes for a {LIMIT}-byte limit and a {BODY}-byte body"
    );
}

// ------------------------------------------------------------------------------ Okta: bad records

/// Fault: one record of a user page cannot be read (`id` is a number), on a full sync that
/// follows a good one. Expected: that record is skipped and counted (`skipped_records`), every
/// other user is delivered, hard-delete detection is skipped (the unread user is *not* sent as
/// deleted), and the state keeps the unread user so it can still be detected as deleted later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_bad_record_among_good_ones_is_skipped_counted_and_not_taken_for_a_deletion() {
    let env = Env::new().await;
    let proxy = Proxy::start(&env.okta.base_url()).await;
    let config = env.config_via(&proxy);
    env.sync_ok(&config, true).await;

    let victim: Arc<Mutex<Option<String>>> = Arc::default();
    let spoiled = victim.clone();
    proxy.tamper(move |request, reply| {
        if !is_later_users_page(request) || spoiled.lock().unwrap().is_some() {
            return reply;
        }
        let Some(Value::Array(mut users)) = edit::json(&reply) else {
            return reply;
        };
        let id = users[3]["id"].as_str().unwrap().to_string();
        users[3]["id"] = Value::from(12345);
        *spoiled.lock().unwrap() = Some(id);
        edit::with_body(reply, Value::Array(users).to_string())
    });
    let mark = env.items();
    let summary = env.sync_ok(&config, true).await;
    let victim = victim
        .lock()
        .unwrap()
        .clone()
        .expect("a record was spoiled");
    assert_eq!(summary.warnings.get("skipped_records"), Some(&1));
    assert_eq!(summary.deleted, 0);
    assert!(env.deletions_since(mark).is_empty(), "no false deletion");
    let delivered = env.delivered_since(mark);
    assert!(!delivered.contains_key(&victim));
    assert_eq!(delivered.len(), USERS - 1, "every other user delivered");

    // The unread user is still known: if Okta now really deletes it, the next full sync says so.
    proxy.clear();
    env.okta.with_org(|org| org.delete_user(&victim));
    let mark = env.items();
    let summary = env.sync_ok(&config, true).await;
    assert_eq!(env.deletions_since(mark), vec![victim]);
    assert_eq!(summary.deleted, 1);
}

/// Fault: Okta repeats a user on a later page (records changing while paging). Expected: the
/// user is delivered once per appearance (a harmless duplicate, at-least-once), everyone else
/// once, no false deletion, and the next full sync is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_duplicate_user_across_pages_is_delivered_and_not_taken_for_a_deletion() {
    let env = Env::new().await;
    let proxy = Proxy::start(&env.okta.base_url()).await;
    let config = env.config_via(&proxy);
    env.sync_ok(&config, true).await;

    let first: Arc<Mutex<Option<Value>>> = Arc::default();
    let keep = first.clone();
    let added = Arc::new(AtomicUsize::new(0));
    proxy.tamper(move |request, reply| {
        if !is_users_page(request) {
            return reply;
        }
        let Some(Value::Array(mut users)) = edit::json(&reply) else {
            return reply;
        };
        let mut kept = keep.lock().unwrap();
        match kept.as_ref() {
            None => *kept = users.first().cloned(),
            // Repeated once, on the second page.
            Some(user) if added.fetch_add(1, Ordering::SeqCst) == 0 => users.push(user.clone()),
            Some(_) => {}
        }
        edit::with_body(reply, Value::Array(users).to_string())
    });
    let mark = env.items();
    let summary = env.sync_ok(&config, true).await;
    let dup = first.lock().unwrap().clone().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.assert_everyone_since(mark);
    let delivered = env.delivered_since(mark);
    assert_eq!(delivered[&dup], 2, "{dup} sent once per appearance");
    assert!(delivered.iter().all(|(id, n)| *n == 1 || id == &dup));
    assert_eq!(summary.deleted, 0);
    assert!(env.deletions_since(mark).is_empty());

    proxy.clear();
    let mark = env.items();
    env.sync_ok(&config, true).await;
    env.assert_everyone_once_since(mark);
    assert!(env.deletions_since(mark).is_empty());
}

// ------------------------------------------------------------------------------ Okta: links

/// Fault: the second user page's `next` link is the same cursor again (a loop). Expected: the
/// paginator stops with "pagination loop" instead of looping for ever; nothing committed; the
/// next cycle delivers everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_next_link_loop_fails_the_cycle_and_moves_no_cursor() {
    let env = Env::new().await;
    let proxy = Proxy::start(&env.okta.base_url()).await;
    let config = env.config_via(&proxy);
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);

    let first_next: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = first_next.clone();
    proxy.tamper(move |request, reply| {
        if !is_users_page(request) {
            return reply;
        }
        let mut seen = seen.lock().unwrap();
        match seen.clone() {
            None => {
                *seen = edit::next_link(&reply);
                reply
            }
            Some(link) => edit::with_next_link(reply, &link),
        }
    });
    let (_, result) = env.sync(&config, true).await;
    let error = okta_error(result);
    assert!(matches!(error, OktaError::PaginationLoop { .. }), "{error}");
    let user_pages = proxy.requests().iter().filter(|r| is_users_page(r)).count();
    assert!(
        user_pages <= 3 + 2,
        "stopped at once: {user_pages} user pages in all"
    );
    proxy.clear();
    assert_nothing_lost(&env, &config, before).await;
}

/// Fault: a user page's `next` link points at another origin. Expected: refused
/// (`ForeignLink`): the token is never sent there (the foreign host sees no request), the pages
/// before it are delivered, nothing committed; the next cycle delivers everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_foreign_next_link_is_refused_and_nothing_reaches_the_foreign_host() {
    let env = Env::new().await;
    let catcher = Catcher::start().await;
    let config = env.config(|_| {});
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    env.okta.faults().foreign_next_link(&catcher.url());
    let (_, result) = env.sync(&config, true).await;
    let error = okta_error(result);
    assert!(matches!(error, OktaError::ForeignLink { .. }), "{error}");
    assert_eq!(
        catcher.requests().await,
        0,
        "nothing was sent to the foreign origin"
    );
    assert_nothing_lost(&env, &config, before).await;
}

/// Fault: Okta (or something in front of it) answers a user page with a 302 to another host.
/// Expected: the redirect is not followed (the target sees no request, so no token), the error
/// names the status and location with a hint; nothing committed; the next cycle is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_redirect_is_not_followed_and_nothing_reaches_the_target() {
    let env = Env::new().await;
    let catcher = Catcher::start().await;
    let proxy = Proxy::start(&env.okta.base_url()).await;
    let config = env.config_via(&proxy);
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    let target = format!("{}/login?from=okta", catcher.url());
    proxy.intercept(move |request| {
        is_later_users_page(request)
            .then(|| Reply::status(302).with_header("location", target.clone()))
    });
    let (_, result) = env.sync(&config, true).await;
    let error = okta_error(result);
    assert!(
        matches!(error, OktaError::Redirect { status: 302, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("hint"), "{error}");
    assert_eq!(catcher.requests().await, 0, "the redirect was not followed");
    proxy.clear();
    assert_nothing_lost(&env, &config, before).await;
}

/// Fault: the token is revoked (401 `E0000011`). Expected: no retry, the error carries the Okta
/// code and a hint to create a new token, exit code "Okta error", nothing committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_revoked_token_fails_fast_with_a_hint_and_moves_no_cursor() {
    let env = Env::new().await;
    let config = env.config(|_| {});
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    let bad = env.config(|raw| {
        raw.apikey = Some("revoked-token".to_string().into());
        raw.state_dir = Some(config.state_dir.clone());
    });
    env.okta.reset_counters();
    let (_, result) = env.sync(&bad, false).await;
    let error = match result {
        Err(error) => error,
        Ok(()) => panic!("a revoked token must fail"),
    };
    assert_eq!(error.exit(), Exit::Okta);
    let text = error.to_string();
    assert!(
        text.contains("E0000011") && text.contains("new token"),
        "{text}"
    );
    assert!(
        env.okta.counters().total <= 4,
        "failed fast: {:?}",
        env.okta.counters()
    );
    assert_nothing_lost(&env, &config, before).await;
}

// ------------------------------------------------------------------------------ intake

/// An incremental cycle with one changed user, run under `fault`; returns the changed user.
async fn change_one_user(env: &Env) -> String {
    env.okta.with_org(|org| {
        let id = org.users()[7].id.clone();
        org.update_user_profile(&id, "title", "Reliability Engineer");
        id
    })
}

fn delivered_title(env: &Env, mark: usize, id: &str) -> bool {
    env.intake.items()[mark..].iter().any(|e| {
        e["user"]["uid"] == id && e["user"]["ldap_person"]["job_title"] == "Reliability Engineer"
    })
}

/// After a failed incremental cycle: cursors unchanged, and the next cycle sends the change.
async fn assert_change_resent(env: &Env, config: &Config, before: Cursors, changed: &str) {
    assert_eq!(
        cursors(config),
        before,
        "a failed cycle must not move the cursors"
    );
    env.intake.clear_faults();
    let mark = env.items();
    let summary = env.sync_ok(config, false).await;
    assert_eq!(summary.kind, "incremental");
    assert!(
        delivered_title(env, mark, changed),
        "the change lost by the failed cycle is sent by the next one"
    );
    assert!(cursors(config).users > before.users);
}

/// Fault: the intake answers 401 (wrong key). Expected: no retry, an error with the status and
/// a hint about the key (never the key itself), exit code "intake error", cursors unchanged; the
/// next cycle sends the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_401_stops_the_cycle_and_moves_no_cursor() {
    let env = Env::new().await;
    let config = env.config(|_| {});
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    let changed = change_one_user(&env).await;
    env.intake.fail_next(1, 401);
    let requests = env.intake.requests();
    let (_, result) = env.sync(&config, false).await;
    let error = intake_error(result);
    assert!(
        matches!(error, IntakeError::Unauthorized { status: 401, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("INTAKE_API_KEY"), "{error}");
    assert!(!error.to_string().contains(INTAKE_KEY));
    assert_eq!(env.intake.requests() - requests, 1, "no retry");
    assert_change_resent(&env, &config, before, &changed).await;
}

/// Fault: the intake answers 403 (key not allowed for this connector). Expected: as for 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_403_stops_the_cycle_and_moves_no_cursor() {
    let env = Env::new().await;
    let config = env.config(|_| {});
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    let changed = change_one_user(&env).await;
    env.intake.fail_next(1, 403);
    let (_, result) = env.sync(&config, false).await;
    let error = intake_error(result);
    assert!(
        matches!(error, IntakeError::Unauthorized { status: 403, .. }),
        "{error}"
    );
    assert_eq!(app_exit(AppError::Intake(error)), Exit::Intake);
    assert_change_resent(&env, &config, before, &changed).await;
}

fn app_exit(error: AppError) -> Exit {
    error.exit()
}

/// Fault: the intake refuses bodies of more than 7 items with 413. Expected: batches are split
/// in halves until they fit; every user arrives exactly once, in one cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_413_splits_batches_and_delivers_each_event_once() {
    let env = Env::new().await;
    env.intake.max_items(Some(7));
    let config = env.config(|_| {});
    let summary = env.sync_ok(&config, true).await;
    assert!(summary.delivered.splits > 0, "batches were split");
    env.assert_everyone_once_since(0);
}

/// Fault: the intake answers 429 with `Retry-After: 2` three times. Expected: the connector
/// waits as asked, retries, and every user arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_429_honours_retry_after_and_delivers_each_event_once() {
    let env = Env::new().await;
    env.intake.rate_limit_next(3, 2);
    let config = env.config(|_| {});
    let summary = env.sync_ok(&config, true).await;
    assert!(summary.intake_retries >= 3, "{}", summary.intake_retries);
    env.assert_everyone_once_since(0);
}

/// Fault: a burst of 500/502/503 from the intake. Expected: retried with backoff; every user
/// arrives exactly once (a 5xx means "not stored").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_5xx_burst_is_retried_and_delivers_each_event_once() {
    let env = Env::new().await;
    env.intake.fail_next(4, 503);
    let config = env.config(|_| {});
    let summary = env.sync_ok(&config, true).await;
    assert!(summary.intake_retries >= 4, "{}", summary.intake_retries);
    env.assert_everyone_once_since(0);
}

/// Fault: the intake is down (503 to everything, then connection refused) for two whole cycles.
/// Expected: both cycles fail after their retries, neither moves a cursor; when the intake is
/// back, the next cycle sends the change made before the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_down_longer_than_a_cycle_moves_no_cursor_and_the_next_cycle_resends() {
    let env = Env::new().await;
    let config = env.config(|_| {});
    env.sync_ok(&config, true).await;
    let before = assert_committed(&config);
    let changed = change_one_user(&env).await;
    env.intake.fail_next(10_000, 503);
    let (_, first) = env.sync(&config, false).await;
    let error = intake_error(first);
    assert!(
        matches!(
            error,
            IntakeError::Exhausted {
                status: Some(503),
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(cursors(&config), before);
    // Still down: connection refused this time (nothing listens on the port).
    let down = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/intake", listener.local_addr().unwrap())
    };
    let unreachable = env.config(|raw| {
        raw.intake_url = Some(down);
        raw.state_dir = Some(config.state_dir.clone());
    });
    let (_, second) = env.sync(&unreachable, false).await;
    let error = intake_error(second);
    assert!(
        matches!(error, IntakeError::Exhausted { status: None, .. }),
        "{error}"
    );
    assert_change_resent(&env, &config, before, &changed).await;
}

/// Fault: the intake stores two batches and then drops the connection before answering, so the
/// connector cannot know they arrived. Expected: it sends them again (at-least-once): every
/// user arrives, those batches twice, nothing lost, and the cycle succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_accepting_then_dropping_resends_and_loses_nothing() {
    let env = Env::new().await;
    env.intake.accept_then_drop_next(2);
    let config = env.config(|_| {});
    env.sync_ok(&config, true).await;
    env.assert_everyone_since(0);
    let resent = env.delivered_since(0).values().filter(|n| **n >= 2).count();
    assert!(resent > 0, "the dropped batches were sent again");
    assert!(env.intake.dropped() >= 2);
    assert_committed(&config);
}
