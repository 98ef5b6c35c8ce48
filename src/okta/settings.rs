//! What the Okta client needs to know, and what it asks of every request.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::auth::OktaCredential;
use crate::backoff::BackoffPolicy;
use crate::http::RetryPolicy;

/// Asks Okta to leave credential blobs and transition fields out of user records: smaller pages,
/// and nothing secret-adjacent in memory. The value lists three options separated by commas,
/// which a media-type parameter may only hold as a quoted-string (RFC 9110, section 5.6.6); Okta's API
/// reference writes it quoted too.
pub const OKTA_CONTENT_TYPE: &str =
    "application/json; okta-response=\"omitCredentials,omitCredentialsLinks,omitTransitioningToStatus\"";

/// What the client needs to know; built by the config module from validated settings.
pub struct OktaSettings {
    /// `scheme://host[:port]` of the org, already validated (HTTPS, or loopback HTTP when allowed).
    pub origin: Url,
    /// An SSWS API token or an OAuth 2.0 service app.
    pub credential: OktaCredential,
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
    /// Settings for an SSWS API token.
    pub fn new(origin: Url, token: SecretString) -> OktaSettings {
        OktaSettings::with_credential(origin, OktaCredential::ApiToken(token))
    }

    pub fn with_credential(origin: Url, credential: OktaCredential) -> OktaSettings {
        OktaSettings {
            origin,
            credential,
            rate_limit_share: 0.5,
            max_concurrency: 8,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_body_bytes: 32 * 1024 * 1024,
            backoff: BackoffPolicy::default(),
            max_rate_limit_waits: 20,
        }
    }

    pub(super) fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            backoff: self.backoff,
            max_waits: self.max_rate_limit_waits,
        }
    }
}

impl std::fmt::Debug for OktaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaSettings")
            .field("origin", &self.origin.as_str())
            .field("credential", &self.credential)
            .field("rate_limit_share", &self.rate_limit_share)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}
