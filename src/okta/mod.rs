//! The Okta Management API client.
//!
//! - [`auth`]: SSWS token or OAuth 2.0 service app (private_key_jwt, DPoP), token cache;
//! - [`client`]: transport (auth header, timeouts, no redirects, bounded bodies) and the retry loop;
//! - [`retry`]: the retry decision for an answer, as a table;
//! - [`rate_limit`]: per-bucket pacing and adaptive concurrency;
//! - [`paging`]: the one paginator (`Link` headers or body links);
//! - [`endpoints`]: the calls the sync makes and the expressions it sends;
//! - [`model`]: tolerant resource types; [`error`]: typed errors with hints.

pub mod auth;
pub mod client;
pub mod endpoints;
pub mod error;
pub mod model;
pub mod paging;
pub mod rate_limit;
pub mod retry;

pub use auth::OktaCredential;
pub use client::{OktaClient, OktaSettings, Response, StatsSnapshot};
pub use error::{ApiError, OktaError};
pub use paging::{Page, Pager};
pub use rate_limit::Bucket;
