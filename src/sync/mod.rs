//! One sync cycle: Okta → OCSF events → intake → state.
//!
//! A user record flows one way: [`listing`] (Okta pages) → [`enrich`] (groups and admin rights
//! from the [`directory`], MFA) → [`emit`] (map, batch, deliver, record what the intake
//! acknowledged) → the state commit. What to read comes first: [`changes`] (the System Log and
//! the `lastUpdated` searches) for incremental cycles, [`directory`] (groups, members, roles)
//! for both. This module decides the kind of cycle and wires the steps; it does nothing else.
//!
//! - **Full** (first run, `--full`, or every `full_sync_interval`): the feed is read up to now
//!   (factor events) and its position recorded; every group, member, admin and user
//!   (DEPROVISIONED included) is read, users and their factors into a disk spool while groups
//!   and roles are read (other Okta buckets); every user is sent; users known to the state
//!   and absent now are sent once as deleted.
//! - **Incremental**: only what the change feed and the searches say changed: affected users
//!   are read again (by id when their record did not change), and sent unless their event is
//!   identical to the one the intake holds.
//!
//! Cursors, the feed position and the directory snapshot are committed only after the intake
//! acknowledged every batch of the cycle: a failed or interrupted cycle commits nothing of
//! them and is redone, so data is sent again rather than skipped. Acknowledged users are
//! recorded as they are acknowledged (see [`crate::state`]). Enrichment that fails becomes
//! "unknown" (fields omitted) plus a counted warning, never a false statement.

pub mod changes;
mod cycle;
pub mod directory;
mod emit;
pub mod enrich;
mod full;
mod incremental;
mod listing;
mod spool;
pub mod summary;

use std::time::{Duration, Instant};

use jiff::SignedDuration;

use crate::clock::Clock;
use crate::intake::Sink;
use crate::state::{StateError, StateStore};

pub use changes::OVERLAP;
pub use cycle::{Cycle, CycleKind, Notices, Shutdown, SyncError, SyncOptions, Warnings};
pub use directory::{Admins, Directory};
pub use summary::{Summary, WrittenTo};

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
    let work = async {
        match (kind, state) {
            (CycleKind::Incremental, Some(state)) => {
                incremental::run(cycle, sink, state, &warnings, &mut summary).await
            }
            (_, state) => full::run(cycle, sink, state, &warnings, &mut summary).await,
        }
    };
    let result = within(cycle.options.cycle_timeout, cycle.clock.as_ref(), work).await;
    summary.finish(
        cycle.client.stats().since(&stats_before),
        &warnings,
        started.elapsed(),
    );
    (summary, result)
}

/// How often the cycle's deadline is compared with the clock, in real time.
const DEADLINE_POLL: Duration = Duration::from_millis(200);

/// Runs `work` to its end, or until `limit` has passed on `clock`, then drops it where it
/// stands. Dropping a cycle is what a kill does, and a cycle is written to survive that:
/// nothing is committed before the intake acknowledged everything, acknowledged users are
/// already recorded, and the delivery task is aborted with the cycle.
///
/// The clock is read, not slept on: with a test's or the benchmark's clock, time passes through
/// the cycle's own waits (rate limits, backoff), and the deadline follows that time.
async fn within(
    limit: Option<Duration>,
    clock: &dyn Clock,
    work: impl std::future::Future<Output = Result<Sink, SyncError>>,
) -> Result<Sink, SyncError> {
    let Some(deadline) = limit.and_then(|limit| {
        let limit_signed = SignedDuration::try_from(limit).ok()?;
        clock.now().checked_add(limit_signed).ok()
    }) else {
        return work.await;
    };
    let passed = async {
        while clock.now() < deadline {
            tokio::time::sleep(DEADLINE_POLL).await;
        }
    };
    tokio::select! {
        biased;
        result = work => result,
        () = passed => Err(SyncError::TimedOut {
            limit: limit.unwrap_or_default(),
        }),
    }
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
    let interval =
        SignedDuration::try_from(cycle.options.full_sync_interval).unwrap_or(SignedDuration::MAX);
    Ok(if age >= interval {
        CycleKind::Full
    } else {
        CycleKind::Incremental
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::intake::{FileOutput, Format};

    fn sink(dir: &tempfile::TempDir) -> Sink {
        let path = dir.path().join("out.json");
        FileOutput::open(path.to_str().unwrap(), Format::Sekoia)
            .unwrap()
            .into()
    }

    /// Work that never ends, each step a minute of (virtual) rate-limit wait.
    async fn endless(clock: &ManualClock) -> Result<Sink, SyncError> {
        loop {
            clock.sleep(Duration::from_secs(60)).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn work_past_its_limit_is_stopped_on_the_clock_it_waits_on() {
        let clock = ManualClock::new(jiff::Timestamp::UNIX_EPOCH);
        let limit = Duration::from_secs(600);
        let result = within(Some(limit), &clock, endless(&clock)).await;
        assert!(matches!(result, Err(SyncError::TimedOut { limit: l }) if l == limit));
        let waited = clock.now().duration_since(jiff::Timestamp::UNIX_EPOCH);
        assert!(
            waited >= SignedDuration::from_secs(600) && waited <= SignedDuration::from_secs(1200),
            "stopped once the limit had passed, a poll later at most: {waited}"
        );
    }

    #[tokio::test]
    async fn work_within_its_limit_or_without_one_ends_as_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(jiff::Timestamp::UNIX_EPOCH);
        let quick = async {
            clock.sleep(Duration::from_secs(60)).await;
            Ok(sink(&dir))
        };
        assert!(within(Some(Duration::from_secs(600)), &clock, quick)
            .await
            .is_ok());
        let failing = async { Err(SyncError::Interrupted) };
        assert!(matches!(
            within(None, &clock, failing).await,
            Err(SyncError::Interrupted)
        ));
    }

    /// A cycle can run in a spawned task (the runtime, a metrics server next to it): its
    /// future holds no reference to the state store across an await (the store is not `Sync`).
    #[allow(dead_code)]
    fn cycles_are_send(cycle: &Cycle<'_>, sink: Sink, state: Option<&mut StateStore>) {
        fn send<T: Send>(_: &T) {}
        send(&run_cycle(cycle, sink, state, false));
    }
}
