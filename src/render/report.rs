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

/// The line of a finished or failed cycle at `$level`: the numbers as fields, those of
/// `$finished` only for a cycle that finished (a failed one says how far it got: the others are
/// left out, an `Option` that is `None` records nothing). A macro because a tracing event's
/// level and fields are fixed where it is written.
macro_rules! cycle_line {
    ($level:ident, $summary:expr, $finished:expr, $next_cycle_at:expr, $($message:tt)+) => {{
        let summary: &Summary = $summary;
        let finished: Option<&Summary> = $finished;
        tracing::$level!(
            target: "okta_asset_connector::runtime",
            kind = summary.kind,
            users = finished.map(|s| s.users),
            deleted = finished.map(|s| s.deleted),
            events = summary.items_delivered,
            okta_requests = finished.map(|s| s.okta_requests_total),
            okta_retries = summary.okta_retries,
            rate_limit_wait_s = finished.map(|s| round(s.okta_rate_limit_wait_s)),
            intake_retries = summary.intake_retries,
            warnings = finished.map(Summary::warning_count),
            duration_s = round(summary.duration_s),
            next_cycle_at = $next_cycle_at,
            $($message)+
        )
    }};
}

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
        Ok(()) => cycle_line!(
            info,
            summary,
            Some(summary),
            next_cycle_at,
            "cycle finished{next_text}"
        ),
        Err(SyncError::Interrupted) => tracing::info!(
            target: "okta_asset_connector::runtime",
            kind = summary.kind,
            "cycle stopped on request; nothing committed"
        ),
        Err(error) => cycle_line!(
            error,
            summary,
            None,
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

    /// The JSON log events `log` emits, one per line.
    fn json_events(log: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || SharedBuffer(writer.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for SharedBuffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(bytes)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.lock().unwrap().flush()
        }
    }

    /// The field names of an event, but its timestamp, level, target and message.
    fn field_names(event: &serde_json::Value) -> Vec<&str> {
        let fields = event.as_object().unwrap().keys().map(String::as_str);
        let meta = ["timestamp", "level", "target", "message"];
        fields.filter(|name| !meta.contains(name)).collect()
    }

    #[test]
    fn a_finished_cycle_logs_every_number_and_a_failed_one_how_far_it_got() {
        let summary = Summary::new("full");
        let next = Some("2026-11-29T23:15:22Z".parse().unwrap());
        let events = json_events(|| {
            log_cycle(&summary, Ok(()), next);
            log_cycle(&summary, Err(&SyncError::DeliveryStopped), next);
        });
        let [finished, failed] = &events[..] else {
            panic!("{events:?}")
        };
        let mut every_number = vec!["kind", "users", "deleted", "events", "okta_requests"];
        every_number.extend(["okta_retries", "rate_limit_wait_s", "intake_retries"]);
        every_number.extend(["warnings", "duration_s", "next_cycle_at"]);
        let mut names = field_names(finished);
        names.sort_unstable();
        every_number.sort_unstable();
        assert_eq!(names, every_number);
        assert_eq!(finished["level"], "INFO");
        let mut names = field_names(failed);
        names.sort_unstable();
        let how_far = [
            "duration_s",
            "events",
            "intake_retries",
            "kind",
            "next_cycle_at",
        ];
        assert_eq!(names, [&how_far[..], &["okta_retries"]].concat());
        assert_eq!(failed["level"], "ERROR");
        assert_eq!(
            failed["message"],
            "cycle failed, nothing committed: delivery stopped; next cycle at 2026-11-29T23:15:22Z"
        );
    }

    #[test]
    fn maps_become_short_fields() {
        let map: BTreeMap<&str, u64> = [("ACTIVE", 2528), ("SUSPENDED", 37)].into();
        assert_eq!(pairs(&map), "ACTIVE:2528 SUSPENDED:37");
        assert_eq!(pairs(&BTreeMap::<&str, u64>::new()), "");
        assert_eq!(round(328.7147), 328.7);
    }
}
