//! `intake`: what the empty-batch probe's answer means.

use crate::check::{Check, CheckName, Status};

/// How the intake probe (one empty batch) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeOutcome {
    NotConfigured,
    /// The intake client could not be built (e.g. a key that cannot be a header).
    SetupFailed(String),
    Accepted(u16),
    TimedOut,
    KeyRejected(u16),
    NotFound,
    /// 408, 429 or 5xx.
    Unavailable(u16),
    /// No answer, with the transport's words.
    Unreachable(String),
    /// Any other refusal, described.
    Refused(String),
}

const INTAKE_NETWORK_FIX: &str =
    "check intake_url / sekoia_base_url, proxy, and that outbound HTTPS is allowed";

/// The intake verdict; `shown` is the intake URL as it may be displayed.
pub fn intake(outcome: &IntakeOutcome, shown: &str) -> Check {
    let (status, reason, fix) = match outcome {
        IntakeOutcome::NotConfigured => (
            Status::Warn,
            "no intake configured: only `sync --output` can be used".to_string(),
            "set connector_uuid (CONNECTOR_UUID) or intake_url, and INTAKE_API_KEY",
        ),
        IntakeOutcome::SetupFailed(message) => (
            Status::Fail,
            message.clone(),
            "check INTAKE_API_KEY (sekoia_api_key)",
        ),
        IntakeOutcome::Accepted(http) => (
            Status::Ok,
            format!("intake {shown} accepted the key (HTTP {http} for an empty batch)"),
            "",
        ),
        IntakeOutcome::TimedOut => (
            Status::Fail,
            format!("intake {shown} is unreachable: it did not answer in time"),
            INTAKE_NETWORK_FIX,
        ),
        IntakeOutcome::KeyRejected(http) => (
            Status::Fail,
            format!("intake {shown} rejected the key (HTTP {http})"),
            "check INTAKE_API_KEY (sekoia_api_key) and that the key may push assets for this connector",
        ),
        IntakeOutcome::NotFound => (
            Status::Fail,
            format!("intake {shown} answered 404: wrong URL or connector UUID"),
            "check connector_uuid (CONNECTOR_UUID) or intake_url",
        ),
        IntakeOutcome::Unavailable(http) => (
            Status::Fail,
            format!("intake {shown} is unavailable right now (HTTP {http}; transient, sync retries it)"),
            "retry in a few minutes; if it persists, check the platform's status",
        ),
        IntakeOutcome::Unreachable(detail) => (
            Status::Fail,
            format!("intake {shown} is unreachable: {detail}"),
            INTAKE_NETWORK_FIX,
        ),
        IntakeOutcome::Refused(message) => (
            Status::Fail,
            format!("intake {shown} refused the empty test batch: {message}"),
            "check intake_url and format (sekoia or ocsf); see docs/troubleshooting.md",
        ),
    };
    Check::new(CheckName::Intake, status, reason, fix)
}
