//! The `intake` check: one empty batch (`{"version":1,"items":[]}`, or an empty NDJSON body),
//! no retry. It proves the URL is right and the key is accepted, and creates or changes no
//! asset.

use super::verdicts::{self, IntakeOutcome};
use super::{Check, Deadline};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::intake::{HttpIntake, IntakeError};

pub(super) async fn check(config: &Config, clock: SharedClock, deadline: &Deadline) -> Check {
    let Some(mut settings) = config.intake.clone() else {
        return verdicts::intake(&IntakeOutcome::NotConfigured, "");
    };
    settings.timeout = deadline.budget().per_request;
    let intake = match HttpIntake::new(settings, clock) {
        Ok(intake) => intake,
        Err(error) => return verdicts::intake(&IntakeOutcome::SetupFailed(error.to_string()), ""),
    };
    let outcome = match deadline.bound(intake.probe()).await {
        None => IntakeOutcome::TimedOut,
        Some(Ok(status)) => IntakeOutcome::Accepted(status),
        Some(Err(error)) => outcome(&error),
    };
    verdicts::intake(&outcome, intake.url())
}

/// What the intake's refusal means.
fn outcome(error: &IntakeError) -> IntakeOutcome {
    match (error, error.status()) {
        (_, Some(status @ (401 | 403))) => IntakeOutcome::KeyRejected(status),
        (_, Some(404)) => IntakeOutcome::NotFound,
        (_, Some(status @ (408 | 429 | 500..=599))) => IntakeOutcome::Unavailable(status),
        (IntakeError::Exhausted { last, .. }, None) if last.contains("timed out") => {
            IntakeOutcome::TimedOut
        }
        (IntakeError::Exhausted { last, .. }, None) => IntakeOutcome::Unreachable(last.clone()),
        _ => IntakeOutcome::Refused(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exhausted(status: Option<u16>, last: &str) -> IntakeError {
        IntakeError::Exhausted {
            status,
            attempts: 1,
            last: last.into(),
            url: "https://intake.example/x".into(),
        }
    }

    #[test]
    fn refusals_are_told_apart() {
        let unauthorized = IntakeError::Unauthorized {
            status: 403,
            message: "forbidden".into(),
            url: "u".into(),
        };
        assert_eq!(outcome(&unauthorized), IntakeOutcome::KeyRejected(403));
        let missing = IntakeError::Rejected {
            status: 404,
            message: "no such connector".into(),
            url: "u".into(),
        };
        assert_eq!(outcome(&missing), IntakeOutcome::NotFound);
        assert_eq!(
            outcome(&exhausted(Some(503), "HTTP 503")),
            IntakeOutcome::Unavailable(503)
        );
        assert_eq!(
            outcome(&exhausted(None, "operation timed out")),
            IntakeOutcome::TimedOut
        );
        assert_eq!(
            outcome(&exhausted(None, "connection refused")),
            IntakeOutcome::Unreachable("connection refused".into())
        );
        let bad_request = IntakeError::Rejected {
            status: 400,
            message: "bad format".into(),
            url: "u".into(),
        };
        assert!(
            matches!(outcome(&bad_request), IntakeOutcome::Refused(text) if text.contains("HTTP 400"))
        );
    }
}
