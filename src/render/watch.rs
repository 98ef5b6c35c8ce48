//! The task that watches a cycle: it samples the cycle's [`Progress`] and the Okta client's
//! counters, and either redraws the live region ([`View::Live`]) or logs a progress line every
//! few seconds ([`View::Lines`]).

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::eta::{self, Pace};
use super::frame::{self, Sample};
use super::terminal;
use crate::config::LogFormat;
use crate::okta::{Bucket, OktaClient, StatsSnapshot};
use crate::progress::Progress;

/// How a cycle's progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Redrawn in place at the bottom of a terminal.
    Live,
    /// A log line every [`LINE_EVERY`] (files, pipes, containers, JSON logs).
    Lines,
    /// Not shown (`-q`, or a library caller).
    Off,
}

/// How often the live region is redrawn.
const REDRAW_EVERY: Duration = Duration::from_millis(250);
/// The first progress log line: soon enough that a person knows it started, late enough that a
/// run failing at once shows its error first.
const FIRST_LINE_AFTER: Duration = Duration::from_millis(800);
/// Progress log lines after the first.
const LINE_EVERY: Duration = Duration::from_secs(10);
/// How often the counters are sampled for the observed rates.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// The window the observed rates are measured over, and the shortest that counts.
const RATE_WINDOW: Duration = Duration::from_secs(20);
const MIN_RATE_WINDOW: Duration = Duration::from_secs(4);

static CURRENT: OnceLock<View> = OnceLock::new();

/// Where the process's terminal is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalUse {
    /// Stderr is not a terminal.
    NoTerminal,
    /// Stderr is a terminal, and nothing else writes there.
    StderrOnly,
    /// Stderr is a terminal, and so is stdout, which carries the command's output.
    StderrAndOutput,
}

impl TerminalUse {
    pub fn of(stderr_is_terminal: bool, output_on_terminal: bool) -> TerminalUse {
        match (stderr_is_terminal, output_on_terminal) {
            (false, _) => TerminalUse::NoTerminal,
            (true, false) => TerminalUse::StderrOnly,
            (true, true) => TerminalUse::StderrAndOutput,
        }
    }
}

impl View {
    /// Live on a terminal that can move its cursor when logs are text, unless the events
    /// themselves go to that terminal (`sync --output -` without a pipe: redrawing would
    /// overwrite them); lines otherwise; off when asked to be quiet.
    pub fn choose(
        terminal: TerminalUse,
        term: Option<&str>,
        log_format: LogFormat,
        verbosity: i8,
    ) -> View {
        if verbosity < 0 {
            View::Off
        } else if terminal == TerminalUse::StderrOnly
            && log_format == LogFormat::Text
            && term != Some("dumb")
        {
            View::Live
        } else {
            View::Lines
        }
    }

    /// Sets the view of this process (its stderr is one for the whole process); the first call
    /// wins.
    pub fn install(self) {
        let _ = CURRENT.set(self);
    }

    /// The view installed by `main`; [`View::Off`] when none was (tests, library use).
    pub fn current() -> View {
        CURRENT.get().copied().unwrap_or(View::Off)
    }
}

/// A running watch; [`Watcher::stop`] ends it and erases the live region.
pub struct Watcher {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    live: bool,
}

impl Watcher {
    /// Starts watching `progress` and `client` in `view` (nothing is started for
    /// [`View::Off`]).
    pub fn start(view: View, progress: Progress, client: OktaClient) -> Watcher {
        if view == View::Off {
            return Watcher {
                stop: None,
                task: None,
                live: false,
            };
        }
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(watch(view, progress, client, stopped));
        Watcher {
            stop: Some(stop),
            task: Some(task),
            live: view == View::Live,
        }
    }

    /// Stops watching; the live region is erased before this returns.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Dropped without `stop` (the cycle was abandoned): leave no frame behind.
        if let Some(task) = self.task.take() {
            task.abort();
            if self.live {
                terminal::clear();
            }
        }
    }
}

async fn watch(
    view: View,
    progress: Progress,
    client: OktaClient,
    mut stopped: oneshot::Receiver<()>,
) {
    let started = Instant::now();
    let mut rates = Rates::default();
    let mut next_line = started + FIRST_LINE_AFTER;
    let tick = match view {
        View::Live => REDRAW_EVERY,
        _ => SAMPLE_EVERY.min(FIRST_LINE_AFTER),
    };
    loop {
        let sample = sample(&progress, &client, started, &mut rates);
        match view {
            View::Live => terminal::show(frame::lines(&sample)),
            View::Lines if Instant::now() >= next_line => {
                log_progress(&sample);
                next_line = Instant::now() + LINE_EVERY;
            }
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = &mut stopped => break,
        }
    }
    if view == View::Live {
        terminal::clear();
    }
}

fn sample(progress: &Progress, client: &OktaClient, started: Instant, rates: &mut Rates) -> Sample {
    let stats = client.stats();
    rates.push(Instant::now(), &stats);
    let share = client.rate_limit_share();
    let pace_of = |bucket: Bucket| Pace {
        allowed_per_min: client
            .rate_limit_snapshot(bucket)
            .map(|(limit, _)| ((limit as f64) * share).floor().max(1.0)),
        observed_per_min: rates.per_min(bucket),
    };
    let snapshot = progress.snapshot();
    let eta = eta::estimate(&snapshot, pace_of);
    let paces = Bucket::ALL
        .iter()
        .filter(|bucket| stats.requests_in(**bucket) > 0)
        .map(|bucket| (*bucket, pace_of(*bucket)))
        .collect();
    Sample {
        host: client.origin().host_str().unwrap_or_default().to_string(),
        elapsed: started.elapsed(),
        snapshot,
        eta,
        paces,
        requests: stats.total_requests(),
        quota_429: stats.quota_429,
        rate_limit_wait: stats.rate_limit_wait,
    }
}

/// A progress log line, with the counts as fields for JSON logs.
fn log_progress(sample: &Sample) {
    use crate::progress::Phase;
    let done = |phase| sample.snapshot.get(phase).map(|p| p.done);
    let total = |phase| sample.snapshot.get(phase).and_then(|p| p.total);
    let (eta_s, busiest_bucket, allowed_per_min) = match sample.eta {
        eta::Eta::Busiest(estimate) => (
            Some(estimate.left.as_secs()),
            Some(estimate.bucket.name()),
            Some(estimate.per_min.round() as u64),
        ),
        _ => (None, None, None),
    };
    tracing::info!(
        target: "okta_asset_connector::progress",
        elapsed_s = sample.elapsed.as_secs(),
        groups = done(Phase::Groups),
        members = done(Phase::Members),
        members_total = total(Phase::Members),
        users = done(Phase::Users),
        users_total = total(Phase::Users),
        mfa = done(Phase::Mfa),
        mfa_total = total(Phase::Mfa),
        delivered = done(Phase::Delivery),
        okta_requests = sample.requests,
        rate_limit_wait_s = sample.rate_limit_wait.as_secs(),
        eta_s,
        busiest_bucket,
        allowed_per_min,
        "{}",
        frame::log_line(sample)
    );
}

/// Recent counter samples, for requests per minute per bucket.
#[derive(Default)]
struct Rates {
    samples: VecDeque<(Instant, StatsSnapshot)>,
}

impl Rates {
    fn push(&mut self, at: Instant, stats: &StatsSnapshot) {
        let due = self
            .samples
            .back()
            .is_none_or(|(last, _)| at.duration_since(*last) >= SAMPLE_EVERY);
        if due {
            self.samples.push_back((at, stats.clone()));
        }
        while self
            .samples
            .front()
            .is_some_and(|(first, _)| at.duration_since(*first) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    fn per_min(&self, bucket: Bucket) -> Option<f64> {
        let (first_at, first) = self.samples.front()?;
        let (last_at, last) = self.samples.back()?;
        let span = last_at.duration_since(*first_at);
        if span < MIN_RATE_WINDOW {
            return None;
        }
        let requests = last
            .requests_in(bucket)
            .saturating_sub(first.requests_in(bucket));
        Some(requests as f64 * 60.0 / span.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_follows_the_terminal_the_log_format_and_quiet() {
        use TerminalUse::*;
        let text = LogFormat::Text;
        assert_eq!(View::choose(StderrOnly, Some("xterm"), text, 0), View::Live);
        assert_eq!(View::choose(StderrOnly, None, text, 1), View::Live);
        assert_eq!(View::choose(StderrOnly, Some("dumb"), text, 0), View::Lines);
        assert_eq!(
            View::choose(StderrOnly, Some("xterm"), LogFormat::Json, 0),
            View::Lines
        );
        assert_eq!(
            View::choose(NoTerminal, Some("xterm"), text, 0),
            View::Lines
        );
        assert_eq!(
            View::choose(StderrAndOutput, Some("xterm"), text, 0),
            View::Lines
        );
        assert_eq!(View::choose(StderrOnly, Some("xterm"), text, -1), View::Off);
    }

    #[test]
    fn rates_need_a_few_seconds_of_samples() {
        let mut rates = Rates::default();
        let start = Instant::now();
        let stats = |n: u64| StatsSnapshot {
            requests: vec![(Bucket::UserById, n)],
            ..StatsSnapshot::default()
        };
        rates.push(start, &stats(0));
        rates.push(start + Duration::from_secs(2), &stats(10));
        assert_eq!(rates.per_min(Bucket::UserById), None);
        rates.push(start + Duration::from_secs(6), &stats(30));
        assert_eq!(rates.per_min(Bucket::UserById), Some(300.0));
        assert_eq!(rates.per_min(Bucket::Groups), Some(0.0));
    }
}
