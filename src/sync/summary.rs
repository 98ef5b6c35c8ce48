//! The run summary: what a cycle read, decided and delivered.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::changes::{FeedMode, FeedStatus};
use super::cycle::Warnings;
use crate::intake::Delivered;
use crate::okta::model::User;
use crate::okta::StatsSnapshot;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// `full` or `incremental`.
    pub kind: &'static str,
    pub users: u64,
    pub users_by_status: BTreeMap<String, u64>,
    /// Users emitted as hard-deleted.
    pub deleted: u64,
    /// Users re-read whose event was identical to the one the intake holds (not sent again).
    pub unchanged: u64,
    /// Where the changes came from: `system_log`, or `fallback` (the searches alone).
    pub change_feed: FeedMode,
    /// How far behind the end of the System Log the connector is after this cycle, seconds
    /// (0 when it read to the end); absent without the change feed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_feed_lag_s: Option<f64>,
    /// System Log events read.
    pub change_feed_events: u64,
    pub groups: u64,
    pub memberships: u64,
    pub admins: u64,
    pub admin_unknown: u64,
    pub mfa_enabled: u64,
    pub mfa_disabled: u64,
    pub mfa_unknown: u64,
    pub okta_requests: BTreeMap<&'static str, u64>,
    pub okta_requests_total: u64,
    pub okta_429_quota: u64,
    pub okta_429_concurrency: u64,
    pub okta_retries: u64,
    pub okta_rate_limit_wait_s: f64,
    pub batches: u64,
    pub items_delivered: u64,
    pub bytes_delivered: u64,
    pub intake_retries: u64,
    pub warnings: BTreeMap<&'static str, u64>,
    #[serde(skip)]
    pub warning_samples: Vec<String>,
    pub duration_s: f64,
    #[serde(skip)]
    pub delivered: Delivered,
}

impl Summary {
    pub fn new(kind: &'static str) -> Summary {
        Summary {
            kind,
            ..Summary::default()
        }
    }

    /// Records how the change feed went.
    pub fn set_feed(&mut self, status: FeedStatus) {
        self.change_feed = status.mode;
        self.change_feed_lag_s = status.lag_s;
        self.change_feed_events = status.events;
    }

    pub fn count_user(&mut self, user: &User, is_admin: Option<bool>, has_mfa: Option<bool>) {
        self.users += 1;
        *self
            .users_by_status
            .entry(user.status.as_str().to_string())
            .or_default() += 1;
        match is_admin {
            Some(true) => self.admins += 1,
            Some(false) => {}
            None => self.admin_unknown += 1,
        }
        match has_mfa {
            Some(true) => self.mfa_enabled += 1,
            Some(false) => self.mfa_disabled += 1,
            None => self.mfa_unknown += 1,
        }
    }

    pub fn finish(&mut self, stats: StatsSnapshot, warnings: &Warnings, elapsed: Duration) {
        self.okta_requests = stats
            .requests
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(bucket, n)| (bucket.name(), *n))
            .collect();
        self.okta_requests_total = stats.total_requests();
        self.okta_429_quota = stats.quota_429;
        self.okta_429_concurrency = stats.concurrency_429;
        self.okta_retries = stats.retries;
        self.okta_rate_limit_wait_s = stats.rate_limit_wait.as_secs_f64();
        self.items_delivered = self.delivered.items as u64;
        self.bytes_delivered = self.delivered.bytes;
        self.intake_retries = u64::from(self.delivered.retries);
        self.warnings = warnings.counts();
        self.warning_samples = warnings.samples();
        self.duration_s = elapsed.as_secs_f64();
    }

    /// Total warnings of every kind.
    pub fn warning_count(&self) -> u64 {
        self.warnings.values().sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let statuses: Vec<String> = self
            .users_by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let buckets: Vec<String> = self
            .okta_requests
            .iter()
            .map(|(b, n)| format!("{b} {n}"))
            .collect();
        writeln!(f, "{} sync finished in {:.1} s", self.kind, self.duration_s)?;
        writeln!(f, "  users        {} ({})", self.users, statuses.join(", "))?;
        if self.unchanged > 0 {
            writeln!(
                f,
                "  unchanged    {} (re-read, identical to what the intake holds: not sent)",
                self.unchanged
            )?;
        }
        if self.deleted > 0 {
            writeln!(
                f,
                "  deleted      {} (hard-deleted in Okta, sent once as deleted)",
                self.deleted
            )?;
        }
        writeln!(
            f,
            "  groups       {} ({} memberships)",
            self.groups, self.memberships
        )?;
        writeln!(
            f,
            "  admins       {} (unknown {})",
            self.admins, self.admin_unknown
        )?;
        writeln!(
            f,
            "  mfa          with {} / without {} / unknown {}",
            self.mfa_enabled, self.mfa_disabled, self.mfa_unknown
        )?;
        match (self.change_feed, self.change_feed_lag_s) {
            (FeedMode::SystemLog, lag) => writeln!(
                f,
                "  changes      System Log: {} events, {:.0} s behind",
                self.change_feed_events,
                lag.unwrap_or(0.0)
            )?,
            (FeedMode::Fallback, _) => writeln!(
                f,
                "  changes      searches only (no System Log change feed)"
            )?,
        }
        writeln!(
            f,
            "  okta         {} requests ({}); 429: {} quota, {} concurrency; {} retries; {:.1} s waiting for rate limits",
            self.okta_requests_total,
            buckets.join(", "),
            self.okta_429_quota,
            self.okta_429_concurrency,
            self.okta_retries,
            self.okta_rate_limit_wait_s
        )?;
        writeln!(
            f,
            "  delivered    {} events in {} batches, {} bytes, {} intake retries",
            self.items_delivered, self.batches, self.bytes_delivered, self.intake_retries
        )?;
        if self.warnings.is_empty() {
            write!(f, "  warnings     none")
        } else {
            let kinds: Vec<String> = self
                .warnings
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            write!(f, "  warnings     {}", kinds.join(", "))
        }
    }
}
