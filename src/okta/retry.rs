//! The retry decision for one Okta answer, kept apart from the transport so it can be read and
//! tested as a table.

use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::HeaderMap;

use super::error::OktaError;
use super::rate_limit::{server_date, RateLimitHeaders};
use crate::http::{is_unknown_host, RetryAction};

/// Smallest page we fall back to when Okta times out building a large one.
pub const MIN_PAGE_LIMIT: u64 = 200;

/// What to do after an answer (or a failure to get one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 2xx: use it.
    Accept,
    /// Quota 429: the bucket is spent until its reset; wait exactly this long, then retry.
    WaitForReset(Duration),
    /// Concurrency 429: too many requests in flight; lower concurrency, back off with jitter.
    ReduceConcurrency,
    /// 500 on a page larger than [`MIN_PAGE_LIMIT`]: retry the same cursor with this limit.
    SmallerPage(u64),
    /// Transient (5xx, timeout, connection error, cut-off body): back off with jitter.
    Backoff,
    /// Retrying cannot help (401, 403, 404, other 4xx).
    Fail,
}

/// Decides from the status and headers of an answer; `page_limit` is the `limit` query
/// parameter of the request, if any.
pub fn decide(
    status: u16,
    headers: &HeaderMap,
    page_limit: Option<u64>,
    local_now: Timestamp,
) -> Decision {
    match status {
        200..=299 => Decision::Accept,
        429 => match RateLimitHeaders::parse(headers) {
            Some(limits) if limits.is_concurrency_violation() => Decision::ReduceConcurrency,
            Some(limits) => {
                Decision::WaitForReset(limits.wait_until_reset(server_date(headers), local_now))
            }
            // No headers to go by: treat like a transient failure.
            None => Decision::Backoff,
        },
        500 => match page_limit {
            Some(limit) if limit > MIN_PAGE_LIMIT => {
                Decision::SmallerPage((limit / 2).max(MIN_PAGE_LIMIT))
            }
            _ => Decision::Backoff,
        },
        408 | 502..=599 => Decision::Backoff,
        _ => Decision::Fail,
    }
}

/// What a failure to get an answer from Okta calls for: only a transport failure (no answer, a
/// timeout, a body cut off) is transient; a redirect, an oversized answer, a settings error or a
/// host name that does not exist would be the same on every attempt.
pub fn on_failure<T>(error: OktaError) -> RetryAction<T, OktaError> {
    match error {
        OktaError::Transport { ref detail, .. } if is_unknown_host(detail) => {
            RetryAction::Fail(error)
        }
        OktaError::Transport { .. } => RetryAction::Backoff { error, asked: None },
        error => RetryAction::Fail(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn limits(limit: &str, remaining: &str, reset: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("x-rate-limit-limit", HeaderValue::from_str(limit).unwrap());
        map.insert(
            "x-rate-limit-remaining",
            HeaderValue::from_str(remaining).unwrap(),
        );
        map.insert("x-rate-limit-reset", HeaderValue::from_str(reset).unwrap());
        map.insert(
            "date",
            HeaderValue::from_static("Thu, 11 Sep 2025 16:21:50 GMT"),
        );
        map
    }

    #[test]
    fn decision_table() {
        let now = Timestamp::UNIX_EPOCH;
        let none = HeaderMap::new();
        assert_eq!(decide(200, &none, None, now), Decision::Accept);
        assert_eq!(
            decide(429, &limits("10", "0", "1757607758"), None, now),
            Decision::WaitForReset(Duration::from_secs(49))
        );
        assert_eq!(
            decide(429, &limits("0", "0", "1757607758"), None, now),
            Decision::ReduceConcurrency
        );
        assert_eq!(decide(429, &none, None, now), Decision::Backoff);
        assert_eq!(
            decide(500, &none, Some(1000), now),
            Decision::SmallerPage(500)
        );
        assert_eq!(
            decide(500, &none, Some(300), now),
            Decision::SmallerPage(200)
        );
        assert_eq!(decide(500, &none, Some(200), now), Decision::Backoff);
        assert_eq!(decide(503, &none, None, now), Decision::Backoff);
        for status in [400, 401, 403, 404] {
            assert_eq!(decide(status, &none, None, now), Decision::Fail);
        }
    }
}
