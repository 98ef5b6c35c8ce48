//! The service app's private key: the forms accepted, and signing with it.
//!
//! Accepted, as Okta's admin console and openssl produce them:
//! - PEM `PRIVATE KEY` (PKCS#8) holding an RSA key or an EC P-256 key;
//! - PEM `RSA PRIVATE KEY` (PKCS#1);
//! - PEM `EC PRIVATE KEY` (SEC1) on P-256, with its public key (openssl writes it by default);
//! - a private JWK, or a JWKS holding one: RSA with `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi`
//!   (what Okta's console exports), EC P-256 with `d`, `x`, `y`.
//!
//! RSA keys sign RS256 and must have 2048 to 4096 bits (Okta refuses shorter ones); P-256 keys
//! sign ES256. Signing is *ring*'s, the library rustls already brings: constant-time, no second
//! crypto stack. Messages never quote the key, and the DER copies made while loading it are
//! zeroed when dropped.

use std::sync::Arc;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use zeroize::Zeroizing;

/// Why a private key cannot be used. Messages never quote the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

fn key_error(message: &str) -> KeyError {
    KeyError(message.to_string())
}

enum KeyKind {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// The service app's private key: RSA (RS256) or P-256 (ES256). `Debug` shows the algorithm
/// only.
#[derive(Clone)]
pub struct PrivateKey(Arc<KeyKind>);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({}, [redacted])", self.alg())
    }
}

impl PrivateKey {
    /// Parses a PEM private key or a private JWK (see the module documentation for the forms).
    pub fn parse(text: &SecretString) -> Result<PrivateKey, KeyError> {
        let text = text.expose_secret().trim();
        if text.starts_with('{') {
            return parse_jwk(text);
        }
        let (label, body) = pem(text)?;
        match label {
            "PRIVATE KEY" => pkcs8(&pem_der(label, body)?),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&pem_der(label, body)?)
                .map_err(|e| rsa_rejected(e, "invalid RSA PRIVATE KEY (PKCS#1) PEM"))
                .map(|key| PrivateKey(Arc::new(KeyKind::Rsa(key)))),
            "EC PRIVATE KEY" => sec1(&pem_der(label, body)?),
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

    /// The JWS signature of `input` (RS256: PKCS#1 v1.5 with SHA-256; ES256: `r ‖ s`).
    pub(super) fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        let failed = |_| key_error("signing with the private key failed");
        match &*self.0 {
            KeyKind::Rsa(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, input, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
            KeyKind::Ec(key) => key
                .sign(&rng, input)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(failed),
        }
    }

    /// The public key, as *ring*'s verifiers take it (tests verify signatures with it).
    #[cfg(test)]
    pub(super) fn public_key(&self) -> Vec<u8> {
        use ring::signature::KeyPair as _;
        match &*self.0 {
            KeyKind::Rsa(key) => key.public_key().as_ref().to_vec(),
            KeyKind::Ec(key) => key.public_key().as_ref().to_vec(),
        }
    }
}

/// The label and body of the first PEM block of `text`.
fn pem(text: &str) -> Result<(&str, &str), KeyError> {
    let not_pem = || {
        key_error("not a PEM private key (-----BEGIN PRIVATE KEY-----) nor a JWK ({\"kty\": ...})")
    };
    let rest = text.strip_prefix("-----BEGIN ").ok_or_else(not_pem)?;
    let (label, rest) = rest.split_once("-----").ok_or_else(not_pem)?;
    // A BEGIN line that lost its closing dashes runs on into the key itself: the label is
    // checked before any message may quote it.
    let is_label = |label: &str| {
        label.len() <= 40 && label.bytes().all(|b| b.is_ascii_uppercase() || b == b' ')
    };
    if !is_label(label) {
        return Err(key_error(
            "the PEM BEGIN line is malformed: it must read -----BEGIN <TYPE>----- on a line of its own",
        ));
    }
    let end = format!("-----END {label}-----");
    let body = rest
        .split_once(end.as_str())
        .map(|(body, _)| body)
        .ok_or_else(|| KeyError(format!("the PEM block has no \"{end}\" line")))?;
    Ok((label, body))
}

/// PEM bodies as tools write them: padding optional, stray trailing bits tolerated (the DER
/// parser judges the bytes).
const PEM_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The DER bytes of a PEM body.
fn pem_der(label: &str, body: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let base64: Zeroizing<String> = Zeroizing::new(body.split_whitespace().collect());
    let der = PEM_BASE64.decode(base64.as_bytes()).map_err(|_| {
        KeyError(format!(
            "unsupported or invalid {label}: its PEM body is not base64"
        ))
    })?;
    Ok(Zeroizing::new(der))
}

fn rng() -> SystemRandom {
    SystemRandom::new()
}

/// PKCS#8: RSA first, then EC P-256.
fn pkcs8(der: &[u8]) -> Result<PrivateKey, KeyError> {
    let rsa = match RsaKeyPair::from_pkcs8(der) {
        Ok(key) => return Ok(PrivateKey(Arc::new(KeyKind::Rsa(key)))),
        Err(rejected) => rejected,
    };
    if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng()) {
        return Ok(PrivateKey(Arc::new(KeyKind::Ec(key))));
    }
    Err(rsa_rejected(
        rsa,
        "unsupported or invalid PKCS#8 private key: use an RSA key (RS256, 2048 to 4096 bits) or an EC P-256 key (ES256)",
    ))
}

/// A clear message for an RSA key *ring* refused; `otherwise` when it was not about the size.
fn rsa_rejected(rejected: ring::error::KeyRejected, otherwise: &str) -> KeyError {
    match rejected.to_string().as_str() {
        "TooSmall" => key_error(
            "the RSA key is shorter than 2048 bits, which Okta refuses: generate a 2048-bit (or longer) key",
        ),
        "TooLarge" => key_error("the RSA key is longer than 4096 bits: use a 2048- to 4096-bit key"),
        _ => key_error(otherwise),
    }
}

/// DER of the P-256 curve's OID (1.2.840.10045.3.1.7).
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// SEC1 `ECPrivateKey`: `SEQUENCE { version 1, privateKey OCTET STRING, [0] curve OID,
/// [1] publicKey BIT STRING }`. *ring* wants the private scalar and the public point.
fn sec1(der: &[u8]) -> Result<PrivateKey, KeyError> {
    let invalid = || key_error("invalid EC PRIVATE KEY (SEC1) PEM");
    let mut key = Der(der).expect(0x30).ok_or_else(invalid)?;
    if key.expect(0x02).ok_or_else(invalid)?.0 != [1] {
        return Err(invalid());
    }
    let private = key.expect(0x04).ok_or_else(invalid)?.0;
    let mut curve = None;
    let mut public = None;
    while let Some((tag, value)) = key.next() {
        match tag {
            0xa0 => curve = Some(value),
            0xa1 => public = Der(value).expect(0x03).map(|bits| bits.0),
            _ => {}
        }
    }
    if curve.is_some_and(|oid| oid != P256_OID) {
        return Err(key_error(
            "unsupported or invalid EC PRIVATE KEY: only the P-256 curve (ES256) is supported",
        ));
    }
    // A BIT STRING starts with its count of unused bits (0 here).
    let public = public
        .and_then(|bits| bits.strip_prefix(&[0]))
        .ok_or_else(|| {
            key_error("the EC PRIVATE KEY lacks its public key: export it again with openssl ec -in KEY -out KEY")
        })?;
    ec_key(private, public)
}

fn ec_key(private: &[u8], public: &[u8]) -> Result<PrivateKey, KeyError> {
    // The scalar is a fixed 32-byte big-endian number; some encoders drop leading zeros.
    let mut scalar = Zeroizing::new([0u8; 32]);
    if private.len() > 32 {
        return Err(key_error(
            "the EC key's private part is not a P-256 private key",
        ));
    }
    scalar[32 - private.len()..].copy_from_slice(private);
    EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &scalar[..],
        public,
        &rng(),
    )
    .map(|key| PrivateKey(Arc::new(KeyKind::Ec(key))))
    .map_err(|_| key_error("the EC key is not a consistent P-256 key pair (ES256)"))
}

/// A minimal DER reader: enough for SEC1's few fields.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next (tag, value).
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let length = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (bytes, after) = rest.split_at(count);
            rest = after;
            bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b))
        };
        if rest.len() < length {
            return None;
        }
        let (value, after) = rest.split_at(length);
        self.0 = after;
        Some((tag, value))
    }

    /// The next value, which must have `tag`, as a reader of its content.
    fn expect(&mut self, tag: u8) -> Option<Der<'a>> {
        self.next()
            .filter(|(found, _)| *found == tag)
            .map(|(_, value)| Der(value))
    }
}

fn parse_jwk(text: &str) -> Result<PrivateKey, KeyError> {
    let value: Value =
        serde_json::from_str(text).map_err(|_| key_error("the JWK is not valid JSON"))?;
    // A JWKS: take its private key.
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
    let bytes = |name: &str| -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let text = field(name).ok_or_else(|| {
            KeyError(format!(
                "the {} JWK lacks \"{name}\": export the whole private key",
                field("kty").unwrap_or_default()
            ))
        })?;
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map(Zeroizing::new)
            .map_err(|_| KeyError(format!("the JWK's \"{name}\" is not base64url")))
    };
    match field("kty") {
        Some("RSA") => {
            let components = ring::rsa::KeyPairComponents {
                public_key: ring::rsa::PublicKeyComponents {
                    n: bytes("n")?,
                    e: bytes("e")?,
                },
                d: bytes("d")?,
                p: bytes("p")?,
                q: bytes("q")?,
                dP: bytes("dp")?,
                dQ: bytes("dq")?,
                qInv: bytes("qi")?,
            };
            RsaKeyPair::from_components(&components)
                .map(|key| PrivateKey(Arc::new(KeyKind::Rsa(key))))
                .map_err(|e| rsa_rejected(e, "the RSA JWK is not a consistent RSA private key"))
        }
        Some("EC") => {
            if field("crv") != Some("P-256") {
                return Err(key_error(
                    "unsupported EC curve: only P-256 (ES256) is supported",
                ));
            }
            let d = bytes("d")?;
            let mut public = vec![0x04];
            public.extend_from_slice(&bytes("x")?);
            public.extend_from_slice(&bytes("y")?);
            ec_key(&d, &public).map_err(|_| {
                key_error("the EC JWK's \"d\", \"x\" and \"y\" are not a P-256 key pair")
            })
        }
        Some(other) => Err(KeyError(format!(
            "unsupported JWK key type {:?}: use RSA (RS256) or EC P-256 (ES256)",
            other.chars().take(20).collect::<String>()
        ))),
        None => Err(key_error("the JWK has no \"kty\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256};

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_string())
    }

    fn load(text: &str) -> PrivateKey {
        PrivateKey::parse(&secret(text)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn verifies(key: &PrivateKey) -> bool {
        let signature = key.sign(b"header.claims").unwrap();
        let algorithm: &dyn ring::signature::VerificationAlgorithm = match key.alg() {
            "RS256" => &RSA_PKCS1_2048_8192_SHA256,
            _ => &ECDSA_P256_SHA256_FIXED,
        };
        UnparsedPublicKey::new(algorithm, key.public_key())
            .verify(b"header.claims", &signature)
            .is_ok()
    }

    /// Loads every form of one key: each signs as `alg`, verifiably, and is the same key.
    fn one_key_in_every_form(forms: &[&str], alg: &str) -> Vec<PrivateKey> {
        let keys: Vec<_> = forms.iter().map(|text| load(text)).collect();
        for key in &keys {
            assert_eq!(key.alg(), alg);
            assert!(verifies(key));
            assert_eq!(key.public_key(), keys[0].public_key(), "the same key");
        }
        assert_eq!(
            format!("{:?}", keys[0]),
            format!("PrivateKey({alg}, [redacted])")
        );
        keys
    }

    #[test]
    fn every_accepted_form_of_one_rsa_key_loads_and_signs_rs256() {
        let forms = [
            include_str!("../../../tests/fixtures/keys/unit/rsa-2048.pkcs8.pem"),
            include_str!("../../../tests/fixtures/keys/unit/rsa-2048.pkcs1.pem"),
            include_str!("../../../tests/fixtures/keys/unit/rsa-2048.jwk.json"),
        ];
        let keys = one_key_in_every_form(&forms, "RS256");
        // PKCS#1 v1.5 is deterministic: the same key signs the same input the same way.
        for key in &keys {
            assert_eq!(key.sign(b"x").unwrap(), keys[0].sign(b"x").unwrap());
        }
    }

    #[test]
    fn every_accepted_form_of_one_ec_key_loads_and_signs_es256() {
        let forms = [
            include_str!("../../../tests/fixtures/keys/unit/ec-p256.sec1.pem"),
            include_str!("../../../tests/fixtures/keys/unit/ec-p256.pkcs8.pem"),
            include_str!("../../../tests/fixtures/keys/unit/ec-p256.jwk.json"),
        ];
        for key in one_key_in_every_form(&forms, "ES256") {
            assert_eq!(key.sign(b"x").unwrap().len(), 64, "r ‖ s, 32 bytes each");
        }
    }

    #[test]
    fn a_key_generated_by_ring_loads() {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng()).unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        assert!(verifies(&load(&pem)));
    }

    #[test]
    fn short_rsa_keys_and_other_curves_are_refused_clearly() {
        let error = PrivateKey::parse(&secret(include_str!(
            "../../../tests/fixtures/keys/unit/rsa-1024.pkcs8.pem"
        )))
        .unwrap_err()
        .to_string();
        assert!(error.contains("shorter than 2048 bits"), "{error}");
        let error = PrivateKey::parse(&secret(include_str!(
            "../../../tests/fixtures/keys/unit/ec-p384.sec1.pem"
        )))
        .unwrap_err()
        .to_string();
        assert!(error.contains("only the P-256 curve"), "{error}");
    }

    #[test]
    fn an_rsa_jwk_without_its_primes_is_refused_with_what_is_missing() {
        let mut jwk: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/keys/unit/rsa-2048.jwk.json"
        ))
        .unwrap();
        jwk.as_object_mut().unwrap().remove("qi");
        let error = PrivateKey::parse(&secret(&jwk.to_string()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("lacks \"qi\""), "{error}");
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
            (
                "-----BEGIN PRIVATE KEY-----\nhunter2!?\n-----END PRIVATE KEY-----",
                "not base64",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\naHVudGVyMg==\n-----END PRIVATE KEY-----",
                "unsupported or invalid",
            ),
            (
                "-----BEGIN EC PRIVATE KEY-----\naHVudGVyMg==\n-----END EC PRIVATE KEY-----",
                "invalid EC PRIVATE KEY",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\naHVudGVyMg==\n-----END RSA PRIVATE KEY-----",
                "invalid RSA PRIVATE KEY",
            ),
            ("-----BEGIN PRIVATE KEY-----\nhunter2", "no \"-----END"),
            // The BEGIN line lost its closing dashes: the label would run into the key.
            (
                "-----BEGIN PRIVATE KEY\nMIIEhunter2\n-----END PRIVATE KEY-----",
                "BEGIN line is malformed",
            ),
            (
                "-----BEGIN PRIVATE KEY----\nMIIEhunter2\n-----END PRIVATE KEY-----",
                "BEGIN line is malformed",
            ),
            (r#"{"kty":"OKP","d":"hunter2"}"#, "unsupported JWK key type"),
            (r#"{"kty":"EC","crv":"P-384","d":"hunter2"}"#, "P-256"),
            (r#"{"kty":"RSA","n":"hunter2"}"#, "public key"),
            (r#"{"kty":"EC","crv":"P-256","d":"AAAA"}"#, "lacks \"x\""),
            (
                r#"{"kty":"EC","crv":"P-256","d":"AAAA","x":"AAAA","y":"AAAA"}"#,
                "not a P-256 key pair",
            ),
        ] {
            let error = PrivateKey::parse(&secret(text)).unwrap_err().to_string();
            assert!(error.contains(needle), "{text}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }
}
