//! Helpers of the integration tests that need the connector itself; the fakes they run against
//! are the `okta-fake` crate.

pub mod binary;
pub mod canary;
pub mod check_report;
pub mod connector;
pub mod env;
pub mod keys;
pub mod ocsf;
pub mod terminal;
pub mod wire;

/// Asserts that `value` matches `pattern`, showing the value when it does not.
macro_rules! assert_matches {
    ($value:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {{
        let value = &$value;
        assert!(matches!(value, $pattern $(if $guard)?), "{value:?}");
    }};
}
pub(crate) use assert_matches;
