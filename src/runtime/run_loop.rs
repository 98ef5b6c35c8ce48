//! The scheduled loop of `run`.
//!
//! A cycle starts every `frequency` seconds (measured from the start of the previous one; a
//! cycle that overran delays the next instead of bursting to catch up). Each cycle is full or
//! incremental as [`crate::sync::run_cycle`] decides, and commits its state only when the
//! intake acknowledged everything. A failed cycle is logged and retried at the next tick. On
//! SIGTERM/SIGINT the cycle in flight stops at the next page boundary after its batch in flight
//! (or is abandoned after a grace period); nothing half-done is committed, and the process
//! exits 0.
//!
//! Every cycle is recorded in the [`Status`] that `/health` and `/metrics` report.

use std::time::Duration;

use super::status::{Outcome, Status};
use crate::app::{self, AppError};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::progress::Progress;
use crate::render::{View, Watcher};
use crate::state::StateStore;
use crate::sync::{self, Cycle, Shutdown, Summary, SyncError};

/// How long a cycle may take to wind down after a stop request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs cycles until `shutdown` fires, recording them in `status`. Returns an error only for
/// what retrying cannot fix (state unusable, invalid intake settings).
pub async fn run(
    config: &Config,
    clock: SharedClock,
    mut shutdown: Shutdown,
    status: &Status,
) -> Result<(), AppError> {
    let client = app::okta_client(config, clock.clone())?;
    let mut state = StateStore::open(&config.state_dir, config.okta_origin.as_str())?;
    let options = app::sync_options(config);
    tracing::info!(
        okta = %config.tenant_host(),
        frequency_s = config.frequency.as_secs(),
        full_sync_interval_s = config.full_sync_interval.as_secs(),
        state = %state.path().display(),
        "connector started"
    );
    let mut first = true;
    loop {
        let started = clock.now();
        // A fresh handle per cycle: the display counts from zero, and `/health` watches the
        // cycle in flight for signs of life.
        let progress = Progress::new();
        status.attach(client.clone(), progress.clone());
        status.cycle_started();
        let cycle = Cycle {
            client: &client,
            options: &options,
            clock: clock.clone(),
            shutdown: shutdown.clone(),
            progress: progress.clone(),
        };
        // The first cycle is the long one (a full sync): show its progress.
        let view = if first { View::current() } else { View::Off };
        first = false;
        let watcher = Watcher::start(view, progress, client.clone());
        let sink = app::sink(config, None, clock.clone())?;
        let outcome = {
            let running = sync::run_cycle(&cycle, sink, Some(&mut state), false);
            tokio::pin!(running);
            tokio::select! {
                outcome = &mut running => Some(outcome),
                _ = grace_after_stop(shutdown.clone(), clock.clone()) => None,
            }
        };
        watcher.stop().await;
        let next = started
            .checked_add(
                jiff::SignedDuration::try_from(config.frequency)
                    .unwrap_or(jiff::SignedDuration::ZERO),
            )
            .unwrap_or(started);
        match outcome {
            None => {
                status.cycle_ended(&Summary::new("unknown"), Outcome::Interrupted);
                tracing::warn!(
                    "stopped during a cycle; nothing of it was committed, it will be redone"
                );
                return Ok(());
            }
            Some((summary, result)) => {
                let stopping = shutdown.requested();
                let next_shown = (!stopping).then(|| next.max(clock.now()));
                crate::render::log_cycle(&summary, result.as_ref().map(|_| ()), next_shown);
                status.cycle_ended(&summary, outcome_of(&result));
                match result {
                    Err(SyncError::Interrupted) => return Ok(()),
                    Err(SyncError::State(error)) => return Err(error.into()),
                    Err(_) | Ok(_) => {}
                }
            }
        }
        if shutdown.requested() {
            return Ok(());
        }
        let wait = Duration::try_from(next.duration_since(clock.now())).unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = clock.sleep(wait) => {}
            _ = shutdown.wait() => return Ok(()),
        }
    }
}

fn outcome_of(result: &Result<crate::intake::Sink, SyncError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Success,
        Err(SyncError::Interrupted) => Outcome::Interrupted,
        Err(_) => Outcome::Failure,
    }
}

/// Resolves `SHUTDOWN_GRACE` after a stop request.
async fn grace_after_stop(mut shutdown: Shutdown, clock: SharedClock) {
    shutdown.wait().await;
    clock.sleep(SHUTDOWN_GRACE).await;
}
