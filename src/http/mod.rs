//! HTTP, once for the whole connector: the Okta client, Okta's OAuth token endpoint and the
//! intake all send through the same [`transport`] and retry through the same [`retry`] loop.
//!
//! - [`transport`]: builds the shared client (no redirects followed, timeouts, `https_only` for
//!   HTTPS origins, one user agent) and sends one request: a redirect becomes a typed error, the
//!   body is read under a bound, failures are described from their root causes, and URLs are
//!   redacted before they reach a log line or an error.
//! - [`retry`]: one generic loop driven by a [`retry::RetryLogic`]: the logic sends an attempt
//!   and classifies its outcome; the loop owns the attempts, the backoff schedule, the sleeping
//!   (through the injectable clock) and the counts.

pub mod retry;
pub mod transport;

pub use retry::{GaveUp, Retried, RetryAction, RetryCounts, RetryLogic, RetryPolicy};
pub use transport::{
    cause_text, display_url, is_unknown_host, shown_url, Answer, BodyLimit, Incoming, Transport,
    TransportError, TransportSettings, USER_AGENT,
};
