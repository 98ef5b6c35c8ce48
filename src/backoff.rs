//! Exponential backoff with full jitter: the one retry-delay schedule of the project, shared
//! by the Okta client and the intake sender.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// How long to wait between attempts, and how many attempts to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Ceiling of the first delay.
    pub min_delay: Duration,
    /// Ceiling of any delay.
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retries: 6,
        }
    }
}

impl BackoffPolicy {
    /// The delays before retry 1, 2, ... `max_retries`.
    ///
    /// Each delay is drawn uniformly from `[0, envelope]` ("full jitter"), which spreads clients
    /// that failed together better than backon's additive jitter.
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        self.delays_from(fastrand::Rng::new())
    }

    /// [`BackoffPolicy::delays`] drawn from `rng` (seeded in tests).
    pub fn delays_from(&self, mut rng: fastrand::Rng) -> impl Iterator<Item = Duration> {
        self.envelopes()
            .map(move |envelope| full_jitter(envelope, &mut rng))
    }

    /// The ceilings of the delays: backon's exponential envelope, `min_delay × 2ⁿ`, capped at
    /// `max_delay`, `max_retries` of them.
    pub fn envelopes(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_retries)
            .build()
    }
}

fn full_jitter(envelope: Duration, rng: &mut fastrand::Rng) -> Duration {
    envelope.mul_f64(rng.f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BackoffPolicy {
        BackoffPolicy {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retries: 5,
        }
    }

    #[test]
    fn the_envelope_doubles_from_min_delay_up_to_max_delay_and_stops() {
        // backon computes in floating point: compare whole milliseconds.
        let envelopes: Vec<_> = policy().envelopes().map(|d| d.as_millis()).collect();
        assert_eq!(envelopes, [100, 200, 400, 800, 1000]);
        assert_eq!(policy().delays().count(), 5);
    }

    /// Many schedules from a seeded source: every delay lies in `[0, envelope]`, and the delays
    /// of each retry spread over the whole range (a jitter stuck at 0, or at the envelope, or
    /// at any one point, fails).
    #[test]
    fn delays_spread_over_the_whole_envelope() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let envelopes: Vec<_> = policy().envelopes().collect();
        let mut by_retry: Vec<Vec<f64>> = vec![Vec::new(); envelopes.len()];
        for _ in 0..2000 {
            let delays = policy().delays_from(rng.fork());
            for (n, (delay, envelope)) in delays.zip(&envelopes).enumerate() {
                assert!(delay <= *envelope, "{delay:?} > {envelope:?}");
                by_retry[n].push(delay.as_secs_f64() / envelope.as_secs_f64());
            }
        }
        for (n, fractions) in by_retry.iter().enumerate() {
            let lowest = fractions.iter().cloned().fold(f64::MAX, f64::min);
            let highest = fractions.iter().cloned().fold(0.0, f64::max);
            let mean = fractions.iter().sum::<f64>() / fractions.len() as f64;
            assert!(lowest < 0.05, "retry {n}: never near zero ({lowest})");
            assert!(
                highest > 0.95,
                "retry {n}: never near the envelope ({highest})"
            );
            assert!(
                (0.45..0.55).contains(&mean),
                "retry {n}: mean {mean}, not uniform"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let first: Vec<_> = policy().delays_from(fastrand::Rng::with_seed(7)).collect();
        let second: Vec<_> = policy().delays_from(fastrand::Rng::with_seed(7)).collect();
        assert_eq!(first, second);
        assert!(first.windows(2).any(|pair| pair[0] != pair[1]));
    }
}
