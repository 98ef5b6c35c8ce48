//! How requests to Okta are authenticated: an SSWS API token (the default), or OAuth 2.0 for
//! Okta with a service app (client credentials with `private_key_jwt`, optionally DPoP).
//!
//! OAuth, as Okta's "Implement OAuth for Okta with a service app" guide describes it:
//! - the connector signs a short-lived **client assertion** (a JWT: `iss = sub = client_id`,
//!   `aud` = the token URL, `iat`, `exp` five minutes later, a unique `jti`, `kid` when
//!   configured) with the app's private key (RS256 or ES256) and trades it at the **org**
//!   authorization server, `POST {origin}/oauth2/v1/token`, for an access token holding the
//!   granted `okta.*` scopes;
//! - the token is cached and renewed a minute before it expires (Okta: one hour), and once when
//!   the API answers 401 (revoked token);
//! - with **DPoP** (required by default on new API Services apps) every request carries a proof
//!   JWT signed by a per-process P-256 key: `htm`, `htu`, `iat`, `jti`, plus `nonce` at the
//!   token endpoint after its `use_dpop_nonce` challenge and `ath` (the token's hash) on API
//!   calls, which then send `Authorization: DPoP <token>`.
//!
//! Secrets: the private key lives in RustCrypto key types (zeroized on drop, never printed);
//! the access token is a [`SecretString`] that only ever goes into the `Authorization` header of
//! a request to the configured Okta origin (the token URL is built from it, and the client
//! follows no redirect). Nothing here logs or formats either.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use p256::ecdsa::signature::{RandomizedSigner, Signer};
use rand_core::{OsRng, RngCore};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::error::{display_url, OktaError};
use crate::backoff::BackoffPolicy;
use crate::clock::SharedClock;

/// The scopes a read-only inventory needs (BRIEF §3).
pub const DEFAULT_SCOPES: [&str; 3] = ["okta.users.read", "okta.groups.read", "okta.roles.read"];
/// The org authorization server's token endpoint: the only one that mints `okta.*` scopes.
pub const TOKEN_PATH: &str = "/oauth2/v1/token";
/// Lifetime of a client assertion (Okta accepts up to an hour; short limits replay).
const ASSERTION_LIFETIME_SECS: i64 = 300;
/// Renew this long before the access token expires.
const RENEW_MARGIN_SECS: i64 = 60;
/// Token endpoint answers are small; refuse anything larger.
const MAX_TOKEN_BODY: usize = 64 * 1024;

// ------------------------------------------------------------------------------ settings

/// How the connector authenticates to Okta: exactly one of an API token or a service app.
#[derive(Debug, Clone)]
pub enum OktaCredential {
    /// `Authorization: SSWS <token>`.
    ApiToken(SecretString),
    /// OAuth 2.0 client credentials with `private_key_jwt` (and DPoP when asked).
    ServiceApp(OAuthSettings),
}

/// When to use DPoP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Only when the token endpoint asks for it (`invalid_dpop_proof`: proof missing).
    #[default]
    Auto,
    Always,
    Never,
}

impl FromStr for DpopMode {
    type Err = ();
    fn from_str(text: &str) -> Result<DpopMode, ()> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DpopMode::Auto),
            "true" | "yes" | "on" | "1" | "always" => Ok(DpopMode::Always),
            "false" | "no" | "off" | "0" | "never" => Ok(DpopMode::Never),
            _ => Err(()),
        }
    }
}

/// OAuth 2.0 service-app settings, validated by the config module.
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    pub client_id: String,
    /// Private key of the app's registered public key (its `Debug` shows only the algorithm).
    pub key: PrivateKey,
    /// `kid` of the registered public key, sent in the assertion header when set.
    pub key_id: Option<String>,
    pub scopes: Vec<String>,
    pub dpop: DpopMode,
}

impl OAuthSettings {
    pub fn new(client_id: impl Into<String>, key: PrivateKey) -> OAuthSettings {
        OAuthSettings {
            client_id: client_id.into(),
            key,
            key_id: None,
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            dpop: DpopMode::Auto,
        }
    }
}

// ------------------------------------------------------------------------------ keys

/// Why a private key cannot be used. Messages never quote the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

fn key_error(message: &str) -> KeyError {
    KeyError(message.to_string())
}

// Behind an `Arc`: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum KeyKind {
    Rsa(rsa::pkcs1v15::SigningKey<Sha256>),
    Ec(p256::ecdsa::SigningKey),
}

/// The service app's private key: RSA (RS256) or P-256 (ES256). Zeroized on drop by the
/// RustCrypto types; `Debug` shows the algorithm only.
#[derive(Clone)]
pub struct PrivateKey(Arc<KeyKind>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({}, [redacted])", self.alg())
    }
}

impl PrivateKey {
    /// Parses a PEM private key (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, SEC1
    /// `EC PRIVATE KEY`) or a private JWK (or a JWKS holding one), as Okta's admin console
    /// generates it.
    pub fn parse(text: &SecretString) -> Result<PrivateKey, KeyError> {
        let text = text.expose_secret().trim();
        if text.starts_with('{') {
            return parse_jwk(text);
        }
        if !text.starts_with("-----BEGIN ") {
            return Err(key_error(
                "not a PEM private key (-----BEGIN PRIVATE KEY-----) nor a JWK ({\"kty\": ...})",
            ));
        }
        let label = text["-----BEGIN ".len()..]
            .split("-----")
            .next()
            .unwrap_or("")
            .to_string();
        match label.as_str() {
            "PRIVATE KEY" => {
                use rsa::pkcs8::DecodePrivateKey;
                if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(text) {
                    return rsa_key(key);
                }
                if let Ok(key) = p256::SecretKey::from_pkcs8_pem(text) {
                    return Ok(PrivateKey(Arc::new(KeyKind::Ec(key.into()))));
                }
                Err(key_error(
                    "unsupported or invalid PKCS#8 private key: use an RSA key (RS256, 2048 bits or more) or an EC P-256 key (ES256)",
                ))
            }
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                rsa::RsaPrivateKey::from_pkcs1_pem(text)
                    .map_err(|_| key_error("invalid RSA PRIVATE KEY (PKCS#1) PEM"))
                    .and_then(rsa_key)
            }
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_pem(text)
                .map(|key| PrivateKey(Arc::new(KeyKind::Ec(key.into()))))
                .map_err(|_| {
                    key_error("unsupported or invalid EC PRIVATE KEY: only the P-256 curve (ES256) is supported")
                }),
            "ENCRYPTED PRIVATE KEY" => Err(key_error(
                "encrypted private keys are not supported: store the key unencrypted in a protected file or secret (openssl pkcs8 -topk8 -nocrypt)",
            )),
            "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE" => Err(key_error(
                "this is a public key or certificate: the connector needs the private key whose public key is registered with the Okta service app",
            )),
            _ => Err(key_error(
                "unsupported PEM block: use PRIVATE KEY (PKCS#8), RSA PRIVATE KEY or EC PRIVATE KEY",
            )),
        }
    }

    /// `RS256` or `ES256`.
    pub fn alg(&self) -> &'static str {
        match &*self.0 {
            KeyKind::Rsa(_) => "RS256",
            KeyKind::Ec(_) => "ES256",
        }
    }

    /// The JWS signature of `input`.
    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match &*self.0 {
            // Randomized: RSA blinding against timing side channels.
            KeyKind::Rsa(key) => {
                let signature: rsa::pkcs1v15::Signature = key.sign_with_rng(&mut OsRng, input);
                rsa::signature::SignatureEncoding::to_vec(&signature)
            }
            KeyKind::Ec(key) => {
                let signature: p256::ecdsa::Signature = key.sign(input);
                signature.to_bytes().to_vec()
            }
        }
    }
}

fn rsa_key(key: rsa::RsaPrivateKey) -> Result<PrivateKey, KeyError> {
    use rsa::traits::PublicKeyParts;
    if key.size() < 256 {
        return Err(key_error(
            "the RSA key is shorter than 2048 bits, which Okta refuses: generate a 2048-bit (or longer) key",
        ));
    }
    Ok(PrivateKey(Arc::new(KeyKind::Rsa(
        rsa::pkcs1v15::SigningKey::<Sha256>::new(key),
    ))))
}

fn parse_jwk(text: &str) -> Result<PrivateKey, KeyError> {
    let value: Value =
        serde_json::from_str(text).map_err(|_| key_error("the JWK is not valid JSON"))?;
    // A JWKS: take its only (or first private) key.
    let jwk = match value.get("keys").and_then(Value::as_array) {
        Some(keys) => keys
            .iter()
            .find(|k| k.get("d").is_some())
            .cloned()
            .ok_or_else(|| key_error("the JWKS holds no private key (no \"d\" member)"))?,
        None => value,
    };
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("d").is_none() {
        return Err(key_error(
            "this JWK is a public key (no \"d\" member): the connector needs the private key",
        ));
    }
    match field("kty") {
        Some("RSA") => {
            let number = |name: &str| -> Result<rsa::BigUint, KeyError> {
                let text =
                    field(name).ok_or_else(|| KeyError(format!("the RSA JWK lacks \"{name}\"")))?;
                let bytes = URL_SAFE_NO_PAD
                    .decode(text.trim_end_matches('='))
                    .map_err(|_| KeyError(format!("the RSA JWK's \"{name}\" is not base64url")))?;
                Ok(rsa::BigUint::from_bytes_be(&bytes))
            };
            let primes = match (field("p"), field("q")) {
                (Some(_), Some(_)) => vec![number("p")?, number("q")?],
                _ => Vec::new(),
            };
            let key = rsa::RsaPrivateKey::from_components(
                number("n")?,
                number("e")?,
                number("d")?,
                primes,
            )
            .map_err(|_| key_error("the RSA JWK is not a consistent RSA private key"))?;
            key.validate()
                .map_err(|_| key_error("the RSA JWK is not a consistent RSA private key"))?;
            rsa_key(key)
        }
        Some("EC") => {
            if field("crv") != Some("P-256") {
                return Err(key_error(
                    "unsupported EC curve: only P-256 (ES256) is supported",
                ));
            }
            let d = field("d").unwrap_or_default();
            let bytes = URL_SAFE_NO_PAD
                .decode(d.trim_end_matches('='))
                .map_err(|_| key_error("the EC JWK's \"d\" is not base64url"))?;
            let key = p256::ecdsa::SigningKey::from_slice(&bytes)
                .map_err(|_| key_error("the EC JWK's \"d\" is not a P-256 private key"))?;
            Ok(PrivateKey(Arc::new(KeyKind::Ec(key))))
        }
        Some(other) => Err(KeyError(format!(
            "unsupported JWK key type {other:?}: use RSA (RS256) or EC P-256 (ES256)"
        ))),
        None => Err(key_error("the JWK has no \"kty\"")),
    }
}

// ------------------------------------------------------------------------------ JWTs

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A unique JWT id: 128 random bits.
fn jti() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    b64(&bytes)
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// The client assertion for one token request.
fn client_assertion(settings: &OAuthSettings, token_url: &Url, now: Timestamp) -> String {
    let mut header = json!({"alg": settings.key.alg(), "typ": "JWT"});
    if let Some(kid) = &settings.key_id {
        header["kid"] = json!(kid);
    }
    let iat = now.as_second();
    let claims = json!({
        "iss": settings.client_id,
        "sub": settings.client_id,
        "aud": token_url.as_str(),
        "iat": iat,
        "exp": iat + ASSERTION_LIFETIME_SECS,
        "jti": jti(),
    });
    let input = signing_input(&header, &claims);
    let signature = settings.key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// The per-process DPoP key pair and its public JWK.
struct DpopKey {
    key: p256::ecdsa::SigningKey,
    jwk: Value,
}

fn dpop_key() -> &'static DpopKey {
    static KEY: OnceLock<DpopKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = p256::ecdsa::SigningKey::random(&mut OsRng);
        let point = key.verifying_key().to_encoded_point(false);
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": b64(point.x().map(|x| &x[..]).unwrap_or_default()),
            "y": b64(point.y().map(|y| &y[..]).unwrap_or_default()),
        });
        DpopKey { key, jwk }
    })
}

/// `htu`: the request URL without query and fragment.
fn htu(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// A DPoP proof for one request.
fn dpop_proof(
    method: &str,
    url: &Url,
    now: Timestamp,
    nonce: Option<&str>,
    access_token: Option<&SecretString>,
) -> String {
    let key = dpop_key();
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk});
    let mut claims = json!({
        "htm": method,
        "htu": htu(url),
        "iat": now.as_second(),
        "jti": jti(),
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(token) = access_token {
        claims["ath"] = json!(b64(&Sha256::digest(token.expose_secret().as_bytes())));
    }
    let input = signing_input(&header, &claims);
    let signature: p256::ecdsa::Signature = key.key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

// ------------------------------------------------------------------------------ errors

/// An error answer of Okta's token endpoint (`{error, error_description}`).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenError {
    pub status: u16,
    /// `invalid_client`, `invalid_scope`, `invalid_dpop_proof`, `use_dpop_nonce`, ...
    pub error: String,
    pub description: Option<String>,
    pub request_id: Option<String>,
    pub url: String,
}

impl TokenError {
    /// What the operator should do about it.
    pub fn hint(&self) -> &'static str {
        match self.error.as_str() {
            "invalid_client" => "Okta did not accept the service app's client assertion: check client_id, that the app's client authentication is \"Public key / Private key\", that its registered public key matches private_key (and key_id when it has several keys), and that this host's clock is right",
            "invalid_scope" => "the service app was not granted the requested scopes: grant them in the Okta admin console (Applications > the app > Okta API Scopes > Grant), or list only granted ones in scopes",
            "unauthorized_client" => "this app may not use the client credentials grant: use an API Services app (Applications > Create App Integration > API Services) with Public key / Private key client authentication",
            "invalid_dpop_proof" => "Okta refused the DPoP proof: keep dpop = \"auto\" (or true) when the app requires DPoP, false only when it does not; check this host's clock",
            "use_dpop_nonce" => "Okta asked for a new DPoP nonce twice in a row: retry; if it persists, quote the request id to Okta support",
            "unsupported_grant_type" | "invalid_request" => "the token request was malformed for this org: check base_url is the Okta org URL (the org authorization server, not a custom one)",
            _ => "see Okta's OAuth 2.0 error reference for this error (https://developer.okta.com/docs/reference/error-codes/)",
        }
    }
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Okta's token endpoint {} refused the service app's token request: HTTP {} {}",
            self.url, self.status, self.error
        )?;
        if let Some(description) = &self.description {
            write!(f, " ({description})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        write!(f, "; hint: {}", self.hint())
    }
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

#[derive(Deserialize)]
struct TokenBody {
    access_token: SecretString,
    token_type: Option<String>,
    expires_in: Option<i64>,
    scope: Option<String>,
}

// ------------------------------------------------------------------------------ the token

/// A cached access token.
pub struct AccessToken {
    value: SecretString,
    dpop: bool,
    expires_at: Timestamp,
    renew_at: Timestamp,
    generation: u64,
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

/// The credentials of one request.
pub enum Credential {
    Ssws,
    OAuth(Arc<AccessToken>),
}

/// Builds the authentication headers of each request.
pub enum Authenticator {
    Ssws(SecretString),
    OAuth(Box<OAuth>),
}

impl Authenticator {
    pub fn new(
        token: &SecretString,
        oauth: Option<&OAuthSettings>,
        origin: &Url,
        http: reqwest::Client,
        clock: SharedClock,
        backoff: BackoffPolicy,
    ) -> Authenticator {
        match oauth {
            None => Authenticator::Ssws(token.clone()),
            Some(settings) => {
                let mut token_url = origin.clone();
                token_url.set_path(TOKEN_PATH);
                Authenticator::OAuth(Box::new(OAuth {
                    settings: settings.clone(),
                    token_url,
                    http,
                    clock,
                    backoff,
                    cache: tokio::sync::Mutex::new(Cache::default()),
                    dpop: AtomicBool::new(settings.dpop == DpopMode::Always),
                    token_nonce: Mutex::new(None),
                    api_nonce: Mutex::new(None),
                }))
            }
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
                    let proof = dpop_proof(
                        method,
                        url,
                        oauth.clock.now(),
                        nonce.as_deref(),
                        Some(&token.value),
                    );
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
    /// access token (the one used is dropped from the cache) or with the DPoP nonce the
    /// resource server asked for.
    pub async fn on_unauthorized(&self, credential: &Credential, headers: &HeaderMap) -> bool {
        let (Authenticator::OAuth(oauth), Credential::OAuth(token)) = (self, credential) else {
            return false;
        };
        let asks_nonce = headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("use_dpop_nonce"));
        if let (true, Some(nonce)) = (asks_nonce, header_text(headers, "dpop-nonce")) {
            *oauth.api_nonce.lock().expect("nonce lock") = Some(nonce);
            return true;
        }
        let mut cache = oauth.cache.lock().await;
        if cache
            .token
            .as_ref()
            .is_some_and(|t| t.generation == token.generation)
        {
            cache.token = None;
        }
        true
    }

    /// The OAuth grant (requested, granted and missing scopes), `None` with SSWS.
    pub async fn grant(&self) -> Option<Result<Grant, OktaError>> {
        let Authenticator::OAuth(oauth) = self else {
            return None;
        };
        Some(match oauth.token().await {
            Ok(token) => {
                let cache = oauth.cache.lock().await;
                let granted = cache.granted.clone().unwrap_or_default();
                let requested = oauth.settings.scopes.clone();
                let missing = requested
                    .iter()
                    .filter(|s| !granted.contains(s))
                    .cloned()
                    .collect();
                Ok(Grant {
                    client_id: oauth.settings.client_id.clone(),
                    requested,
                    granted,
                    missing,
                    dpop: token.dpop,
                })
            }
            Err(error) => Err(error),
        })
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
    settings: OAuthSettings,
    token_url: Url,
    http: reqwest::Client,
    clock: SharedClock,
    backoff: BackoffPolicy,
    /// Held while a token is fetched, so concurrent requests wait for one fetch.
    cache: tokio::sync::Mutex<Cache>,
    /// DPoP in use (always, or since the token endpoint asked for it).
    dpop: AtomicBool,
    /// The latest `DPoP-Nonce` of the token endpoint and of the API.
    token_nonce: Mutex<Option<String>>,
    api_nonce: Mutex<Option<String>>,
}

/// How one token request ended.
enum Outcome {
    Issued(TokenBody, bool),
    Refused(TokenError),
}

impl OAuth {
    /// The cached token, or a new one when it is missing or due for renewal.
    async fn token(&self) -> Result<Arc<AccessToken>, OktaError> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now();
        if let Some(token) = cache.token.as_ref().filter(|t| now < t.renew_at) {
            return Ok(token.clone());
        }
        let mut scopes = self.settings.scopes.clone();
        if let Some(refused) = &cache.refused {
            scopes.retain(|s| !refused.contains(s));
        }
        let (body, dpop) = match self.request(&scopes).await? {
            Outcome::Issued(body, dpop) => (body, dpop),
            Outcome::Refused(error) if error.error == "invalid_scope" && scopes.len() > 1 => {
                // Find which scopes the app holds, so a missing optional one (roles) costs an
                // enrichment, not the whole sync; what is missing is reported by `check`.
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
                    Outcome::Issued(body, dpop) => (body, dpop),
                    Outcome::Refused(error) => return Err(OktaError::Token(Box::new(error))),
                }
            }
            Outcome::Refused(error) => return Err(OktaError::Token(Box::new(error))),
        };
        let now = self.clock.now();
        let lifetime = body.expires_in.unwrap_or(3600).max(1);
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

    /// One token request for `scopes`, with the DPoP negotiation (switch to DPoP when the app
    /// requires it, answer one nonce challenge) and retries of transient failures.
    async fn request(&self, scopes: &[String]) -> Result<Outcome, OktaError> {
        let mut delays = self.backoff.delays();
        let mut attempts = 0u32;
        let mut nonce_retried = false;
        let mut dpop_switched = false;
        loop {
            attempts += 1;
            let dpop = self.dpop.load(Ordering::Relaxed);
            let failure = match self.send(scopes, dpop).await {
                Ok((status, headers, body)) => {
                    if (200..300).contains(&status) {
                        let body: TokenBody =
                            serde_json::from_slice(&body).map_err(|e| OktaError::InvalidBody {
                                url: display_url(&self.token_url),
                                // Never the serde message: it may quote a value of the body.
                                detail: format!(
                                    "token response, line {} column {}",
                                    e.line(),
                                    e.column()
                                ),
                                request_id: header_text(&headers, "x-okta-request-id"),
                            })?;
                        return Ok(Outcome::Issued(body, dpop));
                    }
                    let error = self.token_error(status, &headers, &body);
                    let transient = status == 429 || status == 408 || status >= 500;
                    if !transient {
                        if error.error == "use_dpop_nonce" && !nonce_retried {
                            if let Some(nonce) = header_text(&headers, "dpop-nonce") {
                                // Retry with the nonce (and, being a new request, a new
                                // client assertion: the first one's jti is spent).
                                *self.token_nonce.lock().expect("nonce lock") = Some(nonce);
                                self.dpop.store(true, Ordering::Relaxed);
                                nonce_retried = true;
                                continue;
                            }
                        }
                        if error.error == "invalid_dpop_proof"
                            && !dpop
                            && !dpop_switched
                            && self.settings.dpop == DpopMode::Auto
                        {
                            tracing::info!("the Okta service app requires DPoP; using DPoP proofs");
                            self.dpop.store(true, Ordering::Relaxed);
                            dpop_switched = true;
                            continue;
                        }
                        return Ok(Outcome::Refused(error));
                    }
                    OktaError::Token(Box::new(error))
                }
                Err(error @ OktaError::Transport { .. }) => error,
                Err(error) => return Err(error),
            };
            let Some(delay) = delays.next() else {
                return Err(OktaError::Exhausted {
                    url: display_url(&self.token_url),
                    attempts,
                    last: Box::new(failure),
                });
            };
            tracing::warn!(url = %display_url(&self.token_url), attempt = attempts, delay_ms = delay.as_millis() as u64,
                error = %failure, "Okta token request failed; retrying");
            self.clock.sleep(delay).await;
        }
    }

    /// Sends one token request; returns status, headers and the (bounded) body.
    async fn send(
        &self,
        scopes: &[String],
        dpop: bool,
    ) -> Result<(u16, HeaderMap, Vec<u8>), OktaError> {
        let now = self.clock.now();
        let assertion = SecretString::from(client_assertion(&self.settings, &self.token_url, now));
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
            .http
            .post(self.token_url.clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form);
        if dpop {
            let nonce = self.token_nonce.lock().expect("nonce lock").clone();
            let proof = dpop_proof("POST", &self.token_url, now, nonce.as_deref(), None);
            request = request.header("DPoP", sensitive(&proof)?);
        }
        let url = display_url(&self.token_url);
        let transport = |error: reqwest::Error| OktaError::Transport {
            url: url.clone(),
            detail: if error.is_timeout() {
                "timed out".into()
            } else {
                root_cause(&error)
            },
        };
        let mut answer = request.send().await.map_err(transport)?;
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        if (300..400).contains(&status) {
            return Err(OktaError::Redirect {
                url: url.clone(),
                status,
                location: header_text(&headers, "location")
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_TOKEN_BODY {
                return Err(OktaError::BodyTooLarge {
                    url,
                    limit: MAX_TOKEN_BODY,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, body))
    }

    fn token_error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> TokenError {
        let parsed: TokenErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let (error, description) = match (parsed.error, parsed.error_code) {
            (Some(error), _) => (error, parsed.error_description),
            (None, Some(code)) => (code, parsed.error_summary),
            (None, None) => (
                format!("HTTP {status}"),
                Some(if body.trim_ascii_start().starts_with(b"<") {
                    "an HTML page, not Okta's token endpoint".to_string()
                } else {
                    "no OAuth error body".to_string()
                }),
            ),
        };
        TokenError {
            status,
            error,
            description: description.map(|d| d.chars().take(300).collect()),
            request_id: header_text(headers, "x-okta-request-id"),
            url: display_url(&self.token_url),
        }
    }
}

fn add_secs(at: Timestamp, secs: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_secs(secs))
        .unwrap_or(at)
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_string())
    }

    #[test]
    fn dpop_modes_parse() {
        assert_eq!("auto".parse(), Ok(DpopMode::Auto));
        assert_eq!("TRUE".parse(), Ok(DpopMode::Always));
        assert_eq!("false".parse(), Ok(DpopMode::Never));
        assert!("maybe".parse::<DpopMode>().is_err());
    }

    #[test]
    fn ec_keys_parse_from_pem_and_jwk_and_sign() {
        use p256::pkcs8::EncodePrivateKey;
        let key = p256::SecretKey::random(&mut OsRng);
        let pem = key.to_pkcs8_pem(Default::default()).unwrap();
        let parsed = PrivateKey::parse(&secret(&pem)).unwrap();
        assert_eq!(parsed.alg(), "ES256");
        let debug = format!("{parsed:?}");
        assert_eq!(debug, "PrivateKey(ES256, [redacted])");
        let jwk = key.to_jwk_string();
        let parsed = PrivateKey::parse(&SecretString::from(jwk.to_string())).unwrap();
        let signature = parsed.sign(b"abc");
        let verifying = p256::ecdsa::VerifyingKey::from(&p256::ecdsa::SigningKey::from(&key));
        let signature = p256::ecdsa::Signature::from_slice(&signature).unwrap();
        use p256::ecdsa::signature::Verifier;
        verifying.verify(b"abc", &signature).unwrap();
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        for (text, needle) in [
            ("hunter2-not-a-key", "not a PEM private key"),
            (
                "-----BEGIN PUBLIC KEY-----\nhunter2\n-----END PUBLIC KEY-----",
                "public key",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nhunter2\n-----END ENCRYPTED PRIVATE KEY-----",
                "encrypted",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nhunter2\n-----END PRIVATE KEY-----",
                "unsupported or invalid",
            ),
            (r#"{"kty":"OKP","d":"hunter2"}"#, "unsupported JWK key type"),
            (r#"{"kty":"EC","crv":"P-384","d":"hunter2"}"#, "P-256"),
            (r#"{"kty":"RSA","n":"hunter2"}"#, "public key"),
            (r#"{"kty":"EC","crv":"P-256","d":"AAAA"}"#, "P-256 private key"),
        ] {
            let error = PrivateKey::parse(&secret(text)).unwrap_err().to_string();
            assert!(error.contains(needle), "{text}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn htu_drops_query_and_fragment() {
        let url = Url::parse("https://a.okta.com/api/v1/users?limit=200&after=x#f").unwrap();
        assert_eq!(htu(&url), "https://a.okta.com/api/v1/users");
    }

    #[test]
    fn token_errors_carry_a_hint() {
        let error = TokenError {
            status: 401,
            error: "invalid_client".into(),
            description: Some("The client_assertion signature is invalid.".into()),
            request_id: Some("abc".into()),
            url: "https://a.okta.com/oauth2/v1/token".into(),
        };
        let text = error.to_string();
        assert!(
            text.contains("invalid_client") && text.contains("Public key / Private key"),
            "{text}"
        );
    }
}
