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
    /// backon gives the exponential envelope (`min_delay × 2ⁿ`, capped); each delay is then drawn
    /// uniformly from `[0, envelope]` ("full jitter"), which spreads clients that failed together
    /// better than backon's additive jitter.
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_retries)
            .build()
            .map(full_jitter)
    }
}

fn full_jitter(envelope: Duration) -> Duration {
    envelope.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_an_exponential_envelope_and_stop() {
        let policy = BackoffPolicy {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retries: 5,
        };
        let delays: Vec<_> = policy.delays().collect();
        assert_eq!(delays.len(), 5);
        let envelopes = [100, 200, 400, 800, 1000];
        for (delay, ceiling) in delays.iter().zip(envelopes) {
            assert!(
                *delay <= Duration::from_millis(ceiling),
                "{delay:?} > {ceiling}ms"
            );
        }
    }
}
