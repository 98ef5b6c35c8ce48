//! What to do with an intake's answer: the retry logic, kept apart from the transport (as
//! vector's `RetryLogic`) so it is a pure table that can be tested alone.

use std::time::Duration;

use jiff::Timestamp;

/// The longest `Retry-After` honoured; a larger value is capped (an intake asking for an hour
/// would otherwise stall the cycle with no sign of life).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The decision for one response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// 2xx: the intake acknowledged the whole body.
    Acknowledged,
    /// 408, 429, 5xx: try again later (honouring `Retry-After`).
    Retry,
    /// 413: the body is too large; split the batch in two and deliver each half.
    Split,
    /// 401, 403: the key (or the connector UUID) is wrong; no retry.
    Unauthorized,
    /// Any other status (other 4xx, 3xx since redirects are not followed, 1xx): stop, no retry.
    Reject,
}

/// The decision table: 2xx acknowledged; 408, 429 and 5xx retried (a busy or failing intake may
/// recover); 413 split (the body, not the events, is too large); 401/403 refused (the key);
/// anything else stops the cycle with the intake's message.
pub fn decide(status: u16) -> Decision {
    match status {
        200..=299 => Decision::Acknowledged,
        408 | 429 | 500..=599 => Decision::Retry,
        413 => Decision::Split,
        401 | 403 => Decision::Unauthorized,
        _ => Decision::Reject,
    }
}

/// Parses a `Retry-After` value: delay-seconds, or an HTTP date (compared with the response's
/// `Date` when given, else with `now`). A date in the past means "now" (zero). The result is
/// capped at [`MAX_RETRY_AFTER`]. `None` when the value is neither.
pub fn retry_after(value: &str, server_date: Option<&str>, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = parse_http_date(value)?;
        let reference = server_date.and_then(parse_http_date).unwrap_or(now);
        let ahead = at.duration_since(reference);
        if ahead.is_negative() {
            Duration::ZERO
        } else {
            Duration::try_from(ahead).ok()?
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

fn parse_http_date(value: &str) -> Option<Timestamp> {
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value.trim())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_table() {
        let table = [
            (200, Decision::Acknowledged),
            (201, Decision::Acknowledged),
            (202, Decision::Acknowledged),
            (204, Decision::Acknowledged),
            (408, Decision::Retry),
            (429, Decision::Retry),
            (500, Decision::Retry),
            (502, Decision::Retry),
            (503, Decision::Retry),
            (504, Decision::Retry),
            (599, Decision::Retry),
            (413, Decision::Split),
            (401, Decision::Unauthorized),
            (403, Decision::Unauthorized),
            (400, Decision::Reject),
            (404, Decision::Reject),
            (405, Decision::Reject),
            (409, Decision::Reject),
            (422, Decision::Reject),
            (301, Decision::Reject),
            (302, Decision::Reject),
            (307, Decision::Reject),
        ];
        for (status, expected) in table {
            assert_eq!(decide(status), expected, "status {status}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(retry_after("7", None, now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(" 0 ", None, now), Some(Duration::ZERO));
        assert_eq!(retry_after("86400", None, now), Some(MAX_RETRY_AFTER));
        // HTTP date against the local clock.
        assert_eq!(
            retry_after("Fri, 02 Jan 2026 03:04:15 GMT", None, now),
            Some(Duration::from_secs(10))
        );
        // ... against the server's Date when given (clock skew does not matter).
        assert_eq!(
            retry_after(
                "Fri, 02 Jan 2026 03:04:15 GMT",
                Some("Fri, 02 Jan 2026 03:04:12 GMT"),
                now
            ),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after("Fri, 02 Jan 2026 03:00:00 GMT", None, now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", None, now), None);
        assert_eq!(retry_after("-5", None, now), None);
    }
}
