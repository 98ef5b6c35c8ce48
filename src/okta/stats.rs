//! Request accounting, per bucket, for the run summary and the benchmark.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::rate_limit::Bucket;
use crate::http::RetryCounts;

/// Counters shared by every clone of a client.
#[derive(Debug, Default)]
pub(super) struct Stats {
    requests: [AtomicU64; Bucket::ALL.len()],
    /// 429 answers per bucket: the bucket's window ran out (quota), or too many requests were
    /// in flight (concurrency).
    quota_429: [AtomicU64; Bucket::ALL.len()],
    concurrency_429: [AtomicU64; Bucket::ALL.len()],
    retries: AtomicU64,
}

impl Stats {
    pub(super) fn count_request(&self, bucket: Bucket) {
        self.requests[bucket_index(bucket)].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_quota_429(&self, bucket: Bucket) {
        self.quota_429[bucket_index(bucket)].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_concurrency_429(&self, bucket: Bucket) {
        self.concurrency_429[bucket_index(bucket)].fetch_add(1, Ordering::Relaxed);
    }

    /// What the retry loop counted for one request: its retries. (Its rate-limit waits are
    /// counted by the rate limiter, with the pacing waits: see `RateLimiter::waited`.)
    pub(super) fn count_retries(&self, counts: &RetryCounts) {
        self.retries
            .fetch_add(u64::from(counts.retries), Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> StatsSnapshot {
        let per_bucket = |counters: &[AtomicU64; Bucket::ALL.len()]| -> Vec<(Bucket, u64)> {
            Bucket::ALL
                .iter()
                .map(|b| (*b, counters[bucket_index(*b)].load(Ordering::Relaxed)))
                .collect()
        };
        let throttled = Bucket::ALL
            .iter()
            .map(|b| {
                let i = bucket_index(*b);
                let quota = self.quota_429[i].load(Ordering::Relaxed);
                let concurrency = self.concurrency_429[i].load(Ordering::Relaxed);
                (*b, Throttled { quota, concurrency })
            })
            .collect::<Vec<_>>();
        StatsSnapshot {
            requests: per_bucket(&self.requests),
            quota_429: throttled.iter().map(|(_, t)| t.quota).sum(),
            concurrency_429: throttled.iter().map(|(_, t)| t.concurrency).sum(),
            throttled,
            retries: self.retries.load(Ordering::Relaxed),
            rate_limit_wait: Duration::ZERO,
            rate_limit_wait_by_bucket: Vec::new(),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Requests sent (answered or not), per bucket, in [`Bucket::ALL`] order.
    pub requests: Vec<(Bucket, u64)>,
    /// 429 answers of every bucket, by kind.
    pub quota_429: u64,
    pub concurrency_429: u64,
    /// 429 answers per bucket, in [`Bucket::ALL`] order.
    pub throttled: Vec<(Bucket, Throttled)>,
    pub retries: u64,
    /// Wall-clock time during which at least one request waited for a rate limit: pacing to
    /// `rate_limit_share` and windows spent after a 429 (parallel waits count once).
    pub rate_limit_wait: Duration,
    /// The same per bucket, for the buckets that waited.
    pub rate_limit_wait_by_bucket: Vec<(Bucket, Duration)>,
}

/// The 429 answers of one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttled {
    /// The bucket's window ran out (wait for its reset).
    pub quota: u64,
    /// Too many requests in flight (`Limit` and `Remaining` both 0).
    pub concurrency: u64,
}

impl StatsSnapshot {
    /// What happened between `earlier` and this snapshot (one cycle of a long-running client).
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            requests: self
                .requests
                .iter()
                .map(|(bucket, n)| (*bucket, n.saturating_sub(earlier.requests_in(*bucket))))
                .collect(),
            quota_429: self.quota_429.saturating_sub(earlier.quota_429),
            concurrency_429: self.concurrency_429.saturating_sub(earlier.concurrency_429),
            throttled: self
                .throttled
                .iter()
                .map(|(bucket, now)| {
                    let before = earlier.throttled_in(*bucket);
                    let since = Throttled {
                        quota: now.quota.saturating_sub(before.quota),
                        concurrency: now.concurrency.saturating_sub(before.concurrency),
                    };
                    (*bucket, since)
                })
                .collect(),
            retries: self.retries.saturating_sub(earlier.retries),
            rate_limit_wait: self.rate_limit_wait.saturating_sub(earlier.rate_limit_wait),
            rate_limit_wait_by_bucket: self
                .rate_limit_wait_by_bucket
                .iter()
                .map(|(bucket, waited)| {
                    (*bucket, waited.saturating_sub(earlier.waited_in(*bucket)))
                })
                .filter(|(_, waited)| !waited.is_zero())
                .collect(),
        }
    }

    pub fn total_requests(&self) -> u64 {
        self.requests.iter().map(|(_, n)| n).sum()
    }

    /// The 429 answers of `bucket`.
    pub fn throttled_in(&self, bucket: Bucket) -> Throttled {
        self.throttled
            .iter()
            .find(|(b, _)| *b == bucket)
            .map_or(Throttled::default(), |(_, t)| *t)
    }

    /// Time requests to `bucket` waited for its rate limit.
    pub fn waited_in(&self, bucket: Bucket) -> Duration {
        self.rate_limit_wait_by_bucket
            .iter()
            .find(|(b, _)| *b == bucket)
            .map_or(Duration::ZERO, |(_, waited)| *waited)
    }

    pub fn requests_in(&self, bucket: Bucket) -> u64 {
        self.requests
            .iter()
            .find(|(b, _)| *b == bucket)
            .map_or(0, |(_, n)| *n)
    }
}

/// Time spent waiting for rate limits, measured as wall-clock time during which at least one
/// request was held back: four requests waiting the same second count one second, so the total
/// never exceeds the run's duration and reads as "how much of the run the limits decided". Kept
/// by the rate limiter, which imposes every such wait.
#[derive(Debug, Default)]
pub(super) struct WaitMeters {
    overall: WaitMeter,
    per_bucket: HashMap<Bucket, WaitMeter>,
}

impl WaitMeters {
    /// Counts a wait of `wait` starting at `from` for a request to `bucket`.
    pub(super) fn add(&mut self, bucket: Bucket, from: Timestamp, wait: Duration) {
        self.overall.add(from, wait);
        self.per_bucket.entry(bucket).or_default().add(from, wait);
    }

    pub(super) fn total(&self) -> Duration {
        self.overall.total
    }

    /// Per bucket, for the buckets that waited at all, in bucket order.
    pub(super) fn by_bucket(&self) -> Vec<(Bucket, Duration)> {
        let mut per_bucket: Vec<(Bucket, Duration)> = self
            .per_bucket
            .iter()
            .map(|(bucket, meter)| (*bucket, meter.total))
            .filter(|(_, total)| !total.is_zero())
            .collect();
        per_bucket.sort();
        per_bucket
    }
}

/// The union of wait intervals. Every wait starts "now" with a known length (a pacing sleep, a
/// pause until a window's reset), so keeping the end of the latest one is enough to merge them.
#[derive(Debug, Default, Clone, Copy)]
struct WaitMeter {
    busy_until: Option<Timestamp>,
    total: Duration,
}

impl WaitMeter {
    fn add(&mut self, from: Timestamp, wait: Duration) {
        let Ok(until) = SignedDuration::try_from(wait).and_then(|w| from.checked_add(w)) else {
            return;
        };
        let start = match self.busy_until {
            Some(busy) if busy > from => busy,
            _ => from,
        };
        if until > start {
            self.total += Duration::try_from(until.duration_since(start)).unwrap_or_default();
        }
        self.busy_until = Some(self.busy_until.map_or(until, |busy| busy.max(until)));
    }
}

fn bucket_index(bucket: Bucket) -> usize {
    Bucket::ALL.iter().position(|b| *b == bucket).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_answers_are_counted_per_bucket_and_in_total() {
        let stats = Stats::default();
        stats.count_quota_429(Bucket::UsersList);
        stats.count_quota_429(Bucket::UsersList);
        stats.count_concurrency_429(Bucket::Groups);
        let before = stats.snapshot();
        stats.count_quota_429(Bucket::Groups);
        let after = stats.snapshot();
        assert_eq!(
            after.throttled_in(Bucket::UsersList),
            Throttled {
                quota: 2,
                concurrency: 0
            }
        );
        assert_eq!(
            after.throttled_in(Bucket::Groups),
            Throttled {
                quota: 1,
                concurrency: 1
            }
        );
        assert_eq!((after.quota_429, after.concurrency_429), (3, 1));
        let cycle = after.since(&before);
        assert_eq!(cycle.throttled_in(Bucket::UsersList), Throttled::default());
        assert_eq!(cycle.throttled_in(Bucket::Groups).quota, 1);
        assert_eq!((cycle.quota_429, cycle.concurrency_429), (1, 0));
    }
}
