//! How far a cycle has got, as the work goes: which phases are running, how much each has done,
//! and of how many when that is known.
//!
//! The sync only reports (cheap counter updates through a cloneable handle); whoever shows it
//! reads [`Snapshot`]s: a live display on a terminal, periodic log lines elsewhere, metrics.
//! Phases overlap (a full sync lists users while it reads group members), so a snapshot holds
//! every phase seen so far rather than one "current" phase. A handle made with
//! [`Progress::off`] records nothing, so code paths that report need no `if`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;

/// The parts of a cycle, in the order a full sync starts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Listing groups.
    Groups,
    /// Listing each group's members.
    Members,
    /// Reading admin roles (assignees, users' and groups' roles).
    Roles,
    /// Reading the System Log and the change searches (incremental cycles).
    Changes,
    /// Listing users.
    Users,
    /// Reading users' MFA factors.
    Mfa,
    /// Events acknowledged by the intake (or written to the output).
    Delivery,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Groups => "groups",
            Phase::Members => "members",
            Phase::Roles => "roles",
            Phase::Changes => "changes",
            Phase::Users => "users",
            Phase::Mfa => "mfa",
            Phase::Delivery => "delivery",
        }
    }
}

/// One phase's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PhaseProgress {
    /// Items done (groups listed, users read, events acknowledged, ...).
    pub done: u64,
    /// How many there are in all, when known (e.g. the user count of the `Everyone` group).
    pub total: Option<u64>,
    pub finished: bool,
}

/// Every phase seen so far, in [`Phase`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub phases: BTreeMap<Phase, PhaseProgress>,
}

impl Snapshot {
    pub fn get(&self, phase: Phase) -> Option<&PhaseProgress> {
        self.phases.get(&phase)
    }

    /// Phases started and not finished.
    pub fn running(&self) -> impl Iterator<Item = (Phase, &PhaseProgress)> {
        self.phases
            .iter()
            .filter(|(_, p)| !p.finished)
            .map(|(phase, p)| (*phase, p))
    }
}

/// A handle to report progress through; clones share the counters.
#[derive(Debug, Clone, Default)]
pub struct Progress(Option<Arc<Mutex<Snapshot>>>);

impl Progress {
    /// A handle that records.
    pub fn new() -> Progress {
        Progress(Some(Arc::default()))
    }

    /// A handle that records nothing (no one is watching).
    pub fn off() -> Progress {
        Progress(None)
    }

    fn update(&self, phase: Phase, change: impl FnOnce(&mut PhaseProgress)) {
        if let Some(shared) = &self.0 {
            let mut snapshot = lock(shared);
            change(snapshot.phases.entry(phase).or_default());
        }
    }

    /// Marks `phase` as started (no-op when it already is).
    pub fn begin(&self, phase: Phase) {
        self.update(phase, |_| {});
    }

    /// Sets (or corrects) how many items `phase` has in all.
    pub fn set_total(&self, phase: Phase, total: u64) {
        self.update(phase, |p| p.total = Some(total));
    }

    /// Counts `n` more items done in `phase`.
    pub fn advance(&self, phase: Phase, n: u64) {
        self.update(phase, |p| p.done = p.done.saturating_add(n));
    }

    /// Marks `phase` as done.
    pub fn finish(&self, phase: Phase) {
        self.update(phase, |p| p.finished = true);
    }

    /// The counters now (empty for a handle made with [`Progress::off`]).
    pub fn snapshot(&self) -> Snapshot {
        match &self.0 {
            Some(shared) => lock(shared).clone(),
            None => Snapshot::default(),
        }
    }
}

/// The counters, even after a thread panicked holding them: each change is one assignment,
/// so a panic leaves nothing half-written, and progress must not take the sync down with it.
fn lock(shared: &Mutex<Snapshot>) -> MutexGuard<'_, Snapshot> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_counting_does_not_stop_the_counters() {
        let progress = Progress::new();
        progress.advance(Phase::Users, 5);
        let reporter = progress.clone();
        let panicked = std::thread::spawn(move || {
            reporter.update(Phase::Users, |_| {
                panic!("a reporter panics holding the lock")
            })
        })
        .join();
        assert!(panicked.is_err());
        progress.advance(Phase::Users, u64::MAX);
        assert_eq!(progress.snapshot().phases[&Phase::Users].done, u64::MAX);
    }

    #[test]
    fn clones_share_counters_and_phases_overlap() {
        let progress = Progress::new();
        let reporter = progress.clone();
        reporter.begin(Phase::Groups);
        reporter.set_total(Phase::Users, 300);
        reporter.advance(Phase::Users, 200);
        reporter.advance(Phase::Users, 100);
        reporter.finish(Phase::Groups);
        let snapshot = progress.snapshot();
        assert_eq!(
            snapshot.get(Phase::Users),
            Some(&PhaseProgress {
                done: 300,
                total: Some(300),
                finished: false
            })
        );
        let running: Vec<Phase> = snapshot.running().map(|(p, _)| p).collect();
        assert_eq!(running, vec![Phase::Users]);
        assert!(snapshot.get(Phase::Groups).unwrap().finished);
    }

    #[test]
    fn an_off_handle_records_nothing() {
        let progress = Progress::off();
        progress.advance(Phase::Users, 5);
        assert_eq!(progress.snapshot(), Snapshot::default());
    }
}
