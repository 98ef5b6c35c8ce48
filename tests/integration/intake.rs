//! Intake delivery against the fake intake: envelopes, gzip, retries, Retry-After, 413 splits,
//! refusals, at-least-once on lost acknowledgements, `--output`, and the key never leaking.
//!
//! Every test uses a `ManualClock`: backoff waits are recorded, not slept.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okta_asset_connector::backoff::BackoffPolicy;
use okta_asset_connector::clock::{ManualClock, SharedClock};
use okta_asset_connector::intake::{
    Batch, Delivered, FileOutput, Format, HttpIntake, IntakeError, IntakeSettings, Sink,
};
use okta_fake::{Envelope, FakeIntake};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A canary: it must never show up in an error, a `Debug` or a log line.
const KEY: &str = "CANARY-sk-0c1d2e3f4a5b6c7d";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new("2026-01-02T03:04:05Z".parse().unwrap()))
}

fn settings(url: &str, format: Format, gzip: bool) -> IntakeSettings {
    let mut settings = IntakeSettings::new(url.parse().unwrap(), SecretString::from(KEY));
    settings.format = format;
    settings.gzip = gzip;
    settings.timeout = Duration::from_secs(5);
    settings.backoff = BackoffPolicy {
        min_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        max_retries: 4,
    };
    settings
}

fn intake(settings: IntakeSettings, clock: &Arc<ManualClock>) -> HttpIntake {
    let clock: SharedClock = clock.clone();
    HttpIntake::new(settings, clock).unwrap()
}

fn event(n: usize) -> Value {
    json!({
        "class_uid": 5003,
        "activity_id": 2,
        "time": 1_767_322_245,
        "user": {"uid": format!("00u{n:05}"), "name": format!("user{n}@example.com"), "full_name": "Zoë Ünïcode"},
    })
}

fn events(range: std::ops::Range<usize>) -> Vec<Value> {
    range.map(event).collect()
}

fn batch(events: &[Value]) -> Batch {
    Batch::from_items(
        events
            .iter()
            .map(|e| serde_json::to_vec(e).unwrap())
            .collect(),
    )
}

/// The envelope an intake expecting `format` checks (the fake's own reading of each format).
fn envelope(format: Format) -> Envelope {
    match format {
        Format::Sekoia => Envelope::Sekoia,
        Format::Ocsf => Envelope::Ocsf,
    }
}

fn free_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/api/v2/asset-management/asset-connector/x")
}

fn assert_no_key(text: &str) {
    assert!(!text.contains(KEY), "the API key leaked: {text}");
    assert!(
        !text.contains("CANARY"),
        "part of the API key leaked: {text}"
    );
}

#[tokio::test]
async fn delivers_both_formats_with_and_without_gzip() {
    for format in [Format::Sekoia, Format::Ocsf] {
        for gzip in [false, true] {
            let fake = FakeIntake::start(KEY).await;
            fake.set_format(envelope(format));
            let clock = clock();
            let sent = events(0..10);
            let done = intake(settings(&fake.url(), format, gzip), &clock)
                .deliver(batch(&sent))
                .await
                .unwrap_or_else(|e| panic!("{format} gzip={gzip}: {e}"));
            assert_eq!(fake.items(), sent, "{format} gzip={gzip}");
            assert_eq!(
                done,
                Delivered {
                    items: 10,
                    bytes: fake.bodies_bytes(),
                    requests: 1,
                    retries: 0,
                    splits: 0,
                    shrunk: 0
                }
            );
            let plain = batch(&sent).body(format).len() as u64;
            if gzip {
                assert!(done.bytes < plain, "gzip should shrink {plain} bytes");
            } else {
                assert_eq!(done.bytes, plain);
            }
            assert_eq!(fake.paths(), [okta_fake::intake::CONNECTOR_PATH]);
            assert!(clock.sleeps().is_empty());
        }
    }
}

#[tokio::test]
async fn a_500_is_retried_after_a_backoff_delay() {
    let fake = FakeIntake::start(KEY).await;
    fake.fail_next(2, 500);
    let clock = clock();
    let done = intake(settings(&fake.url(), Format::Sekoia, false), &clock)
        .deliver(batch(&events(0..10)))
        .await
        .unwrap();
    assert_eq!((done.items, done.requests, done.retries), (10, 3, 2));
    assert_eq!(fake.items(), events(0..10));
    assert_eq!(fake.rejected(), 2);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2);
    // Full jitter under the exponential envelope: 100 ms, then 200 ms.
    assert!(sleeps[0] <= Duration::from_millis(100), "{sleeps:?}");
    assert!(sleeps[1] <= Duration::from_millis(200), "{sleeps:?}");
}

#[tokio::test]
async fn a_429_waits_exactly_retry_after() {
    let fake = FakeIntake::start(KEY).await;
    fake.rate_limit_next(1, 7);
    let clock = clock();
    let done = intake(settings(&fake.url(), Format::Sekoia, false), &clock)
        .deliver(batch(&events(0..3)))
        .await
        .unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(7)]);
    assert_eq!((done.items, done.retries), (3, 1));
    assert_eq!(fake.items().len(), 3);
}

#[tokio::test]
async fn retry_after_is_capped_at_five_minutes() {
    let fake = FakeIntake::start(KEY).await;
    fake.rate_limit_next(1, 86_400);
    let clock = clock();
    intake(settings(&fake.url(), Format::Sekoia, false), &clock)
        .deliver(batch(&events(0..1)))
        .await
        .unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(300)]);
}

#[tokio::test]
async fn a_413_splits_until_everything_fits_and_each_item_arrives_once() {
    let fake = FakeIntake::start(KEY).await;
    fake.max_items(Some(3));
    let clock = clock();
    let sent = events(0..10);
    let done = intake(settings(&fake.url(), Format::Sekoia, true), &clock)
        .deliver(batch(&sent))
        .await
        .unwrap();
    // 10 → 5 + 5, each 5 → 2 + 3: three splits, three 413s, four accepted requests.
    assert_eq!(fake.items(), sent, "every item once, in order");
    assert_eq!(
        (done.items, done.splits, done.requests, done.retries),
        (10, 3, 7, 0)
    );
    assert_eq!((fake.rejected(), fake.accepted_batches()), (3, 4));
    assert!(clock.sleeps().is_empty(), "a split is not a retry: no wait");
}

#[tokio::test]
async fn a_single_event_too_large_is_reported_after_the_others_are_delivered() {
    let fake = FakeIntake::start(KEY).await;
    fake.max_body_bytes(Some(1000));
    let mut sent = events(0..6);
    sent[3]["user"]["desc"] = json!("x".repeat(2000));
    let err = intake(settings(&fake.url(), Format::Sekoia, false), &clock())
        .deliver(batch(&sent))
        .await
        .unwrap_err();
    match &err {
        IntakeError::TooLarge { uid, delivered, .. } => {
            assert_eq!(uid.as_deref(), Some("00u00003"));
            assert_eq!(*delivered, 5);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains("00u00003"), "{err}");
    let mut expected = sent.clone();
    expected.remove(3);
    assert_eq!(fake.items(), expected);
}

#[tokio::test]
async fn a_401_stops_at_once_with_a_hint_and_without_the_key() {
    let fake = FakeIntake::start("the-right-key").await;
    let clock = clock();
    let err = intake(settings(&fake.url(), Format::Sekoia, false), &clock)
        .deliver(batch(&events(0..5)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntakeError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("INTAKE_API_KEY") && text.contains("connector UUID"),
        "{text}"
    );
    assert!(
        text.contains("missing or invalid API key"),
        "the intake's message: {text}"
    );
    assert_no_key(&text);
    assert_no_key(&format!("{err:?}"));
    assert_eq!(fake.requests(), 1, "no retry");
    assert!(clock.sleeps().is_empty());
    assert!(fake.items().is_empty());
}

#[tokio::test]
async fn a_403_and_a_400_stop_without_retry() {
    let fake = FakeIntake::start(KEY).await;
    fake.fail_next(1, 403);
    let http = intake(settings(&fake.url(), Format::Sekoia, false), &clock());
    let err = http.deliver(batch(&events(0..2))).await.unwrap_err();
    assert!(
        matches!(err, IntakeError::Unauthorized { status: 403, .. }),
        "{err:?}"
    );

    // The intake expects NDJSON, we send the envelope: 400 with its message and our hint.
    fake.set_format(Envelope::Ocsf);
    let err = http.deliver(batch(&events(0..2))).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, IntakeError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert!(text.contains("application/x-ndjson"), "{text}");
    assert!(text.contains("format"), "{text}");
    assert_eq!(fake.requests(), 2);
    assert!(fake.items().is_empty());
}

#[tokio::test]
async fn an_intake_that_is_down_exhausts_the_retries() {
    let clock = clock();
    let err = intake(settings(&free_port_url(), Format::Sekoia, false), &clock)
        .deliver(batch(&events(0..2)))
        .await
        .unwrap_err();
    match &err {
        IntakeError::Exhausted {
            status, attempts, ..
        } => assert_eq!((*status, *attempts), (None, 5)),
        other => panic!("expected Exhausted, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("connect"), "{text}");
    assert!(text.contains("after 5 attempt"), "{text}");
    assert_no_key(&text);
    assert_eq!(clock.sleeps().len(), 4);
}

#[tokio::test]
async fn a_persistent_503_exhausts_the_retries_with_its_status() {
    let fake = FakeIntake::start(KEY).await;
    fake.set_format(Envelope::Ocsf);
    fake.fail_next(100, 503);
    let err = intake(settings(&fake.url(), Format::Ocsf, false), &clock())
        .deliver(batch(&events(0..2)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IntakeError::Exhausted {
                status: Some(503),
                attempts: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert_eq!(fake.requests(), 5);
}

#[tokio::test]
async fn a_lost_acknowledgement_means_a_resend_never_a_loss() {
    let fake = FakeIntake::start(KEY).await;
    fake.accept_then_drop_next(1);
    let sent = events(0..10);
    let done = intake(settings(&fake.url(), Format::Sekoia, false), &clock())
        .deliver(batch(&sent))
        .await
        .unwrap();
    assert_eq!((done.items, done.retries), (10, 1));
    // At-least-once: every item twice (the intake de-duplicates by uid), none missing.
    let by_user = fake.items_by_user();
    assert_eq!(by_user.len(), 10);
    assert!(by_user.values().all(|items| items.len() == 2));
    assert_eq!(fake.dropped(), 1);
}

#[tokio::test]
async fn dropped_connections_are_retried() {
    let fake = FakeIntake::start(KEY).await;
    fake.set_format(Envelope::Ocsf);
    fake.drop_next(2);
    let done = intake(settings(&fake.url(), Format::Ocsf, true), &clock())
        .deliver(batch(&events(0..10)))
        .await
        .unwrap();
    assert_eq!((done.items, done.retries, done.requests), (10, 2, 3));
    assert_eq!(fake.items(), events(0..10));
}

#[tokio::test]
async fn a_slow_intake_times_out_and_is_retried() {
    let fake = FakeIntake::start(KEY).await;
    fake.slow(Duration::from_secs(3));
    let mut s = settings(&fake.url(), Format::Sekoia, false);
    s.timeout = Duration::from_millis(200);
    s.backoff.max_retries = 1;
    let err = intake(s, &clock())
        .deliver(batch(&events(0..1)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IntakeError::Exhausted {
                status: None,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn random_faults_lose_nothing() {
    let fake = FakeIntake::start(KEY).await;
    fake.fail_randomly(0.3, 42);
    let mut s = settings(&fake.url(), Format::Sekoia, true);
    s.backoff.max_retries = 20;
    s.batch_size = 7;
    let batcher_settings = s.clone();
    let mut sink = Sink::from(intake(s, &clock()));
    let mut batcher = batcher_settings.batcher();
    let sent = events(0..200);
    let mut total = Delivered::default();
    for e in &sent {
        if let Some(b) = batcher.push(serde_json::to_vec(e).unwrap()) {
            total += sink.deliver(b).await.unwrap();
        }
    }
    if let Some(b) = batcher.finish() {
        total += sink.deliver(b).await.unwrap();
    }
    sink.finish().await.unwrap();
    assert_eq!(total.items, 200);
    assert!(total.retries > 0, "the seed injects faults");
    let by_user = fake.items_by_user();
    assert_eq!(by_user.len(), 200, "nothing lost");
    // Dropped connections make no duplicates here (the fake drops before recording).
    assert_eq!(fake.items(), sent);
}

#[tokio::test]
async fn batches_from_the_batcher_all_arrive() {
    let fake = FakeIntake::start(KEY).await;
    let s = settings(&fake.url(), Format::Sekoia, false);
    let mut batcher = s.batcher();
    let http = intake(s, &clock());
    let mut sizes = Vec::new();
    for e in events(0..250) {
        if let Some(b) = batcher.push(serde_json::to_vec(&e).unwrap()) {
            sizes.push(b.len());
            http.deliver(b).await.unwrap();
        }
    }
    let last = batcher.finish().unwrap();
    sizes.push(last.len());
    http.deliver(last).await.unwrap();
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(fake.accepted_batches(), 3);
    assert_eq!(fake.items(), events(0..250));
}

#[tokio::test]
async fn deliver_futures_can_be_spawned() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let fake = FakeIntake::start(KEY).await;
    let mut sink = Sink::from(intake(
        settings(&fake.url(), Format::Sekoia, false),
        &clock(),
    ));
    let task = async move { sink.deliver(batch(&events(0..2))).await };
    assert_send(&task);
    let done = tokio::spawn(task).await.unwrap().unwrap();
    assert_eq!(done.items, 2);
}

#[tokio::test]
async fn probe_posts_an_empty_batch() {
    let fake = FakeIntake::start(KEY).await;
    let http = intake(settings(&fake.url(), Format::Sekoia, false), &clock());
    assert_eq!(http.probe().await.unwrap(), 200);
    assert!(fake.items().is_empty());
    let wrong = FakeIntake::start("another-key").await;
    let err = intake(settings(&wrong.url(), Format::Sekoia, false), &clock())
        .probe()
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntakeError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
}

/// A buffer for captured log lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_key_never_appears_in_errors_debug_or_logs() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // An intake that echoes our Authorization header in its error body.
    let echo = MockServer::start().await;
    Mock::given(any())
        .respond_with(|request: &wiremock::Request| {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            ResponseTemplate::new(400)
                .set_body_json(json!({"message": format!("bad request from {auth}")}))
        })
        .mount(&echo)
        .await;
    let mut texts = Vec::new();
    let s = settings(&format!("{}/x", echo.uri()), Format::Sekoia, false);
    texts.push(format!("{s:?}"));
    let http = intake(s, &clock());
    texts.push(format!("{http:?}"));
    let err = http.deliver(batch(&events(0..1))).await.unwrap_err();
    assert!(err.to_string().contains("[redacted]"), "{err}");
    texts.push(err.to_string());
    texts.push(format!("{err:?}"));

    // Retries (logged), a refusal, an outage.
    let fake = FakeIntake::start(KEY).await;
    fake.fail_next(1, 503);
    fake.rate_limit_next(1, 1);
    let http = intake(settings(&fake.url(), Format::Sekoia, true), &clock());
    http.deliver(batch(&events(0..3))).await.unwrap();
    fake.fail_next(1, 401);
    let err = http.deliver(batch(&events(0..3))).await.unwrap_err();
    texts.push(err.to_string());
    texts.push(format!("{err:?}"));
    let err = intake(settings(&free_port_url(), Format::Ocsf, false), &clock())
        .deliver(batch(&events(0..3)))
        .await
        .unwrap_err();
    texts.push(err.to_string());
    texts.push(format!("{err:?}"));

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("retrying") && logged.contains("status=503"),
        "{logged}"
    );
    assert!(
        !logged.contains("00u00000"),
        "events are not logged: {logged}"
    );
    texts.push(logged);
    for text in &texts {
        assert_no_key(text);
    }
}

#[tokio::test]
async fn file_output_writes_exactly_the_bodies_that_would_be_posted() {
    let dir = tempfile::tempdir().unwrap();
    for format in [Format::Sekoia, Format::Ocsf] {
        let batches = [events(0..4), events(4..5), events(5..12)];
        let path = dir.path().join(format!("out.{format}"));
        let mut sink = Sink::from(FileOutput::create(&path, format).unwrap());
        let mut expected = Vec::new();
        for b in &batches {
            let body = batch(b).body(format);
            expected.extend_from_slice(&body);
            if !body.ends_with(b"\n") {
                expected.push(b'\n');
            }
            let done = sink.deliver(batch(b)).await.unwrap();
            assert_eq!(done.items, b.len());
        }
        sink.finish().await.unwrap();
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written, expected, "{format}");

        // The same batches posted: the fake receives the same items the file holds.
        let fake = FakeIntake::start(KEY).await;
        fake.set_format(envelope(format));
        let http = intake(settings(&fake.url(), format, false), &clock());
        for b in &batches {
            http.deliver(batch(b)).await.unwrap();
        }
        let from_file: Vec<Value> = String::from_utf8(written)
            .unwrap()
            .lines()
            .flat_map(|line| {
                let value: Value = serde_json::from_str(line).unwrap();
                match format {
                    Format::Sekoia => {
                        assert_eq!(value["version"], 1);
                        value["items"].as_array().unwrap().clone()
                    }
                    Format::Ocsf => vec![value],
                }
            })
            .collect();
        assert_eq!(from_file, fake.items(), "{format}");
        assert_eq!(from_file, events(0..12));
    }
    let names: BTreeMap<_, _> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| (e.unwrap().file_name().into_string().unwrap(), ()))
        .collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
}
