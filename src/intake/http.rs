//! The HTTP sender: POSTs a batch body through the shared transport and retry loop, and splits
//! a batch the intake refuses as too large (413).

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, DATE, RETRY_AFTER,
    USER_AGENT as USER_AGENT_HEADER,
};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::batcher::Batch;
use super::envelope::Format;
use super::error::{quote_body, IntakeError};
use super::retry::{decide, retry_after, Decision};
use super::{Delivered, IntakeSettings};
use crate::clock::SharedClock;
use crate::http::retry::{self, GaveUp, RetryAction, RetryLogic, RetryPolicy};
use crate::http::{
    is_unknown_host, shown_url, Answer, BodyLimit, Transport, TransportError, TransportSettings,
};

pub use crate::http::USER_AGENT;

/// How much of a response body is read (for error messages); the rest is ignored.
const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// Delivers batches to the intake over HTTP(S). Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct HttpIntake {
    transport: Transport,
    url: Url,
    /// `url` without query or credentials, for messages.
    shown_url: String,
    api_key: SecretString,
    /// `Bearer <key>`, marked sensitive (hyper and reqwest then never print it).
    authorization: HeaderValue,
    /// Replaces the transport's `User-Agent` when set (boxed: rarely set, and it keeps the
    /// sink's variants of similar sizes).
    user_agent: Option<Box<HeaderValue>>,
    format: Format,
    gzip: bool,
    timeout: Duration,
    policy: RetryPolicy,
    clock: SharedClock,
    /// Makes an event the intake refused alone as too large smaller, if it can.
    shrink: Option<Shrink>,
    /// Retries of every request so far, whatever became of the batch: a batch that finally
    /// failed took retries too, and the run summary must count them.
    retries: Arc<AtomicU64>,
}

/// Makes one serialised event smaller (`None` when it cannot): see
/// [`HttpIntake::shrink_oversized_with`].
pub type Shrink = fn(&[u8]) -> Option<Vec<u8>>;

impl std::fmt::Debug for HttpIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpIntake")
            .field("url", &self.shown_url)
            .field("api_key", &"[REDACTED]")
            .field("format", &self.format)
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .field("backoff", &self.policy.backoff)
            .finish_non_exhaustive()
    }
}

/// The result of one body, retries done.
enum Outcome {
    Acknowledged,
    /// 413 for a body of this many bytes.
    TooLarge(usize),
}

/// Why one attempt did not deliver.
#[derive(Debug)]
enum Failure {
    /// Worth another attempt (408, 429, 5xx, no answer): the status, and what to say.
    Transient {
        status: Option<u16>,
        message: String,
    },
    /// Retrying cannot help.
    Final(IntakeError),
}

impl HttpIntake {
    /// Builds the sender over its own transport (no redirects: the key must not follow one to
    /// another origin; `timeout` per request).
    pub fn new(settings: IntakeSettings, clock: SharedClock) -> Result<HttpIntake, IntakeError> {
        let key = settings.api_key.expose_secret().trim();
        if key.is_empty() {
            return Err(IntakeError::Build(
                "the intake API key is empty (set sekoia_api_key / INTAKE_API_KEY)".into(),
            ));
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            IntakeError::Build(
                "the intake API key contains characters not allowed in an HTTP header (check sekoia_api_key / INTAKE_API_KEY for stray quotes or line breaks)".into(),
            )
        })?;
        authorization.set_sensitive(true);
        let api_key = SecretString::from(key.to_owned());
        let transport = Transport::new(TransportSettings::for_destination(
            &settings.url,
            settings.timeout.min(Duration::from_secs(10)),
            settings.timeout,
        ))
        .map_err(|e| IntakeError::Build(e.to_string()))?;
        Ok(HttpIntake {
            transport,
            shown_url: shown_url(&settings.url),
            url: settings.url,
            api_key,
            authorization,
            user_agent: settings
                .user_agent
                .as_deref()
                .and_then(|agent| HeaderValue::from_str(agent).ok())
                .map(Box::new),
            format: settings.format,
            gzip: settings.gzip,
            timeout: settings.timeout,
            // A `Retry-After` takes the place of a backoff delay: it is bounded by the schedule's
            // retries, and there is no other kind of wait.
            policy: RetryPolicy {
                backoff: settings.backoff,
                max_waits: 0,
            },
            clock,
            shrink: None,
            retries: Arc::default(),
        })
    }

    /// An event the intake refuses alone as too large (413) is sent again as `shrink` makes it,
    /// until the intake takes it or `shrink` has nothing left to remove; each one is logged and
    /// counted in [`Delivered::shrunk`]. Without this, such an event fails the delivery with
    /// [`IntakeError::TooLarge`], every time.
    pub fn shrink_oversized_with(mut self, shrink: Shrink) -> HttpIntake {
        self.shrink = Some(shrink);
        self
    }

    /// Retries made so far by this sender and its clones (every batch, delivered or not).
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The intake URL as shown in messages (no query, no credentials).
    pub fn url(&self) -> &str {
        &self.shown_url
    }

    /// Delivers the whole batch: returns `Ok` only when every item was acknowledged with a 2xx.
    ///
    /// 408/429/5xx and network errors are retried with the backoff policy (a `Retry-After` wins
    /// over the computed delay); a 413 splits the batch in halves, delivered in order, down to
    /// single events. A single event refused with 413 does not stop the others: they are
    /// delivered, then [`IntakeError::TooLarge`] reports it. Any other error stops at once.
    pub async fn deliver(&self, batch: Batch) -> Result<Delivered, IntakeError> {
        let mut done = Delivered::default();
        let mut too_large: Option<(usize, Option<String>)> = None;
        // A stack of batches still to send; the first half is on top, so order is kept. The
        // flag marks a single event already made smaller.
        let mut pending = vec![(batch, false)];
        while let Some((batch, shrunk)) = pending.pop() {
            if batch.is_empty() {
                continue;
            }
            let body = self.encode(&batch)?;
            match self.send(body, &mut done).await? {
                Outcome::Acknowledged => {
                    done.items += batch.len();
                    done.shrunk += u32::from(shrunk);
                }
                Outcome::TooLarge(bytes) if batch.len() == 1 => {
                    match self.shrink.and_then(|shrink| shrink(&batch.items[0])) {
                        Some(smaller) => {
                            tracing::warn!(kind = "oversized_events", bytes, smaller = smaller.len(),
                                user = user_uid(&batch.items[0]).as_deref().unwrap_or("unknown"),
                                "intake refused a single event as too large (413); sending it again with fewer groups, marked as truncated");
                            pending.push((Batch::from_items(vec![smaller]), true));
                        }
                        None => {
                            tracing::error!(
                                bytes,
                                "intake refused a single event as too large (413)"
                            );
                            too_large.get_or_insert_with(|| (bytes, user_uid(&batch.items[0])));
                        }
                    }
                }
                Outcome::TooLarge(bytes) => {
                    tracing::info!(
                        items = batch.len(),
                        bytes,
                        "intake answered 413; splitting the batch in two"
                    );
                    done.splits += 1;
                    let (first, second) = batch.split();
                    pending.push((second, false));
                    pending.push((first, false));
                }
            }
        }
        match too_large {
            Some((bytes, uid)) => Err(IntakeError::TooLarge {
                bytes,
                uid,
                delivered: done.items,
                url: self.shown_url.clone(),
            }),
            None => Ok(done),
        }
    }

    /// One request with an empty batch (`{"version":1,"items":[]}` or an empty NDJSON body),
    /// no retry: tells whether the intake is reachable and takes the key, without creating or
    /// changing any asset. Returns the 2xx status.
    pub async fn probe(&self) -> Result<u16, IntakeError> {
        let body = Bytes::from(self.encode(&Batch::default())?);
        let answer = match self.post(&body).await {
            Ok(answer) => answer,
            Err(error) => return Err(self.unanswered(error, 1)),
        };
        match decide(answer.status) {
            Decision::Acknowledged => Ok(answer.status),
            Decision::Split => Err(IntakeError::Rejected {
                status: answer.status,
                message: "413 for an empty batch".into(),
                url: self.shown_url.clone(),
            }),
            decision => Err(self.refusal(decision, &answer)),
        }
    }

    fn encode(&self, batch: &Batch) -> Result<Vec<u8>, IntakeError> {
        let body = batch.body(self.format);
        if !self.gzip {
            return Ok(body);
        }
        let mut encoder = GzEncoder::new(
            Vec::with_capacity(body.len() / 4 + 64),
            Compression::default(),
        );
        encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .map_err(|e| IntakeError::Build(format!("gzip failed: {e}")))
    }

    /// One POST of `body`; the answer's body is read only as far as a message quotes it.
    async fn post(&self, body: &Bytes) -> Result<Answer, TransportError> {
        let mut request = self
            .transport
            .request(Method::POST, self.url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, self.format.content_type())
            .header(ACCEPT, "application/json");
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        if let Some(agent) = &self.user_agent {
            request = request.header(USER_AGENT_HEADER, HeaderValue::clone(agent));
        }
        let incoming = self.transport.send(request.body(body.clone())).await?;
        incoming.read(BodyLimit::Head(MAX_RESPONSE_BYTES)).await
    }

    /// Sends one body until it is acknowledged, refused, or retries run out.
    async fn send(&self, body: Vec<u8>, done: &mut Delivered) -> Result<Outcome, IntakeError> {
        let body = Bytes::from(body);
        let bytes = body.len();
        let mut logic = Post { intake: self };
        let sent = retry::run(&self.policy, self.clock.as_ref(), &mut logic, body).await;
        done.requests += sent.counts.attempts;
        done.retries += sent.counts.retries;
        self.retries
            .fetch_add(u64::from(sent.counts.retries), Ordering::Relaxed);
        match sent.result {
            Ok(outcome) => {
                if let Outcome::Acknowledged = outcome {
                    done.bytes += bytes as u64;
                }
                Ok(outcome)
            }
            Err(GaveUp::Failed(Failure::Final(error))) => Err(error),
            Err(GaveUp::Failed(Failure::Transient { status, message }))
            | Err(GaveUp::Exhausted {
                last: Failure::Transient { status, message },
                ..
            }) => {
                let attempts = sent.counts.attempts;
                tracing::error!(
                    status,
                    attempts,
                    "intake delivery failed; retries exhausted"
                );
                Err(IntakeError::Exhausted {
                    status,
                    attempts,
                    last: message,
                    url: self.shown_url.clone(),
                })
            }
            Err(GaveUp::Exhausted {
                last: Failure::Final(error),
                ..
            }) => Err(error),
        }
    }

    /// The error for a request that got no answer at all, after `attempts` attempts.
    fn unanswered(&self, error: TransportError, attempts: u32) -> IntakeError {
        match self.transport_failure(error) {
            Failure::Final(error) => error,
            Failure::Transient { status, message } => IntakeError::Exhausted {
                status,
                attempts,
                last: message,
                url: self.shown_url.clone(),
            },
        }
    }

    fn transport_failure(&self, error: TransportError) -> Failure {
        let url = self.shown_url.clone();
        match error {
            // A host name that does not exist will not start to within a retry schedule.
            TransportError::Unreachable(message) if is_unknown_host(&message) => {
                Failure::Final(IntakeError::Exhausted {
                    status: None,
                    attempts: 1,
                    last: message,
                    url,
                })
            }
            TransportError::Unreachable(message) => Failure::Transient {
                status: None,
                message,
            },
            TransportError::Redirect { status, location } => {
                Failure::Final(IntakeError::Rejected {
                    status,
                    message: format!("redirects to {location}"),
                    url,
                })
            }
            TransportError::TooLarge { .. } | TransportError::Build(_) => {
                Failure::Final(IntakeError::Build(error.to_string()))
            }
        }
    }

    /// The error for a status that stops delivery.
    fn refusal(&self, decision: Decision, answer: &Answer) -> IntakeError {
        let message = quote_body(&answer.body, self.api_key.expose_secret());
        let (status, url) = (answer.status, self.shown_url.clone());
        tracing::error!(status, "intake refused the request");
        match decision {
            Decision::Unauthorized => IntakeError::Unauthorized {
                status,
                message,
                url,
            },
            _ => IntakeError::Rejected {
                status,
                message,
                url,
            },
        }
    }

    /// The wait a `Retry-After` asks for (capped), against the answer's own `Date`.
    fn asked_wait(&self, answer: &Answer) -> Option<Duration> {
        let text = |name| answer.headers.get(name).and_then(|v| v.to_str().ok());
        retry_after(text(RETRY_AFTER)?, text(DATE), self.clock.now())
    }
}

/// One POST of a body: the intake's decision table applied to each answer.
struct Post<'a> {
    intake: &'a HttpIntake,
}

impl RetryLogic for Post<'_> {
    type Request = Bytes;
    type Answer = Answer;
    type Output = Outcome;
    type Error = Failure;

    async fn send(&mut self, body: &Bytes, _attempt: u32) -> Result<Answer, Failure> {
        self.intake
            .post(body)
            .await
            .map_err(|error| self.intake.transport_failure(error))
    }

    fn classify(
        &mut self,
        body: &mut Bytes,
        outcome: Result<Answer, Failure>,
    ) -> RetryAction<Outcome, Failure> {
        let answer = match outcome {
            Ok(answer) => answer,
            Err(error @ Failure::Transient { .. }) => {
                return RetryAction::Backoff { error, asked: None }
            }
            Err(error) => return RetryAction::Fail(error),
        };
        match decide(answer.status) {
            Decision::Acknowledged => RetryAction::Accept(Outcome::Acknowledged),
            Decision::Split => RetryAction::Accept(Outcome::TooLarge(body.len())),
            Decision::Retry => {
                let message = quote_body(&answer.body, self.intake.api_key.expose_secret());
                RetryAction::Backoff {
                    asked: self.intake.asked_wait(&answer),
                    error: Failure::Transient {
                        status: Some(answer.status),
                        message: format!("HTTP {}: {message}", answer.status),
                    },
                }
            }
            decision => RetryAction::Fail(Failure::Final(self.intake.refusal(decision, &answer))),
        }
    }

    /// As for Okta: the first retry of a body is a warning, later ones are debug lines (`-v`);
    /// the summary counts every retry, and a final failure says how many attempts it took.
    fn on_backoff(&mut self, attempt: u32, wait: Duration, asked: bool, error: &Failure) {
        let wait_ms = wait.as_millis() as u64;
        // The response body is not logged (it may echo what we sent); network errors are.
        let (status, cause) = match error {
            Failure::Transient {
                status: Some(status),
                ..
            } => (Some(*status), format!("HTTP {status}")),
            Failure::Transient { message, .. } => (None, message.clone()),
            Failure::Final(_) => return,
        };
        if attempt == 1 {
            tracing::warn!(
                status,
                attempt,
                wait_ms,
                retry_after = asked,
                "intake request failed, retrying: {cause}"
            );
        } else {
            tracing::debug!(
                status,
                attempt,
                wait_ms,
                retry_after = asked,
                "intake request failed again, retrying: {cause}"
            );
        }
    }
}

/// `user.uid` of a serialized event, to name an event the intake refused.
fn user_uid(event: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Event {
        user: Option<User>,
    }
    #[derive(serde::Deserialize)]
    struct User {
        uid: Option<String>,
    }
    let uid = serde_json::from_slice::<Event>(event).ok()?.user?.uid?;
    Some(crate::text::remote(&uid, crate::text::WORD))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_uid_is_read_from_events() {
        assert_eq!(
            user_uid(br#"{"user":{"uid":"00u1","name":"a"},"x":1}"#).as_deref(),
            Some("00u1")
        );
        assert_eq!(user_uid(br#"{"x":1}"#), None);
        assert_eq!(user_uid(b"not json"), None);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let mut settings = IntakeSettings::new(
            "https://intake.example/x".parse().unwrap(),
            SecretString::from("CANARY-KEY-123".to_string()),
        );
        settings.gzip = true;
        assert!(!format!("{settings:?}").contains("CANARY"));
        settings.url = "https://u:CANARY-pw@intake.example/x?k=CANARY"
            .parse()
            .unwrap();
        assert!(!format!("{settings:?}").contains("CANARY"));
        let clock: SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
        let intake = HttpIntake::new(settings, clock).unwrap();
        let shown = format!("{intake:?}");
        assert!(!shown.contains("CANARY"), "{shown}");
        assert!(shown.contains("intake.example"));
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let clock: SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
        let url: Url = "https://intake.example/x".parse().unwrap();
        let err = HttpIntake::new(
            IntakeSettings::new(
                url.clone(),
                SecretString::from("CANARY\u{7f}\nx".to_string()),
            ),
            clock.clone(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            !err.contains("CANARY") && err.contains("INTAKE_API_KEY"),
            "{err}"
        );
        let err = HttpIntake::new(
            IntakeSettings::new(url, SecretString::from("  ".to_string())),
            clock,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
