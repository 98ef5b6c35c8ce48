//! Events out: map, batch, deliver, and record what the intake acknowledged.
//!
//! Batches are posted by a task of their own while Okta is still being read; the channel is
//! small, so a slow intake slows reading (bounded memory). Each acknowledged batch's users are
//! written to the state at once ([`AckLog`]): from that moment they are known to deletion
//! detection, whether or not the cycle commits. Incremental cycles skip a user whose event is
//! identical to the one the intake already holds (same `metadata.uid`, a fingerprint of the
//! content); full syncs send everyone.

use std::collections::VecDeque;

use jiff::Timestamp;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::cycle::{SyncError, SyncOptions};
use super::enrich::Mfa;
use super::summary::Summary;
use crate::intake::{Batch, Batcher, Delivered, Format, IntakeError, Sink};
use crate::mapping::{self, Enrichment, GroupInfo, MapContext};
use crate::okta::model::User;
use crate::progress::{Phase, Progress};
use crate::state::{AckLog, KnownUser, StateError};

/// A queued event's state row (`None` for a deletion, which is committed with the cycle).
type Row = Option<(String, KnownUser)>;

/// The output side of a cycle.
pub struct Emitter<'a> {
    delivery: Delivery,
    batcher: Batcher,
    /// State rows of the events in the batcher, oldest first.
    queued: VecDeque<Row>,
    context: MapContext,
    skip_unchanged: bool,
    summary: &'a mut Summary,
    /// Users sent as hard-deleted.
    deleted: Vec<String>,
}

impl<'a> Emitter<'a> {
    /// Starts delivery into `sink`. With `acks`, acknowledged users are recorded as they are
    /// acknowledged. With `skip_unchanged`, an event identical to the one delivered last is
    /// not sent again.
    pub fn new(
        sink: Sink,
        options: &SyncOptions,
        context: MapContext,
        acks: Option<AckLog>,
        skip_unchanged: bool,
        summary: &'a mut Summary,
        progress: Progress,
    ) -> Emitter<'a> {
        let batcher = Batcher::new(sink.format(), options.batch_size, options.max_batch_bytes);
        Emitter {
            delivery: Delivery::start(sink, acks, progress),
            batcher,
            queued: VecDeque::new(),
            context,
            skip_unchanged,
            summary,
            deleted: Vec::new(),
        }
    }

    /// Maps and queues one user's event, unless it is identical to `delivered_uid` (and
    /// unchanged events are skipped this cycle).
    pub async fn user(
        &mut self,
        user: &User,
        groups: Option<&[&GroupInfo]>,
        is_admin: Option<bool>,
        mfa: Mfa,
        delivered_uid: Option<&str>,
    ) -> Result<(), SyncError> {
        let enrichment = Enrichment {
            groups,
            is_admin,
            has_mfa: mfa.has_mfa,
        };
        let event = mapping::map_user(user, &enrichment, &self.context);
        let uid = event.record_uid();
        if self.skip_unchanged && delivered_uid == Some(uid.as_str()) {
            self.summary.unchanged += 1;
            return Ok(());
        }
        self.summary.count_user(user, is_admin, mfa.has_mfa);
        let row = KnownUser {
            login: user.profile.login.clone(),
            last_updated: user.last_updated.map(Timestamp::as_millisecond),
            has_mfa: mfa.has_mfa,
            mfa_checked_at: mfa.checked_at,
            is_admin,
            event_uid: Some(uid),
        };
        self.push(event.to_json_bytes(), Some((user.id.clone(), row)))
            .await
    }

    /// Queues the event of a hard-deleted user.
    pub async fn deleted(&mut self, user_id: &str, login: Option<&str>) -> Result<(), SyncError> {
        let event =
            mapping::map_deleted_user(user_id, login, self.context.collected_at, &self.context)
                .to_json_bytes();
        self.push(event, None).await?;
        self.summary.deleted += 1;
        self.deleted.push(user_id.to_string());
        Ok(())
    }

    async fn push(&mut self, event: Vec<u8>, row: Row) -> Result<(), SyncError> {
        self.queued.push_back(row);
        if let Some(batch) = self.batcher.push(event) {
            let rows = self.queued.drain(..batch.len()).collect();
            self.delivery.send(batch, rows).await?;
        }
        Ok(())
    }

    /// Flushes the last batch and waits for every batch to be acknowledged. `streamed` is the
    /// outcome of reading Okta: a delivery error explains a stopped stream better than the
    /// stream's own error. Returns the sink and the users sent as deleted.
    pub async fn finish(
        mut self,
        streamed: Result<(), SyncError>,
    ) -> Result<(Sink, Vec<String>), SyncError> {
        let mut streamed = streamed;
        if streamed.is_ok() {
            if let Some(batch) = self.batcher.flush() {
                let rows = self.queued.drain(..).collect();
                streamed = self.delivery.send(batch, rows).await;
            }
        }
        let (sink, delivered, batches, retries) = self.delivery.finish().await;
        // Also when delivery failed: what was acknowledged before, and every retry made.
        self.summary.delivered = delivered;
        self.summary.batches = batches;
        self.summary.intake_retries = retries;
        let sink = sink?;
        streamed?;
        Ok((sink, self.deleted))
    }
}

/// Why delivery stopped.
enum Stopped {
    Intake(IntakeError),
    State(StateError),
}

/// How delivery ended: the sink, what was acknowledged (also before a failure), the failure.
struct DeliveryEnd {
    sink: Sink,
    delivered: Delivered,
    batches: u64,
    failure: Option<Stopped>,
}

/// Posting runs in its own task so Okta is read while batches travel. Dropping it (a cycle
/// abandoned mid-way) stops the task: nothing of an abandoned cycle goes on in the background.
struct Delivery {
    batches: Option<mpsc::Sender<(Batch, Vec<Row>)>>,
    task: Option<JoinHandle<DeliveryEnd>>,
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Delivery {
    fn start(sink: Sink, acks: Option<AckLog>, progress: Progress) -> Delivery {
        let (sender, mut receiver) = mpsc::channel::<(Batch, Vec<Row>)>(2);
        let task = tokio::spawn(async move {
            let mut acks = acks;
            let mut end = DeliveryEnd {
                sink,
                delivered: Delivered::default(),
                batches: 0,
                failure: None,
            };
            progress.begin(Phase::Delivery);
            while let Some((batch, rows)) = receiver.recv().await {
                match end.sink.deliver(batch).await {
                    Ok(delivered) => {
                        end.delivered += delivered;
                        end.batches += 1;
                        progress.advance(Phase::Delivery, delivered.items as u64);
                        if let Some(acks) = acks.as_mut() {
                            let rows: Vec<(String, KnownUser)> =
                                rows.into_iter().flatten().collect();
                            if let Err(error) = acks.record(&rows) {
                                end.failure = Some(Stopped::State(error));
                                break;
                            }
                        }
                    }
                    Err(error) => {
                        end.failure = Some(Stopped::Intake(error));
                        break;
                    }
                }
            }
            progress.finish(Phase::Delivery);
            end
        });
        Delivery {
            batches: Some(sender),
            task: Some(task),
        }
    }

    /// Queues a batch; fails when delivery already stopped (its error is reported by `finish`).
    async fn send(&mut self, batch: Batch, rows: Vec<Row>) -> Result<(), SyncError> {
        let Some(sender) = self.batches.as_ref() else {
            return Err(SyncError::DeliveryStopped);
        };
        if sender.send((batch, rows)).await.is_err() {
            self.batches = None;
            return Err(SyncError::DeliveryStopped);
        }
        Ok(())
    }

    /// Waits until every queued batch was delivered (or delivery failed): the sink, what was
    /// acknowledged, the batches and the intake's retries (all of them, also on failure).
    async fn finish(mut self) -> (Result<Sink, SyncError>, Delivered, u64, u64) {
        self.batches = None;
        let task = self.task.take().expect("finish runs once");
        match task.await {
            Ok(end) => {
                let retries = end.sink.retries();
                let sink = match end.failure {
                    None => Ok(end.sink),
                    Some(Stopped::Intake(error)) => Err(SyncError::Intake(error)),
                    Some(Stopped::State(error)) => Err(SyncError::State(error)),
                };
                (sink, end.delivered, end.batches, retries)
            }
            Err(join_error) => std::panic::resume_unwind(join_error.into_panic()),
        }
    }
}

/// The mapping context of a cycle: collection time and the output's time unit.
pub fn map_context(tenant_uid: &str, collected_at: Timestamp, format: Format) -> MapContext {
    MapContext {
        tenant_uid: tenant_uid.to_string(),
        collected_at,
        time_unit: match format {
            Format::Sekoia => mapping::TimeUnit::Seconds,
            Format::Ocsf => mapping::TimeUnit::Milliseconds,
        },
    }
}
