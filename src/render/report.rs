//! After a cycle: what `sync` prints, and the line `run` logs per cycle.
//!
//! Both lead with what matters: a failed cycle's error comes before the account of what was
//! done, and `run`'s line says when the next cycle starts. JSON logs carry the numbers as fields
//! of the event, never as a JSON document inside a string (log tools would have to decode it
//! twice).

use std::collections::BTreeMap;
use std::io::Write;

use jiff::Timestamp;

use crate::app::AppError;
use crate::config::LogFormat;
use crate::sync::{Summary, SyncError};

/// The end of `sync` on stderr. For a cycle that finished: its summary. For one that failed: the
/// error first (it is what to act on), then what was done before it. A closed stdout ends the
/// run quietly: the reader went away, there is nobody to tell.
pub fn report_sync(summary: Option<&Summary>, result: Result<(), &AppError>, format: LogFormat) {
    if let Err(AppError::OutputClosed) = result {
        return;
    }
    if let Err(error) = result {
        tracing::error!(target: "okta_asset_connector", "{error}");
    }
    let Some(summary) = summary else { return };
    match format {
        LogFormat::Text => {
            let _ = writeln!(std::io::stderr().lock(), "{summary}");
        }
        LogFormat::Json => log_summary(summary),
    }
}

/// The summary as one JSON log event with flat fields.
fn log_summary(summary: &Summary) {
    let outcome = if summary.failed { "failed" } else { "finished" };
    tracing::info!(
        target: "okta_asset_connector::summary",
        kind = summary.kind,
        outcome,
        users = summary.users,
        users_by_status = %pairs(&summary.users_by_status),
        deleted = summary.deleted,
        unchanged = summary.unchanged,
        change_feed = summary.change_feed.as_str(),
        change_feed_events = summary.change_feed_events,
        change_feed_lag_s = summary.change_feed_lag_s,
        groups = summary.groups,
        memberships = summary.memberships,
        admins = summary.admins,
        admin_unknown = summary.admin_unknown,
        mfa_enabled = summary.mfa_enabled,
        mfa_disabled = summary.mfa_disabled,
        mfa_unknown = summary.mfa_unknown,
        okta_requests = summary.okta_requests_total,
        okta_requests_by_bucket = %pairs(&summary.okta_requests),
        okta_429_quota = summary.okta_429_quota,
        okta_429_concurrency = summary.okta_429_concurrency,
        okta_retries = summary.okta_retries,
        rate_limit_wait_s = round(summary.okta_rate_limit_wait_s),
        events = summary.items_delivered,
        bytes = summary.bytes_delivered,
        batches = summary.batches,
        intake_retries = summary.intake_retries,
        written_to = summary.written_to.as_ref().map(|target| target.to_string()),
        warnings = summary.warning_count(),
        warnings_by_kind = %pairs(&summary.warnings),
        duration_s = round(summary.duration_s),
        "{} sync {outcome} in {:.1} s",
        summary.kind,
        summary.duration_s
    );
}

/// `run`'s one line per cycle: what it did (or why it failed) and when the next one starts.
pub fn log_cycle(summary: &Summary, outcome: Result<(), &SyncError>, next: Option<Timestamp>) {
    let next_cycle_at = next.map(|at| at.round(jiff::Unit::Second).unwrap_or(at).to_string());
    let next_text = next_cycle_at
        .as_deref()
        .map(|at| format!("; next cycle at {at}"))
        .unwrap_or_default();
    match outcome {
        Ok(()) => tracing::info!(
            target: "okta_asset_connector::runtime",
            kind = summary.kind,
            users = summary.users,
            deleted = summary.deleted,
            events = summary.items_delivered,
            okta_requests = summary.okta_requests_total,
            okta_retries = summary.okta_retries,
            rate_limit_wait_s = round(summary.okta_rate_limit_wait_s),
            intake_retries = summary.intake_retries,
            warnings = summary.warning_count(),
            duration_s = round(summary.duration_s),
            next_cycle_at,
            "cycle finished{next_text}"
        ),
        Err(SyncError::Interrupted) => tracing::info!(
            target: "okta_asset_connector::runtime",
            kind = summary.kind,
            "cycle stopped on request; nothing committed"
        ),
        Err(error) => tracing::error!(
            target: "okta_asset_connector::runtime",
            kind = summary.kind,
            events = summary.items_delivered,
            okta_retries = summary.okta_retries,
            intake_retries = summary.intake_retries,
            duration_s = round(summary.duration_s),
            next_cycle_at,
            "cycle failed, nothing committed: {error}{next_text}"
        ),
    }
}

/// `ACTIVE:2528 SUSPENDED:37`: a map as one short field.
fn pairs<K: std::fmt::Display, V: std::fmt::Display>(map: &BTreeMap<K, V>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seconds with a tenth: what a person reads, and enough for a dashboard.
fn round(seconds: f64) -> f64 {
    (seconds * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_become_short_fields() {
        let map: BTreeMap<&str, u64> = [("ACTIVE", 2528), ("SUSPENDED", 37)].into();
        assert_eq!(pairs(&map), "ACTIVE:2528 SUSPENDED:37");
        assert_eq!(pairs(&BTreeMap::<&str, u64>::new()), "");
        assert_eq!(round(328.7147), 328.7);
    }
}
