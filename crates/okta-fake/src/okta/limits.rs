//! Fixed-window, per-bucket rate limits on the virtual clock.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Bucket, FakeOptions};

/// The limit advertised when rate limiting is off.
pub const UNLIMITED: u32 = 1_000_000;

pub(super) struct Limiter {
    limits: HashMap<Bucket, u32>,
    default: Option<u32>,
    window_ms: i64,
    /// bucket → (window index, requests admitted in it)
    used: Mutex<HashMap<Bucket, (i64, u32)>>,
}

/// The headers of one answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Verdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
}

impl Limiter {
    pub fn new(options: &FakeOptions) -> Limiter {
        Limiter {
            limits: options.rate_limits.clone(),
            default: options.rate_limit,
            window_ms: options.window_secs.max(1) as i64 * 1000,
            used: Mutex::new(HashMap::new()),
        }
    }

    fn limit(&self, bucket: Bucket) -> Option<u32> {
        self.limits.get(&bucket).copied().or(self.default)
    }

    /// End of the window containing `now_ms`, in epoch seconds.
    pub fn reset_at(&self, now_ms: i64) -> i64 {
        (now_ms.div_euclid(self.window_ms) + 1) * self.window_ms / 1000
    }

    /// Admits (and counts) one request of `bucket` at virtual time `now_ms`, with another
    /// client eating `external` of the limit evenly over the window.
    pub fn admit(&self, bucket: Bucket, now_ms: i64, external: f64) -> Verdict {
        let Some(limit) = self.limit(bucket) else {
            return Verdict {
                allowed: true,
                limit: UNLIMITED,
                remaining: UNLIMITED - 1,
            };
        };
        let window = now_ms.div_euclid(self.window_ms);
        let into = now_ms.rem_euclid(self.window_ms) as f64 / self.window_ms as f64;
        let eaten = (external * limit as f64 * into).floor() as u32;
        let mut used = self.used.lock().unwrap();
        let entry = used.entry(bucket).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1.saturating_add(eaten) >= limit {
            return Verdict {
                allowed: false,
                limit,
                remaining: 0,
            };
        }
        entry.1 += 1;
        Verdict {
            allowed: true,
            limit,
            remaining: limit.saturating_sub(entry.1 + eaten),
        }
    }
}
