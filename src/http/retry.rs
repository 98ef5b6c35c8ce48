//! The one retry loop, driven by a [`RetryLogic`] (in the manner of vector's sink retries): the
//! logic knows how to send one attempt and what its outcome means; the loop owns the attempt
//! count, the backoff schedule, the waiting (through the injectable [`Clock`], so tests take no
//! time) and the counts a caller reports.
//!
//! Okta's GETs, Okta's token endpoint and the intake each bring their own logic (their decision
//! tables differ); none of them loops, sleeps or counts by itself.

use std::future::Future;
use std::time::Duration;

use crate::backoff::BackoffPolicy;
use crate::clock::Clock;

/// Retries "with a modified request" allowed per request. Each logic shrinks what it modifies
/// (a page halves down to a floor, a credential is renewed once), so this only guarantees that
/// a logic mistake cannot loop for ever.
const MAX_MODIFIED_RETRIES: u32 = 8;

/// What the outcome of one attempt calls for.
#[derive(Debug)]
pub enum RetryAction<T, E> {
    /// Done: this is the result.
    Accept(T),
    /// Retrying cannot help.
    Fail(E),
    /// A transient failure: wait the next delay of the backoff schedule, or what the server
    /// asked for (`Retry-After`) in its place, and try again. Counts against the schedule's
    /// retries either way.
    Backoff { error: E, asked: Option<Duration> },
    /// The server said when capacity comes back (a rate-limit window's reset): wait exactly
    /// `wait` (bounded by the logic) and try again. Counts against [`RetryPolicy::max_waits`],
    /// not against the backoff schedule: a rate limit is not a fault.
    Wait { wait: Duration, error: E },
    /// The logic changed the request (a smaller page, a renewed credential, a new nonce): try
    /// again at once.
    Modified(E),
}

/// How to send one attempt of a request, and what to make of its outcome.
pub trait RetryLogic {
    /// What the loop hands to each attempt; [`RetryLogic::classify`] may modify it.
    type Request;
    /// What one attempt returns when it gets an answer.
    type Answer;
    /// The result of the whole request.
    type Output;
    type Error;

    /// Sends attempt number `attempt` (1 for the first).
    fn send(
        &mut self,
        request: &Self::Request,
        attempt: u32,
    ) -> impl Future<Output = Result<Self::Answer, Self::Error>> + Send;

    /// Judges an attempt's outcome.
    fn classify(
        &mut self,
        request: &mut Self::Request,
        outcome: Result<Self::Answer, Self::Error>,
    ) -> RetryAction<Self::Output, Self::Error>;

    /// Told before the loop sleeps `delay` for a [`RetryAction::Backoff`] (`asked`: the delay is
    /// the server's), so the logic can log in its own words.
    fn on_backoff(&mut self, _attempt: u32, _delay: Duration, _asked: bool, _error: &Self::Error) {}
}

/// How long a request may keep trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delays between attempts after transient failures, and how many.
    pub backoff: BackoffPolicy,
    /// How many explicit waits (rate-limit resets) one request may sit through.
    pub max_waits: u32,
}

/// What one request took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryCounts {
    /// Attempts sent (the first one included).
    pub attempts: u32,
    /// Attempts after the first, whatever the reason.
    pub retries: u32,
    /// Explicit waits ([`RetryAction::Wait`]) sat through, and their total.
    pub waits: u32,
    pub waited: Duration,
}

/// Why the loop stopped without a result.
#[derive(Debug, PartialEq, Eq)]
pub enum GaveUp<E> {
    /// The logic judged an outcome final ([`RetryAction::Fail`]).
    Failed(E),
    /// The backoff schedule, the waits or the modifications ran out; `last` is the last failure.
    Exhausted { attempts: u32, last: E },
}

/// The result of a request and what it took.
#[derive(Debug)]
pub struct Retried<T, E> {
    pub result: Result<T, GaveUp<E>>,
    pub counts: RetryCounts,
}

/// Sends `request` until `logic` accepts or fails an outcome, or the policy runs out.
pub async fn run<L: RetryLogic>(
    policy: &RetryPolicy,
    clock: &dyn Clock,
    logic: &mut L,
    mut request: L::Request,
) -> Retried<L::Output, L::Error> {
    let mut delays = policy.backoff.delays();
    let mut counts = RetryCounts::default();
    let mut modified = 0u32;
    loop {
        counts.attempts += 1;
        let outcome = logic.send(&request, counts.attempts).await;
        let exhausted = |last| Retried {
            result: Err(GaveUp::Exhausted {
                attempts: counts.attempts,
                last,
            }),
            counts,
        };
        let pause = match logic.classify(&mut request, outcome) {
            RetryAction::Accept(output) => {
                return Retried {
                    result: Ok(output),
                    counts,
                }
            }
            RetryAction::Fail(error) => {
                return Retried {
                    result: Err(GaveUp::Failed(error)),
                    counts,
                }
            }
            RetryAction::Backoff { error, asked } => {
                let Some(delay) = delays.next() else {
                    return exhausted(error);
                };
                let delay = asked.unwrap_or(delay);
                logic.on_backoff(counts.attempts, delay, asked.is_some(), &error);
                Some(delay)
            }
            RetryAction::Wait { wait, error } => {
                if counts.waits >= policy.max_waits {
                    return exhausted(error);
                }
                counts.waits += 1;
                counts.waited += wait;
                Some(wait)
            }
            RetryAction::Modified(error) => {
                if modified >= MAX_MODIFIED_RETRIES {
                    return exhausted(error);
                }
                modified += 1;
                None
            }
        };
        counts.retries += 1;
        if let Some(pause) = pause {
            clock.sleep(pause).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::collections::VecDeque;

    /// Replays scripted actions; the request is a number the `Modified` action increments.
    struct Script {
        actions: VecDeque<Action>,
        sent: Vec<(u32, u32)>,
        backoffs: Vec<(u32, Duration, bool)>,
    }

    impl Script {
        fn new(actions: Vec<Action>) -> Script {
            Script {
                actions: actions.into(),
                sent: Vec::new(),
                backoffs: Vec::new(),
            }
        }
    }

    impl RetryLogic for Script {
        type Request = u32;
        type Answer = ();
        type Output = &'static str;
        type Error = &'static str;

        async fn send(&mut self, request: &u32, attempt: u32) -> Result<(), &'static str> {
            self.sent.push((attempt, *request));
            Ok(())
        }

        fn classify(
            &mut self,
            request: &mut u32,
            _outcome: Result<(), &'static str>,
        ) -> RetryAction<&'static str, &'static str> {
            let action = self.actions.pop_front().expect("a scripted action");
            if let RetryAction::Modified(_) = action {
                *request += 1;
            }
            action
        }

        fn on_backoff(&mut self, attempt: u32, delay: Duration, asked: bool, _: &&'static str) {
            self.backoffs.push((attempt, delay, asked));
        }
    }

    fn policy(max_retries: usize, max_waits: u32) -> RetryPolicy {
        RetryPolicy {
            backoff: BackoffPolicy {
                min_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(1),
                max_retries,
            },
            max_waits,
        }
    }

    fn clock() -> ManualClock {
        ManualClock::new("2026-01-02T03:04:05Z".parse().unwrap())
    }

    type Action = RetryAction<&'static str, &'static str>;

    fn times(n: usize, action: impl Fn() -> Action) -> Vec<Action> {
        (0..n).map(|_| action()).collect()
    }

    fn gave_up(attempts: u32, last: &'static str) -> Result<&'static str, GaveUp<&'static str>> {
        Err(GaveUp::Exhausted { attempts, last })
    }

    #[tokio::test]
    async fn every_kind_of_retry_is_counted_and_waits_go_through_the_clock() {
        use RetryAction::*;
        let mut logic = Script::new(vec![
            Backoff {
                error: "503",
                asked: None,
            },
            Backoff {
                error: "429",
                asked: Some(Duration::from_secs(7)),
            },
            Wait {
                wait: Duration::from_secs(50),
                error: "quota",
            },
            Modified("smaller page"),
            Accept("page"),
        ]);
        let clock = clock();
        let done = run(&policy(5, 3), &clock, &mut logic, 0).await;
        assert_eq!(done.result, Ok("page"));
        assert_eq!(
            done.counts,
            RetryCounts {
                attempts: 5,
                retries: 4,
                waits: 1,
                waited: Duration::from_secs(50),
            }
        );
        // The modified request is what the next attempt sends.
        assert_eq!(logic.sent, [(1, 0), (2, 0), (3, 0), (4, 0), (5, 1)]);
        let sleeps = clock.sleeps();
        assert_eq!(sleeps.len(), 3, "a modified request is retried at once");
        assert!(sleeps[0] <= Duration::from_millis(100), "{sleeps:?}");
        assert_eq!(
            sleeps[1..],
            [Duration::from_secs(7), Duration::from_secs(50)]
        );
        assert_eq!(logic.backoffs.len(), 2);
        assert_eq!(logic.backoffs[1], (2, Duration::from_secs(7), true));
    }

    #[tokio::test]
    async fn a_failure_stops_at_once() {
        let mut logic = Script::new(vec![RetryAction::Fail("401")]);
        let clock = clock();
        let done = run(&policy(5, 3), &clock, &mut logic, 0).await;
        assert_eq!(done.result, Err(GaveUp::Failed("401")));
        assert_eq!(done.counts.attempts, 1);
        assert!(clock.sleeps().is_empty());
    }

    #[tokio::test]
    async fn backoff_runs_out_after_max_retries_plus_one_attempts() {
        let backoff = || RetryAction::Backoff {
            error: "503",
            asked: None,
        };
        let mut logic = Script::new(times(10, backoff));
        let clock = clock();
        let done = run(&policy(2, 3), &clock, &mut logic, 0).await;
        assert_eq!(done.result, gave_up(3, "503"));
        assert_eq!(clock.sleeps().len(), 2);
    }

    #[tokio::test]
    async fn waits_have_their_own_budget() {
        let wait = || RetryAction::Wait {
            wait: Duration::from_secs(60),
            error: "quota",
        };
        let mut logic = Script::new(times(4, wait));
        let clock = clock();
        // No backoff retries at all: waits are not counted against them.
        let done = run(&policy(0, 3), &clock, &mut logic, 0).await;
        assert_eq!(done.result, gave_up(4, "quota"));
        assert_eq!(clock.sleeps(), [Duration::from_secs(60); 3]);
    }

    #[tokio::test]
    async fn modifications_are_bounded() {
        let mut logic = Script::new(times(20, || RetryAction::Modified("again")));
        let done = run(&policy(0, 0), &clock(), &mut logic, 0).await;
        assert_eq!(done.result, gave_up(MAX_MODIFIED_RETRIES + 1, "again"));
    }
}
