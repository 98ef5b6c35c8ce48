//! What a cycle is given and how it reports trouble: options, the Okta client and clock, the
//! shutdown signal, progress, counted warnings, and the error that stops it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::SharedClock;
use crate::intake::IntakeError;
use crate::okta::{OktaClient, OktaError};
use crate::progress::Progress;
use crate::state::StateError;

/// What a cycle may read.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub enrich_mfa: bool,
    pub enrich_roles: bool,
    /// Requests in flight at once for per-group and per-user calls.
    pub max_parallel: usize,
    /// `metadata.tenant_uid`: the Okta org host.
    pub tenant_uid: String,
    /// Batching caps (items, uncompressed body bytes).
    pub batch_size: usize,
    pub max_batch_bytes: usize,
    /// A full sync is due when the last one is older than this.
    pub full_sync_interval: Duration,
    /// With the change feed, a full sync re-reads a user's factors only when a factor event
    /// named the user or the cached status is older than this.
    pub mfa_refresh_interval: Duration,
    /// A cycle still running after this long is stopped (`None`: no limit).
    pub cycle_timeout: Option<Duration>,
    /// What was already said once in this run (shared by every cycle of a `run`).
    pub notices: Notices,
}

/// Things to say once per run rather than once per cycle.
#[derive(Debug, Clone, Default)]
pub struct Notices {
    feed_unavailable: Arc<AtomicBool>,
}

impl Notices {
    /// True the first time only.
    pub fn first_feed_unavailable(&self) -> bool {
        !self.feed_unavailable.swap(true, Ordering::Relaxed)
    }
}

/// Which kind of cycle to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleKind {
    Full,
    Incremental,
}

/// Why a cycle stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Okta(#[from] OktaError),
    #[error("{0}")]
    Intake(#[from] IntakeError),
    #[error("{0}")]
    State(#[from] StateError),
    /// Delivery ended early; the delivery error itself is what gets reported.
    #[error("delivery stopped")]
    DeliveryStopped,
    /// Shutdown was requested: the batch in flight was finished, nothing was committed.
    #[error("stopped on request before the cycle completed; it will be redone")]
    Interrupted,
    /// The cycle ran longer than `cycle_timeout` and was stopped where it stood: nothing was
    /// committed (the users the intake acknowledged are recorded as such), and it is redone.
    #[error("the cycle did not finish within cycle_timeout ({} s) and was stopped; nothing was committed and the next cycle starts it again; hint: the summary shows what took the time (rate-limit waits, retries); if a sync of this org takes longer, raise cycle_timeout (CYCLE_TIMEOUT, 0 = no limit)", .limit.as_secs())]
    TimedOut { limit: Duration },
    /// The full sync's temporary page spool failed (disk full, temp dir not writable).
    #[error("temporary user spool: {0}; hint: the temp directory (TMPDIR) must be writable, with room for the org's user records")]
    Spool(String),
}

/// Warnings of a cycle: counted by kind, the first few messages kept for the summary.
/// Clones share the same counts.
#[derive(Debug, Default, Clone)]
pub struct Warnings {
    inner: Arc<Mutex<WarningsInner>>,
}

#[derive(Debug, Default)]
struct WarningsInner {
    counts: BTreeMap<&'static str, u64>,
    samples: Vec<String>,
    /// A change the cycle was told of could not be read (see [`Warnings::unapplied`]).
    unapplied: bool,
}

/// Messages kept per cycle; the rest are only counted (and logged).
const WARNING_SAMPLES: usize = 20;

impl Warnings {
    /// Counts and logs a warning of `kind`, sanitised: it quotes Okta's ids and errors.
    pub fn warn(&self, kind: &'static str, message: String) {
        let message = crate::text::remote(&message, crate::text::LINE);
        tracing::warn!(kind, "{message}");
        let mut inner = self.inner.lock().expect("warnings lock");
        *inner.counts.entry(kind).or_default() += 1;
        if inner.samples.len() < WARNING_SAMPLES {
            inner.samples.push(message);
        }
    }

    /// Like [`Warnings::warn`], for a change the cycle knows of and could not read: unless Okta
    /// refused for good (`error` is a denial, which the next cycle would get again), the change
    /// is unapplied, and an incremental cycle then keeps its cursors and change feed position
    /// so that the next cycle reads it again instead of leaving it to the next full sync.
    pub fn unapplied(&self, kind: &'static str, message: String, error: Option<&OktaError>) {
        self.warn(kind, message);
        if !error.is_some_and(OktaError::is_denied) {
            self.inner.lock().expect("warnings lock").unapplied = true;
        }
    }

    /// Whether every change the cycle was told of was read (no [`Warnings::unapplied`]).
    pub fn all_applied(&self) -> bool {
        !self.inner.lock().expect("warnings lock").unapplied
    }

    /// Counts records Okta sent that could not be read (already logged by the paginator).
    pub fn add_skipped(&self, count: usize) {
        if count > 0 {
            let mut inner = self.inner.lock().expect("warnings lock");
            *inner.counts.entry("skipped_records").or_default() += count as u64;
        }
    }

    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.inner.lock().expect("warnings lock").counts.clone()
    }

    pub fn samples(&self) -> Vec<String> {
        self.inner.lock().expect("warnings lock").samples.clone()
    }
}

/// A request to stop: cycles check it between pages and stop after the batch in flight.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A shutdown signal that never fires (one-shot commands).
    pub fn never() -> Shutdown {
        // The sender is dropped at once: `requested` stays false and `wait` never resolves.
        Shutdown(watch::channel(false).1)
    }

    /// A shutdown signal and the sender that fires it (`send(true)`).
    pub fn channel() -> (watch::Sender<bool>, Shutdown) {
        let (sender, receiver) = watch::channel(false);
        (sender, Shutdown(receiver))
    }

    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves when shutdown is requested.
    pub async fn wait(&mut self) {
        while !*self.0.borrow_and_update() {
            if self.0.changed().await.is_err() {
                // Sender gone: nobody can ask any more.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Everything a cycle needs.
pub struct Cycle<'a> {
    pub client: &'a OktaClient,
    pub options: &'a SyncOptions,
    pub clock: SharedClock,
    pub shutdown: Shutdown,
    /// Where the cycle reports how far it has got ([`Progress::off`] when nobody watches).
    pub progress: Progress,
}

impl Cycle<'_> {
    /// Fails with [`SyncError::Interrupted`] once a stop was requested.
    pub(crate) fn check_stop(&self) -> Result<(), SyncError> {
        if self.shutdown.requested() {
            Err(SyncError::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// Runs `make(item)` for every item, at most `max_parallel` at a time, and returns the results
/// (in completion order).
pub(crate) async fn run_bounded<I, F, Fut, T>(items: I, max_parallel: usize, make: F) -> Vec<T>
where
    I: Iterator,
    F: Fn(I::Item) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let mut results = Vec::new();
    let mut items = items.peekable();
    loop {
        while tasks.len() < max_parallel.max(1) {
            let Some(item) = items.next() else { break };
            tasks.spawn(make(item));
        }
        match tasks.join_next().await {
            Some(Ok(result)) => results.push(result),
            // A panic is a bug: surface it rather than lose a result and report a wrong value.
            Some(Err(join_error)) => std::panic::resume_unwind(join_error.into_panic()),
            None => break,
        }
    }
    results
}
