//! How long a cycle still needs, from Okta's rate-limit budget.
//!
//! A sync is bounded by Okta's per-bucket rate limits, not by CPU: what is left is a number of
//! requests per bucket (pages of users, one factor call per user, one member listing per group),
//! and each bucket goes at most at the pace the connector allows itself (`rate_limit_share` of
//! the advertised limit). Buckets are worked at the same time, so the busiest one decides when
//! the cycle ends.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::okta::Bucket;
use crate::progress::{Phase, Snapshot};

/// Users per page of the user listing (`limit=200`).
const USERS_PER_PAGE: u64 = 200;
/// Groups per page of the group listing (`limit=200`).
const GROUPS_PER_PAGE: u64 = 200;

/// The bucket a phase spends, and how many of its items one request covers. Phases that cost
/// few requests (roles) or none (delivery) do not decide the end.
fn cost(phase: Phase) -> Option<(Bucket, u64)> {
    match phase {
        Phase::Users => Some((Bucket::UsersList, USERS_PER_PAGE)),
        Phase::Groups => Some((Bucket::Groups, GROUPS_PER_PAGE)),
        Phase::Members => Some((Bucket::Groups, 1)),
        Phase::Mfa => Some((Bucket::UserById, 1)),
        Phase::Roles | Phase::Changes | Phase::Delivery => None,
    }
}

/// Requests still needed per bucket by the running phases; `None` while a running phase that
/// costs requests has no total yet (nothing honest can be said then).
pub fn requests_left(snapshot: &Snapshot) -> Option<BTreeMap<Bucket, u64>> {
    let mut left = BTreeMap::new();
    for (phase, progress) in snapshot.running() {
        let Some((bucket, per_request)) = cost(phase) else {
            continue;
        };
        let items = progress.total?.saturating_sub(progress.done);
        // Totals come from Okta (usersCount): saturate rather than wrap on an absurd one.
        let requests = left.entry(bucket).or_insert(0u64);
        *requests = requests.saturating_add(items.div_ceil(per_request));
    }
    Some(left)
}

/// How fast a bucket may go, and goes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pace {
    /// Requests per minute the connector allows itself: `rate_limit_share` × the limit Okta
    /// advertises (`None` before Okta answered a request of this bucket).
    pub allowed_per_min: Option<f64>,
    /// Requests per minute measured over the last seconds (`None` until measured).
    pub observed_per_min: Option<f64>,
}

impl Pace {
    /// The rate to plan with: the allowed one, or the observed one when it is slower (another
    /// client eats the budget, the org answers slowly, or the bucket waits on another one).
    fn planning_rate(&self) -> Option<f64> {
        let observed = self.observed_per_min.filter(|rate| *rate > 0.0);
        match (self.allowed_per_min, observed) {
            (Some(allowed), Some(observed)) => Some(allowed.min(observed)),
            (allowed, observed) => allowed.or(observed),
        }
    }
}

/// The bucket that decides the end, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub left: Duration,
    pub bucket: Bucket,
    /// Requests that bucket still needs.
    pub requests: u64,
    /// The rate planned with, requests per minute.
    pub per_min: f64,
}

/// What can be said about the end of a cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Eta {
    /// A total or a pace is not known yet.
    Unknown,
    /// Nothing left that costs Okta requests: delivery and the state commit remain.
    Finishing,
    /// The busiest bucket's requests at its pace.
    Busiest(Estimate),
}

/// How long `requests` take at `per_min`: at most [`Duration::MAX`], which an absurd count (or a
/// rate near zero) would pass, and `from_secs_f64` would panic on.
fn time_for(requests: u64, per_min: f64) -> Duration {
    Duration::try_from_secs_f64(requests as f64 * 60.0 / per_min).unwrap_or(Duration::MAX)
}

/// The ETA of `snapshot` at the paces `pace_of` gives per bucket.
pub fn estimate(snapshot: &Snapshot, pace_of: impl Fn(Bucket) -> Pace) -> Eta {
    let Some(left) = requests_left(snapshot) else {
        return Eta::Unknown;
    };
    let mut busiest: Option<Estimate> = None;
    for (bucket, requests) in left {
        if requests == 0 {
            continue;
        }
        let Some(per_min) = pace_of(bucket).planning_rate() else {
            return Eta::Unknown;
        };
        let candidate = Estimate {
            left: time_for(requests, per_min),
            bucket,
            requests,
            per_min,
        };
        if busiest.is_none_or(|known| candidate.left > known.left) {
            busiest = Some(candidate);
        }
    }
    match busiest {
        Some(estimate) => Eta::Busiest(estimate),
        None if snapshot.phases.is_empty() => Eta::Unknown,
        None => Eta::Finishing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Progress;

    fn pace(allowed: f64) -> Pace {
        Pace {
            allowed_per_min: Some(allowed),
            observed_per_min: None,
        }
    }

    #[test]
    fn the_busiest_bucket_decides() {
        let progress = Progress::new();
        progress.set_total(Phase::Users, 3000);
        progress.advance(Phase::Users, 1000);
        progress.set_total(Phase::Mfa, 3000);
        progress.advance(Phase::Mfa, 900);
        // 2,000 users left: 10 pages; 2,100 factor calls at 300/min: 7 minutes.
        let eta = estimate(&progress.snapshot(), |_| pace(300.0));
        assert_eq!(
            eta,
            Eta::Busiest(Estimate {
                left: Duration::from_secs(420),
                bucket: Bucket::UserById,
                requests: 2100,
                per_min: 300.0,
            })
        );
    }

    #[test]
    fn an_absurd_count_or_pace_saturates_instead_of_panicking() {
        let progress = Progress::new();
        // Groups and members share a bucket: their requests add up past u64::MAX.
        progress.set_total(Phase::Groups, u64::MAX);
        progress.set_total(Phase::Members, u64::MAX);
        progress.set_total(Phase::Users, u64::MAX);
        let left = requests_left(&progress.snapshot()).unwrap();
        assert_eq!(left[&Bucket::Groups], u64::MAX);
        let Eta::Busiest(estimate) = estimate(&progress.snapshot(), |_| pace(1.0)) else {
            panic!("an estimate")
        };
        assert_eq!(estimate.left, Duration::MAX);
        // A zero allowed rate (a share of a zero limit) divides by zero: still no panic.
        assert_eq!(time_for(10, 0.0), Duration::MAX);
        assert_eq!(time_for(10, f64::MIN_POSITIVE), Duration::MAX);
    }

    #[test]
    fn a_slower_observed_pace_wins_over_the_allowed_one() {
        let progress = Progress::new();
        progress.set_total(Phase::Mfa, 600);
        let eta = estimate(&progress.snapshot(), |_| Pace {
            allowed_per_min: Some(600.0),
            observed_per_min: Some(300.0),
        });
        let Eta::Busiest(estimate) = eta else {
            panic!("{eta:?}")
        };
        assert_eq!(estimate.left, Duration::from_secs(120));
    }

    #[test]
    fn unknown_totals_and_paces_say_unknown_and_finished_work_says_finishing() {
        let progress = Progress::new();
        progress.begin(Phase::Users);
        assert_eq!(estimate(&progress.snapshot(), |_| pace(60.0)), Eta::Unknown);
        progress.set_total(Phase::Users, 400);
        assert_eq!(
            estimate(&progress.snapshot(), |_| Pace::default()),
            Eta::Unknown
        );
        progress.advance(Phase::Users, 400);
        progress.finish(Phase::Users);
        progress.begin(Phase::Delivery);
        assert_eq!(
            estimate(&progress.snapshot(), |_| pace(60.0)),
            Eta::Finishing
        );
        assert_eq!(
            estimate(&Progress::new().snapshot(), |_| pace(60.0)),
            Eta::Unknown
        );
    }
}
