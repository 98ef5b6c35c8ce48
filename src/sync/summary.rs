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

/// Where an `--output` run writes its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WrittenTo {
    /// A file, which appears only when the run succeeds (a failed run leaves no partial file).
    File(String),
    /// Standard output, written as the run goes.
    Stdout,
}

impl fmt::Display for WrittenTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WrittenTo::File(path) => f.write_str(path),
            WrittenTo::Stdout => f.write_str("standard output"),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// `full` or `incremental`.
    pub kind: &'static str,
    /// The cycle stopped on an error (set by whoever ran it): the summary then tells what was
    /// done before the failure.
    pub failed: bool,
    /// `--output` runs: where the events were written; `None` when they were posted to the
    /// intake.
    pub written_to: Option<WrittenTo>,
    pub users: u64,
    pub users_by_status: BTreeMap<String, u64>,
    /// Users emitted as hard-deleted.
    pub deleted: u64,
    /// Users read again whose event was identical to the one the intake holds (not sent).
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
    /// Wall-clock seconds during which at least one Okta request waited for a rate limit
    /// (pacing to `rate_limit_share`, or a window spent after a 429).
    pub okta_rate_limit_wait_s: f64,
    /// The same per bucket, for the buckets that waited.
    pub okta_rate_limit_wait_by_bucket_s: BTreeMap<&'static str, f64>,
    pub batches: u64,
    pub items_delivered: u64,
    pub bytes_delivered: u64,
    /// Intake requests that were retries, of every batch (a batch that failed in the end
    /// included).
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
        // A status outside Okta's list is remote text, printed by the summary: sanitised.
        *self
            .users_by_status
            .entry(crate::text::remote(user.status.as_str(), crate::text::WORD))
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
        self.okta_rate_limit_wait_by_bucket_s = stats
            .rate_limit_wait_by_bucket
            .iter()
            .map(|(bucket, waited)| (bucket.name(), waited.as_secs_f64()))
            .collect();
        self.items_delivered = self.delivered.items as u64;
        self.bytes_delivered = self.delivered.bytes;
        self.intake_retries = self.intake_retries.max(u64::from(self.delivered.retries));
        self.warnings = warnings.counts();
        // Events the intake took only with fewer groups (logged by the sender, one by one).
        if self.delivered.shrunk > 0 {
            *self.warnings.entry("oversized_events").or_default() +=
                u64::from(self.delivered.shrunk);
        }
        self.warning_samples = warnings.samples();
        self.duration_s = elapsed.as_secs_f64();
    }

    /// Total warnings of every kind.
    pub fn warning_count(&self) -> u64 {
        self.warnings.values().sum()
    }

    /// `users 3,000 (ACTIVE 2,528, ...)`, or `users 0` when none.
    fn users_text(&self) -> String {
        if self.users_by_status.is_empty() {
            return number(self.users);
        }
        let statuses: Vec<String> = self
            .users_by_status
            .iter()
            .map(|(s, n)| format!("{s} {}", number(*n)))
            .collect();
        format!("{} ({})", number(self.users), statuses.join(", "))
    }

    /// Okta's line: requests per bucket, refusals, retries, and how long rate limits held
    /// requests back.
    fn okta_text(&self) -> String {
        let buckets: Vec<String> = self
            .okta_requests
            .iter()
            .map(|(b, n)| format!("{b} {}", number(*n)))
            .collect();
        let mut text = number(self.okta_requests_total) + " requests";
        if !buckets.is_empty() {
            text.push_str(&format!(" ({})", buckets.join(", ")));
        }
        text.push_str(&format!(
            "; 429: {} quota, {} concurrency; {} retries; ",
            self.okta_429_quota, self.okta_429_concurrency, self.okta_retries
        ));
        if self.okta_rate_limit_wait_s < 0.05 {
            text.push_str("no rate-limit waits");
        } else {
            let per_bucket: Vec<String> = self
                .okta_rate_limit_wait_by_bucket_s
                .iter()
                .map(|(bucket, s)| format!("{bucket} {s:.1} s"))
                .collect();
            text.push_str(&format!(
                "waited {:.1} s of {:.1} s for rate limits ({})",
                self.okta_rate_limit_wait_s,
                self.duration_s,
                per_bucket.join(", ")
            ));
        }
        text
    }

    /// Where the events went: written to a file or stdout, or posted to the intake.
    fn delivery_line(&self) -> String {
        let events = number(self.items_delivered);
        let bytes = number(self.bytes_delivered);
        match &self.written_to {
            Some(WrittenTo::File(path)) if self.failed => format!(
                "  written      nothing: {path} was left as it was (a failed run leaves no partial file)"
            ),
            Some(target) => format!("  written      {events} events to {target} ({bytes} bytes)"),
            None => format!(
                "  delivered    {events} events acknowledged by the intake in {} batches, {bytes} bytes; {} intake retries",
                number(self.batches),
                self.intake_retries
            ),
        }
    }
}

/// `1,234,567`.
fn number(n: u64) -> String {
    crate::render::frame::number(n)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failed {
            writeln!(
                f,
                "{} sync failed after {:.1} s; done before the failure (nothing was committed, the next run sends it again):",
                self.kind, self.duration_s
            )?;
        } else {
            writeln!(f, "{} sync finished in {:.1} s", self.kind, self.duration_s)?;
        }
        writeln!(f, "  users        {}", self.users_text())?;
        if self.unchanged > 0 {
            writeln!(
                f,
                "  unchanged    {} (read again, identical to what the intake holds: not sent)",
                number(self.unchanged)
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
            number(self.groups),
            number(self.memberships)
        )?;
        writeln!(
            f,
            "  admins       {} (unknown {})",
            number(self.admins),
            number(self.admin_unknown)
        )?;
        writeln!(
            f,
            "  mfa          with {} / without {} / unknown {}",
            number(self.mfa_enabled),
            number(self.mfa_disabled),
            number(self.mfa_unknown)
        )?;
        match (self.change_feed, self.change_feed_lag_s) {
            (FeedMode::SystemLog, lag) => writeln!(
                f,
                "  changes      System Log: {} events, {:.0} s behind",
                number(self.change_feed_events),
                lag.unwrap_or(0.0)
            )?,
            (FeedMode::Fallback, _) if self.written_to.is_none() => writeln!(
                f,
                "  changes      searches only (no System Log change feed)"
            )?,
            (FeedMode::Fallback, _) => {}
        }
        writeln!(f, "  okta         {}", self.okta_text())?;
        writeln!(f, "{}", self.delivery_line())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_failed_summary_says_so_without_empty_parentheses() {
        let summary = Summary {
            failed: true,
            intake_retries: 6,
            duration_s: 2.2,
            ..Summary::new("full")
        };
        let text = summary.to_string();
        assert!(
            text.starts_with("full sync failed after 2.2 s; done before the failure"),
            "{text}"
        );
        assert!(text.contains("  users        0\n"), "{text}");
        assert!(!text.contains("()"), "{text}");
        assert!(text.contains("6 intake retries"), "{text}");
        assert!(!text.contains("finished"), "{text}");
    }

    #[test]
    fn output_runs_say_where_the_events_were_written() {
        let summary = Summary {
            written_to: Some(WrittenTo::File("out.json".into())),
            items_delivered: 3000,
            bytes_delivered: 6_747_861,
            batches: 30,
            ..Summary::new("full")
        };
        let text = summary.to_string();
        assert!(
            text.contains("  written      3,000 events to out.json (6,747,861 bytes)"),
            "{text}"
        );
        assert!(
            !text.contains("delivered") && !text.contains("batches"),
            "{text}"
        );
    }

    #[test]
    fn rate_limit_waits_are_shown_against_the_run() {
        let summary = Summary {
            okta_rate_limit_wait_s: 312.4,
            okta_rate_limit_wait_by_bucket_s: [("user_by_id", 311.0)].into_iter().collect(),
            duration_s: 328.7,
            ..Summary::new("full")
        };
        assert!(summary
            .to_string()
            .contains("waited 312.4 s of 328.7 s for rate limits (user_by_id 311.0 s)"));
    }
}
