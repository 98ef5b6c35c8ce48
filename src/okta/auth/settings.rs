//! OAuth 2.0 service-app settings, validated by the config module.

use std::str::FromStr;

use super::keys::PrivateKey;

/// The scopes a read-only inventory needs: users, groups (and members), admin roles.
pub const DEFAULT_SCOPES: [&str; 3] = ["okta.users.read", "okta.groups.read", "okta.roles.read"];

/// When to use DPoP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Only when the token endpoint asks for it (`invalid_dpop_proof`: proof missing).
    #[default]
    Auto,
    Always,
    Never,
}

impl FromStr for DpopMode {
    type Err = ();
    fn from_str(text: &str) -> Result<DpopMode, ()> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DpopMode::Auto),
            "true" | "yes" | "on" | "1" | "always" => Ok(DpopMode::Always),
            "false" | "no" | "off" | "0" | "never" => Ok(DpopMode::Never),
            _ => Err(()),
        }
    }
}

/// An OAuth 2.0 service app: client credentials with `private_key_jwt`.
#[derive(Clone, Debug)]
pub struct OAuthSettings {
    pub client_id: String,
    /// Private key of the app's registered public key (its `Debug` shows only the algorithm).
    pub key: PrivateKey,
    /// `kid` of the registered public key, sent in the assertion header when set.
    pub key_id: Option<String>,
    pub scopes: Vec<String>,
    pub dpop: DpopMode,
}

impl OAuthSettings {
    pub fn new(client_id: impl Into<String>, key: PrivateKey) -> OAuthSettings {
        OAuthSettings {
            client_id: client_id.into(),
            key,
            key_id: None,
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            dpop: DpopMode::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpop_modes_parse() {
        assert_eq!("auto".parse(), Ok(DpopMode::Auto));
        assert_eq!("TRUE".parse(), Ok(DpopMode::Always));
        assert_eq!("false".parse(), Ok(DpopMode::Never));
        assert!("maybe".parse::<DpopMode>().is_err());
    }
}
