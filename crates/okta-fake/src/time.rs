//! Timestamp formatting the way Okta writes it, and the fake's virtual clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;

/// `2026-01-02T03:04:05.000Z` (milliseconds, `Z`), as in every Okta body.
pub fn okta(ts: Timestamp) -> String {
    let ms = ts.as_millisecond();
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// RFC 7231 `Date`: `Mon, 30 Mar 2026 07:55:48 GMT`.
pub fn http_date(ts: Timestamp) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ts.as_second();
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Howard Hinnant's algorithm: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).expect("timestamp in range")
}

/// The fake's clock: `start + real elapsed × scale + advanced`. Clones share the advance, so a
/// test can move a served fake's time forward with [`VirtualClock::advance`] (with a tiny scale,
/// time then moves only when told to).
#[derive(Debug, Clone)]
pub struct VirtualClock {
    start_ms: i64,
    started: Instant,
    scale: f64,
    advanced_ms: Arc<AtomicI64>,
}

impl VirtualClock {
    /// Starts at the real current time truncated to whole seconds.
    pub fn new(scale: f64) -> VirtualClock {
        let now = Timestamp::now().as_second() * 1000;
        VirtualClock {
            start_ms: now,
            started: Instant::now(),
            scale: if scale > 0.0 { scale } else { 1.0 },
            advanced_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Moves virtual time forward by `by`, for this clock and its clones.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.advanced_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Virtual milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.start_ms
            + (self.started.elapsed().as_secs_f64() * self.scale * 1000.0) as i64
            + self.advanced_ms.load(Ordering::SeqCst)
    }

    pub fn now(&self) -> Timestamp {
        from_ms(self.now_ms())
    }

    pub fn start(&self) -> Timestamp {
        from_ms(self.start_ms)
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }
}
