//! The Okta client: typed GETs on the configured origin, over the shared transport and retry
//! loop, with authentication, per-bucket rate limiting and adaptive concurrency.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use url::Url;

use super::auth::{Authenticator, Credential, Grant};
use super::error::{ApiError, OktaError};
use super::rate_limit::{server_date, AdaptiveConcurrency, Bucket, RateLimitHeaders, RateLimiter};
use super::retry::{decide, on_failure, Decision};
use super::server_clock::ServerClock;
pub use super::settings::{OktaSettings, OKTA_CONTENT_TYPE};
use super::stats::{Stats, StatsSnapshot};
use crate::clock::SharedClock;
use crate::http::retry::{self, GaveUp, RetryAction, RetryLogic};
use crate::http::{display_url, BodyLimit, Transport, TransportSettings};
use crate::okta::model::ErrorBody;
use crate::text;

/// An answer read into memory.
#[derive(Debug, Clone)]
pub struct Response {
    /// The URL actually requested (its `limit` may have been lowered after a 500).
    pub url: Url,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn request_id(&self) -> Option<String> {
        self.headers
            .get("x-okta-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|id| text::remote(id, text::WORD))
    }
}

/// The Okta client. Cheap to clone: clones share rate limits, concurrency and statistics.
#[derive(Clone)]
pub struct OktaClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    settings: OktaSettings,
    limiter: RateLimiter,
    concurrency: AdaptiveConcurrency,
    clock: SharedClock,
    stats: Stats,
    /// Builds each request's `Authorization` (and `DPoP`) headers.
    auth: Authenticator,
    /// Okta's clock, from the `Date` of its answers.
    server_clock: ServerClock,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl OktaClient {
    pub fn new(settings: OktaSettings, clock: SharedClock) -> Result<OktaClient, OktaError> {
        let transport = Transport::new(TransportSettings::for_destination(
            &settings.origin,
            settings.connect_timeout,
            settings.request_timeout,
        ))
        .map_err(|e| OktaError::Settings(e.to_string()))?;
        let auth = Authenticator::new(
            &settings.credential,
            &settings.origin,
            transport.clone(),
            clock.clone(),
            settings.retry_policy(),
        );
        Ok(OktaClient {
            inner: Arc::new(Inner {
                auth,
                limiter: RateLimiter::new(settings.rate_limit_share, clock.clone()),
                concurrency: AdaptiveConcurrency::new(settings.max_concurrency),
                transport,
                settings,
                clock,
                stats: Stats::default(),
                server_clock: ServerClock::default(),
            }),
        })
    }

    /// The org origin, e.g. `https://acme.okta.com`.
    pub fn origin(&self) -> &Url {
        &self.inner.settings.origin
    }

    /// `origin + path` with the given query parameters.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.settings.origin.clone();
        url.set_path(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Requests, 429s, retries and rate-limit waits so far.
    pub fn stats(&self) -> StatsSnapshot {
        let mut snapshot = self.inner.stats.snapshot();
        snapshot.rate_limit_wait = self.inner.limiter.waited();
        snapshot.rate_limit_wait_by_bucket = self.inner.limiter.waited_by_bucket();
        snapshot
    }

    /// The fraction of each bucket's advertised limit this client allows itself.
    pub fn rate_limit_share(&self) -> f64 {
        self.inner.settings.rate_limit_share
    }

    /// Okta's clock as of the latest answer (its `Date` header), falling back to the local
    /// clock before any answer, and never more than a few minutes ahead of the local clock
    /// (see [`ServerClock`]). Cursors are taken from it.
    pub fn server_time(&self) -> Timestamp {
        self.inner.server_clock.now(self.inner.clock.now())
    }

    /// With OAuth: the scopes requested, granted and missing (gets a token if needed).
    /// `None` with an SSWS token.
    pub async fn oauth_grant(&self) -> Option<Result<Grant, OktaError>> {
        self.inner.auth.grant().await
    }

    /// The last advertised (limit, remaining) of a bucket.
    pub fn rate_limit_snapshot(&self, bucket: Bucket) -> Option<(u64, u64)> {
        self.inner.limiter.snapshot(bucket)
    }

    /// GET `url` (on the configured origin) with rate limiting and the retry policy.
    pub async fn get(&self, url: Url) -> Result<Response, OktaError> {
        let origin = &self.inner.settings.origin;
        if !same_origin(&url, origin) {
            return Err(OktaError::ForeignLink {
                link: display_url(&url),
                origin: origin.as_str().trim_end_matches('/').to_string(),
            });
        }
        let inner = &*self.inner;
        let mut logic = Get {
            inner,
            bucket: Bucket::of_path(url.path()),
            retry_for: None,
            reauthenticated: false,
            shown_url: display_url(&url),
        };
        let policy = inner.settings.retry_policy();
        let done = retry::run(&policy, inner.clock.as_ref(), &mut logic, url).await;
        inner.stats.count_retries(&done.counts);
        match done.result {
            Ok(response) => Ok(response),
            Err(GaveUp::Failed(error)) => Err(error),
            Err(GaveUp::Exhausted { attempts, last }) => Err(OktaError::Exhausted {
                url: logic.shown_url,
                attempts,
                last: Box::new(last),
            }),
        }
    }
}

impl Inner {
    /// One attempt: wait for the bucket's pace and a concurrency slot, send, read the body.
    async fn send_once(
        &self,
        url: &Url,
        bucket: Bucket,
        retry_for: Option<&str>,
        attempt: u32,
    ) -> Result<(Response, Credential), OktaError> {
        // Pace first, then take a slot: a request sleeping for its bucket's turn must not hold
        // a slot, or requests to an idle bucket would wait behind it (buckets run in parallel).
        self.limiter.acquire(bucket).await;
        let _slot = self.concurrency.acquire().await;
        let answer = self.authorized_get(url, bucket, retry_for, attempt).await;
        let (incoming, credential) = match answer {
            Ok(answer) => answer,
            Err(error) => {
                // The reservation got no answer: give it back.
                self.limiter.release(bucket);
                return Err(error);
            }
        };
        self.limiter.record(bucket, incoming.headers());
        if let Some(date) = server_date(incoming.headers()) {
            self.server_clock.observe(date);
        }
        let answer = incoming
            .read(BodyLimit::Whole(self.settings.max_body_bytes))
            .await
            .map_err(|e| OktaError::from_transport(url, e))?;
        let response = Response {
            url: url.clone(),
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
        };
        Ok((response, credential))
    }

    /// Sends the GET with its credentials, up to the status line.
    async fn authorized_get(
        &self,
        url: &Url,
        bucket: Bucket,
        retry_for: Option<&str>,
        attempt: u32,
    ) -> Result<(crate::http::Incoming, Credential), OktaError> {
        // Right before sending, so the OAuth token cannot expire while this request waits for
        // its turn (getting or renewing it is a token request of its own).
        let credential = self.auth.credential().await?;
        let auth_headers = self.auth.headers(&credential, "GET", url)?;
        self.stats.count_request(bucket);
        let mut request = self
            .transport
            .request(Method::GET, url.clone())
            .headers(auth_headers)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, OKTA_CONTENT_TYPE);
        if attempt > 1 {
            if let Some(id) = retry_for.filter(|id| !id.is_empty()) {
                request = request.header("X-Okta-Retry-For", id);
            }
            request = request.header("X-Okta-Retry-Count", (attempt - 1).to_string());
        }
        let incoming = self
            .transport
            .send(request)
            .await
            .map_err(|e| OktaError::from_transport(url, e))?;
        Ok((incoming, credential))
    }
}

/// One GET: how to send an attempt, and Okta's decision table for its answer.
struct Get<'a> {
    inner: &'a Inner,
    bucket: Bucket,
    /// `X-Okta-Request-Id` of the first failed answer, quoted on retries (`X-Okta-Retry-For`).
    retry_for: Option<String>,
    /// An OAuth token was already renewed after a 401: a second 401 fails.
    reauthenticated: bool,
    /// The URL of the latest attempt, for messages.
    shown_url: String,
}

impl Get<'_> {
    fn note_failed_answer(&mut self, response: &Response) {
        if self.retry_for.is_none() {
            self.retry_for = response.request_id();
        }
    }

    /// OAuth: a 401 means the token was revoked or expired early; renew it and retry once.
    /// Not for Okta's "feature not enabled" (`E0000015`, also a 401): a new token changes
    /// nothing there, and renewing would throw away the token every other request shares.
    fn reauthenticate(&mut self, response: &Response, credential: &Credential) -> bool {
        if response.status != 401 || self.reauthenticated {
            return false;
        }
        if error_from_response(response).code() == Some("E0000015") {
            return false;
        }
        if !self
            .inner
            .auth
            .on_unauthorized(credential, &response.headers)
        {
            return false;
        }
        self.reauthenticated = true;
        tracing::warn!(url = %display_url(&response.url), request_id = ?response.request_id(),
            "Okta rejected the OAuth access token (HTTP 401); getting a new one and retrying once");
        true
    }
}

impl RetryLogic for Get<'_> {
    type Request = Url;
    type Answer = (Response, Credential);
    type Output = Response;
    type Error = OktaError;

    async fn send(&mut self, url: &Url, attempt: u32) -> Result<(Response, Credential), OktaError> {
        self.shown_url = display_url(url);
        self.inner
            .send_once(url, self.bucket, self.retry_for.as_deref(), attempt)
            .await
    }

    fn classify(
        &mut self,
        url: &mut Url,
        outcome: Result<(Response, Credential), OktaError>,
    ) -> RetryAction<Response, OktaError> {
        let (response, credential) = match outcome {
            Ok(answer) => answer,
            Err(error) => return on_failure(error),
        };
        if self.reauthenticate(&response, &credential) {
            return RetryAction::Modified(error_from_response(&response));
        }
        let inner = self.inner;
        let now = inner.clock.now();
        match decide(response.status, &response.headers, page_limit(url), now) {
            Decision::Accept => {
                inner.concurrency.on_success();
                RetryAction::Accept(response)
            }
            Decision::Fail => {
                let mut error = error_from_response(&response);
                if let OktaError::Api(api) = &mut error {
                    api.oauth = inner.auth.is_oauth();
                }
                RetryAction::Fail(error)
            }
            Decision::WaitForReset(wait) => {
                inner.stats.count_quota_429(self.bucket);
                warn_rate_limited(&response, self.bucket, wait, now);
                self.note_failed_answer(&response);
                // Other requests to this bucket wait too.
                inner.limiter.pause(self.bucket, wait);
                RetryAction::Wait {
                    wait,
                    error: error_from_response(&response),
                }
            }
            Decision::SmallerPage(limit) => {
                tracing::warn!(url = %display_url(url), limit, request_id = ?response.request_id(),
                    "Okta failed on a large page (HTTP 500); retrying the same page with a smaller limit");
                self.note_failed_answer(&response);
                set_page_limit(url, limit);
                RetryAction::Modified(error_from_response(&response))
            }
            Decision::ReduceConcurrency => {
                inner.stats.count_concurrency_429(self.bucket);
                inner.concurrency.on_violation();
                tracing::warn!(bucket = self.bucket.name(), concurrency = inner.concurrency.current_limit(),
                    request_id = ?response.request_id(), "Okta concurrency limit reached; lowering concurrency");
                self.note_failed_answer(&response);
                RetryAction::Backoff {
                    error: error_from_response(&response),
                    asked: None,
                }
            }
            Decision::Backoff => {
                self.note_failed_answer(&response);
                RetryAction::Backoff {
                    error: error_from_response(&response),
                    asked: None,
                }
            }
        }
    }

    /// The first retry of a request is a warning that says what failed and that it is being
    /// retried; later ones are debug lines (`-v`): an outage would otherwise print one long line
    /// per attempt and per request in flight, and the final error already says how many
    /// attempts were made.
    fn on_backoff(&mut self, attempt: u32, delay: Duration, _asked: bool, error: &OktaError) {
        let delay_ms = delay.as_millis() as u64;
        let max_attempts = self.inner.settings.retry_policy().backoff.max_retries as u64 + 1;
        if attempt == 1 {
            tracing::warn!(url = %self.shown_url, attempt, max_attempts, delay_ms,
                "Okta request failed, retrying: {}", error.short_cause());
        } else {
            tracing::debug!(url = %self.shown_url, attempt, max_attempts, delay_ms,
                "Okta request failed again, retrying: {}", error.short_cause());
        }
    }
}

fn warn_rate_limited(response: &Response, bucket: Bucket, wait: Duration, now: Timestamp) {
    let date = server_date(&response.headers);
    if RateLimitHeaders::parse(&response.headers)
        .is_some_and(|limits| limits.reset_is_implausible(date, now))
    {
        tracing::warn!(bucket = bucket.name(), wait_s = wait.as_secs(), request_id = ?response.request_id(),
            "Okta announced a rate-limit reset further ahead than its one-minute windows; waiting only the capped time");
    }
    tracing::warn!(bucket = bucket.name(), wait_s = wait.as_secs(), request_id = ?response.request_id(),
        "Okta rate limit reached (E0000047); waiting for the window to reset");
}

pub(crate) fn same_origin(url: &Url, origin: &Url) -> bool {
    url.scheme() == origin.scheme()
        && url.host_str() == origin.host_str()
        && url.port_or_known_default() == origin.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
}

/// The error of a non-2xx answer. Okta's code and summary are remote text: sanitised here, where
/// they are parsed, so that no error message can steer a terminal or forge a log line.
fn error_from_response(response: &Response) -> OktaError {
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let summary = match body.error_summary {
        Some(summary) => Some(text::remote(&summary, text::MESSAGE)),
        None => {
            let looks_like_html = response.body.trim_ascii_start().starts_with(b"<");
            looks_like_html.then(|| "the answer is an HTML page, not the Okta API".to_string())
        }
    };
    OktaError::Api(Box::new(ApiError {
        status: response.status,
        code: body.error_code.map(|code| text::remote(&code, text::WORD)),
        summary,
        request_id: response.request_id(),
        url: display_url(&response.url),
        oauth: false,
    }))
}

fn page_limit(url: &Url) -> Option<u64> {
    url.query_pairs()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse().ok())
}

/// Replaces the `limit` parameter, keeping every other parameter (and the opaque cursor) as is.
fn set_page_limit(url: &mut Url, limit: u64) {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "limit" {
                limit.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaller_page_keeps_the_cursor() {
        let mut url =
            Url::parse("https://a.okta.com/api/v1/groups/00g/users?after=abc%3D&limit=1000")
                .unwrap();
        set_page_limit(&mut url, 500);
        assert_eq!(
            url.as_str(),
            "https://a.okta.com/api/v1/groups/00g/users?after=abc%3D&limit=500"
        );
    }

    #[test]
    fn origin_comparison_includes_scheme_and_port() {
        let origin = Url::parse("https://a.okta.com").unwrap();
        for (url, same) in [
            ("https://a.okta.com:443/x", true),
            ("http://a.okta.com/x", false),
            ("https://a.okta.com:8443/x", false),
            ("https://evil.com/x", false),
            ("https://u:p@a.okta.com/x", false),
        ] {
            assert_eq!(
                same_origin(&Url::parse(url).unwrap(), &origin),
                same,
                "{url}"
            );
        }
    }
}
