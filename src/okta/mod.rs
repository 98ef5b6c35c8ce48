//! The Okta Management API client.
//!
//! - [`auth`]: SSWS token or OAuth 2.0 service app (private_key_jwt, DPoP), token cache;
//! - [`settings`]: what the client needs; [`client`]: typed GETs over the shared transport and
//!   retry loop ([`crate::http`]); [`server_clock`]: Okta's `Date`, trusted within bounds;
//! - [`retry`]: Okta's retry decision for an answer, as a table;
//! - [`rate_limit`]: per-bucket pacing and adaptive concurrency;
//! - [`paging`]: the one paginator (`Link` headers or body links);
//! - [`endpoints`]: the calls the sync makes and the expressions it sends;
//! - [`model`]: tolerant resource types; [`error`]: typed errors with hints;
//! - [`stats`]: request accounting for the run summary.

pub mod auth;
pub mod client;
pub mod endpoints;
pub mod error;
pub mod model;
pub mod paging;
pub mod rate_limit;
pub mod retry;
pub mod server_clock;
pub mod settings;
pub mod stats;

pub use auth::OktaCredential;
pub use client::{OktaClient, OktaSettings, Response};
pub use error::{ApiError, OktaError, TokenError};
pub use paging::{OnEmptyPage, Page, PageLimits, Pager};
pub use rate_limit::Bucket;
pub use stats::{StatsSnapshot, Throttled};
