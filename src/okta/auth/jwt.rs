//! The two JWTs the connector signs: the client assertion that authenticates the service app at
//! the token endpoint, and the DPoP proof that binds each request to a per-process key.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jiff::Timestamp;
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;

use super::keys::KeyError;
use super::settings::OAuthSettings;

/// Lifetime of a client assertion (Okta accepts up to an hour; short limits replay).
const ASSERTION_LIFETIME_SECS: i64 = 300;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A unique JWT id: 128 random bits.
fn jti() -> Result<String, KeyError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| KeyError("the system random generator failed".into()))?;
    Ok(b64(&bytes))
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// The client assertion for one token request: `iss = sub = client_id`, `aud` = the token URL,
/// valid five minutes, a unique `jti`, `kid` when configured.
pub(super) fn client_assertion(
    settings: &OAuthSettings,
    token_url: &Url,
    now: Timestamp,
) -> Result<SecretString, KeyError> {
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
        "jti": jti()?,
    });
    let input = signing_input(&header, &claims);
    let signature = settings.key.sign(input.as_bytes())?;
    Ok(SecretString::from(format!("{input}.{}", b64(&signature))))
}

/// The per-process DPoP key pair and its public JWK.
struct DpopKey {
    key: EcdsaKeyPair,
    jwk: Value,
}

/// Generated on first use; lives as long as the process (a restart gets a new one, and with
/// it new DPoP-bound tokens).
fn dpop_key() -> Result<&'static DpopKey, KeyError> {
    static KEY: OnceLock<DpopKey> = OnceLock::new();
    if let Some(key) = KEY.get() {
        return Ok(key);
    }
    let failed = |_| KeyError("generating the DPoP key failed".into());
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(failed)?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| KeyError("loading the DPoP key failed".into()))?;
    // Uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each.
    let point = key.public_key().as_ref();
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64(&point[1..33]),
        "y": b64(&point[33..65]),
    });
    Ok(KEY.get_or_init(|| DpopKey { key, jwk }))
}

/// `htu`: the request URL without query and fragment.
fn htu(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// A DPoP proof for one request: `htm`, `htu`, `iat`, `jti`, plus `nonce` when the server
/// asked for one and `ath` (the access token's SHA-256) on API calls.
pub(super) fn dpop_proof(
    method: &str,
    url: &Url,
    now: Timestamp,
    nonce: Option<&str>,
    access_token: Option<&SecretString>,
) -> Result<String, KeyError> {
    let key = dpop_key()?;
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk});
    let mut claims = json!({
        "htm": method,
        "htu": htu(url),
        "iat": now.as_second(),
        "jti": jti()?,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(token) = access_token {
        claims["ath"] = json!(b64(
            digest(&SHA256, token.expose_secret().as_bytes()).as_ref()
        ));
    }
    let input = signing_input(&header, &claims);
    let signature = key
        .key
        .sign(&SystemRandom::new(), input.as_bytes())
        .map_err(|_| KeyError("signing the DPoP proof failed".into()))?;
    Ok(format!("{input}.{}", b64(signature.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn htu_drops_query_and_fragment() {
        let url = Url::parse("https://a.okta.com/api/v1/users?limit=200&after=x#f").unwrap();
        assert_eq!(htu(&url), "https://a.okta.com/api/v1/users");
    }

    #[test]
    fn a_dpop_proof_verifies_with_the_key_in_its_header_and_carries_ath() {
        let url = Url::parse("https://a.okta.com/api/v1/users?limit=2").unwrap();
        let now: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let token = SecretString::from("token-value".to_string());
        let proof = dpop_proof("GET", &url, now, Some("n1"), Some(&token)).unwrap();
        let parts: Vec<&str> = proof.split('.').collect();
        let (header, claims) = (decode(parts[0]), decode(parts[1]));
        assert_eq!(claims["htu"], "https://a.okta.com/api/v1/users");
        assert_eq!(claims["nonce"], "n1");
        let ath = b64(digest(&SHA256, b"token-value").as_ref());
        assert_eq!(claims["ath"], ath.as_str());
        let coordinate = |name: &str| {
            URL_SAFE_NO_PAD
                .decode(header["jwk"][name].as_str().unwrap())
                .unwrap()
        };
        let mut point = vec![0x04];
        point.extend(coordinate("x"));
        point.extend(coordinate("y"));
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(input.as_bytes(), &signature)
            .expect("the proof verifies with its own jwk");
        assert_ne!(jti().unwrap(), jti().unwrap());
    }
}
