//! The integration tests, in one binary: the shared helpers (`support`) and the fakes
//! (`okta-fake`) are compiled and linked once, not once per test file. One module per area;
//! `cargo test --test integration <module>::` runs one area.

mod support;

mod any_org;
mod change_feed;
mod check;
mod config_cli;
mod docs;
mod fake_okta;
mod fake_okta_log;
mod fake_okta_roles;
mod first_hour;
mod full_sync;
mod hostile;
mod hostile_text;
mod incremental;
mod intake;
mod manifest;
mod oauth;
mod oauth_keys;
mod ocsf_schema;
mod okta_client;
mod okta_recordings;
mod okta_spec;
mod oversized;
mod properties;
mod reliability;
mod runtime;
mod secrets;
mod sekoia_runtime;
mod shared_host;
