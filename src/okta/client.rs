//! The Okta transport: one GET with authentication, rate limiting, retries and bounded reads.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use secrecy::SecretString;
use url::Url;

use super::auth::{Authenticator, Credential, OAuthSettings};
use super::error::{display_url, ApiError, OktaError};
use super::rate_limit::{AdaptiveConcurrency, Bucket, RateLimiter};
use super::retry::{decide, Decision};
use crate::backoff::BackoffPolicy;
use crate::clock::SharedClock;
use crate::okta::model::ErrorBody;

/// Asks Okta to leave credential blobs and transition fields out of user records: smaller pages,
/// and nothing secret-adjacent in memory.
const OKTA_CONTENT_TYPE: &str =
    "application/json; okta-response=omitCredentials,omitCredentialsLinks,omitTransitioningToStatus";

/// What the client needs to know; built by the config module from validated settings.
pub struct OktaSettings {
    /// `scheme://host[:port]` of the org, already validated (HTTPS, or loopback HTTP when allowed).
    pub origin: Url,
    /// The SSWS API token; unused when `oauth` is set.
    pub token: SecretString,
    /// OAuth 2.0 service app (private_key_jwt, DPoP) instead of the SSWS token.
    pub oauth: Option<OAuthSettings>,
    /// Fraction of each bucket's advertised limit this connector may use.
    pub rate_limit_share: f64,
    pub max_concurrency: usize,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Larger answers are refused: Okta pages are a few MiB at most.
    pub max_body_bytes: usize,
    pub backoff: BackoffPolicy,
    /// How many quota 429s in a row one request may wait out before giving up.
    pub max_rate_limit_waits: u32,
}

impl OktaSettings {
    pub fn new(origin: Url, token: SecretString) -> OktaSettings {
        OktaSettings {
            origin,
            token,
            oauth: None,
            rate_limit_share: 0.5,
            max_concurrency: 8,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 32 * 1024 * 1024,
            backoff: BackoffPolicy::default(),
            max_rate_limit_waits: 20,
        }
    }
}

impl std::fmt::Debug for OktaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaSettings")
            .field("origin", &self.origin.as_str())
            .field("token", &"[redacted]")
            .field("oauth", &self.oauth)
            .field("rate_limit_share", &self.rate_limit_share)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}

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
        request_id(&self.headers)
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-okta-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Request accounting, per bucket, for the run summary and the benchmark.
#[derive(Debug, Default)]
pub struct Stats {
    requests: [AtomicU64; Bucket::ALL.len()],
    quota_429: AtomicU64,
    concurrency_429: AtomicU64,
    retries: AtomicU64,
    rate_limit_wait_ms: AtomicU64,
    /// `Date` of the latest answer, epoch seconds (0 = none yet).
    last_server_date: AtomicI64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Requests sent (answered or not), per bucket, in [`Bucket::ALL`] order.
    pub requests: Vec<(Bucket, u64)>,
    pub quota_429: u64,
    pub concurrency_429: u64,
    pub retries: u64,
    pub rate_limit_wait: Duration,
}

impl StatsSnapshot {
    /// What happened between `earlier` and this snapshot (one cycle of a long-running client).
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            requests: self
                .requests
                .iter()
                .map(|(bucket, n)| (*bucket, n.saturating_sub(earlier.requests_in(*bucket))))
                .collect(),
            quota_429: self.quota_429.saturating_sub(earlier.quota_429),
            concurrency_429: self.concurrency_429.saturating_sub(earlier.concurrency_429),
            retries: self.retries.saturating_sub(earlier.retries),
            rate_limit_wait: self.rate_limit_wait.saturating_sub(earlier.rate_limit_wait),
        }
    }

    pub fn total_requests(&self) -> u64 {
        self.requests.iter().map(|(_, n)| n).sum()
    }

    pub fn requests_in(&self, bucket: Bucket) -> u64 {
        self.requests
            .iter()
            .find(|(b, _)| *b == bucket)
            .map_or(0, |(_, n)| *n)
    }
}

fn bucket_index(bucket: Bucket) -> usize {
    Bucket::ALL.iter().position(|b| *b == bucket).unwrap_or(0)
}

/// The Okta client. Cheap to clone: clones share rate limits, concurrency and statistics.
#[derive(Clone)]
pub struct OktaClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    settings: OktaSettings,
    limiter: RateLimiter,
    concurrency: AdaptiveConcurrency,
    clock: SharedClock,
    stats: Stats,
    /// Builds each request's `Authorization` (and `DPoP`) headers.
    auth: Authenticator,
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
        let http = reqwest::Client::builder()
            // Never follow a redirect: it could carry the token to another host.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .user_agent(concat!("okta-asset-connector/", env!("CARGO_PKG_VERSION")))
            .https_only(settings.origin.scheme() == "https")
            .build()
            .map_err(|e| OktaError::Settings(e.to_string()))?;
        let auth = Authenticator::new(
            &settings.token,
            settings.oauth.as_ref(),
            &settings.origin,
            http.clone(),
            clock.clone(),
            settings.backoff,
        );
        Ok(OktaClient {
            inner: Arc::new(Inner {
                auth,
                limiter: RateLimiter::new(settings.rate_limit_share, clock.clone()),
                concurrency: AdaptiveConcurrency::new(settings.max_concurrency),
                http,
                settings,
                clock,
                stats: Stats::default(),
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

    pub fn stats(&self) -> StatsSnapshot {
        let stats = &self.inner.stats;
        StatsSnapshot {
            requests: Bucket::ALL
                .iter()
                .map(|b| (*b, stats.requests[bucket_index(*b)].load(Ordering::Relaxed)))
                .collect(),
            quota_429: stats.quota_429.load(Ordering::Relaxed),
            concurrency_429: stats.concurrency_429.load(Ordering::Relaxed),
            retries: stats.retries.load(Ordering::Relaxed),
            rate_limit_wait: Duration::from_millis(
                stats.rate_limit_wait_ms.load(Ordering::Relaxed),
            ),
        }
    }

    /// Okta's clock as of the latest answer (its `Date` header), falling back to the local
    /// clock before any answer. Cursors are taken from it, so local clock skew cannot make
    /// an incremental query skip changes.
    pub fn server_time(&self) -> jiff::Timestamp {
        let seconds = self.inner.stats.last_server_date.load(Ordering::Relaxed);
        if seconds > 0 {
            if let Ok(at) = jiff::Timestamp::from_second(seconds) {
                return at;
            }
        }
        self.inner.clock.now()
    }

    /// With OAuth: the scopes requested, granted and missing (gets a token if needed).
    /// `None` with an SSWS token.
    pub async fn oauth_grant(&self) -> Option<Result<super::auth::Grant, OktaError>> {
        self.inner.auth.grant().await
    }

    /// The last advertised (limit, remaining) of a bucket.
    pub fn rate_limit_snapshot(&self, bucket: Bucket) -> Option<(u64, u64)> {
        self.inner.limiter.snapshot(bucket)
    }

    /// Parses `link` (a next-page URL from Okta) and checks it stays on the configured origin.
    pub fn check_same_origin(&self, link: &str, base: &Url) -> Result<Url, OktaError> {
        let origin = &self.inner.settings.origin;
        let foreign = || OktaError::ForeignLink {
            link: link.chars().take(200).collect(),
            origin: origin.as_str().trim_end_matches('/').to_string(),
        };
        let url = base.join(link).map_err(|_| foreign())?;
        if same_origin(&url, origin) {
            Ok(url)
        } else {
            Err(foreign())
        }
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
        let bucket = Bucket::of_path(url.path());
        let mut url = url;
        let mut delays = self.inner.settings.backoff.delays();
        let mut attempts: u32 = 0;
        let mut quota_waits: u32 = 0;
        let mut retry_for: Option<String> = None;
        let mut reauthenticated = false;

        loop {
            attempts += 1;
            let retry = (attempts > 1).then(|| (retry_for.as_deref(), attempts - 1));
            let failure = match self.send_once(&url, bucket, retry).await {
                Ok((response, credential)) => {
                    // OAuth: a 401 means the token was revoked or expired early; renew it and
                    // retry once (a second 401 fails below).
                    if response.status == 401
                        && !reauthenticated
                        && self
                            .inner
                            .auth
                            .on_unauthorized(&credential, &response.headers)
                            .await
                    {
                        reauthenticated = true;
                        tracing::warn!(url = %display_url(&url), request_id = ?response.request_id(),
                            "Okta rejected the OAuth access token (HTTP 401); getting a new one and retrying once");
                        self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let now = self.inner.clock.now();
                    match decide(response.status, &response.headers, page_limit(&url), now) {
                        Decision::Accept => {
                            self.inner.concurrency.on_success();
                            return Ok(response);
                        }
                        Decision::Fail => {
                            let mut error = error_from_response(&response);
                            if let OktaError::Api(api) = &mut error {
                                api.oauth = self.inner.auth.is_oauth();
                            }
                            return Err(error);
                        }
                        Decision::WaitForReset(wait) => {
                            self.inner.stats.quota_429.fetch_add(1, Ordering::Relaxed);
                            quota_waits += 1;
                            let error = error_from_response(&response);
                            if quota_waits > self.inner.settings.max_rate_limit_waits {
                                return Err(exhausted(&url, attempts, error));
                            }
                            tracing::warn!(bucket = bucket.name(), wait_s = wait.as_secs(), request_id = ?response.request_id(),
                                "Okta rate limit reached (E0000047); waiting for the window to reset");
                            retry_for
                                .get_or_insert_with(|| response.request_id().unwrap_or_default());
                            self.inner.limiter.pause(bucket, wait);
                            self.inner
                                .stats
                                .rate_limit_wait_ms
                                .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
                            self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        Decision::SmallerPage(limit) => {
                            tracing::warn!(url = %display_url(&url), limit, request_id = ?response.request_id(),
                                "Okta failed on a large page (HTTP 500); retrying the same page with a smaller limit");
                            retry_for
                                .get_or_insert_with(|| response.request_id().unwrap_or_default());
                            set_page_limit(&mut url, limit);
                            self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        Decision::ReduceConcurrency => {
                            self.inner
                                .stats
                                .concurrency_429
                                .fetch_add(1, Ordering::Relaxed);
                            self.inner.concurrency.on_violation();
                            tracing::warn!(bucket = bucket.name(), concurrency = self.inner.concurrency.current_limit(),
                                request_id = ?response.request_id(), "Okta concurrency limit reached; lowering concurrency");
                            retry_for
                                .get_or_insert_with(|| response.request_id().unwrap_or_default());
                            error_from_response(&response)
                        }
                        Decision::Backoff => {
                            retry_for
                                .get_or_insert_with(|| response.request_id().unwrap_or_default());
                            error_from_response(&response)
                        }
                    }
                }
                // Only a failure to get an answer is transient; a redirect or an oversized
                // answer would be the same on every attempt.
                Err(error @ OktaError::Transport { .. }) => error,
                Err(error) => return Err(error),
            };
            let Some(delay) = delays.next() else {
                return Err(exhausted(&url, attempts, failure));
            };
            tracing::warn!(url = %display_url(&url), attempt = attempts, delay_ms = delay.as_millis() as u64,
                error = %failure, "Okta request failed; retrying");
            self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            self.inner.clock.sleep(delay).await;
        }
    }

    /// One attempt: wait for the bucket's pace and a concurrency slot, send, read the body.
    async fn send_once(
        &self,
        url: &Url,
        bucket: Bucket,
        retry: Option<(Option<&str>, u32)>,
    ) -> Result<(Response, Credential), OktaError> {
        // Pace first, then take a slot: a request sleeping for its bucket's turn must not hold
        // a slot, or requests to an idle bucket would wait behind it (buckets run in parallel).
        self.inner.limiter.acquire(bucket).await;
        let _slot = self.inner.concurrency.acquire().await;
        // Right before sending, so the OAuth token cannot expire while this request waits for
        // its turn (getting or renewing it is a token request of its own).
        let authorized = match self.inner.auth.credential().await {
            Ok(credential) => self
                .inner
                .auth
                .headers(&credential, "GET", url)
                .map(|headers| (credential, headers)),
            Err(error) => Err(error),
        };
        let (credential, auth_headers) = match authorized {
            Ok(authorized) => authorized,
            Err(error) => {
                // The reservation was never used: give it back.
                self.inner.limiter.release(bucket);
                return Err(error);
            }
        };
        self.inner.stats.requests[bucket_index(bucket)].fetch_add(1, Ordering::Relaxed);

        let mut request = self
            .inner
            .http
            .get(url.clone())
            .headers(auth_headers)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, OKTA_CONTENT_TYPE);
        if let Some((retry_for, count)) = retry {
            if let Some(id) = retry_for.filter(|id| !id.is_empty()) {
                request = request.header("X-Okta-Retry-For", id);
            }
            request = request.header("X-Okta-Retry-Count", count.to_string());
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(error) => {
                self.inner.limiter.release(bucket);
                return Err(transport_error(url, &error));
            }
        };
        self.inner.limiter.record(bucket, answer.headers());
        if let Some(date) = super::rate_limit::server_date(answer.headers()) {
            self.inner
                .stats
                .last_server_date
                .fetch_max(date.as_second(), Ordering::Relaxed);
        }
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        if (300..400).contains(&status) {
            let location = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            return Err(OktaError::Redirect {
                url: display_url(url),
                status,
                location,
            });
        }
        let body = read_bounded(answer, url, self.inner.settings.max_body_bytes).await?;
        let response = Response {
            url: url.clone(),
            status,
            headers,
            body,
        };
        Ok((response, credential))
    }
}

fn same_origin(url: &Url, origin: &Url) -> bool {
    url.scheme() == origin.scheme()
        && url.host_str() == origin.host_str()
        && url.port_or_known_default() == origin.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
}

/// Reads the body, refusing more than `limit` bytes (checked against `Content-Length` first,
/// then while streaming, so a huge answer never fills memory).
async fn read_bounded(
    mut answer: reqwest::Response,
    url: &Url,
    limit: usize,
) -> Result<Bytes, OktaError> {
    let too_large = || OktaError::BodyTooLarge {
        url: display_url(url),
        limit,
    };
    if answer
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Bytes::from(body)),
            Err(error) => return Err(transport_error(url, &error)),
        }
    }
}

fn transport_error(url: &Url, error: &reqwest::Error) -> OktaError {
    // reqwest's Display includes the URL; ours carries no secret, but keep the wording short.
    let detail = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        format!("connection failed ({})", root_cause(error))
    } else if error.is_body() || error.is_decode() {
        format!("answer cut off ({})", root_cause(error))
    } else {
        root_cause(error)
    };
    OktaError::Transport {
        url: display_url(url),
        detail,
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn error_from_response(response: &Response) -> OktaError {
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let summary = body.error_summary.or_else(|| {
        let looks_like_html = response.body.trim_ascii_start().starts_with(b"<");
        looks_like_html.then(|| "the answer is an HTML page, not the Okta API".to_string())
    });
    OktaError::Api(Box::new(ApiError {
        status: response.status,
        code: body.error_code,
        summary,
        request_id: response.request_id(),
        url: display_url(&response.url),
        oauth: false,
    }))
}

fn exhausted(url: &Url, attempts: u32, last: OktaError) -> OktaError {
    OktaError::Exhausted {
        url: display_url(url),
        attempts,
        last: Box::new(last),
    }
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
        assert!(same_origin(
            &Url::parse("https://a.okta.com:443/x").unwrap(),
            &origin
        ));
        assert!(!same_origin(
            &Url::parse("http://a.okta.com/x").unwrap(),
            &origin
        ));
        assert!(!same_origin(
            &Url::parse("https://a.okta.com:8443/x").unwrap(),
            &origin
        ));
        assert!(!same_origin(
            &Url::parse("https://evil.com/x").unwrap(),
            &origin
        ));
        assert!(!same_origin(
            &Url::parse("https://u:p@a.okta.com/x").unwrap(),
            &origin
        ));
    }
}
