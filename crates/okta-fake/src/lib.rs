//! A fake Okta tenant and a fake intake, for testing okta-asset-connector on loopback only.
//!
//! - [`okta`]: a seeded Okta org served over HTTP with Okta's paging, search, rate limits,
//!   errors, OAuth 2.0 authorization server and fault injection ([`FakeOkta`]).
//! - [`intake`]: a fake intake (Sekoia.io's asset-connector API, or an NDJSON collector) that
//!   checks what it receives, records it and injects faults ([`FakeIntake`]).
//! - [`platform`]: the Sekoia.io platform's side of the connector runtime (secrets, logs,
//!   callback) ([`FakePlatform`]).
//! - [`proxy`]: a recording, tampering proxy to put in front of any of them.
//! - [`http`]: the raw loopback HTTP server under all three, for answers an ordinary mock
//!   server cannot give (bodies cut off mid-stream, connections dropped without an answer).
//! - [`cost`]: how many Okta requests a full sync needs at least, from the org alone.
//! - [`rng`], [`time`]: the seeded PRNG and Okta's timestamp formats.
//! - [`cli`]: the `fake-okta` command line (a standalone server).
//!
//! This crate never depends on the connector: it encodes what we believe Okta and the intake
//! do, independently, so a misreading of Okta in the connector is caught rather than mirrored.

pub mod cli;
pub mod cost;
pub mod http;
pub mod intake;
pub mod okta;
pub mod platform;
pub mod proxy;
pub mod rng;
pub mod time;

pub use intake::{Envelope, FakeIntake};
pub use okta::churn::{Change, Churn};
pub use okta::{
    Bucket, ClientKey, Counters, FakeFactor, FakeGroup, FakeOkta, FakeOptions, FakeRole, FakeUser,
    Faults, GroupType, OAuthClient, OAuthServer, OAuthStats, Org, OrgSpec, StatsAdminSpelling,
    UserRole,
};
pub use platform::FakePlatform;
