//! One sync cycle: Okta → OCSF events → intake → state.
//!
//! - [`full`]: the reconciliation: every group, member, admin and user (DEPROVISIONED
//!   included), hard-delete detection, and a fresh state snapshot.
//! - [`incremental`]: only what changed since the last cycle, including membership changes,
//!   which do not touch the member's own record.
//!
//! Both stream users page by page through the same [`Enricher`] and [`Delivery`]: factors of a
//! page are read concurrently while the next page is fetched, events are batched and posted by a
//! separate task while Okta is still being read. State is committed only after the intake
//! acknowledged every batch of the cycle (at-least-once, never a gap): a failed or interrupted cycle commits
//! nothing and is redone, so data is sent again rather than skipped.
//!
//! Enrichment that fails becomes "unknown" (fields omitted) plus a counted warning, never a
//! false statement.

pub mod directory;
pub mod full;
pub mod incremental;
pub mod mfa;
pub mod roles;
mod spool;
pub mod summary;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::intake::{Batch, Batcher, Delivered, Format, IntakeError, Sink};
use crate::mapping::{self, Enrichment, MapContext, TimeUnit};
use crate::okta::model::User;
use crate::okta::{OktaClient, OktaError};
use crate::progress::{Phase, Progress};
use crate::state::{KnownUser, StateError, StateStore};

pub use directory::Directory;
pub use mfa::MfaReader;
pub use roles::Admins;
pub use summary::{Summary, WrittenTo};

/// Incremental queries reach back this far before the cursor: Okta's search is eventually
/// consistent (about a second), and cursors come from Okta's one-second `Date` header.
pub const OVERLAP: Duration = Duration::from_secs(120);

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

/// Runs one cycle into `sink`: full when asked, when there is no state, or when the last full
/// sync is older than `full_sync_interval`; otherwise incremental. With a state store the
/// cycle's results are committed after every batch was acknowledged. The summary is returned
/// even when the cycle failed.
pub async fn run_cycle(
    cycle: &Cycle<'_>,
    sink: Sink,
    state: Option<&mut StateStore>,
    force_full: bool,
) -> (Summary, Result<Sink, SyncError>) {
    let started = Instant::now();
    let stats_before = cycle.client.stats();
    let warnings = Warnings::default();
    let kind = match &state {
        Some(state) => match choose_kind(state, cycle, force_full) {
            Ok(kind) => kind,
            Err(error) => return (Summary::new("full"), Err(error.into())),
        },
        None => CycleKind::Full,
    };
    let mut summary = Summary::new(match kind {
        CycleKind::Full => "full",
        CycleKind::Incremental => "incremental",
    });
    let result = match kind {
        CycleKind::Full => full::run(cycle, sink, state, &warnings, &mut summary).await,
        CycleKind::Incremental => {
            let state = state.expect("incremental cycles have state");
            incremental::run(cycle, sink, state, &warnings, &mut summary).await
        }
    };
    summary.finish(
        cycle.client.stats().since(&stats_before),
        &warnings,
        started.elapsed(),
    );
    (summary, result)
}

fn choose_kind(
    state: &StateStore,
    cycle: &Cycle<'_>,
    force_full: bool,
) -> Result<CycleKind, StateError> {
    if force_full {
        return Ok(CycleKind::Full);
    }
    let cursors = state.cursors()?;
    let (Some(_), Some(_), Some(last_full)) =
        (cursors.users, cursors.groups, cursors.last_full_sync)
    else {
        return Ok(CycleKind::Full);
    };
    let age = cycle.clock.now().duration_since(last_full);
    let interval = jiff::SignedDuration::try_from(cycle.options.full_sync_interval)
        .unwrap_or(jiff::SignedDuration::MAX);
    Ok(if age >= interval {
        CycleKind::Full
    } else {
        CycleKind::Incremental
    })
}

/// The mapping context of a cycle: collection time and the output's time unit.
fn map_context(cycle: &Cycle<'_>, format: Format) -> MapContext {
    MapContext {
        tenant_uid: cycle.options.tenant_uid.clone(),
        collected_at: cycle.clock.now(),
        time_unit: match format {
            Format::Sekoia => TimeUnit::Seconds,
            Format::Ocsf => TimeUnit::Milliseconds,
        },
    }
}

/// What a cycle delivered per user, to be committed to state once acknowledged.
#[derive(Debug, Default)]
pub(crate) struct CycleRecord {
    pub users: Vec<(String, KnownUser)>,
    /// Users emitted as hard-deleted.
    pub deleted: Vec<String>,
}

/// Turns users into events, with the enrichment of the cycle.
pub(crate) struct Enricher<'a> {
    pub client: &'a OktaClient,
    pub directory: &'a Directory,
    pub admins: &'a Admins,
    pub mfa: &'a MfaReader,
    pub warnings: &'a Warnings,
    pub context: &'a MapContext,
    pub max_parallel: usize,
}

impl Enricher<'_> {
    /// Reads the factors of `users` (those with `fetch` set), `max_parallel` at a time.
    async fn factors(&self, users: &[User], fetch: impl Fn(&User) -> bool) -> Vec<Option<bool>> {
        read_factors(
            self.client,
            self.mfa,
            self.warnings,
            self.max_parallel,
            users,
            fetch,
        )
        .await
    }

    fn is_admin(&self, user: &User) -> Option<bool> {
        self.admins
            .is_admin(&user.id, self.directory.known_groups_of(&user.id))
    }

    fn event_bytes(&self, user: &User, is_admin: Option<bool>, has_mfa: Option<bool>) -> Vec<u8> {
        let groups = self.directory.groups_of(&user.id);
        let enrichment = Enrichment {
            groups: groups.as_deref(),
            is_admin,
            has_mfa,
        };
        mapping::map_user(user, &enrichment, self.context).to_json_bytes()
    }

    /// Maps and queues a page of users; records what was delivered for the state commit.
    async fn emit_page(
        &self,
        users: &[User],
        mfa: Vec<Option<bool>>,
        out: &mut Emitter<'_>,
    ) -> Result<(), SyncError> {
        for (user, has_mfa) in users.iter().zip(mfa) {
            if !mapping::is_mappable(user) {
                // No id to key an asset on: counted like any unreadable record.
                self.warnings.add_skipped(1);
                continue;
            }
            let is_admin = self.is_admin(user);
            out.summary.count_user(user, is_admin, has_mfa);
            out.push(self.event_bytes(user, is_admin, has_mfa)).await?;
            out.record(user, has_mfa, is_admin);
        }
        Ok(())
    }
}

/// Reads the factors of `users` (those with `fetch` set), `max_parallel` at a time; `None`
/// where unknown (MFA off, or the call failed).
pub(crate) async fn read_factors(
    client: &OktaClient,
    mfa: &MfaReader,
    warnings: &Warnings,
    max_parallel: usize,
    users: &[User],
    fetch: impl Fn(&User) -> bool,
) -> Vec<Option<bool>> {
    let mut results = vec![None; users.len()];
    if !mfa.is_enabled() {
        return results;
    }
    let wanted: Vec<usize> = (0..users.len()).filter(|&i| fetch(&users[i])).collect();
    let answers = roles::run_bounded(wanted.into_iter(), max_parallel, |i| {
        let (client, mfa, warnings) = (client.clone(), mfa.clone(), warnings.clone());
        let user_id = users[i].id.clone();
        async move { (i, mfa.has_mfa(&client, &user_id, &warnings).await) }
    })
    .await;
    for (i, answer) in answers {
        results[i] = answer;
    }
    results
}

/// The output side of a cycle: batching, delivery, the summary and the record for state.
pub(crate) struct Emitter<'a> {
    delivery: Delivery,
    batcher: Batcher,
    pub summary: &'a mut Summary,
    pub record: CycleRecord,
}

impl<'a> Emitter<'a> {
    fn new(
        sink: Sink,
        options: &SyncOptions,
        summary: &'a mut Summary,
        progress: &Progress,
    ) -> Emitter<'a> {
        let delivery = Delivery::start(sink, progress.clone());
        let batcher = Batcher::new(delivery.format, options.batch_size, options.max_batch_bytes);
        Emitter {
            delivery,
            batcher,
            summary,
            record: CycleRecord::default(),
        }
    }

    async fn push(&mut self, event: Vec<u8>) -> Result<(), SyncError> {
        if let Some(batch) = self.batcher.push(event) {
            self.delivery.send(batch).await?;
        }
        Ok(())
    }

    /// Queues the event of a hard-deleted user.
    async fn push_deleted(
        &mut self,
        user_id: &str,
        login: Option<&str>,
        context: &MapContext,
    ) -> Result<(), SyncError> {
        let event = mapping::map_deleted_user(user_id, login, context.collected_at, context)
            .to_json_bytes();
        self.push(event).await?;
        self.summary.deleted += 1;
        self.record.deleted.push(user_id.to_string());
        Ok(())
    }

    fn record(&mut self, user: &User, has_mfa: Option<bool>, is_admin: Option<bool>) {
        self.record.users.push((
            user.id.clone(),
            KnownUser {
                login: user.profile.login.clone(),
                last_updated: user.last_updated.map(Timestamp::as_millisecond),
                has_mfa,
                is_admin,
            },
        ));
    }

    /// Flushes the last batch and waits for every batch to be acknowledged. `streamed` is the
    /// outcome of reading Okta: a delivery error explains a stopped stream better than the
    /// stream's own error.
    async fn finish(
        mut self,
        streamed: Result<(), SyncError>,
    ) -> Result<(Sink, CycleRecord), SyncError> {
        let mut streamed = streamed;
        if streamed.is_ok() {
            if let Some(batch) = self.batcher.flush() {
                streamed = self.delivery.send(batch).await;
            }
        }
        let (sink, delivered, batches, retries) = self.delivery.finish().await;
        // Also when delivery failed: what was acknowledged before, and every retry made.
        self.summary.delivered = delivered;
        self.summary.batches = batches;
        self.summary.intake_retries = retries;
        let sink = sink?;
        streamed?;
        Ok((sink, self.record))
    }
}

/// Pages through users matching `search`; for each page reads factors (for users where
/// `fetch_mfa` says so, else `cached_mfa`) while the next page is fetched, then emits it.
/// `keep` filters users out (de-duplication); `seen` is told about every user read.
pub(crate) async fn stream_users(
    cycle: &Cycle<'_>,
    enrich: &Enricher<'_>,
    out: &mut Emitter<'_>,
    search: &str,
    mut keep: impl FnMut(&User) -> bool,
    cached_mfa: impl Fn(&User) -> Option<Option<bool>>,
) -> Result<Option<Timestamp>, SyncError> {
    let mut pager = cycle.client.search_users(search);
    let mut page = pager.next_page().await?;
    // Okta's clock when the listing began: the next cursor.
    let listed_at = page.as_ref().map(|_| cycle.client.server_time());
    while let Some(current) = page.take() {
        if cycle.shutdown.requested() {
            return Err(SyncError::Interrupted);
        }
        enrich.warnings.add_skipped(current.skipped);
        cycle
            .progress
            .advance(Phase::Users, current.items.len() as u64);
        let users: Vec<User> = current.items.into_iter().filter(|u| keep(u)).collect();
        let (next, fetched) = tokio::join!(
            pager.next_page(),
            enrich.factors(&users, |u| cached_mfa(u).is_none())
        );
        let mfa = users
            .iter()
            .zip(fetched)
            .map(|(user, fetched)| cached_mfa(user).unwrap_or(fetched))
            .collect();
        enrich.emit_page(&users, mfa, out).await?;
        page = next?;
    }
    Ok(listed_at)
}

/// Posting runs in its own task so Okta is read while batches travel. The channel is small:
/// when the intake is slow, reading Okta waits (bounded memory).
struct Delivery {
    batches: Option<mpsc::Sender<Batch>>,
    task: JoinHandle<DeliveryEnd>,
    format: Format,
}

/// How delivery ended: the sink, what was acknowledged (also before a failure), the failure.
struct DeliveryEnd {
    sink: Sink,
    delivered: Delivered,
    batches: u64,
    failure: Option<IntakeError>,
}

impl Delivery {
    fn start(sink: Sink, progress: Progress) -> Delivery {
        let format = sink.format();
        let (sender, mut receiver) = mpsc::channel::<Batch>(2);
        let task = tokio::spawn(async move {
            let mut end = DeliveryEnd {
                sink,
                delivered: Delivered::default(),
                batches: 0,
                failure: None,
            };
            while let Some(batch) = receiver.recv().await {
                match end.sink.deliver(batch).await {
                    Ok(delivered) => {
                        progress.advance(Phase::Delivery, delivered.items as u64);
                        end.delivered += delivered;
                        end.batches += 1;
                    }
                    Err(error) => {
                        end.failure = Some(error);
                        break;
                    }
                }
            }
            end
        });
        Delivery {
            batches: Some(sender),
            task,
            format,
        }
    }

    /// Queues a batch; fails when delivery already stopped (its error is reported by `finish`).
    async fn send(&mut self, batch: Batch) -> Result<(), SyncError> {
        let Some(sender) = self.batches.as_ref() else {
            return Err(SyncError::DeliveryStopped);
        };
        if sender.send(batch).await.is_err() {
            self.batches = None;
            return Err(SyncError::DeliveryStopped);
        }
        Ok(())
    }

    /// Waits until every queued batch was delivered (or delivery failed): the sink, what was
    /// acknowledged, the batches and the intake's retries (all of them, also on failure).
    async fn finish(mut self) -> (Result<Sink, SyncError>, Delivered, u64, u64) {
        self.batches = None;
        match self.task.await {
            Ok(end) => {
                let retries = end.sink.retries();
                let sink = match end.failure {
                    None => Ok(end.sink),
                    Some(error) => Err(SyncError::Intake(error)),
                };
                (sink, end.delivered, end.batches, retries)
            }
            Err(join_error) => std::panic::resume_unwind(join_error.into_panic()),
        }
    }
}
