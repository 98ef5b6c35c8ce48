//! Request accounting, per bucket, for the run summary and the benchmark.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::rate_limit::Bucket;
use crate::http::RetryCounts;

/// Counters shared by every clone of a client.
#[derive(Debug, Default)]
pub(super) struct Stats {
    requests: [AtomicU64; 5],
    /// 429 answers per bucket: the bucket's window ran out (quota), or too many requests were
    /// in flight (concurrency).
    quota_429: [AtomicU64; 5],
    concurrency_429: [AtomicU64; 5],
    retries: AtomicU64,
    rate_limit_wait_ms: AtomicU64,
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

    /// What the retry loop counted for one request: its retries and rate-limit waits.
    pub(super) fn count_retries(&self, counts: &RetryCounts) {
        self.retries
            .fetch_add(u64::from(counts.retries), Ordering::Relaxed);
        self.rate_limit_wait_ms
            .fetch_add(counts.waited.as_millis() as u64, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> StatsSnapshot {
        let per_bucket = |counters: &[AtomicU64; 5]| -> Vec<(Bucket, u64)> {
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
            rate_limit_wait: Duration::from_millis(self.rate_limit_wait_ms.load(Ordering::Relaxed)),
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
    pub rate_limit_wait: Duration,
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

    pub fn requests_in(&self, bucket: Bucket) -> u64 {
        self.requests
            .iter()
            .find(|(b, _)| *b == bucket)
            .map_or(0, |(_, n)| *n)
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
