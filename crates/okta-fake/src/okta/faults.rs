//! Fault injection: a handle with interior mutability, shared with the running server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Bucket;

#[derive(Debug, Default)]
struct State {
    /// (absolute request number, status): fires on the first request numbered ≥ it.
    nth: Vec<(u64, u16)>,
    next: Vec<u16>,
    paths: Vec<(String, u16, Option<u32>)>,
    slow: Option<Duration>,
    truncate: u32,
    drop: u32,
    foreign: Option<String>,
    external: HashMap<Bucket, f64>,
}

/// What the server must do with one request.
#[derive(Debug, Default, Clone)]
pub(super) struct Decision {
    pub status: Option<u16>,
    pub drop: bool,
    pub truncate: bool,
}

/// Fault injection handle (see [`super::FakeOkta::faults`]). All methods take `&self`.
#[derive(Debug)]
pub struct Faults {
    state: Mutex<State>,
    /// Number of requests received so far (shared with the server).
    seen: Arc<AtomicU64>,
}

impl Faults {
    pub(super) fn new(seen: Arc<AtomicU64>) -> Faults {
        Faults {
            state: Mutex::new(State::default()),
            seen,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// The n-th request from now (1 = the next one) gets `status` with an Okta error body.
    /// If that request is refused earlier (401, 429…), the next one that is not gets it.
    pub fn fail_nth(&self, n: u64, status: u16) {
        let at = self.seen.load(Ordering::SeqCst) + n.max(1);
        self.with(|s| s.nth.push((at, status)));
    }

    /// The next `count` requests get `status`.
    pub fn fail_next(&self, count: u32, status: u16) {
        self.with(|s| {
            for _ in 0..count {
                s.next.push(status);
            }
        });
    }

    /// Requests whose path contains `pattern` get `status` (`times` = how many; `None` = always).
    /// A `pattern` with a `?` matches the path before it and the query after it
    /// (`/api/v1/logs?after=` fails the System Log's continuation links only).
    pub fn fail_path_contains(&self, pattern: &str, status: u16, times: Option<u32>) {
        if times != Some(0) {
            self.with(|s| s.paths.push((pattern.to_string(), status, times)));
        }
    }

    /// Every response is delayed by `delay` (real time). `Duration::ZERO` turns it off.
    pub fn slow(&self, delay: Duration) {
        self.with(|s| s.slow = (!delay.is_zero()).then_some(delay));
    }

    /// The next `count` successful responses have their body cut in the middle.
    pub fn truncate_next(&self, count: u32) {
        self.with(|s| s.truncate += count);
    }

    /// The next `count` requests get their connection closed without a response.
    pub fn drop_next(&self, count: u32) {
        self.with(|s| s.drop += count);
    }

    /// The next user-list page that has a `next` link points it at `origin` instead
    /// (e.g. `https://evil.example.com`).
    pub fn foreign_next_link(&self, origin: &str) {
        self.with(|s| s.foreign = Some(origin.trim_end_matches('/').to_string()));
    }

    /// Another client spends `fraction` of `bucket`'s limit, evenly over every window.
    /// Not counted in `Counters`; counted in `X-Rate-Limit-Remaining` and the 429 decision.
    pub fn external_consumer(&self, bucket: Bucket, fraction: f64) {
        self.with(|s| {
            if fraction > 0.0 {
                s.external.insert(bucket, fraction.min(1.0));
            } else {
                s.external.remove(&bucket);
            }
        });
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.with(|s| *s = State::default());
    }

    pub(super) fn external(&self, bucket: Bucket) -> f64 {
        self.with(|s| s.external.get(&bucket).copied().unwrap_or(0.0))
    }

    pub(super) fn delay(&self) -> Option<Duration> {
        self.with(|s| s.slow)
    }

    /// Decides the fault of request number `n` (already admitted: authenticated, in quota).
    pub(super) fn decide(&self, n: u64, path: &str, query: &str) -> Decision {
        self.with(|s| {
            let mut d = Decision::default();
            if s.drop > 0 {
                s.drop -= 1;
                d.drop = true;
                return d;
            }
            if let Some(pos) = s.nth.iter().position(|&(at, _)| n >= at) {
                d.status = Some(s.nth.remove(pos).1);
                return d;
            }
            if !s.next.is_empty() {
                d.status = Some(s.next.remove(0));
                return d;
            }
            let mut matched = None;
            for (i, (pattern, status, times)) in s.paths.iter_mut().enumerate() {
                let matches = match pattern.split_once('?') {
                    Some((in_path, in_query)) => path.contains(in_path) && query.contains(in_query),
                    None => path.contains(pattern.as_str()),
                };
                if matches {
                    d.status = Some(*status);
                    if let Some(t) = times {
                        *t -= 1;
                        if *t == 0 {
                            matched = Some(i);
                        }
                    }
                    break;
                }
            }
            if let Some(i) = matched {
                s.paths.remove(i);
            }
            if d.status.is_some() {
                return d;
            }
            if s.truncate > 0 {
                s.truncate -= 1;
                d.truncate = true;
            }
            d
        })
    }

    /// Takes the pending foreign origin (used once, on a users page that has a next link).
    pub(super) fn take_foreign(&self) -> Option<String> {
        self.with(|s| s.foreign.take())
    }
}
