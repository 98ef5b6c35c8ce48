//! What the running connector has done, as `/health` and `/metrics` report it.
//!
//! The run loop records each cycle's [`Summary`]; the Okta counters are read live from the
//! client, so a scrape during a long cycle sees its requests and 429s as they happen.
//!
//! Liveness follows the Sekoia SDK's liveness handler (its JSON fields, 200 when alive, 500 when
//! not) with one rule of our own: the connector is alive while its loop shows signs of life (a
//! cycle starts or ends, an Okta request is sent, a phase makes progress, or the loop is
//! waiting for its next cycle) at least once per [`STALL_THRESHOLD`]. Failing cycles do not make
//! it "dead": a restart cannot fix a revoked token, and it would abandon the cycle in flight.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{json, Value};

use crate::clock::SharedClock;
use crate::okta::{OktaClient, StatsSnapshot};
use crate::progress::Progress;
use crate::sync::Summary;

/// How long the loop may show no sign of life before `/health` answers 500. Generous: Okta's
/// rate-limit windows are a minute long and every wait is bounded, so a working cycle sends a
/// request or acknowledges a batch well within it.
pub const STALL_THRESHOLD: Duration = Duration::from_secs(30 * 60);

/// How a cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Success,
    Failure,
    /// Stopped on request (SIGTERM) before it completed.
    Interrupted,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// The last cycle, for the gauges.
#[derive(Debug, Clone, Copy)]
struct LastCycle {
    kind: &'static str,
    duration_s: f64,
    ended: Timestamp,
}

#[derive(Debug)]
struct Inner {
    last_events_time: Timestamp,
    last_heartbeat: Timestamp,
    /// Failed cycles since the last successful one.
    consecutive_failures: u64,
    cycles: BTreeMap<(&'static str, Outcome), u64>,
    events_delivered: u64,
    batches: u64,
    intake_retries: u64,
    warnings: BTreeMap<&'static str, u64>,
    last_cycle: Option<LastCycle>,
    last_success: Option<Timestamp>,
    change_feed_lag_s: Option<f64>,
    cycle_running: bool,
    okta: Option<OktaClient>,
    progress: Progress,
    /// What the activity looked like at the last look, to notice a change.
    activity: u64,
}

/// The shared record; cheap to clone.
#[derive(Clone)]
pub struct Status {
    clock: SharedClock,
    inner: Arc<Mutex<Inner>>,
}

impl Status {
    pub fn new(clock: SharedClock) -> Status {
        let now = clock.now();
        Status {
            inner: Arc::new(Mutex::new(Inner {
                last_events_time: now,
                last_heartbeat: now,
                consecutive_failures: 0,
                cycles: BTreeMap::new(),
                events_delivered: 0,
                batches: 0,
                intake_retries: 0,
                warnings: BTreeMap::new(),
                last_cycle: None,
                last_success: None,
                change_feed_lag_s: None,
                cycle_running: false,
                okta: None,
                progress: Progress::off(),
                activity: 0,
            })),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The Okta client whose counters `/metrics` reports, and the progress handle of the
    /// cycles: both are signs of life.
    pub fn attach(&self, okta: OktaClient, progress: Progress) {
        let mut inner = self.lock();
        inner.okta = Some(okta);
        inner.progress = progress;
    }

    pub fn cycle_started(&self) {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.cycle_running = true;
        inner.last_heartbeat = now;
    }

    /// Records a cycle's summary and how it ended.
    pub fn cycle_ended(&self, summary: &Summary, outcome: Outcome) {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.cycle_running = false;
        inner.last_heartbeat = now;
        *inner.cycles.entry((summary.kind, outcome)).or_default() += 1;
        inner.events_delivered += summary.items_delivered;
        inner.batches += summary.batches;
        inner.intake_retries += summary.intake_retries;
        for (kind, count) in &summary.warnings {
            *inner.warnings.entry(kind).or_default() += count;
        }
        if summary.items_delivered > 0 {
            inner.last_events_time = now;
        }
        inner.last_cycle = Some(LastCycle {
            kind: summary.kind,
            duration_s: summary.duration_s,
            ended: now,
        });
        if summary.change_feed_lag_s.is_some() {
            inner.change_feed_lag_s = summary.change_feed_lag_s;
        }
        match outcome {
            Outcome::Success => {
                inner.consecutive_failures = 0;
                inner.last_success = Some(now);
            }
            Outcome::Failure => inner.consecutive_failures += 1,
            Outcome::Interrupted => {}
        }
    }

    /// A look at the loop: waiting between cycles is a sign of life; during a cycle, so is a
    /// change in the Okta requests sent or in the cycle's progress since the last look.
    /// [`Status::health`] looks each time it is asked, so liveness is judged at probe time and
    /// holds without a task of its own (e.g. while the connector waits after a configuration
    /// error, with no loop running).
    pub fn observe(&self) {
        let now = self.clock.now();
        let mut inner = self.lock();
        let activity = activity_of(&inner);
        if !inner.cycle_running || activity != inner.activity {
            inner.last_heartbeat = now;
        }
        inner.activity = activity;
    }

    /// Whether the loop showed a sign of life within [`STALL_THRESHOLD`].
    pub fn is_alive(&self) -> bool {
        let silent = self.clock.now().duration_since(self.lock().last_heartbeat);
        jiff::SignedDuration::try_from(STALL_THRESHOLD).is_ok_and(|limit| silent < limit)
    }

    /// The `/health` document, with the Sekoia SDK liveness handler's fields; looks at the loop
    /// first (see [`Status::observe`]).
    pub fn health(&self) -> (bool, Value) {
        self.observe();
        let alive = self.is_alive();
        let inner = self.lock();
        let document = json!({
            "last_events_time": naive_iso(inner.last_events_time),
            "last_heartbeat": naive_iso(inner.last_heartbeat),
            "seconds_without_events_threshold": 0,
            "last_heartbeat_threshold": STALL_THRESHOLD.as_secs(),
            "error_count": inner.consecutive_failures,
        });
        (alive, document)
    }

    /// The `/metrics` document (Prometheus text exposition format 0.0.4).
    pub fn metrics(&self) -> String {
        let inner = self.lock();
        let okta = inner.okta.as_ref().map(OktaClient::stats);
        let mut out = Metrics::default();
        out.gauge(
            "okta_connector_info",
            "The connector's version.",
            &[(&[("version", env!("CARGO_PKG_VERSION"))][..], 1.0)],
        );
        out.counter(
            "okta_connector_events_delivered_total",
            "Events the intake acknowledged.",
            inner.events_delivered as f64,
        );
        out.counter(
            "okta_connector_intake_batches_total",
            "Batches the intake acknowledged.",
            inner.batches as f64,
        );
        out.counter(
            "okta_connector_intake_retries_total",
            "Intake requests that were retries (408, 429, 5xx, network).",
            inner.intake_retries as f64,
        );
        if let Some(stats) = &okta {
            okta_metrics(&mut out, stats);
        }
        cycle_metrics(&mut out, &inner);
        let warnings: Vec<_> = inner
            .warnings
            .iter()
            .map(|(kind, n)| (vec![("kind", *kind)], *n as f64))
            .collect();
        out.family(
            "okta_connector_warnings_total",
            "counter",
            "Warnings of completed cycles (enrichment that failed, records skipped), by kind.",
            &borrowed(&warnings),
        );
        out.text
    }
}

/// A number that changes whenever the loop makes progress.
fn activity_of(inner: &Inner) -> u64 {
    let requests = inner
        .okta
        .as_ref()
        .map_or(0, |okta| okta.stats().total_requests());
    let progress: u64 = inner
        .progress
        .snapshot()
        .phases
        .values()
        .map(|phase| phase.done + u64::from(phase.finished))
        .sum();
    requests.wrapping_add(progress.wrapping_mul(0x9e37_79b9))
}

fn okta_metrics(out: &mut Metrics, stats: &StatsSnapshot) {
    let requests: Vec<_> = stats
        .requests
        .iter()
        .map(|(bucket, n)| (vec![("bucket", bucket.name())], *n as f64))
        .collect();
    out.family(
        "okta_connector_okta_requests_total",
        "counter",
        "Requests sent to Okta, by rate-limit bucket.",
        &borrowed(&requests),
    );
    let mut throttled = Vec::new();
    for (bucket, counts) in &stats.throttled {
        throttled.push((
            vec![("bucket", bucket.name()), ("kind", "quota")],
            counts.quota as f64,
        ));
        throttled.push((
            vec![("bucket", bucket.name()), ("kind", "concurrency")],
            counts.concurrency as f64,
        ));
    }
    out.family(
        "okta_connector_okta_rate_limited_total",
        "counter",
        "Okta 429 answers, by bucket and kind (quota: the window ran out; concurrency: too many requests in flight).",
        &borrowed(&throttled),
    );
    out.counter(
        "okta_connector_okta_retries_total",
        "Okta requests that were retries.",
        stats.retries as f64,
    );
    out.counter(
        "okta_connector_okta_rate_limit_wait_seconds_total",
        "Seconds spent waiting for Okta rate-limit windows to reset.",
        stats.rate_limit_wait.as_secs_f64(),
    );
}

fn cycle_metrics(out: &mut Metrics, inner: &Inner) {
    let cycles: Vec<_> = inner
        .cycles
        .iter()
        .map(|((kind, outcome), n)| {
            (
                vec![("kind", *kind), ("outcome", outcome.label())],
                *n as f64,
            )
        })
        .collect();
    out.family(
        "okta_connector_cycles_total",
        "counter",
        "Cycles ended, by kind (full, incremental) and outcome (success, failure, interrupted).",
        &borrowed(&cycles),
    );
    out.gauge(
        "okta_connector_cycle_running",
        "1 while a cycle runs.",
        &[(&[][..], f64::from(u8::from(inner.cycle_running)))],
    );
    out.gauge(
        "okta_connector_consecutive_failures",
        "Failed cycles since the last successful one.",
        &[(&[][..], inner.consecutive_failures as f64)],
    );
    if let Some(last) = inner.last_cycle {
        out.gauge(
            "okta_connector_last_cycle_duration_seconds",
            "Duration of the last cycle, by its kind.",
            &[(&[("kind", last.kind)][..], last.duration_s)],
        );
        out.gauge(
            "okta_connector_last_cycle_end_timestamp_seconds",
            "When the last cycle ended (Unix time).",
            &[(&[][..], epoch_seconds(last.ended))],
        );
    }
    if let Some(success) = inner.last_success {
        out.gauge(
            "okta_connector_last_success_timestamp_seconds",
            "When the last successful cycle ended (Unix time).",
            &[(&[][..], epoch_seconds(success))],
        );
    }
    if let Some(lag) = inner.change_feed_lag_s {
        out.gauge(
            "okta_connector_change_feed_lag_seconds",
            "How far behind Okta's change feed the connector was after its last cycle.",
            &[(&[][..], lag)],
        );
    }
}

fn epoch_seconds(at: Timestamp) -> f64 {
    at.as_millisecond() as f64 / 1000.0
}

/// `2026-03-01T12:00:00.000000`: UTC without an offset, as the SDK's naive `isoformat()`.
pub fn naive_iso(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S.%6f").to_string()
}

type Labels<'a> = &'a [(&'a str, &'a str)];

fn borrowed<'a>(samples: &'a [(Vec<(&'a str, &'a str)>, f64)]) -> Vec<(Labels<'a>, f64)> {
    samples
        .iter()
        .map(|(labels, value)| (labels.as_slice(), *value))
        .collect()
}

/// Writes the text exposition format.
#[derive(Default)]
struct Metrics {
    text: String,
}

impl Metrics {
    fn counter(&mut self, name: &str, help: &str, value: f64) {
        self.family(name, "counter", help, &[(&[][..], value)]);
    }

    fn gauge(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, f64)]) {
        self.family(name, "gauge", help, samples);
    }

    fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(Labels<'_>, f64)]) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(key, value)| format!("{key}=\"{}\"", escape_label(value)))
                .collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            let _ = writeln!(self.text, "{name}{labels} {value}");
        }
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new("2026-03-01T12:00:00Z".parse().unwrap()))
    }

    /// A status on a manual clock, and the clock.
    fn status_and_clock() -> (Status, Arc<ManualClock>) {
        let clock = clock();
        (Status::new(clock.clone()), clock)
    }

    fn summary(kind: &'static str, items: u64) -> Summary {
        let mut summary = Summary::new(kind);
        summary.items_delivered = items;
        summary.batches = 1;
        summary.duration_s = 2.5;
        summary.warnings.insert("mfa_unknown", 3);
        summary
    }

    #[test]
    fn health_has_the_sdk_fields_and_counts_consecutive_failures() {
        let (status, clock) = status_and_clock();
        status.cycle_started();
        status.cycle_ended(&summary("full", 0), Outcome::Failure);
        status.cycle_ended(&summary("full", 0), Outcome::Failure);
        let (alive, health) = status.health();
        assert!(alive, "failing cycles are not a stall");
        assert_eq!(health["error_count"], 2);
        assert_eq!(health["last_events_time"], "2026-03-01T12:00:00.000000");
        assert_eq!(health["seconds_without_events_threshold"], 0);
        assert_eq!(health["last_heartbeat_threshold"], 1800);
        clock.advance(Duration::from_secs(7));
        status.cycle_ended(&summary("incremental", 5), Outcome::Success);
        let (_, health) = status.health();
        assert_eq!(health["error_count"], 0);
        assert_eq!(health["last_events_time"], "2026-03-01T12:00:07.000000");
    }

    #[test]
    fn a_cycle_without_any_sign_of_life_for_the_threshold_is_a_stall() {
        let (status, clock) = status_and_clock();
        status.cycle_started();
        clock.advance(STALL_THRESHOLD - Duration::from_secs(1));
        status.observe();
        assert!(status.is_alive());
        clock.advance(Duration::from_secs(1));
        status.observe();
        assert!(!status.is_alive(), "nothing moved for the whole threshold");
        assert!(!status.health().0);
        // Waiting between cycles is a sign of life.
        status.cycle_ended(&summary("full", 1), Outcome::Success);
        clock.advance(STALL_THRESHOLD * 2);
        status.observe();
        assert!(status.is_alive());
    }

    #[test]
    fn health_stays_alive_while_no_loop_runs_without_anything_else_looking() {
        // As after a configuration error under the runtime: no cycle, no run loop, only the
        // probes asking, hours apart on the clock.
        let (status, clock) = status_and_clock();
        for _ in 0..4 {
            clock.advance(STALL_THRESHOLD * 3);
            let (alive, health) = status.health();
            assert!(alive, "{health}");
        }
        let (_, health) = status.health();
        assert_eq!(health["last_heartbeat"], "2026-03-01T18:00:00.000000");
    }

    #[test]
    fn a_stalled_cycle_is_dead_at_the_probe_without_a_pulse() {
        let (status, clock) = status_and_clock();
        status.cycle_started();
        clock.advance(STALL_THRESHOLD);
        assert!(!status.health().0, "nothing moved for the whole threshold");
    }

    #[test]
    fn progress_during_a_cycle_is_a_sign_of_life() {
        let (status, clock) = status_and_clock();
        let progress = Progress::new();
        {
            let mut inner = status.lock();
            inner.progress = progress.clone();
        }
        status.cycle_started();
        for _ in 0..4 {
            clock.advance(STALL_THRESHOLD / 2);
            progress.advance(crate::progress::Phase::Delivery, 100);
            status.observe();
        }
        assert!(status.is_alive(), "a long cycle that keeps delivering");
    }

    #[test]
    fn metrics_are_prometheus_text_with_cycle_counters() {
        let (status, _clock) = status_and_clock();
        status.cycle_ended(&summary("full", 40), Outcome::Success);
        let mut with_lag = summary("incremental", 2);
        with_lag.change_feed_lag_s = Some(12.0);
        status.cycle_ended(&with_lag, Outcome::Failure);
        let text = status.metrics();
        for line in [
            "# TYPE okta_connector_events_delivered_total counter",
            "okta_connector_events_delivered_total 42",
            "okta_connector_cycles_total{kind=\"full\",outcome=\"success\"} 1",
            "okta_connector_cycles_total{kind=\"incremental\",outcome=\"failure\"} 1",
            "okta_connector_last_cycle_duration_seconds{kind=\"incremental\"} 2.5",
            "okta_connector_last_success_timestamp_seconds 1772366400",
            "okta_connector_consecutive_failures 1",
            "okta_connector_change_feed_lag_seconds 12",
            "okta_connector_warnings_total{kind=\"mfa_unknown\"} 6",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
        // Every sample line is `name{labels} number`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
