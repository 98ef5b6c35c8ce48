//! One sync cycle: Okta → OCSF events → intake.
//!
//! A full sync works in two phases (BRIEF §5):
//! 1. in parallel, the group directory (groups and their members, the Groups bucket) and the
//!    admin roles (assignees and their roles, the IAM and user buckets);
//! 2. users with `search=status pr` (DEPROVISIONED included), page by page; for each page the
//!    factors of its users are read concurrently while the next page is fetched; each user is
//!    mapped, batched, and handed to the delivery task, which posts while Okta is still read.
//!
//! Nothing holds every user: memory grows with memberships, not with profile size.
//! Enrichment that fails becomes "unknown" (fields omitted) plus a counted warning, never a
//! false statement.

pub mod directory;
pub mod mfa;
pub mod roles;
pub mod summary;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::intake::{Batch, Batcher, Delivered, IntakeError, Sink};
use crate::mapping::{self, Enrichment, MapContext, TimeUnit};
use crate::okta::endpoints::expr;
use crate::okta::model::User;
use crate::okta::{OktaClient, OktaError};

pub use directory::Directory;
pub use mfa::MfaReader;
pub use roles::Admins;
pub use summary::Summary;

/// What a cycle may read.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub enrich_mfa: bool,
    pub enrich_roles: bool,
    /// Requests in flight at once for per-group and per-user calls.
    pub max_parallel: usize,
    /// Batching caps (items, uncompressed body bytes).
    pub batch_size: usize,
    pub max_batch_bytes: usize,
    /// `metadata.tenant_uid`: the Okta org host.
    pub tenant_uid: String,
}

/// Why a cycle stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Okta(#[from] OktaError),
    #[error("{0}")]
    Intake(#[from] IntakeError),
    /// Delivery ended early; the delivery error itself is what gets reported.
    #[error("delivery stopped")]
    DeliveryStopped,
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
    skipped_records: u64,
}

/// Messages kept per cycle; the rest are only counted (and logged).
const WARNING_SAMPLES: usize = 20;

impl Warnings {
    /// Counts and logs a warning of `kind`.
    pub fn warn(&self, kind: &'static str, message: String) {
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
            inner.skipped_records += count as u64;
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

/// Runs a full sync into `sink`. The summary is returned even when the cycle failed, so the
/// caller can report what was done.
pub async fn full_sync(
    client: &OktaClient,
    sink: Sink,
    options: &SyncOptions,
    clock: SharedClock,
) -> (Summary, Result<Sink, SyncError>) {
    let started = Instant::now();
    let warnings = Warnings::default();
    let mut summary = Summary::new("full");
    let result = run_full(client, sink, options, clock, &warnings, &mut summary).await;
    summary.finish(client.stats(), &warnings, started.elapsed());
    (summary, result)
}

async fn run_full(
    client: &OktaClient,
    sink: Sink,
    options: &SyncOptions,
    clock: SharedClock,
    warnings: &Warnings,
    summary: &mut Summary,
) -> Result<Sink, SyncError> {
    let (directory, admins) = tokio::join!(
        Directory::collect(client, options.max_parallel, warnings),
        async {
            if options.enrich_roles {
                Admins::collect(client, options.max_parallel, warnings).await
            } else {
                Admins::unknown()
            }
        }
    );
    let mut directory = directory?;
    for (group_id, labels) in admins.group_privileges() {
        for label in labels {
            directory.add_privilege(group_id, label);
        }
    }
    summary.groups = directory.group_count() as u64;
    summary.memberships = directory.membership_count();

    let context = MapContext {
        tenant_uid: options.tenant_uid.clone(),
        collected_at: clock.now(),
        time_unit: match sink.format() {
            crate::intake::Format::Sekoia => TimeUnit::Seconds,
            crate::intake::Format::Ocsf => TimeUnit::Milliseconds,
        },
    };
    let mfa = MfaReader::new(options.enrich_mfa);
    let enrich = Enricher {
        client,
        directory: &directory,
        admins: &admins,
        mfa: &mfa,
        warnings,
        context: &context,
        max_parallel: options.max_parallel,
    };
    let mut delivery = Delivery::start(sink, options);
    let streamed = stream_users(client, &enrich, &mut delivery, summary, expr::ALL_USERS).await;
    let (sink, delivered, batches) = delivery.finish().await;
    summary.delivered = delivered;
    summary.batches = batches;
    // A delivery error explains a stopped stream better than the stream's own error.
    let sink = sink?;
    streamed?;
    Ok(sink)
}

/// Everything needed to turn a user into an event.
struct Enricher<'a> {
    client: &'a OktaClient,
    directory: &'a Directory,
    admins: &'a Admins,
    mfa: &'a MfaReader,
    warnings: &'a Warnings,
    context: &'a MapContext,
    max_parallel: usize,
}

impl Enricher<'_> {
    /// Reads the factors of a page of users, `max_parallel` at a time.
    async fn factors(&self, users: &[User]) -> Vec<Option<bool>> {
        let mut results = vec![None; users.len()];
        if !self.mfa.is_enabled() {
            return results;
        }
        let answers = roles::run_bounded(0..users.len(), self.max_parallel, |i| {
            let (client, mfa, warnings) = (self.client.clone(), self.mfa.clone(), self.warnings.clone());
            let user_id = users[i].id.clone();
            async move { (i, mfa.has_mfa(&client, &user_id, &warnings).await) }
        })
        .await;
        for (i, answer) in answers {
            results[i] = answer;
        }
        results
    }

    fn is_admin(&self, user: &User) -> Option<bool> {
        self.admins.is_admin(&user.id, self.directory.group_ids_of(&user.id))
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
}

/// Pages through users matching `search`, enriching, mapping and delivering them.
async fn stream_users(
    client: &OktaClient,
    enrich: &Enricher<'_>,
    delivery: &mut Delivery,
    summary: &mut Summary,
    search: &str,
) -> Result<(), SyncError> {
    let mut pager = client.search_users(search);
    let mut batcher = delivery.batcher();
    let mut page = pager.next_page().await?;
    let mut progress = Progress::new();
    while let Some(current) = page.take() {
        enrich.warnings.add_skipped(current.skipped);
        // Read the next page while this one's factors are fetched: different Okta buckets.
        let (next, factors) = tokio::join!(pager.next_page(), enrich.factors(&current.items));
        for (user, has_mfa) in current.items.iter().zip(factors) {
            let is_admin = enrich.is_admin(user);
            summary.count_user(user, is_admin, has_mfa);
            if let Some(batch) = batcher.push(enrich.event_bytes(user, is_admin, has_mfa)) {
                delivery.send(batch).await?;
            }
        }
        progress.tick(summary.users);
        page = next?;
    }
    if let Some(batch) = batcher.finish() {
        delivery.send(batch).await?;
    }
    Ok(())
}

/// A progress line every few seconds on long runs.
struct Progress {
    last: Instant,
}

impl Progress {
    fn new() -> Progress {
        Progress { last: Instant::now() }
    }

    fn tick(&mut self, users: u64) {
        if self.last.elapsed() >= Duration::from_secs(10) {
            self.last = Instant::now();
            tracing::info!(users, "sync in progress");
        }
    }
}

/// Posting runs in its own task so Okta is read while batches travel. The channel is small:
/// when the intake is slow, reading Okta waits (bounded memory).
struct Delivery {
    batches: Option<mpsc::Sender<Batch>>,
    task: JoinHandle<(Sink, Result<Delivered, IntakeError>, u64)>,
    format: crate::intake::Format,
    batch_size: usize,
    max_batch_bytes: usize,
}

impl Delivery {
    fn start(sink: Sink, options: &SyncOptions) -> Delivery {
        let format = sink.format();
        let (batch_size, max_batch_bytes) = (options.batch_size, options.max_batch_bytes);
        let (sender, mut receiver) = mpsc::channel::<Batch>(2);
        let task = tokio::spawn(async move {
            let mut sink = sink;
            let mut total = Delivered::default();
            let mut batches = 0u64;
            while let Some(batch) = receiver.recv().await {
                match sink.deliver(batch).await {
                    Ok(delivered) => {
                        total += delivered;
                        batches += 1;
                    }
                    Err(error) => return (sink, Err(error), batches),
                }
            }
            (sink, Ok(total), batches)
        });
        Delivery {
            batches: Some(sender),
            task,
            format,
            batch_size,
            max_batch_bytes,
        }
    }

    fn batcher(&self) -> Batcher {
        Batcher::new(self.format, self.batch_size, self.max_batch_bytes)
    }

    /// Queues a batch; fails when delivery already stopped (its error is reported by `finish`).
    async fn send(&mut self, batch: Batch) -> Result<(), SyncError> {
        let sender = self.batches.as_ref().expect("send after finish");
        if sender.send(batch).await.is_err() {
            // The delivery task ended early: its error is what matters; `finish` returns it.
            self.batches = None;
            return Err(SyncError::DeliveryStopped);
        }
        Ok(())
    }

    /// Waits until every queued batch was delivered (or delivery failed).
    async fn finish(mut self) -> (Result<Sink, SyncError>, Delivered, u64) {
        self.batches = None;
        match self.task.await {
            Ok((sink, Ok(delivered), batches)) => (Ok(sink), delivered, batches),
            Ok((_, Err(error), batches)) => (Err(SyncError::Intake(error)), Delivered::default(), batches),
            Err(join_error) => std::panic::resume_unwind(join_error.into_panic()),
        }
    }
}
