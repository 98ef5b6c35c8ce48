//! `check`: the platform's "Test connector" button (docs/check.md).
//!
//! Ordered checks, each `ok` / `warn` / `fail` / `skipped` with one line of reason and one line
//! of fix. The Okta reads are the cheapest of each permission (`limit=1`), made without retries
//! and with short timeouts; the intake probe posts an empty batch, which creates and changes
//! nothing; the state directory probe writes one temporary file and removes it. The whole run is
//! bounded by a [`Deadline`] on the injectable clock, so a hanging host gives a verdict in
//! seconds instead of a stuck button, and tests of the bound need no wall-clock time.
//!
//! - [`okta`]: the Okta reads and what their answers mean;
//! - [`intake`]: the intake probe;
//! - [`state_dir`]: the state directory probe;
//! - [`verdicts`]: the wording, from typed outcomes to status, reason and fix.
//!
//! Every report lists the same checks in the same order ([`CheckName::ALL`]), so the platform
//! can show a stable list; a check that could not run is `skipped` with the reason why.

mod intake;
mod okta;
mod state_dir;
pub mod verdicts;

use std::future::Future;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Serialize, Serializer};

use crate::clock::SharedClock;
use crate::config::Config;

/// Every check, in the order it is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckName {
    Config,
    OktaReachable,
    Token,
    Groups,
    Roles,
    Factors,
    ChangeFeed,
    RateLimit,
    Intake,
    StateDir,
}

impl CheckName {
    /// Report order. New checks are inserted where they belong without moving the others'
    /// relative order, so a UI keyed on names keeps working.
    pub const ALL: [CheckName; 10] = [
        CheckName::Config,
        CheckName::OktaReachable,
        CheckName::Token,
        CheckName::Groups,
        CheckName::Roles,
        CheckName::Factors,
        CheckName::ChangeFeed,
        CheckName::RateLimit,
        CheckName::Intake,
        CheckName::StateDir,
    ];

    /// The checks that talk to Okta: skipped together when Okta cannot be used.
    pub const OKTA: [CheckName; 7] = [
        CheckName::OktaReachable,
        CheckName::Token,
        CheckName::Groups,
        CheckName::Roles,
        CheckName::Factors,
        CheckName::ChangeFeed,
        CheckName::RateLimit,
    ];

    /// The stable identifier shown in reports and `--json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckName::Config => "config",
            CheckName::OktaReachable => "okta_reachable",
            CheckName::Token => "token",
            CheckName::Groups => "groups",
            CheckName::Roles => "roles",
            CheckName::Factors => "factors",
            CheckName::ChangeFeed => "change_feed",
            CheckName::RateLimit => "rate_limit",
            CheckName::Intake => "intake",
            CheckName::StateDir => "state_dir",
        }
    }
}

/// The identifiers of [`CheckName::ALL`], in order.
pub const CHECK_NAMES: [&str; CheckName::ALL.len()] = {
    let mut names = [""; CheckName::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = CheckName::ALL[i].as_str();
        i += 1;
    }
    names
};

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CheckName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for CheckName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CheckName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    /// Not run: an earlier check failed, or the time budget ran out.
    Skipped,
}

/// One verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: CheckName,
    pub status: Status,
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl Check {
    pub fn new(
        name: CheckName,
        status: Status,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        // Reasons quote Okta's and the intake's answers: only sanitised text is printed.
        let shown = |text: String| crate::text::remote(&text, crate::text::LINE);
        Check {
            name,
            status,
            reason: shown(reason.into()),
            fix: shown(fix.into()),
        }
    }

    /// A check that could not run, and why.
    pub fn skipped(name: CheckName, why: impl Into<String>) -> Check {
        Check::new(name, Status::Skipped, why, "")
    }
}

/// The `--json` document.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// True when no check failed (warnings and skips allowed).
    pub success: bool,
    /// The first failure's reason, empty on success.
    pub error: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// Puts `checks` in report order; a check that is not among them is `skipped` because of
    /// `missing` (each check appears once: the first verdict of a name wins).
    pub fn assemble(mut checks: Vec<Check>, missing: &str) -> Report {
        let checks: Vec<Check> = CheckName::ALL
            .iter()
            .map(|&name| match checks.iter().position(|c| c.name == name) {
                Some(at) => checks.remove(at),
                None => Check::skipped(name, missing),
            })
            .collect();
        let error = checks
            .iter()
            .find(|c| c.status == Status::Fail)
            .map(|c| c.reason.clone())
            .unwrap_or_default();
        Report {
            success: !checks.iter().any(|c| c.status == Status::Fail),
            error,
            checks,
        }
    }

    /// The report when the configuration itself is invalid: nothing else can be checked.
    pub fn config_error(message: String) -> Report {
        Report::assemble(
            vec![verdicts::config_invalid(message)],
            verdicts::SKIP_CONFIG_INVALID,
        )
    }

    /// Human-readable lines.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            let tag = match check.status {
                Status::Ok => "  ok ",
                Status::Warn => " warn",
                Status::Fail => " FAIL",
                Status::Skipped => " skip",
            };
            out.push_str(&format!(
                "[{tag}] {:<15} {}\n",
                check.name.as_str(),
                check.reason
            ));
            if !check.fix.is_empty() && check.status != Status::Ok {
                out.push_str(&format!("        {:<15} fix: {}\n", "", check.fix));
            }
        }
        out.push_str(if self.success {
            "result: OK\n"
        } else {
            "result: FAILED\n"
        });
        out
    }
}

/// How long `check` may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The whole run ends within this (plus a little bookkeeping).
    pub total: Duration,
    /// One Okta or intake request (or the state directory probe) may take at most this long.
    pub per_request: Duration,
}

impl Default for Budget {
    /// 30 s in all, 8 s per request: a hanging host costs one request's time, and the button
    /// still answers well within a minute.
    fn default() -> Budget {
        Budget {
            total: Duration::from_secs(30),
            per_request: Duration::from_secs(8),
        }
    }
}

/// The end of the run on the injectable clock, and the per-request bound.
#[derive(Clone)]
pub struct Deadline {
    clock: SharedClock,
    at: Timestamp,
    budget: Budget,
}

impl Deadline {
    /// Starts the run now: it must end by `clock.now() + budget.total`.
    pub fn start(clock: SharedClock, budget: Budget) -> Deadline {
        let now = clock.now();
        let at = SignedDuration::try_from(budget.total)
            .ok()
            .and_then(|total| now.checked_add(total).ok())
            .unwrap_or(Timestamp::MAX);
        Deadline { clock, at, budget }
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// What is left of the run (zero once it has ended).
    pub fn remaining(&self) -> Duration {
        Duration::try_from(self.at.duration_since(self.clock.now())).unwrap_or(Duration::ZERO)
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// How long the next step may take: the per-request bound, or what is left of the run.
    pub fn next_step(&self) -> Duration {
        self.remaining().min(self.budget.per_request)
    }

    /// Runs `work` for at most [`next_step`](Self::next_step): `None` when that time ran out
    /// first (or the run had already ended). The wait is the clock's, raced with the work; the
    /// work is polled first, so a step that is ready at once is never reported late.
    pub async fn bound<F: Future>(&self, work: F) -> Option<F::Output> {
        let limit = self.next_step();
        if limit.is_zero() {
            return None;
        }
        tokio::select! {
            biased;
            output = work => Some(output),
            () = async { self.clock.sleep(limit).await } => None,
        }
    }
}

/// Runs every check against a validated configuration, within the default 30 s [`Budget`].
pub async fn run(config: &Config, clock: SharedClock) -> Report {
    run_with_budget(config, clock, Budget::default()).await
}

/// Runs every check within `budget`. Okta, the intake and the state directory do not depend on
/// each other and are checked side by side, so a hanging Okta host cannot starve the others of
/// time.
pub async fn run_with_budget(config: &Config, clock: SharedClock, budget: Budget) -> Report {
    let deadline = Deadline::start(clock.clone(), budget);
    let (okta, intake, state_dir) = tokio::join!(
        okta::checks(config, clock.clone(), &deadline),
        intake::check(config, clock, &deadline),
        state_dir::check(&config.state_dir, &deadline),
    );
    let mut checks = vec![verdicts::config_ok()];
    checks.extend(okta);
    checks.push(intake);
    checks.push(state_dir);
    Report::assemble(checks, verdicts::SKIP_NOT_RUN)
}

/// Why the intake and state directory checks are skipped by [`run_account`].
pub const SKIP_NOT_ACCOUNT: &str =
    "not checked: not part of the module account's validation (the connector's intake and state are set up later)";

/// The checks of the Okta account alone (configuration, URL, credential, permissions, rate
/// limit), within the default [`Budget`]: what the Sekoia.io platform's account validation
/// asks, when no connector (and so no intake) is configured yet.
pub async fn run_account(config: &Config, clock: SharedClock) -> Report {
    let deadline = Deadline::start(clock.clone(), Budget::default());
    let mut checks = vec![verdicts::config_ok()];
    checks.extend(okta::checks(config, clock, &deadline).await);
    Report::assemble(checks, SKIP_NOT_ACCOUNT)
}

impl Report {
    /// The first failed check as one line: which check, why, and the fix.
    pub fn first_failure(&self) -> Option<String> {
        let check = self.checks.iter().find(|c| c.status == Status::Fail)?;
        Some(if check.fix.is_empty() {
            format!("{}: {}", check.name, check.reason)
        } else {
            format!("{}: {}; fix: {}", check.name, check.reason, check.fix)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(
            "2026-03-01T12:00:00Z".parse().expect("timestamp"),
        ))
    }

    fn budget(total: u64, per_request: u64) -> Budget {
        Budget {
            total: Duration::from_secs(total),
            per_request: Duration::from_secs(per_request),
        }
    }

    #[test]
    fn names_are_unique_and_in_report_order() {
        assert_eq!(
            CHECK_NAMES,
            [
                "config",
                "okta_reachable",
                "token",
                "groups",
                "roles",
                "factors",
                "change_feed",
                "rate_limit",
                "intake",
                "state_dir"
            ]
        );
        let mut sorted = CheckName::ALL;
        sorted.sort();
        assert_eq!(sorted, CheckName::ALL, "the enum order is the report order");
        assert!(CheckName::OKTA.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            serde_json::to_value(CheckName::RateLimit).unwrap(),
            "rate_limit"
        );
    }

    #[test]
    fn assemble_orders_fills_and_keeps_the_first_verdict_of_a_name() {
        let checks = vec![
            Check::new(CheckName::Intake, Status::Fail, "intake down", "fix it"),
            Check::new(CheckName::Config, Status::Ok, "valid", ""),
            Check::new(CheckName::Token, Status::Fail, "bad token", "new token"),
            Check::new(CheckName::Token, Status::Ok, "ignored duplicate", ""),
        ];
        let report = Report::assemble(checks, "not checked: test");
        let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, CHECK_NAMES);
        let token = &report.checks[2];
        assert_eq!(
            (token.status, token.reason.as_str()),
            (Status::Fail, "bad token")
        );
        assert_eq!(report.checks[3].status, Status::Skipped);
        assert_eq!(report.checks[3].reason, "not checked: test");
        assert!(!report.success);
        assert_eq!(
            report.error, "bad token",
            "the first failure in report order"
        );
    }

    #[test]
    fn warnings_and_skips_are_a_success() {
        let report = Report::assemble(
            vec![Check::new(CheckName::Roles, Status::Warn, "off", "")],
            "skipped",
        );
        assert!(report.success);
        assert_eq!(report.error, "");
        let text = report.to_text();
        assert!(text.contains("[ warn] roles"), "{text}");
        assert!(text.ends_with("result: OK\n"), "{text}");
    }

    #[test]
    fn config_error_fails_config_and_skips_the_rest() {
        let report = Report::config_error("missing base_url".into());
        assert_eq!(report.checks[0].status, Status::Fail);
        assert!(report.checks[1..]
            .iter()
            .all(|c| c.status == Status::Skipped && c.reason == verdicts::SKIP_CONFIG_INVALID));
        assert_eq!(report.error, "missing base_url");
    }

    #[test]
    fn deadline_counts_down_on_the_injected_clock() {
        let clock = clock();
        let deadline = Deadline::start(clock.clone(), budget(30, 8));
        assert_eq!(deadline.remaining(), Duration::from_secs(30));
        assert_eq!(deadline.next_step(), Duration::from_secs(8));
        clock.advance(Duration::from_secs(25));
        assert_eq!(deadline.next_step(), Duration::from_secs(5), "what is left");
        assert!(!deadline.expired());
        clock.advance(Duration::from_secs(5));
        assert!(deadline.expired());
        assert_eq!(deadline.remaining(), Duration::ZERO);
        clock.advance(Duration::from_secs(60));
        assert_eq!(deadline.remaining(), Duration::ZERO, "never negative");
    }

    #[tokio::test]
    async fn a_step_that_never_ends_gets_its_share_and_no_more() {
        let clock = clock();
        let deadline = Deadline::start(clock.clone(), budget(10, 4));
        let mut outcomes = Vec::new();
        for _ in 0..4 {
            outcomes.push(deadline.bound(std::future::pending::<()>()).await);
        }
        assert_eq!(outcomes, [None, None, None, None]);
        // 4 s, 4 s, then the 2 s left; the fourth step does not wait at all.
        assert_eq!(
            clock.sleeps(),
            [4, 4, 2].map(Duration::from_secs),
            "waits go through the clock"
        );
        assert!(deadline.expired());
    }

    #[tokio::test]
    async fn a_ready_step_wins_without_waiting() {
        let clock = clock();
        let deadline = Deadline::start(clock.clone(), budget(10, 4));
        assert_eq!(deadline.bound(async { 7 }).await, Some(7));
        assert!(clock.sleeps().is_empty(), "{:?}", clock.sleeps());
        assert_eq!(deadline.remaining(), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn an_expired_run_starts_nothing() {
        let clock = clock();
        let deadline = Deadline::start(clock.clone(), budget(1, 1));
        clock.advance(Duration::from_secs(2));
        let mut started = false;
        let outcome = deadline
            .bound(async {
                started = true;
            })
            .await;
        assert_eq!(outcome, None);
        assert!(!started);
    }
}
