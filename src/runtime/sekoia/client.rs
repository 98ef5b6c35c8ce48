//! Requests to the Sekoia.io platform (secrets, logs, the callback): `Authorization: Bearer
//! <token>` (a header marked sensitive), JSON bodies, through the shared transport (no redirect
//! followed, timeouts, bounded answers) and the one retry loop.
//!
//! As the SDK does, a request is tried up to ten times with exponential backoff (at most 10 s
//! between attempts) on no answer, 408, 429 and 5xx; any other 4xx is final. Answer bodies are
//! never quoted in errors or logs: the secrets endpoint's answer is the secrets.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, DATE, RETRY_AFTER};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::PlatformError;
use crate::backoff::BackoffPolicy;
use crate::clock::SharedClock;
use crate::http::retry::{self, GaveUp, RetryAction, RetryLogic, RetryPolicy};
use crate::http::{shown_url, Answer, BodyLimit, Transport, TransportError, TransportSettings};
use crate::intake::retry::retry_after;

/// The SDK's schedule: ten attempts, waits growing from 1 s to at most 10 s.
pub const PLATFORM_BACKOFF: BackoffPolicy = BackoffPolicy {
    min_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(10),
    max_retries: 9,
};
/// The SDK's timeout of each request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read (a secrets document, a callback answer).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// A client of the platform's endpoints. Cheap to clone.
#[derive(Clone)]
pub struct PlatformClient {
    transport: Transport,
    authorization: HeaderValue,
    policy: RetryPolicy,
    clock: SharedClock,
}

impl std::fmt::Debug for PlatformClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformClient")
            .field("authorization", &"[REDACTED]")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl PlatformClient {
    pub fn new(
        token: &SecretString,
        clock: SharedClock,
        backoff: BackoffPolicy,
    ) -> Result<PlatformClient, PlatformError> {
        let setting = |reason: &str| PlatformError::Setting {
            name: super::TOKEN,
            reason: reason.to_string(),
        };
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", token.expose_secret().trim()))
                .map_err(|_| setting("contains characters not allowed in an HTTP header"))?;
        authorization.set_sensitive(true);
        let transport = Transport::new(TransportSettings {
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            https_only: false,
        })
        .map_err(|e| setting(&format!("cannot build the HTTP client: {e}")))?;
        Ok(PlatformClient {
            transport,
            authorization,
            policy: RetryPolicy {
                backoff,
                max_waits: 0,
            },
            clock,
        })
    }

    /// GET `url`, its answer as JSON.
    pub async fn get_json(&self, what: &'static str, url: &Url) -> Result<Value, PlatformError> {
        let answer = self.send(what, Method::GET, url, None, true).await?;
        parse(what, &answer)
    }

    /// PATCH `url` with `body`, its answer as JSON (`null` when empty).
    pub async fn patch_json(
        &self,
        what: &'static str,
        url: &Url,
        body: &Value,
    ) -> Result<Value, PlatformError> {
        let answer = self
            .send(what, Method::PATCH, url, Some(body), true)
            .await?;
        if answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        parse(what, &answer)
    }

    /// POST `body` to `url`. `log_retries: false` for the logs themselves, whose retries must
    /// not become more logs to send.
    pub async fn post_json(
        &self,
        what: &'static str,
        url: &Url,
        body: &Value,
        log_retries: bool,
    ) -> Result<(), PlatformError> {
        self.send(what, Method::POST, url, Some(body), log_retries)
            .await
            .map(drop)
    }

    async fn send(
        &self,
        what: &'static str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        log_retries: bool,
    ) -> Result<Answer, PlatformError> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        let mut call = Call {
            client: self,
            what,
            method,
            url,
            log_retries,
        };
        let sent = retry::run(&self.policy, self.clock.as_ref(), &mut call, body).await;
        let shown = shown_url(url);
        match sent.result {
            Ok(answer) => Ok(answer),
            Err(GaveUp::Failed(Failure::Refused(status))) => Err(PlatformError::Refused {
                what,
                url: shown,
                status,
            }),
            Err(GaveUp::Failed(failure)) | Err(GaveUp::Exhausted { last: failure, .. }) => {
                Err(PlatformError::Unavailable {
                    what,
                    url: shown,
                    attempts: sent.counts.attempts,
                    reason: failure.to_string(),
                })
            }
        }
    }
}

fn parse(what: &'static str, answer: &Answer) -> Result<Value, PlatformError> {
    serde_json::from_slice(&answer.body).map_err(|_| PlatformError::Answer {
        what,
        reason: format!("HTTP {} with a body that is not JSON", answer.status),
    })
}

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("HTTP {0}")]
    Status(u16),
    #[error("HTTP {0}")]
    Refused(u16),
    #[error("{0}")]
    Transport(TransportError),
}

struct Call<'a> {
    client: &'a PlatformClient,
    what: &'static str,
    method: Method,
    url: &'a Url,
    log_retries: bool,
}

impl RetryLogic for Call<'_> {
    type Request = Option<Bytes>;
    type Answer = Answer;
    type Output = Answer;
    type Error = Failure;

    async fn send(&mut self, body: &Option<Bytes>, _attempt: u32) -> Result<Answer, Failure> {
        let client = self.client;
        let mut request = client
            .transport
            .request(self.method.clone(), self.url.clone())
            .header(AUTHORIZATION, client.authorization.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let incoming = client
            .transport
            .send(request)
            .await
            .map_err(Failure::Transport)?;
        incoming
            .read(BodyLimit::Whole(MAX_ANSWER_BYTES))
            .await
            .map_err(Failure::Transport)
    }

    fn classify(
        &mut self,
        _body: &mut Option<Bytes>,
        outcome: Result<Answer, Failure>,
    ) -> RetryAction<Answer, Failure> {
        let answer = match outcome {
            Ok(answer) => answer,
            Err(Failure::Transport(error)) if error.is_transient() => {
                return RetryAction::Backoff {
                    error: Failure::Transport(error),
                    asked: None,
                }
            }
            Err(error) => return RetryAction::Fail(error),
        };
        match answer.status {
            200..=299 => RetryAction::Accept(answer),
            408 | 429 | 500..=599 => RetryAction::Backoff {
                asked: asked_wait(&answer, self.client.clock.now()),
                error: Failure::Status(answer.status),
            },
            status => RetryAction::Fail(Failure::Refused(status)),
        }
    }

    fn on_backoff(&mut self, attempt: u32, wait: Duration, _asked: bool, error: &Failure) {
        if self.log_retries {
            tracing::warn!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                url = %shown_url(self.url),
                "Sekoia.io platform request ({}) failed: {error}; retrying",
                self.what
            );
        }
    }
}

/// A `Retry-After` the platform asked for, capped by the backoff's longest wait.
fn asked_wait(answer: &Answer, now: jiff::Timestamp) -> Option<Duration> {
    let value = answer.headers.get(RETRY_AFTER)?.to_str().ok()?;
    let date = answer.headers.get(DATE).and_then(|d| d.to_str().ok());
    retry_after(value, date, now).map(|wait| wait.min(PLATFORM_BACKOFF.max_delay))
}
