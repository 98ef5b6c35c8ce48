//! Per-bucket rate limiting: be fast, and a good citizen of the org's shared budget.
//!
//! Okta meters requests per endpoint family ("bucket") per minute and advertises each bucket's
//! state on every answer (`X-Rate-Limit-Limit`, `-Remaining`, `-Reset`). The budget is shared with
//! every other integration of the org, so we pace each bucket to at most `share` of its advertised
//! limit: requests are spaced `window / (share × limit)` apart, never more than `share × limit`
//! land in one Okta window, and when the bucket's remaining count (which includes other clients'
//! use) runs low we wait for the reset instead of collecting 429s.
//!
//! Waits are computed from Okta's own clock (`Reset − Date`), never from the local clock alone,
//! because the two can disagree by far more than a window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::HeaderMap;
use tokio::sync::Notify;

use super::stats::WaitMeters;
use crate::clock::SharedClock;

/// Okta's rate-limit families (not per path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// `GET /api/v1/users` (list and search).
    UsersList,
    /// `/api/v1/users/{id}` and its sub-resources (roles, factors, groups).
    UserById,
    /// `/api/v1/groups` and its sub-resources.
    Groups,
    /// `/api/v1/iam/*`.
    Iam,
    /// `/api/v1/logs`: the System Log, metered apart from the directory endpoints.
    Logs,
    /// The rest of `/api/v1`.
    Other,
}

impl Bucket {
    pub const ALL: [Bucket; 6] = [
        Bucket::UsersList,
        Bucket::UserById,
        Bucket::Groups,
        Bucket::Iam,
        Bucket::Logs,
        Bucket::Other,
    ];

    /// The bucket a request path is metered in.
    pub fn of_path(path: &str) -> Bucket {
        let path = path.trim_end_matches('/');
        if path == "/api/v1/users" {
            Bucket::UsersList
        } else if path.starts_with("/api/v1/users/") {
            Bucket::UserById
        } else if path == "/api/v1/groups" || path.starts_with("/api/v1/groups/") {
            Bucket::Groups
        } else if path.starts_with("/api/v1/iam/") {
            Bucket::Iam
        } else if path == "/api/v1/logs" {
            Bucket::Logs
        } else {
            Bucket::Other
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Bucket::UsersList => "users_list",
            Bucket::UserById => "user_by_id",
            Bucket::Groups => "groups",
            Bucket::Iam => "iam",
            Bucket::Logs => "logs",
            Bucket::Other => "other",
        }
    }
}

/// Okta's rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub limit: u64,
    pub remaining: u64,
    /// Epoch seconds (Okta's clock) when the window resets.
    pub reset: i64,
}

impl RateLimitHeaders {
    /// Reads the three headers. Okta sometimes repeats them (several policies apply): the
    /// smallest value of each is the one that binds.
    pub fn parse(headers: &HeaderMap) -> Option<RateLimitHeaders> {
        Some(RateLimitHeaders {
            limit: smallest(headers, "x-rate-limit-limit")?,
            remaining: smallest(headers, "x-rate-limit-remaining")?,
            reset: smallest(headers, "x-rate-limit-reset")?,
        })
    }

    /// Okta signals a concurrency violation (too many requests in flight) with a 429 whose
    /// limit and remaining are both zero.
    pub fn is_concurrency_violation(&self) -> bool {
        self.limit == 0 && self.remaining == 0
    }

    /// How long until the window resets, measured on Okta's clock, plus one second of margin;
    /// never more than [`MAX_RESET_WAIT`].
    pub fn wait_until_reset(
        &self,
        server_date: Option<Timestamp>,
        local_now: Timestamp,
    ) -> Duration {
        Duration::from_secs(self.seconds_until_reset(server_date, local_now)).min(MAX_RESET_WAIT)
    }

    /// The reset lies further ahead than any Okta window: a broken or hostile answer, whose
    /// wait [`RateLimitHeaders::wait_until_reset`] caps.
    pub fn reset_is_implausible(
        &self,
        server_date: Option<Timestamp>,
        local_now: Timestamp,
    ) -> bool {
        self.seconds_until_reset(server_date, local_now) > MAX_RESET_WAIT.as_secs()
    }

    fn seconds_until_reset(&self, server_date: Option<Timestamp>, local_now: Timestamp) -> u64 {
        let now = server_date.unwrap_or(local_now).as_second();
        let ahead = self.reset.saturating_sub(now).max(0) as u64;
        ahead.saturating_add(1)
    }
}

/// The longest wait for a window reset. Okta's windows are one minute long, so a reset is at
/// most 60 s (plus the one-second margin and a little clock rounding) ahead; a reset further
/// ahead (`X-Rate-Limit-Reset` 10⁹ s away) would otherwise stall a sync for ever.
pub const MAX_RESET_WAIT: Duration = Duration::from_secs(65);

fn smallest<T: std::str::FromStr + Ord>(headers: &HeaderMap, name: &str) -> Option<T> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| v.trim().parse::<T>().ok())
        .min()
}

/// The `Date` header: Okta's clock.
pub fn server_date(headers: &HeaderMap) -> Option<Timestamp> {
    let value = headers.get("date")?.to_str().ok()?;
    jiff::fmt::rfc2822::parse(value)
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// Okta's windows are one minute long for every bucket the connector uses.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);

/// How many spacings a request may run ahead of the paced schedule (see `try_reserve`).
const BURST_SLOTS: f64 = 3.0;

#[derive(Debug, Default)]
struct BucketState {
    /// Advertised limit of the current window (None until the first answer).
    limit: Option<u64>,
    /// Lowest remaining seen in the current window.
    remaining: Option<u64>,
    /// Reset of the current window, Okta's epoch seconds: identifies the window.
    reset: Option<i64>,
    /// When the window resets, on the local clock.
    reset_at: Option<Timestamp>,
    /// Our requests sent in the window identified by `reset`.
    sent_in_window: u64,
    /// When the paced schedule sends its next request (spacing; see `try_reserve`).
    next_slot: Option<Timestamp>,
    /// No request before this time (after a 429 or when the remaining budget is exhausted).
    paused_until: Option<Timestamp>,
    /// Requests sent but not answered yet.
    in_flight: u64,
}

/// Paces requests per bucket. Shared by every task of a client.
pub struct RateLimiter {
    share: f64,
    clock: SharedClock,
    buckets: Mutex<HashMap<Bucket, BucketState>>,
    /// How long requests were held back: overall and per bucket.
    waits: Mutex<WaitMeters>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("share", &self.share)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// `share` in (0, 1]: the fraction of each bucket's advertised limit we allow ourselves.
    pub fn new(share: f64, clock: SharedClock) -> RateLimiter {
        RateLimiter {
            share: share.clamp(0.01, 1.0),
            clock,
            buckets: Mutex::new(HashMap::new()),
            waits: Mutex::default(),
        }
    }

    /// Waits until a request to `bucket` may be sent, and reserves it. Every call must be
    /// followed by [`RateLimiter::record`] or [`RateLimiter::release`].
    pub async fn acquire(&self, bucket: Bucket) {
        loop {
            let wait = self.try_reserve(bucket);
            match wait {
                None => return,
                Some(wait) => {
                    self.note_wait(bucket, wait);
                    self.clock.sleep(wait).await
                }
            }
        }
    }

    /// Counts a wait of `wait` starting now (see [`WaitMeters`]).
    fn note_wait(&self, bucket: Bucket, wait: Duration) {
        let now = self.clock.now();
        let mut waits = self.waits.lock().expect("rate limiter waits lock");
        waits.add(bucket, now, wait);
    }

    /// Wall-clock time during which at least one request waited for a rate limit (pacing, or a
    /// window spent after a 429), since the limiter was made.
    pub fn waited(&self) -> Duration {
        self.waits.lock().expect("rate limiter waits lock").total()
    }

    /// [`RateLimiter::waited`] per bucket, for the buckets that waited at all.
    pub fn waited_by_bucket(&self) -> Vec<(Bucket, Duration)> {
        self.waits
            .lock()
            .expect("rate limiter waits lock")
            .by_bucket()
    }

    /// Reserves a slot now, or says how long to wait first.
    fn try_reserve(&self, bucket: Bucket) -> Option<Duration> {
        let now = self.clock.now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let state = buckets.entry(bucket).or_default();

        if let Some(until) = state.paused_until {
            if until > now {
                return Some(duration_between(now, until));
            }
            state.paused_until = None;
        }
        if let Some(reset_at) = state.reset_at {
            if reset_at <= now {
                // A new Okta window began: our own count starts again.
                state.sent_in_window = 0;
                state.remaining = None;
                state.reset_at = None;
            }
        }
        if let Some(limit) = state.limit {
            let budget = self.budget(limit);
            let others_left = state.remaining.map(|r| r.saturating_sub(state.in_flight));
            let window_spent =
                state.sent_in_window >= budget || others_left.is_some_and(|r| r <= 1);
            if window_spent {
                if let Some(reset_at) = state.reset_at {
                    let until = add(reset_at, Duration::from_secs(1));
                    state.paused_until = Some(until);
                    return Some(duration_between(now, until));
                }
            }
            // Spacing as a virtual schedule (GCRA): `next_slot` is when the paced sequence
            // would send next. A request may go up to `BURST_SLOTS` spacings ahead of it, so a
            // task that wakes a little late (timer granularity, a busy runtime) does not push
            // every later request back: the average rate stays `budget` per window instead
            // of drifting below it. The per-window count above still caps any burst.
            let spacing = WINDOW.div_f64(budget as f64);
            let slot = state.next_slot.map_or(now, |slot| slot.max(now));
            let earliest = sub(slot, spacing.mul_f64(BURST_SLOTS));
            if earliest > now {
                return Some(duration_between(now, earliest));
            }
            state.next_slot = Some(add(slot, spacing));
        }
        state.sent_in_window += 1;
        state.in_flight += 1;
        None
    }

    fn budget(&self, limit: u64) -> u64 {
        ((limit as f64 * self.share).floor() as u64).max(1)
    }

    /// Notes the rate-limit headers of an answer to a request reserved with `acquire`.
    pub fn record(&self, bucket: Bucket, headers: &HeaderMap) {
        let now = self.clock.now();
        let parsed = RateLimitHeaders::parse(headers);
        let date = server_date(headers);
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let state = buckets.entry(bucket).or_default();
        state.in_flight = state.in_flight.saturating_sub(1);
        let Some(parsed) = parsed else { return };
        if parsed.is_concurrency_violation() {
            return;
        }
        let reset_at = add(now, parsed.wait_until_reset(date, now));
        // `wait_until_reset` adds a second of margin; the window itself ends one second earlier.
        let reset_at = sub(reset_at, Duration::from_secs(1));
        if state.reset != Some(parsed.reset) {
            if parsed.reset_is_implausible(date, now) {
                tracing::warn!(bucket = bucket.name(), reset = parsed.reset, max_wait_s = MAX_RESET_WAIT.as_secs(),
                    "Okta announced a rate-limit reset further ahead than its one-minute windows; waiting at most the cap");
            }
            if state.reset.is_some_and(|known| parsed.reset < known) {
                // A late answer from the previous window: nothing to learn.
                return;
            }
            if state.reset.is_some() {
                // Okta's window turned before our local estimate of its end (its `Date` has
                // one-second resolution): what we counted belongs to the previous window. This
                // answer's request and those still in flight are the new window's so far.
                // Without this, a bucket used at its full share hit the old count right after
                // the turn and paused for the whole new window: half the budget lost.
                state.sent_in_window = state.in_flight + 1;
            }
            state.reset = Some(parsed.reset);
            state.remaining = Some(parsed.remaining);
        } else {
            state.remaining = Some(
                state
                    .remaining
                    .map_or(parsed.remaining, |r| r.min(parsed.remaining)),
            );
        }
        state.limit = Some(parsed.limit);
        state.reset_at = Some(reset_at);
    }

    /// Gives a reservation back without an answer (transport error).
    pub fn release(&self, bucket: Bucket) {
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let state = buckets.entry(bucket).or_default();
        state.in_flight = state.in_flight.saturating_sub(1);
    }

    /// After a quota 429: no request to this bucket before `wait` has passed.
    pub fn pause(&self, bucket: Bucket, wait: Duration) {
        self.note_wait(bucket, wait);
        let until = add(self.clock.now(), wait);
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let state = buckets.entry(bucket).or_default();
        state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
    }

    /// The last advertised state of a bucket: (limit, lowest remaining) of the current window.
    pub fn snapshot(&self, bucket: Bucket) -> Option<(u64, u64)> {
        let buckets = self.buckets.lock().expect("rate limiter lock");
        let state = buckets.get(&bucket)?;
        Some((state.limit?, state.remaining?))
    }
}

/// How many requests may be in flight at once, lowered when Okta reports a concurrency
/// violation and raised back slowly as answers succeed (additive increase, multiplicative
/// decrease).
#[derive(Debug)]
pub struct AdaptiveConcurrency {
    max: usize,
    state: Mutex<ConcurrencyState>,
    released: Notify,
}

#[derive(Debug)]
struct ConcurrencyState {
    limit: usize,
    in_flight: usize,
    successes_since_change: usize,
}

impl AdaptiveConcurrency {
    pub fn new(max: usize) -> AdaptiveConcurrency {
        let max = max.max(1);
        AdaptiveConcurrency {
            max,
            state: Mutex::new(ConcurrencyState {
                limit: max,
                in_flight: 0,
                successes_since_change: 0,
            }),
            released: Notify::new(),
        }
    }

    /// Waits for a free slot.
    pub async fn acquire(&self) -> ConcurrencyPermit<'_> {
        loop {
            let notified = self.released.notified();
            {
                let mut state = self.state.lock().expect("concurrency lock");
                if state.in_flight < state.limit {
                    state.in_flight += 1;
                    return ConcurrencyPermit { owner: self };
                }
            }
            notified.await;
        }
    }

    /// Halves the limit (at least 1).
    pub fn on_violation(&self) {
        let mut state = self.state.lock().expect("concurrency lock");
        state.limit = (state.limit / 2).max(1);
        state.successes_since_change = 0;
    }

    /// Counts a success; every `limit` successes raise the limit by one, up to the maximum.
    pub fn on_success(&self) {
        let mut state = self.state.lock().expect("concurrency lock");
        if state.limit >= self.max {
            return;
        }
        state.successes_since_change += 1;
        if state.successes_since_change >= state.limit {
            state.limit += 1;
            state.successes_since_change = 0;
        }
    }

    pub fn current_limit(&self) -> usize {
        self.state.lock().expect("concurrency lock").limit
    }

    fn release(&self) {
        self.state.lock().expect("concurrency lock").in_flight -= 1;
        self.released.notify_waiters();
    }
}

/// A held concurrency slot, given back on drop.
pub struct ConcurrencyPermit<'a> {
    owner: &'a AdaptiveConcurrency,
}

impl Drop for ConcurrencyPermit<'_> {
    fn drop(&mut self) {
        self.owner.release();
    }
}

fn add(at: Timestamp, duration: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(at)
}

fn sub(at: Timestamp, duration: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| at.checked_sub(d).ok())
        .unwrap_or(at)
}

fn duration_between(from: Timestamp, to: Timestamp) -> Duration {
    let span = to.duration_since(from);
    Duration::try_from(span).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn buckets_are_families_not_paths() {
        assert_eq!(Bucket::of_path("/api/v1/users"), Bucket::UsersList);
        assert_eq!(
            Bucket::of_path("/api/v1/users/00u1/factors"),
            Bucket::UserById
        );
        assert_eq!(Bucket::of_path("/api/v1/groups/00g1/users"), Bucket::Groups);
        assert_eq!(Bucket::of_path("/api/v1/groups"), Bucket::Groups);
        assert_eq!(Bucket::of_path("/api/v1/iam/assignees/users"), Bucket::Iam);
        assert_eq!(Bucket::of_path("/api/v1/logs"), Bucket::Logs);
        assert_eq!(Bucket::of_path("/api/v1/apps"), Bucket::Other);
    }

    #[test]
    fn duplicated_headers_take_the_smallest() {
        let map = headers(&[
            ("x-rate-limit-limit", "600"),
            ("x-rate-limit-limit", "50"),
            ("x-rate-limit-remaining", "49, 500"),
            ("x-rate-limit-reset", "1774857408"),
        ]);
        let parsed = RateLimitHeaders::parse(&map).unwrap();
        assert_eq!(
            (parsed.limit, parsed.remaining, parsed.reset),
            (50, 49, 1774857408)
        );
    }

    #[test]
    fn wait_uses_the_server_clock_plus_one_second() {
        let parsed = RateLimitHeaders {
            limit: 10,
            remaining: 0,
            reset: 1757607758,
        };
        let map = headers(&[("date", "Thu, 11 Sep 2025 16:21:50 GMT")]);
        let date = server_date(&map).unwrap();
        assert_eq!(date.as_second(), 1757607710);
        // A local clock far off must not matter.
        let local = Timestamp::from_second(1).unwrap();
        assert_eq!(
            parsed.wait_until_reset(Some(date), local),
            Duration::from_secs(49)
        );
        assert!(!parsed.reset_is_implausible(Some(date), local));
    }

    #[test]
    fn a_reset_far_ahead_is_capped_at_the_window() {
        let date: Timestamp = "2025-09-11T16:21:50Z".parse().unwrap();
        for reset in [date.as_second() + 1_000_000_000, i64::MAX] {
            let parsed = RateLimitHeaders {
                limit: 10,
                remaining: 0,
                reset,
            };
            assert_eq!(parsed.wait_until_reset(Some(date), date), MAX_RESET_WAIT);
            assert!(parsed.reset_is_implausible(Some(date), date));
        }
    }
}

#[cfg(test)]
mod waits {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    #[test]
    fn parallel_waits_count_once_and_per_bucket() {
        let start = Timestamp::from_second(1_700_000_000).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let limiter = RateLimiter::new(0.5, clock.clone());
        // Two requests held back over the same two seconds, then one more second later on.
        limiter.note_wait(Bucket::UserById, Duration::from_secs(2));
        limiter.note_wait(Bucket::UsersList, Duration::from_secs(2));
        clock.advance(Duration::from_secs(1));
        limiter.note_wait(Bucket::UserById, Duration::from_secs(2));
        clock.advance(Duration::from_secs(10));
        limiter.pause(Bucket::Groups, Duration::from_secs(1));
        assert_eq!(limiter.waited(), Duration::from_secs(4));
        assert_eq!(
            limiter.waited_by_bucket(),
            vec![
                (Bucket::UsersList, Duration::from_secs(2)),
                (Bucket::UserById, Duration::from_secs(3)),
                (Bucket::Groups, Duration::from_secs(1)),
            ]
        );
    }

    /// Pacing alone (no 429 at all) is counted: the limiter's own sleeps are rate-limit waits.
    #[tokio::test]
    async fn pacing_sleeps_are_counted() {
        let clock = Arc::new(ManualClock::new(
            Timestamp::from_second(1_700_000_000).unwrap(),
        ));
        let limiter = RateLimiter::new(0.5, clock.clone());
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-limit", "120".parse().unwrap());
        headers.insert("x-rate-limit-remaining", "119".parse().unwrap());
        headers.insert("x-rate-limit-reset", "1700000060".parse().unwrap());
        for _ in 0..20 {
            limiter.acquire(Bucket::UsersList).await;
            limiter.record(Bucket::UsersList, &headers);
        }
        // 60 requests a minute allowed: 20 requests take about 16 s beyond the burst.
        let waited = limiter.waited();
        assert!(waited >= Duration::from_secs(15), "{waited:?}");
        assert_eq!(waited, clock.sleeps().iter().sum::<Duration>());
    }
}

#[cfg(test)]
mod pacing_over_windows {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use reqwest::header::HeaderValue;
    use std::sync::Arc;

    /// A bucket used flat out keeps its full share in every window, across window turns seen
    /// through Okta's one-second `Date` (regression: every other window was lost).
    #[tokio::test]
    async fn a_busy_bucket_gets_its_share_in_every_window() {
        let clock = Arc::new(ManualClock::new(
            Timestamp::from_second(1_700_000_030).unwrap(),
        ));
        let limiter = RateLimiter::new(0.5, clock.clone());
        let mut per_window: std::collections::BTreeMap<i64, u64> = Default::default();
        for _ in 0..3000 {
            limiter.acquire(Bucket::Groups).await;
            let now = clock.now();
            let window = now.as_second().div_euclid(60);
            let used = per_window.entry(window).or_insert(0);
            *used += 1;
            let mut headers = HeaderMap::new();
            let mut set = |name: &'static str, value: String| {
                headers.insert(name, HeaderValue::from_str(&value).unwrap());
            };
            set("x-rate-limit-limit", "1200".into());
            set("x-rate-limit-remaining", (1200 - *used).to_string());
            set("x-rate-limit-reset", ((window + 1) * 60).to_string());
            set(
                "date",
                jiff::fmt::rfc2822::to_string(&now.to_zoned(jiff::tz::TimeZone::UTC)).unwrap(),
            );
            limiter.record(Bucket::Groups, &headers);
        }
        let counts: Vec<u64> = per_window.values().copied().collect();
        // The first (partial) and last windows aside, each gets 97 % or more of 600, never more.
        for &n in &counts[1..counts.len() - 1] {
            assert!((582..=600).contains(&n), "{counts:?}");
        }
    }
}
