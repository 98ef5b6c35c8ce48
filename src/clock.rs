//! Time, injectable.
//!
//! Every wait in the connector (rate-limit pauses, retry backoff, the runtime's schedule) goes
//! through a [`Clock`], so tests can run hours of Okta rate-limit behaviour in milliseconds and
//! the benchmark can compress Okta's one-minute windows.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

/// A boxed future, so `Clock` stays object-safe.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Wall-clock time and sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> Timestamp;
    /// Waits for `duration` (or pretends to).
    fn sleep(&self, duration: Duration) -> Sleep<'_>;
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that runs `scale` times faster than real time, starting at `start`.
///
/// The benchmark pairs it with a fake Okta tenant running the same scale, so Okta's
/// per-minute windows last a second while every computation (waits derived from `Date` and
/// `X-Rate-Limit-Reset`) stays exactly what it would be against the real service.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    real_start: Instant,
    virtual_start: Timestamp,
    scale: f64,
}

impl ScaledClock {
    /// `scale` virtual seconds pass per real second (must be > 0).
    pub fn new(virtual_start: Timestamp, scale: f64) -> ScaledClock {
        assert!(scale > 0.0, "time scale must be positive");
        ScaledClock {
            real_start: Instant::now(),
            virtual_start,
            scale,
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        let elapsed = self.real_start.elapsed().as_secs_f64() * self.scale;
        let elapsed = SignedDuration::try_from_secs_f64(elapsed).unwrap_or(SignedDuration::ZERO);
        self.virtual_start
            .checked_add(elapsed)
            .unwrap_or(self.virtual_start)
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(duration.div_f64(self.scale)))
    }
}

/// A clock for tests: `sleep` returns at once, advances `now` and records the duration.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
    sleeps: Mutex<Vec<Duration>>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
            sleeps: Mutex::new(Vec::new()),
        }
    }

    /// Every duration `sleep` was asked for, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().expect("clock lock").clone()
    }

    /// Moves time forward without recording a sleep.
    pub fn advance(&self, duration: Duration) {
        let mut now = self.now.lock().expect("clock lock");
        *now = add(*now, duration);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().expect("clock lock")
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        self.sleeps.lock().expect("clock lock").push(duration);
        self.advance(duration);
        // Yield so that concurrent tasks interleave as they would with real sleeps.
        Box::pin(tokio::task::yield_now())
    }
}

fn add(at: Timestamp, duration: Duration) -> Timestamp {
    SignedDuration::try_from(duration)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(at)
}
