//! okta-asset-connector: keeps a security platform's asset inventory of people in step with an
//! Okta org.
//!
//! Module map, in the order data flows through them:
//!
//! - [`cli`] and [`app`]: the command line and the commands wired from a configuration.
//! - [`config`]: one key table; raw settings (Sekoia runtime → file → env → flags, each read
//!   once, with the source of each value) validated into a trusted [`config::Config`].
//! - [`http`]: the one HTTP transport and the one retry loop, shared by Okta and the intake.
//! - [`okta`]: the Okta Management API client: authentication, typed errors, one paginator,
//!   per-bucket rate limiting, Okta's retry decisions, the endpoint functions and the model types.
//! - [`mapping`]: pure Okta user + enrichment → OCSF 1.8.0 User Inventory Info event.
//! - [`intake`]: batching, envelopes (`sekoia`, `ocsf`), delivery with retries, `--output`.
//! - [`sync`]: one cycle: groups, members, roles, users, MFA → events → intake.
//! - [`state`]: crash-safe cursors, snapshots and caches between cycles.
//! - [`runtime`]: `run`, the scheduled loop with graceful shutdown.
//! - [`check`]: the "Test connector" verdicts.
//! - [`progress`]: how far a cycle has got, for live displays and metrics.
//! - [`render`]: what a person sees: live progress, the summary, `run`'s line per cycle.
//! - [`clock`] and [`backoff`]: injectable time and the one backoff schedule.
//! - [`text`]: remote strings made safe to print (control characters escaped, lengths capped).
//! - [`private_files`]: files that hold people's data: private to the running user.

pub mod app;
pub mod backoff;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod intake;
pub mod mapping;
pub mod okta;
pub mod private_files;
pub mod progress;
pub mod render;
pub mod runtime;
pub mod state;
pub mod sync;
pub mod text;
