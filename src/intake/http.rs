//! The HTTP sender: POSTs a batch body, retries what is worth retrying, splits on 413.

use std::io::Write as _;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER,
};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::batcher::Batch;
use super::envelope::Format;
use super::error::{quote_body, IntakeError};
use super::retry::{decide, retry_after, Decision};
use super::{Delivered, IntakeSettings};
use crate::backoff::BackoffPolicy;
use crate::clock::SharedClock;

/// `User-Agent` of every intake request.
pub const USER_AGENT: &str = concat!("okta-asset-connector/", env!("CARGO_PKG_VERSION"));

/// How much of a response body is read (for error messages); the rest is ignored.
const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// Delivers batches to the intake over HTTP(S). Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct HttpIntake {
    client: reqwest::Client,
    url: Url,
    /// `url` without query or credentials, for messages.
    shown_url: String,
    api_key: SecretString,
    /// `Bearer <key>`, marked sensitive (hyper and reqwest then never print it).
    authorization: HeaderValue,
    format: Format,
    gzip: bool,
    timeout: Duration,
    backoff: BackoffPolicy,
    clock: SharedClock,
}

impl std::fmt::Debug for HttpIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpIntake")
            .field("url", &self.shown_url)
            .field("api_key", &"[REDACTED]")
            .field("format", &self.format)
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// The result of one body, retries done.
enum Outcome {
    Acknowledged,
    /// 413 for a body of this many bytes.
    TooLarge(usize),
}

impl HttpIntake {
    /// Builds the sender and its own HTTP client (no redirects: the key must not follow one to
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

        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| IntakeError::Build(describe(&e)))?;
        Ok(HttpIntake {
            client,
            shown_url: shown_url(&settings.url),
            url: settings.url,
            api_key,
            authorization,
            format: settings.format,
            gzip: settings.gzip,
            timeout: settings.timeout,
            backoff: settings.backoff,
            clock,
        })
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
        // A stack of batches still to send; the first half is on top, so order is kept.
        let mut pending = vec![batch];
        while let Some(batch) = pending.pop() {
            if batch.is_empty() {
                continue;
            }
            let body = self.encode(&batch)?;
            match self.send(body, &mut done).await? {
                Outcome::Acknowledged => done.items += batch.len(),
                Outcome::TooLarge(bytes) if batch.len() == 1 => {
                    tracing::error!(bytes, "intake refused a single event as too large (413)");
                    too_large.get_or_insert_with(|| (bytes, user_uid(&batch.items[0])));
                }
                Outcome::TooLarge(bytes) => {
                    tracing::info!(
                        items = batch.len(),
                        bytes,
                        "intake answered 413; splitting the batch in two"
                    );
                    done.splits += 1;
                    let (first, second) = batch.split();
                    pending.push(second);
                    pending.push(first);
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
        let body = self.encode(&Batch::default())?;
        match self.post(body).await {
            Ok(response) => {
                let status = response.status().as_u16();
                match decide(status) {
                    Decision::Acknowledged => Ok(status),
                    Decision::Split => Err(IntakeError::Rejected {
                        status,
                        message: "413 for an empty batch".into(),
                        url: self.shown_url.clone(),
                    }),
                    decision => Err(self.refusal(decision, status, response).await),
                }
            }
            Err(e) => Err(IntakeError::Exhausted {
                status: None,
                attempts: 1,
                last: describe(&e),
                url: self.shown_url.clone(),
            }),
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

    async fn post(&self, body: Vec<u8>) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, self.format.content_type())
            .header(ACCEPT, "application/json");
        if self.gzip {
            request = request.header(CONTENT_ENCODING, "gzip");
        }
        request.body(body).send().await
    }

    /// Sends one body until it is acknowledged, refused, or retries run out.
    async fn send(&self, body: Vec<u8>, done: &mut Delivered) -> Result<Outcome, IntakeError> {
        let mut delays = self.backoff.delays();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            done.requests += 1;
            let (status, last, asked) = match self.post(body.clone()).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match decide(status) {
                        Decision::Acknowledged => {
                            // Read what little the intake says so the connection can be reused;
                            // a failure past the status line does not undo the acknowledgement.
                            let _ = read_bounded(response).await;
                            done.bytes += body.len() as u64;
                            return Ok(Outcome::Acknowledged);
                        }
                        Decision::Split => {
                            let _ = read_bounded(response).await;
                            return Ok(Outcome::TooLarge(body.len()));
                        }
                        Decision::Retry => {
                            let asked = response
                                .headers()
                                .get(RETRY_AFTER)
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| {
                                    let date = response
                                        .headers()
                                        .get(reqwest::header::DATE)
                                        .and_then(|d| d.to_str().ok());
                                    retry_after(v, date, self.clock.now())
                                });
                            let message = quote_body(
                                &read_bounded(response).await,
                                self.api_key.expose_secret(),
                            );
                            (Some(status), format!("HTTP {status}: {message}"), asked)
                        }
                        decision => return Err(self.refusal(decision, status, response).await),
                    }
                }
                Err(e) if e.is_builder() => return Err(IntakeError::Build(describe(&e))),
                Err(e) => (None, describe(&e), None),
            };
            let Some(backoff) = delays.next() else {
                tracing::error!(
                    status,
                    attempts,
                    "intake delivery failed; retries exhausted"
                );
                return Err(IntakeError::Exhausted {
                    status,
                    attempts,
                    last,
                    url: self.shown_url.clone(),
                });
            };
            let wait = asked.unwrap_or(backoff);
            done.retries += 1;
            // The response body is not logged (it may echo what we sent); network errors are.
            match status {
                Some(status) => tracing::warn!(
                    status,
                    attempt = attempts,
                    wait_ms = wait.as_millis() as u64,
                    retry_after = asked.is_some(),
                    "intake request failed; retrying"
                ),
                None => tracing::warn!(
                    error = %last,
                    attempt = attempts,
                    wait_ms = wait.as_millis() as u64,
                    "intake request failed; retrying"
                ),
            }
            self.clock.sleep(wait).await;
        }
    }

    /// The error for a status that stops delivery.
    async fn refusal(
        &self,
        decision: Decision,
        status: u16,
        response: reqwest::Response,
    ) -> IntakeError {
        let message = quote_body(&read_bounded(response).await, self.api_key.expose_secret());
        let url = self.shown_url.clone();
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
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of a response body; errors end the reading quietly.
async fn read_bounded(mut response: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_RESPONSE_BYTES - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    out
}

/// A reqwest error with its causes ("operation timed out", "Connection refused"), without the URL
/// (messages show it once, on their own).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "request timed out".to_string()
    } else if error.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    let mut last = String::new();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // hyper and hyper-util repeat themselves through layers; keep each text once.
        if cause_text != last && !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        last = cause_text;
        source = cause.source();
    }
    text
}

/// `scheme://host[:port]/path` of `url`.
pub(crate) fn shown_url(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
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
    serde_json::from_slice::<Event>(event).ok()?.user?.uid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_url_drops_credentials_and_query() {
        let url: Url = "https://user:pw@intake.example:8443/api/v2/x?token=abc"
            .parse()
            .unwrap();
        assert_eq!(shown_url(&url), "https://intake.example:8443/api/v2/x");
    }

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
