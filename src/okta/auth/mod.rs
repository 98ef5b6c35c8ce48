//! How requests to Okta are authenticated: an SSWS API token (the default), or OAuth 2.0 for
//! Okta with a service app (client credentials with `private_key_jwt`, optionally DPoP).
//!
//! OAuth, as Okta's "Implement OAuth for Okta with a service app" guide describes it:
//! - the connector signs a short-lived **client assertion** (a JWT, see [`jwt`]) with the app's
//!   private key ([`keys`]: RS256 or ES256) and trades it at the **org** authorization server,
//!   `POST {origin}/oauth2/v1/token`, for an access token holding the granted `okta.*` scopes
//!   ([`token`]);
//! - the token is cached and renewed a minute before it expires (Okta: one hour), and once when
//!   the API answers 401 (revoked token);
//! - with **DPoP** (required by default on new API Services apps) every request carries a proof
//!   JWT signed by a per-process P-256 key: `htm`, `htu`, `iat`, `jti`, plus `nonce` at the
//!   token endpoint after its `use_dpop_nonce` challenge and `ath` (the token's hash) on API
//!   calls, which then send `Authorization: DPoP <token>`.
//!
//! Secrets: the private key lives in *ring* key pairs (never printed); the access token is a
//! [`SecretString`] that only ever goes into the `Authorization` header of a request to the
//! configured Okta origin (the token URL is built from it, and no redirect is followed).
//! Nothing here logs or formats either.

pub mod jwt;
pub mod keys;
pub mod settings;
pub mod token;

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::clock::SharedClock;
use crate::http::{RetryPolicy, Transport};
use crate::okta::error::OktaError;

pub use keys::{KeyError, PrivateKey};
pub use settings::{DpopMode, OAuthSettings, DEFAULT_SCOPES};
pub use token::{AccessToken, Grant, TOKEN_PATH};

/// How the connector proves who it is to Okta.
#[derive(Clone, Debug)]
pub enum OktaCredential {
    /// An SSWS API token, sent as `Authorization: SSWS <token>`.
    ApiToken(SecretString),
    /// An OAuth 2.0 service app: access tokens from the org authorization server.
    ServiceApp(OAuthSettings),
}

/// The credentials of one request.
pub enum Credential {
    Ssws,
    OAuth(Arc<AccessToken>),
}

/// Builds the authentication headers of each request.
pub enum Authenticator {
    Ssws(SecretString),
    OAuth(Box<token::OAuth>),
}

impl Authenticator {
    /// Token requests (OAuth) go through `transport` to `origin`, retried under `policy`.
    pub fn new(
        credential: &OktaCredential,
        origin: &Url,
        transport: Transport,
        clock: SharedClock,
        policy: RetryPolicy,
    ) -> Authenticator {
        match credential {
            OktaCredential::ApiToken(token) => Authenticator::Ssws(token.clone()),
            OktaCredential::ServiceApp(settings) => Authenticator::OAuth(Box::new(
                token::OAuth::new(settings, origin, transport, clock, policy),
            )),
        }
    }

    pub fn is_oauth(&self) -> bool {
        matches!(self, Authenticator::OAuth(_))
    }

    /// The credentials for the next request (gets or renews the access token first).
    pub async fn credential(&self) -> Result<Credential, OktaError> {
        match self {
            Authenticator::Ssws(_) => Ok(Credential::Ssws),
            Authenticator::OAuth(oauth) => oauth.token().await.map(Credential::OAuth),
        }
    }

    /// The headers of one request: `Authorization` (marked sensitive), and `DPoP`.
    pub fn headers(
        &self,
        credential: &Credential,
        method: &str,
        url: &Url,
    ) -> Result<HeaderMap, OktaError> {
        let mut headers = HeaderMap::new();
        match (self, credential) {
            (Authenticator::OAuth(oauth), Credential::OAuth(token)) => {
                let scheme = if token.dpop { "DPoP" } else { "Bearer" };
                headers.insert(
                    AUTHORIZATION,
                    sensitive(&format!("{scheme} {}", token.value.expose_secret()))?,
                );
                if token.dpop {
                    let nonce = oauth.api_nonce.lock().expect("nonce lock").clone();
                    let now = oauth.clock.now();
                    let proof =
                        jwt::dpop_proof(method, url, now, nonce.as_deref(), Some(&token.value))
                            .map_err(|e| OktaError::Settings(e.0))?;
                    headers.insert("DPoP", sensitive(&proof)?);
                }
            }
            (Authenticator::Ssws(token), _) => {
                let value = HeaderValue::from_str(&format!("SSWS {}", token.expose_secret()))
                    .map_err(|_| {
                        OktaError::Settings(
                            "the API token contains characters not allowed in an HTTP header"
                                .into(),
                        )
                    })?;
                headers.insert(AUTHORIZATION, mark_sensitive(value));
            }
            (Authenticator::OAuth(_), Credential::Ssws) => {
                return Err(OktaError::Settings("no OAuth access token".into()))
            }
        }
        Ok(headers)
    }

    /// After a 401 from the API: true when the request should be retried once, with a fresh
    /// access token (the one used is dropped) or with the DPoP nonce the resource server asked
    /// for.
    pub fn on_unauthorized(&self, credential: &Credential, headers: &HeaderMap) -> bool {
        let (Authenticator::OAuth(oauth), Credential::OAuth(token)) = (self, credential) else {
            return false;
        };
        if let Some(nonce) = token::api_nonce_challenge(headers) {
            *oauth.api_nonce.lock().expect("nonce lock") = Some(nonce);
        } else {
            oauth.revoke(token.generation);
        }
        true
    }

    /// The OAuth grant (requested, granted and missing scopes), `None` with SSWS.
    pub async fn grant(&self) -> Option<Result<Grant, OktaError>> {
        match self {
            Authenticator::Ssws(_) => None,
            Authenticator::OAuth(oauth) => Some(oauth.grant().await),
        }
    }
}

fn mark_sensitive(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}

fn sensitive(text: &str) -> Result<HeaderValue, OktaError> {
    HeaderValue::from_str(text)
        .map(mark_sensitive)
        .map_err(|_| {
            OktaError::Settings(
                "Okta issued an access token that is not a valid HTTP header value".into(),
            )
        })
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
