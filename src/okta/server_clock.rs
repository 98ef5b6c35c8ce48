//! Okta's clock, as its `Date` headers tell it, trusted only within a few minutes of ours.
//!
//! Cursors are taken from it: an incremental query asks for what changed after the cursor, by
//! Okta's own `lastUpdated`. A cursor too *early* only re-reads a few changes; a cursor too
//! *late* skips changes for good. Okta's clock is the right reference when this host's clock
//! lags, so its `Date` is believed when behind the local clock or ahead of it by at most
//! [`MAX_LEAD`]. A `Date` further ahead (a broken proxy, a hostile answer: 30 days ahead would
//! skip 30 days of changes) is not: the time is then the local clock plus that lead, and a
//! warning says so once.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// How far Okta's `Date` may run ahead of the local clock and still be believed.
pub const MAX_LEAD: SignedDuration = SignedDuration::from_mins(5);

/// The latest `Date` seen, shared by every request of a client.
#[derive(Debug, Default)]
pub struct ServerClock {
    /// Epoch seconds (0 = no answer yet).
    latest: AtomicI64,
    /// A `Date` too far ahead was already reported.
    warned: AtomicBool,
}

impl ServerClock {
    /// Notes the `Date` of an answer (answers arrive out of order: the latest wins).
    pub fn observe(&self, date: Timestamp) {
        self.latest.fetch_max(date.as_second(), Ordering::Relaxed);
    }

    /// Okta's time as of the latest answer, given the local time; `local` before any answer.
    pub fn now(&self, local: Timestamp) -> Timestamp {
        let seconds = self.latest.load(Ordering::Relaxed);
        let Some(server) = (seconds > 0)
            .then(|| Timestamp::from_second(seconds).ok())
            .flatten()
        else {
            return local;
        };
        let latest_believable = local.saturating_add(MAX_LEAD).unwrap_or(local);
        if server <= latest_believable {
            return server;
        }
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(okta_date = %server, local_time = %local,
                "Okta's Date header is far ahead of this host's clock; taking cursors from the local clock (plus 5 minutes) instead; check this host's clock and any proxy in between");
        }
        latest_believable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn okta_is_believed_behind_and_a_little_ahead_but_never_far_ahead() {
        let clock = ServerClock::default();
        let local = at("2026-01-02T03:00:00Z");
        assert_eq!(clock.now(local), local, "no answer yet");
        clock.observe(at("2026-01-01T00:00:00Z"));
        assert_eq!(
            clock.now(local),
            at("2026-01-01T00:00:00Z"),
            "behind: believed"
        );
        clock.observe(at("2026-01-02T03:04:00Z"));
        assert_eq!(
            clock.now(local),
            at("2026-01-02T03:04:00Z"),
            "4 min ahead: believed"
        );
        clock.observe(at("2026-02-01T03:00:00Z"));
        assert_eq!(
            clock.now(local),
            at("2026-01-02T03:05:00Z"),
            "30 days ahead: capped"
        );
        // The cap follows the local clock.
        let later = at("2026-01-20T00:00:00Z");
        assert_eq!(clock.now(later), at("2026-01-20T00:05:00Z"));
    }
}
