//! Private keys for the OAuth tests and the public halves the fake authorization server
//! verifies with: the committed test-only keys (`tests/fixtures/keys`, one RSA key in three
//! encodings and a SEC1 P-256 key) and P-256 keys generated at each run.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use okta_fake::ClientKey;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::Value;

/// A private key as the connector is given it (PEM or JWK text) and its public half, as
/// registered with the service app.
pub struct Key {
    pub text: String,
    pub public: ClientKey,
}

const RSA_PKCS8: &str = include_str!("../../fixtures/keys/rsa-2048.pkcs8.pem");
const RSA_PKCS1: &str = include_str!("../../fixtures/keys/rsa-2048.pkcs1.pem");
const RSA_JWK: &str = include_str!("../../fixtures/keys/rsa-2048.jwk.json");
const EC_SEC1: &str = include_str!("../../fixtures/keys/ec-p256.sec1.pem");
const EC_SEC1_PUBLIC_JWK: &str = include_str!("../../fixtures/keys/ec-p256.public.jwk.json");

/// The DER inside the first PEM block labelled `label`.
fn pem_der(pem: &str, label: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----");
    let body: String = pem
        .lines()
        .skip_while(|line| line.trim() != begin)
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .collect();
    STANDARD.decode(body).expect("PEM body is base64")
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The public half of the committed RSA key.
fn rsa_public() -> ClientKey {
    let pair = RsaKeyPair::from_pkcs8(&pem_der(RSA_PKCS8, "PRIVATE KEY")).expect("RSA fixture");
    ClientKey::Rsa(pair.public().as_ref().to_vec())
}

/// The committed RSA key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
pub fn rsa_pkcs8() -> Key {
    Key {
        text: RSA_PKCS8.to_string(),
        public: rsa_public(),
    }
}

/// The same RSA key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`).
pub fn rsa_pkcs1() -> Key {
    Key {
        text: RSA_PKCS1.to_string(),
        public: rsa_public(),
    }
}

/// The same RSA key as a private JWK.
pub fn rsa_jwk() -> Key {
    Key {
        text: RSA_JWK.to_string(),
        public: rsa_public(),
    }
}

/// The committed P-256 key as SEC1 PEM (`-----BEGIN EC PRIVATE KEY-----`).
pub fn ec_sec1() -> Key {
    let jwk: Value = serde_json::from_str(EC_SEC1_PUBLIC_JWK).expect("EC public JWK fixture");
    Key {
        text: EC_SEC1.to_string(),
        public: ClientKey::ec_from_jwk(&jwk).expect("a P-256 JWK"),
    }
}

/// A new P-256 key, as PKCS#8 PEM.
pub fn ec_generated() -> Key {
    let random = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random)
        .expect("generate a P-256 key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random)
        .expect("a generated key parses");
    Key {
        text: pem("PRIVATE KEY", pkcs8.as_ref()),
        public: ClientKey::Ec(pair.public_key().as_ref().to_vec()),
    }
}
