//! Helpers of the integration tests that need the connector itself; the fakes they run against
//! are the `okta-fake` crate.

pub mod binary;
pub mod connector;
pub mod env;
pub mod keys;
pub mod ocsf;
pub mod terminal;
