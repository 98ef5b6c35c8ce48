//! Request accounting, per bucket, for the run summary and the benchmark.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::rate_limit::Bucket;
use crate::http::RetryCounts;

/// Counters shared by every clone of a client.
#[derive(Debug, Default)]
pub(super) struct Stats {
    requests: [AtomicU64; Bucket::ALL.len()],
    quota_429: AtomicU64,
    concurrency_429: AtomicU64,
    retries: AtomicU64,
    rate_limit_wait_ms: AtomicU64,
}

impl Stats {
    pub(super) fn count_request(&self, bucket: Bucket) {
        self.requests[bucket_index(bucket)].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_quota_429(&self) {
        self.quota_429.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_concurrency_429(&self) {
        self.concurrency_429.fetch_add(1, Ordering::Relaxed);
    }

    /// What the retry loop counted for one request: its retries and rate-limit waits.
    pub(super) fn count_retries(&self, counts: &RetryCounts) {
        self.retries
            .fetch_add(u64::from(counts.retries), Ordering::Relaxed);
        self.rate_limit_wait_ms
            .fetch_add(counts.waited.as_millis() as u64, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: Bucket::ALL
                .iter()
                .map(|b| (*b, self.requests[bucket_index(*b)].load(Ordering::Relaxed)))
                .collect(),
            quota_429: self.quota_429.load(Ordering::Relaxed),
            concurrency_429: self.concurrency_429.load(Ordering::Relaxed),
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
    pub quota_429: u64,
    pub concurrency_429: u64,
    pub retries: u64,
    pub rate_limit_wait: Duration,
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
            retries: self.retries.saturating_sub(earlier.retries),
            rate_limit_wait: self.rate_limit_wait.saturating_sub(earlier.rate_limit_wait),
        }
    }

    pub fn total_requests(&self) -> u64 {
        self.requests.iter().map(|(_, n)| n).sum()
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
