//! The fake org authorization server: `POST /oauth2/v1/token` (client credentials with a
//! `private_key_jwt` client assertion, optional DPoP with a nonce challenge) and the checks of
//! `Authorization: Bearer|DPoP <token>` on API routes (expiry on the virtual clock, revocation,
//! DPoP proof with `ath`, scopes per endpoint family).
//!
//! Registered clients hold a public key (RSA or P-256), the scopes granted to them, and whether
//! they require DPoP. Signatures are verified with `ring` (RS256: PKCS#1 v1.5 with SHA-256 and
//! a 2048- to 8192-bit modulus; ES256: P-256 with the 64-byte `r || s` form JWS uses). Like Okta: a token request naming a scope the app was not granted is
//! refused with `invalid_scope`; a DPoP-requiring app first answers `invalid_dpop_proof` when
//! the proof is missing, then `use_dpop_nonce` with a `DPoP-Nonce` header; a client assertion's
//! `jti` may be used once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use ring::digest::{digest, SHA256};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{json, Value};

use crate::http::{Reply, Request};

/// The public key registered for a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientKey {
    /// An RSA public key: the DER `RSAPublicKey` (PKCS#1) structure.
    Rsa(Vec<u8>),
    /// A P-256 public key: the uncompressed point, `04 || x || y` (65 bytes).
    Ec(Vec<u8>),
}

impl ClientKey {
    /// From a PEM `RSA PUBLIC KEY` (PKCS#1), as `openssl rsa -RSAPublicKey_out` writes it.
    pub fn rsa_from_pem(pem: &str) -> Result<ClientKey, String> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .skip_while(|line| *line != "-----BEGIN RSA PUBLIC KEY-----")
            .skip(1)
            .take_while(|line| !line.starts_with("-----END"))
            .collect();
        if body.is_empty() {
            return Err("no -----BEGIN RSA PUBLIC KEY----- block".into());
        }
        let der = STANDARD
            .decode(body)
            .map_err(|e| format!("bad base64 in the PEM body: {e}"))?;
        Ok(ClientKey::Rsa(der))
    }

    /// From a public EC JWK on P-256 (`kty` EC, `crv` P-256, `x` and `y`, base64url).
    pub fn ec_from_jwk(jwk: &Value) -> Result<ClientKey, String> {
        if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
            return Err("not an EC P-256 JWK".into());
        }
        let coordinate = |name: &str| -> Result<Vec<u8>, String> {
            let bytes = jwk[name]
                .as_str()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .ok_or_else(|| format!("JWK `{name}` is not base64url"))?;
            if bytes.len() == 32 {
                Ok(bytes)
            } else {
                Err(format!("JWK `{name}` is not 32 bytes"))
            }
        };
        let mut point = vec![0x04];
        point.extend(coordinate("x")?);
        point.extend(coordinate("y")?);
        Ok(ClientKey::Ec(point))
    }
}

/// A registered OAuth 2.0 service app.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    pub client_id: String,
    pub key: ClientKey,
    /// When set, an assertion carrying a different `kid` is refused.
    pub key_id: Option<String>,
    pub scopes: Vec<String>,
    pub require_dpop: bool,
}

impl OAuthClient {
    /// A client granted the read scopes a connector needs (users, groups, roles and the
    /// System Log), DPoP not required.
    pub fn new(client_id: &str, key: ClientKey) -> OAuthClient {
        OAuthClient {
            client_id: client_id.to_string(),
            key,
            key_id: None,
            scopes: [
                "okta.users.read",
                "okta.groups.read",
                "okta.roles.read",
                "okta.logs.read",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            require_dpop: false,
        }
    }
}

/// What the authorization server saw.
#[derive(Clone, Debug, Default)]
pub struct OAuthStats {
    pub token_requests: u64,
    pub tokens_issued: u64,
    /// `use_dpop_nonce` answers.
    pub nonce_challenges: u64,
    /// Token endpoint error codes sent, in order.
    pub refused: Vec<String>,
    /// API requests authorised with `Bearer` / `DPoP` tokens.
    pub api_bearer: u64,
    pub api_dpop: u64,
    /// API requests refused with 401 (bad, expired or revoked token, bad DPoP proof).
    pub api_401: u64,
    /// API requests refused with 403 for a scope the token lacks.
    pub api_403_scope: u64,
}

struct Issued {
    scopes: Vec<String>,
    expires_ms: i64,
    /// Thumbprint of the DPoP key the token is bound to.
    jkt: Option<String>,
    revoked: bool,
}

/// The authorization server's state.
pub struct OAuthServer {
    clients: Mutex<HashMap<String, OAuthClient>>,
    tokens: Mutex<HashMap<String, Issued>>,
    jtis: Mutex<HashSet<String>>,
    nonce: Mutex<String>,
    lifetime_secs: AtomicU64,
    reject_all: AtomicBool,
    revoke_at: Mutex<Option<u64>>,
    api_requests: AtomicU64,
    stats: Mutex<OAuthStats>,
    counter: AtomicU64,
}

impl Default for OAuthServer {
    fn default() -> OAuthServer {
        OAuthServer {
            clients: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            jtis: Mutex::new(HashSet::new()),
            nonce: Mutex::new("nonce-0".into()),
            lifetime_secs: AtomicU64::new(3600),
            reject_all: AtomicBool::new(false),
            revoke_at: Mutex::new(None),
            api_requests: AtomicU64::new(0),
            stats: Mutex::new(OAuthStats::default()),
            counter: AtomicU64::new(0),
        }
    }
}

/// The scope an API path needs (Okta's "OAuth 2.0 scopes" table, for the reads we serve).
pub fn required_scope(path: &str) -> Option<&'static str> {
    let p = path.trim_end_matches('/');
    if p == "/api/v1/logs" {
        Some("okta.logs.read")
    } else if p.starts_with("/api/v1/iam/") || (p.starts_with("/api/v1/") && p.ends_with("/roles"))
    {
        Some("okta.roles.read")
    } else if p.starts_with("/api/v1/groups") {
        Some("okta.groups.read")
    } else if p.starts_with("/api/v1/users") {
        Some("okta.users.read")
    } else {
        None
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A decoded JWT (signature not yet checked).
struct Jwt {
    header: Value,
    claims: Value,
    input: String,
    signature: Vec<u8>,
}

fn decode(token: &str) -> Option<Jwt> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    Some(Jwt {
        header: json(h)?,
        claims: json(c)?,
        input: format!("{h}.{c}"),
        signature: URL_SAFE_NO_PAD.decode(s).ok()?,
    })
}

fn verify(key: &ClientKey, alg: &str, jwt: &Jwt) -> bool {
    let (input, signature) = (jwt.input.as_bytes(), jwt.signature.as_slice());
    match (key, alg) {
        (ClientKey::Rsa(der), "RS256") => UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
            .verify(input, signature)
            .is_ok(),
        (ClientKey::Ec(point), "ES256") => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(input, signature)
            .is_ok(),
        _ => false,
    }
}

fn sha256(bytes: &[u8]) -> String {
    b64(digest(&SHA256, bytes).as_ref())
}

/// RFC 7638 thumbprint of a P-256 JWK.
fn thumbprint(jwk: &Value) -> String {
    let canonical = format!(
        "{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{}\",\"y\":\"{}\"}}",
        jwk["x"].as_str().unwrap_or(""),
        jwk["y"].as_str().unwrap_or("")
    );
    sha256(canonical.as_bytes())
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        Bytes::from(json!({"error": error, "error_description": description}).to_string()),
    )
}

impl OAuthServer {
    pub fn register(&self, client: OAuthClient) {
        self.clients
            .lock()
            .unwrap()
            .insert(client.client_id.clone(), client);
    }

    /// Lifetime of new access tokens, in virtual seconds (default 3600).
    pub fn set_token_lifetime(&self, secs: u64) {
        self.lifetime_secs.store(secs, Ordering::SeqCst);
    }

    /// Revokes every token issued so far.
    pub fn revoke_all(&self) {
        for token in self.tokens.lock().unwrap().values_mut() {
            token.revoked = true;
        }
    }

    /// Revokes every live token when the `n`th OAuth API request arrives (that one included).
    pub fn revoke_after_api_requests(&self, n: u64) {
        *self.revoke_at.lock().unwrap() = Some(self.api_requests.load(Ordering::SeqCst) + n);
    }

    /// Makes every API request with an OAuth token fail with 401.
    pub fn reject_all_tokens(&self, reject: bool) {
        self.reject_all.store(reject, Ordering::SeqCst);
    }

    pub fn stats(&self) -> OAuthStats {
        self.stats.lock().unwrap().clone()
    }

    /// Every access token issued (for canary checks).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().keys().cloned().collect()
    }

    fn refuse(&self, status: u16, error: &str, description: &str) -> Reply {
        self.stats.lock().unwrap().refused.push(error.to_string());
        oauth_error(status, error, description)
    }

    /// `POST /oauth2/v1/token`.
    pub(super) fn token_endpoint(&self, req: &Request, now_ms: i64) -> Reply {
        self.stats.lock().unwrap().token_requests += 1;
        let host = req.header("host").unwrap_or("127.0.0.1");
        let token_url = format!("http://{host}/oauth2/v1/token");
        if req.method != "POST" || req.path.trim_end_matches('/') != "/oauth2/v1/token" {
            return oauth_error(404, "not_found", "only the org token endpoint is served");
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
        if field("grant_type") != "client_credentials" {
            return self.refuse(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            );
        }
        if field("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return self.refuse(
                401,
                "invalid_client",
                "Client authentication failed: missing client_assertion_type.",
            );
        }
        // The client assertion.
        let Some(assertion) = decode(field("client_assertion")) else {
            return self.refuse(401, "invalid_client", "The client_assertion is not a JWT.");
        };
        let client_id = assertion.claims["iss"].as_str().unwrap_or("").to_string();
        let Some(client) = self.clients.lock().unwrap().get(&client_id).cloned() else {
            return self.refuse(401, "invalid_client", "The client_id is invalid.");
        };
        let alg = assertion.header["alg"].as_str().unwrap_or("");
        if let (Some(kid), Some(expected)) = (assertion.header["kid"].as_str(), &client.key_id) {
            if kid != expected {
                return self.refuse(
                    401,
                    "invalid_client",
                    "The client_assertion kid does not match a registered key.",
                );
            }
        }
        if !verify(&client.key, alg, &assertion) {
            return self.refuse(
                401,
                "invalid_client",
                "The client_assertion signature is invalid.",
            );
        }
        let now = now_ms / 1000;
        let claims = &assertion.claims;
        if claims["sub"].as_str() != Some(client_id.as_str()) {
            return self.refuse(
                401,
                "invalid_client",
                "The client_assertion sub must equal iss.",
            );
        }
        if claims["aud"].as_str() != Some(token_url.as_str()) {
            return self.refuse(
                401,
                "invalid_client",
                "The audience of the client_assertion is not the token endpoint.",
            );
        }
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if exp <= now - 5 || exp > now + 3600 {
            return self.refuse(
                401,
                "invalid_client",
                "The client_assertion token is expired or its lifetime is too long.",
            );
        }
        let Some(jti) = claims["jti"].as_str() else {
            return self.refuse(401, "invalid_client", "The client_assertion has no jti.");
        };
        if !self.jtis.lock().unwrap().insert(format!("assertion:{jti}")) {
            return self.refuse(
                401,
                "invalid_client",
                "The client_assertion token has already been used.",
            );
        }
        // DPoP.
        let jkt = match req.header("dpop") {
            None if client.require_dpop => {
                return self.refuse(
                    400,
                    "invalid_dpop_proof",
                    "The DPoP proof JWT header is missing.",
                );
            }
            None => None,
            Some(proof) => match self.check_proof(proof, "POST", &token_url, now) {
                Err(why) => return self.refuse(400, "invalid_dpop_proof", why),
                Ok((proof, jkt)) => {
                    let nonce = self.nonce.lock().unwrap().clone();
                    if proof.claims["nonce"].as_str() != Some(nonce.as_str()) {
                        self.stats.lock().unwrap().nonce_challenges += 1;
                        return self
                            .refuse(
                                400,
                                "use_dpop_nonce",
                                "Authorization server requires nonce in DPoP proof.",
                            )
                            .with_header("dpop-nonce", nonce);
                    }
                    Some(jkt)
                }
            },
        };
        // Scopes: every requested one must be granted.
        let requested: Vec<String> = field("scope")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if requested.is_empty() {
            return self.refuse(400, "invalid_scope", "The authorization server resource does not have any configured default scopes, 'scope' must be provided.");
        }
        let refused: Vec<&str> = requested
            .iter()
            .filter(|s| !client.scopes.contains(s))
            .map(String::as_str)
            .collect();
        if !refused.is_empty() {
            return self.refuse(
                400,
                "invalid_scope",
                &format!(
                    "The following scopes are not allowed: {}",
                    refused.join(" ")
                ),
            );
        }
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let value = format!(
            "fake-at.{}.{}",
            n,
            sha256(format!("{n}{jti}{now_ms}").as_bytes())
        );
        let lifetime = self.lifetime_secs.load(Ordering::SeqCst);
        let dpop = jkt.is_some();
        self.tokens.lock().unwrap().insert(
            value.clone(),
            Issued {
                scopes: requested.clone(),
                expires_ms: now_ms + lifetime as i64 * 1000,
                jkt,
                revoked: false,
            },
        );
        self.stats.lock().unwrap().tokens_issued += 1;
        // A new nonce from time to time, as Okta rotates them.
        *self.nonce.lock().unwrap() = format!("nonce-{}", n + 1);
        Reply::json(
            200,
            Bytes::from(
                json!({
                    "token_type": if dpop { "DPoP" } else { "Bearer" },
                    "expires_in": lifetime,
                    "access_token": value,
                    "scope": requested.join(" "),
                })
                .to_string(),
            ),
        )
    }

    /// Checks a DPoP proof's form, signature, `htm`, `htu`, `iat` and `jti`; returns it and
    /// its key's thumbprint.
    fn check_proof(
        &self,
        proof: &str,
        method: &str,
        url: &str,
        now: i64,
    ) -> Result<(Jwt, String), &'static str> {
        let jwt = decode(proof).ok_or("The DPoP proof is not a JWT.")?;
        if jwt.header["typ"].as_str() != Some("dpop+jwt")
            || jwt.header["alg"].as_str() != Some("ES256")
        {
            return Err("The DPoP proof header must have typ dpop+jwt and alg ES256.");
        }
        let jwk = &jwt.header["jwk"];
        if jwk.get("d").is_some() {
            return Err("The DPoP proof jwk must not hold a private key.");
        }
        let public = ClientKey::ec_from_jwk(jwk)
            .map_err(|_| "The DPoP proof jwk is not a P-256 public key.")?;
        if !verify(&public, "ES256", &jwt) {
            return Err("The DPoP proof signature is invalid.");
        }
        if jwt.claims["htm"].as_str() != Some(method) {
            return Err("The DPoP proof htm does not match the request method.");
        }
        if jwt.claims["htu"].as_str() != Some(url) {
            return Err("The DPoP proof htu does not match the request URL.");
        }
        let iat = jwt.claims["iat"].as_i64().unwrap_or(0);
        if (iat - now).abs() > 300 {
            return Err("The DPoP proof iat is too far from the current time.");
        }
        let jti = jwt.claims["jti"]
            .as_str()
            .ok_or("The DPoP proof has no jti.")?;
        if !self.jtis.lock().unwrap().insert(format!("dpop:{jti}")) {
            return Err("The DPoP proof jti has already been used.");
        }
        let jkt = thumbprint(jwk);
        Ok((jwt, jkt))
    }

    /// Checks `Authorization: Bearer|DPoP <token>` of an API request; returns the token's
    /// scopes, or the 401 `WWW-Authenticate` value.
    pub(super) fn authorize(&self, req: &Request, now_ms: i64) -> Result<Vec<String>, String> {
        let n = self.api_requests.fetch_add(1, Ordering::SeqCst) + 1;
        if *self.revoke_at.lock().unwrap() == Some(n) {
            self.revoke_all();
        }
        let result = self.check_token(req, now_ms);
        let mut stats = self.stats.lock().unwrap();
        match &result {
            Ok((_, true)) => stats.api_dpop += 1,
            Ok((_, false)) => stats.api_bearer += 1,
            Err(_) => stats.api_401 += 1,
        }
        result.map(|(scopes, _)| scopes)
    }

    fn check_token(&self, req: &Request, now_ms: i64) -> Result<(Vec<String>, bool), String> {
        let invalid =
            |why: &str| format!("Bearer error=\"invalid_token\", error_description=\"{why}\"");
        let header = req.header("authorization").unwrap_or("");
        let (scheme, value) = header.split_once(' ').ok_or_else(|| invalid("no token"))?;
        if self.reject_all.load(Ordering::SeqCst) {
            return Err(invalid("The access token is invalid."));
        }
        let tokens = self.tokens.lock().unwrap();
        let token = tokens
            .get(value.trim())
            .ok_or_else(|| invalid("The access token is invalid."))?;
        if token.revoked {
            return Err(invalid("The access token has been revoked."));
        }
        if token.expires_ms <= now_ms {
            return Err(invalid("The access token is expired."));
        }
        match (scheme, &token.jkt) {
            ("Bearer", None) => Ok((token.scopes.clone(), false)),
            ("DPoP", Some(jkt)) => {
                let proof = req
                    .header("dpop")
                    .ok_or_else(|| invalid("DPoP proof missing"))?;
                let host = req.header("host").unwrap_or("127.0.0.1");
                let url = format!("http://{host}{}", req.path);
                let (jwt, thumb) = self
                    .check_proof(proof, &req.method, &url, now_ms / 1000)
                    .map_err(invalid)?;
                if &thumb != jkt {
                    return Err(invalid(
                        "The DPoP proof key is not the one the token is bound to.",
                    ));
                }
                let ath = sha256(value.trim().as_bytes());
                if jwt.claims["ath"].as_str() != Some(ath.as_str()) {
                    return Err(invalid(
                        "The DPoP proof ath does not match the access token.",
                    ));
                }
                Ok((token.scopes.clone(), true))
            }
            _ => Err(invalid(
                "The token type does not match the authorization scheme.",
            )),
        }
    }

    /// Counts a 403 for a missing scope.
    pub(super) fn count_insufficient_scope(&self) {
        self.stats.lock().unwrap().api_403_scope += 1;
    }
}
