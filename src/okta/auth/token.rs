//! The token client: trades a client assertion for an access token at the org authorization
//! server, negotiates DPoP, caches the token and renews it a minute before it expires (or at
//! once after the API refused it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::jwt::{client_assertion, dpop_proof};
use super::sensitive;
use super::settings::{DpopMode, OAuthSettings};
use crate::clock::SharedClock;
use crate::http::retry::{self, GaveUp, RetryAction, RetryLogic, RetryPolicy};
use crate::http::{display_url, Answer, BodyLimit, Transport};
use crate::okta::error::{OktaError, TokenError};
use crate::okta::retry::{decide, on_failure, Decision};
use crate::text;

/// The org authorization server's token endpoint: the only one that mints `okta.*` scopes.
pub const TOKEN_PATH: &str = "/oauth2/v1/token";
/// Renew this long before the access token expires.
const RENEW_MARGIN_SECS: i64 = 60;
/// Okta's org tokens live an hour. A longer `expires_in` is believed up to a day; anything
/// larger (or an overflowing value) would make the expiry meaningless.
const MAX_TOKEN_LIFETIME_SECS: i64 = 24 * 3600;
/// Token endpoint answers are small; refuse anything larger.
const MAX_TOKEN_BODY: usize = 64 * 1024;

/// A cached access token.
pub struct AccessToken {
    pub(super) value: SecretString,
    pub(super) dpop: bool,
    expires_at: Timestamp,
    renew_at: Timestamp,
    pub(super) generation: u64,
}

/// What the org granted the service app, for `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    pub requested: Vec<String>,
    /// The scopes of the access token (its `scope`).
    pub granted: Vec<String>,
    /// Requested but not granted.
    pub missing: Vec<String>,
    /// The token is DPoP-bound.
    pub dpop: bool,
}

#[derive(Default)]
struct Cache {
    token: Option<Arc<AccessToken>>,
    generation: u64,
    /// Scopes of the latest token.
    granted: Option<Vec<String>>,
    /// Requested scopes the org refused (`invalid_scope`), found once.
    refused: Option<Vec<String>>,
}

/// The OAuth side: token endpoint client and token cache.
pub struct OAuth {
    pub(super) settings: OAuthSettings,
    token_url: Url,
    transport: Transport,
    pub(super) clock: SharedClock,
    policy: RetryPolicy,
    /// Held while a token is fetched, so concurrent requests wait for one fetch.
    cache: tokio::sync::Mutex<Cache>,
    /// Tokens of this generation or older were refused by the API: get a new one.
    revoked_generation: AtomicU64,
    /// DPoP in use (always, or since the token endpoint asked for it).
    dpop: AtomicBool,
    /// The latest `DPoP-Nonce` of the token endpoint and of the API.
    token_nonce: Mutex<Option<String>>,
    pub(super) api_nonce: Mutex<Option<String>>,
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: SecretString,
    token_type: Option<String>,
    expires_in: Option<i64>,
    scope: Option<String>,
}

#[derive(Deserialize, Default)]
struct TokenErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    // Okta API-style bodies (a proxy, or a path that is not the token endpoint).
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    #[serde(rename = "errorSummary")]
    error_summary: Option<String>,
}

/// How one token request ended.
enum Outcome {
    /// The token, and whether it was requested with DPoP.
    Issued(TokenBody, bool),
    Refused(TokenError),
}

impl OAuth {
    pub(super) fn new(
        settings: &OAuthSettings,
        origin: &Url,
        transport: Transport,
        clock: SharedClock,
        policy: RetryPolicy,
    ) -> OAuth {
        let mut token_url = origin.clone();
        token_url.set_path(TOKEN_PATH);
        OAuth {
            settings: settings.clone(),
            token_url,
            transport,
            clock,
            policy,
            cache: tokio::sync::Mutex::new(Cache::default()),
            revoked_generation: AtomicU64::new(0),
            dpop: AtomicBool::new(settings.dpop == DpopMode::Always),
            token_nonce: Mutex::new(None),
            api_nonce: Mutex::new(None),
        }
    }

    /// The cached token, or a new one when it is missing, due for renewal or refused.
    pub(super) async fn token(&self) -> Result<Arc<AccessToken>, OktaError> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now();
        let revoked = self.revoked_generation.load(Ordering::Relaxed);
        if let Some(token) = cache
            .token
            .as_ref()
            .filter(|t| now < t.renew_at && t.generation > revoked)
        {
            return Ok(token.clone());
        }
        let mut scopes = self.settings.scopes.clone();
        if let Some(refused) = &cache.refused {
            scopes.retain(|s| !refused.contains(s));
        }
        let (body, dpop, scopes) = self.issue(&mut cache, scopes).await?;
        let now = self.clock.now();
        let lifetime = body
            .expires_in
            .unwrap_or(3600)
            .clamp(1, MAX_TOKEN_LIFETIME_SECS);
        let margin = RENEW_MARGIN_SECS.min(lifetime / 2);
        let dpop = dpop
            || body
                .token_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("dpop"));
        cache.generation += 1;
        cache.granted = Some(match &body.scope {
            Some(scope) => scope.split_whitespace().map(str::to_string).collect(),
            None => scopes,
        });
        let token = Arc::new(AccessToken {
            value: body.access_token,
            dpop,
            expires_at: add_secs(now, lifetime),
            renew_at: add_secs(now, lifetime - margin),
            generation: cache.generation,
        });
        tracing::debug!(expires_at = %token.expires_at, dpop, "obtained an Okta OAuth access token");
        cache.token = Some(token.clone());
        Ok(token)
    }

    /// A token for `scopes`; when the org refuses some of them (`invalid_scope`), a token for
    /// those it grants, so a missing optional scope (roles) costs an enrichment, not the whole
    /// sync (`check` reports what is missing).
    async fn issue(
        &self,
        cache: &mut Cache,
        scopes: Vec<String>,
    ) -> Result<(TokenBody, bool, Vec<String>), OktaError> {
        let error = match self.request(&scopes).await? {
            Outcome::Issued(body, dpop) => return Ok((body, dpop, scopes)),
            Outcome::Refused(error) if error.error == "invalid_scope" && scopes.len() > 1 => error,
            Outcome::Refused(error) => return Err(OktaError::Token(Box::new(error))),
        };
        let mut granted = Vec::new();
        for scope in &scopes {
            if let Outcome::Issued(..) = self.request(std::slice::from_ref(scope)).await? {
                granted.push(scope.clone());
            }
        }
        if granted.is_empty() {
            return Err(OktaError::Token(Box::new(error)));
        }
        let refused: Vec<String> = scopes
            .iter()
            .filter(|s| !granted.contains(s))
            .cloned()
            .collect();
        tracing::warn!(client_id = %self.settings.client_id, missing = %refused.join(" "),
            "the Okta service app was not granted every requested scope; continuing with the granted ones (grant the missing scopes in the Okta admin console)");
        cache.refused = Some(refused);
        match self.request(&granted).await? {
            Outcome::Issued(body, dpop) => Ok((body, dpop, granted)),
            Outcome::Refused(error) => Err(OktaError::Token(Box::new(error))),
        }
    }

    /// One token request for `scopes`, through the shared retry loop.
    async fn request(&self, scopes: &[String]) -> Result<Outcome, OktaError> {
        let mut logic = TokenRequest {
            oauth: self,
            scopes,
            nonce_retried: false,
            dpop_switched: false,
        };
        let done = retry::run(&self.policy, self.clock.as_ref(), &mut logic, ()).await;
        match done.result {
            Ok(outcome) => Ok(outcome),
            Err(GaveUp::Failed(error)) => Err(error),
            Err(GaveUp::Exhausted { attempts, last }) => Err(OktaError::Exhausted {
                url: display_url(&self.token_url),
                attempts,
                last: Box::new(last),
            }),
        }
    }

    /// Sends one token request (a new client assertion each time: a `jti` is single-use).
    async fn send(&self, scopes: &[String], dpop: bool) -> Result<Answer, OktaError> {
        let now = self.clock.now();
        let settings_error = |e: super::keys::KeyError| OktaError::Settings(e.0);
        let assertion =
            client_assertion(&self.settings, &self.token_url, now).map_err(settings_error)?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", &scopes.join(" "))
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", assertion.expose_secret())
            .finish();
        let mut request = self
            .transport
            .request(Method::POST, self.token_url.clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form);
        if dpop {
            let nonce = self.token_nonce.lock().expect("nonce lock").clone();
            let proof = dpop_proof("POST", &self.token_url, now, nonce.as_deref(), None)
                .map_err(settings_error)?;
            request = request.header("DPoP", sensitive(&proof)?);
        }
        let transport = |error| OktaError::from_transport(&self.token_url, error);
        let incoming = self.transport.send(request).await.map_err(transport)?;
        incoming
            .read(BodyLimit::Whole(MAX_TOKEN_BODY))
            .await
            .map_err(transport)
    }

    fn token_error(&self, answer: &Answer) -> TokenError {
        let body = &answer.body;
        let parsed: TokenErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let (error, description) = match (parsed.error, parsed.error_code) {
            (Some(error), _) => (error, parsed.error_description),
            (None, Some(code)) => (code, parsed.error_summary),
            (None, None) => (
                format!("HTTP {}", answer.status),
                Some(if body.trim_ascii_start().starts_with(b"<") {
                    "an HTML page, not Okta's token endpoint".to_string()
                } else {
                    "no OAuth error body".to_string()
                }),
            ),
        };
        // Remote text: sanitised here, where it is parsed (see `crate::text`).
        TokenError {
            status: answer.status,
            error: text::remote(&error, text::WORD),
            description: description.map(|d| text::remote(&d, text::MESSAGE)),
            request_id: request_id(&answer.headers),
            url: display_url(&self.token_url),
        }
    }

    /// After the API refused `generation`'s token: the next request gets a new one.
    pub(super) fn revoke(&self, generation: u64) {
        self.revoked_generation
            .fetch_max(generation, Ordering::Relaxed);
    }

    /// The grant of the current token (getting one if needed).
    pub(super) async fn grant(&self) -> Result<Grant, OktaError> {
        let token = self.token().await?;
        let cache = self.cache.lock().await;
        let granted = cache.granted.clone().unwrap_or_default();
        let requested = self.settings.scopes.clone();
        let missing = requested
            .iter()
            .filter(|s| !granted.contains(s))
            .cloned()
            .collect();
        Ok(Grant {
            client_id: self.settings.client_id.clone(),
            requested,
            granted,
            missing,
            dpop: token.dpop,
        })
    }
}

/// One token request: its DPoP negotiation (switch to DPoP when the app requires it, answer one
/// nonce challenge) and the retry decision, from the same table as the API's.
struct TokenRequest<'a> {
    oauth: &'a OAuth,
    scopes: &'a [String],
    nonce_retried: bool,
    dpop_switched: bool,
}

impl TokenRequest<'_> {
    /// A refusal that a DPoP negotiation step answers, or the final refusal.
    fn refusal(&mut self, answer: &Answer, dpop: bool) -> RetryAction<Outcome, OktaError> {
        let error = self.oauth.token_error(answer);
        if error.error == "use_dpop_nonce" && !self.nonce_retried {
            if let Some(nonce) = super::header_text(&answer.headers, "dpop-nonce") {
                // Retried with the nonce (and a new client assertion: the first one's jti is
                // spent).
                *self.oauth.token_nonce.lock().expect("nonce lock") = Some(nonce);
                self.oauth.dpop.store(true, Ordering::Relaxed);
                self.nonce_retried = true;
                return RetryAction::Modified(OktaError::Token(Box::new(error)));
            }
        }
        if error.error == "invalid_dpop_proof"
            && !dpop
            && !self.dpop_switched
            && self.oauth.settings.dpop == DpopMode::Auto
        {
            tracing::info!("the Okta service app requires DPoP; using DPoP proofs");
            self.oauth.dpop.store(true, Ordering::Relaxed);
            self.dpop_switched = true;
            return RetryAction::Modified(OktaError::Token(Box::new(error)));
        }
        RetryAction::Accept(Outcome::Refused(error))
    }

    fn issued(&self, answer: &Answer, dpop: bool) -> RetryAction<Outcome, OktaError> {
        match serde_json::from_slice::<TokenBody>(&answer.body) {
            Ok(body) => RetryAction::Accept(Outcome::Issued(body, dpop)),
            Err(e) => RetryAction::Fail(OktaError::InvalidBody {
                url: display_url(&self.oauth.token_url),
                // Never the serde message: it may quote a value of the body.
                detail: format!("token response, line {} column {}", e.line(), e.column()),
                request_id: request_id(&answer.headers),
            }),
        }
    }
}

impl RetryLogic for TokenRequest<'_> {
    type Request = ();
    /// The answer, and whether the request carried a DPoP proof.
    type Answer = (Answer, bool);
    type Output = Outcome;
    type Error = OktaError;

    async fn send(&mut self, _: &(), _attempt: u32) -> Result<(Answer, bool), OktaError> {
        let dpop = self.oauth.dpop.load(Ordering::Relaxed);
        let answer = self.oauth.send(self.scopes, dpop).await?;
        Ok((answer, dpop))
    }

    fn classify(
        &mut self,
        _: &mut (),
        outcome: Result<(Answer, bool), OktaError>,
    ) -> RetryAction<Outcome, OktaError> {
        let (answer, dpop) = match outcome {
            Ok(answer) => answer,
            Err(error) => return on_failure(error),
        };
        let now = self.oauth.clock.now();
        let token_error = || OktaError::Token(Box::new(self.oauth.token_error(&answer)));
        match decide(answer.status, &answer.headers, None, now) {
            Decision::Accept => self.issued(&answer, dpop),
            Decision::Fail => self.refusal(&answer, dpop),
            Decision::WaitForReset(wait) => RetryAction::Wait {
                wait,
                error: token_error(),
            },
            Decision::ReduceConcurrency | Decision::SmallerPage(_) | Decision::Backoff => {
                RetryAction::Backoff {
                    error: token_error(),
                    asked: None,
                }
            }
        }
    }

    fn on_backoff(&mut self, attempt: u32, delay: Duration, _asked: bool, error: &OktaError) {
        tracing::warn!(url = %display_url(&self.oauth.token_url), attempt, delay_ms = delay.as_millis() as u64,
            error = %error, "Okta token request failed; retrying");
    }
}

fn add_secs(at: Timestamp, secs: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_secs(secs))
        .unwrap_or(at)
}

/// Headers of a DPoP nonce challenge from the API, if that is what a 401 is.
pub(super) fn api_nonce_challenge(headers: &HeaderMap) -> Option<String> {
    let asks_nonce = headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("use_dpop_nonce"));
    asks_nonce
        .then(|| super::header_text(headers, "dpop-nonce"))
        .flatten()
}

/// Okta's request id of an answer, escaped and capped like every remote string.
fn request_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
    super::header_text(headers, "x-okta-request-id").map(|id| text::remote(&id, text::WORD))
}
