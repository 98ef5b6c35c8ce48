//! Configuration: raw settings from every source, validated into a trusted [`Config`].
//!
//! - [`keys`]: the one table of keys (name, environment variables, flag, default, secret?, kind,
//!   help), which generates [`RawConfig`] and everything that reads into it;
//! - [`value`]: the kinds of value and their parsers (token hygiene included);
//! - [`sources`]: Sekoia runtime files → config file → environment → flags, each read once,
//!   remembering which source set each key ([`Loaded`]); config file discovery;
//! - [`runtime`]: the Sekoia connector runtime's settings (files, or environment variables);
//! - [`validate`]: raw → [`Config`], or an error naming the key, its source and the fix;
//! - [`url`]: origin rules and URL redaction;
//! - [`report`]: the effective configuration, as `okta-asset-connector config` prints it.

pub mod keys;
pub mod report;
pub mod runtime;
pub mod sources;
pub mod url;
pub mod validate;
pub mod value;

use std::fmt;
use std::path::PathBuf;

pub use keys::{KeySpec, RawConfig, KEYS, KEY_SPECS};
pub use runtime::RuntimeSettings;
pub use sources::{default_state_dir, load, load_with_runtime, FlagValues, LoadRequest, Loaded};
pub use url::{normalize_okta_origin, validate_intake_url};
pub use validate::Config;
pub use value::DpopSetting;

/// Default `frequency`: seconds between cycles of `run`.
pub const DEFAULT_FREQUENCY: u64 = 1200;
/// Default `full_sync_interval` in seconds.
pub const DEFAULT_FULL_SYNC_INTERVAL: u64 = 86_400;
/// Default `cycle_timeout` in seconds: three days. A backstop, not a schedule: every request,
/// wait and listing is bounded on its own, and this bounds what they add up to. A full sync
/// with MFA of a million users at 600 factor reads a minute takes about 28 hours, so the limit
/// leaves room for large orgs; larger ones raise it (or set 0).
pub const DEFAULT_CYCLE_TIMEOUT: u64 = 259_200;
/// Default `mfa_refresh_interval` in seconds: a week.
pub const DEFAULT_MFA_REFRESH_INTERVAL: u64 = 604_800;
/// Default `rate_limit_share`: Okta lets one token use half of a bucket by default.
pub const DEFAULT_RATE_LIMIT_SHARE: f64 = 0.5;
/// Default `max_concurrency`: far below Okta's 35–75 concurrent-request cap.
pub const DEFAULT_MAX_CONCURRENCY: usize = 8;
/// Default `sekoia_base_url`.
pub const DEFAULT_SEKOIA_BASE_URL: &str = "https://api.sekoia.io";
/// Where the Sekoia connector runtime mounts its configuration.
pub const SYMPHONY_DIR: &str = "/symphony";
/// Where the Sekoia connector runtime keeps connector data.
pub const SYMPHONY_DATA_DIR: &str = "/symphony_data";
/// The state directory under the Sekoia runtime: a directory of our own inside its data volume.
/// How the platform mounts `/symphony_data` is not documented (a volume writable by everyone,
/// like a Kubernetes `emptyDir`, is common); the state directory must be private to the
/// connector, and a subdirectory it creates `0700` is, whatever the volume's mode.
pub const SYMPHONY_STATE_DIR: &str = "/symphony_data/okta-asset-connector";
/// The environment variable naming the config file (like `--config`).
pub const CONFIG_FILE_ENV: &str = "OKTA_CONNECTOR_CONFIG";

/// Environment variables read outside the key table: the config file and its discovery, the
/// default state directory, logging.
pub const OTHER_ENV_VARS: &[&str] = &[
    CONFIG_FILE_ENV,
    "XDG_CONFIG_HOME",
    "HOME",
    "STATE_DIRECTORY",
    "XDG_STATE_HOME",
    "RUST_LOG",
    "NO_COLOR",
];

/// Where a key's value came from. Shown in errors (`frequency (env FREQUENCY)`) and by
/// `okta-asset-connector config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A setting file of the Sekoia runtime directory (`connector_configuration`, ...).
    RuntimeFile(&'static str),
    /// The module's secrets the Sekoia runtime serves, overlaid on `module_configuration`.
    RuntimeSecrets,
    /// What the Sekoia runtime implies (the state in `/symphony_data/okta-asset-connector`).
    RuntimeDefault,
    /// The config file.
    File(PathBuf),
    /// An environment variable of the connector.
    Env(&'static str),
    /// A Sekoia runtime setting given as an environment variable (`CONNECTOR_CONFIGURATION`).
    RuntimeEnv(String),
    /// A command-line flag (its long name).
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::RuntimeFile(name) => write!(f, "Sekoia runtime file {name}"),
            Source::RuntimeSecrets => write!(f, "Sekoia runtime secrets"),
            Source::RuntimeDefault => write!(f, "Sekoia runtime default"),
            Source::File(path) => write!(f, "config file {}", path.display()),
            Source::Env(var) => write!(f, "env {var}"),
            Source::RuntimeEnv(var) => write!(f, "env {var}"),
            Source::Flag(long) => write!(f, "--{long}"),
        }
    }
}

/// Why the configuration cannot be used. Every message says what to do, and none quotes the
/// value of a secret (nor any value a parser refused: it may be a secret in the wrong key).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("missing {key}: {hint}")]
    Missing {
        key: &'static str,
        hint: &'static str,
    },
    #[error("invalid {key}{}: {reason}", origin_suffix(.origin))]
    Invalid {
        key: &'static str,
        /// Where the refused value came from, when known.
        origin: Option<Source>,
        reason: String,
    },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("cannot read {setting}: {reason}")]
    Runtime { setting: Source, reason: String },
}

fn origin_suffix(origin: &Option<Source>) -> String {
    origin.as_ref().map_or(String::new(), |o| format!(" ({o})"))
}

impl ConfigError {
    /// An invalid value of `key`; the source is added by whoever knows it.
    pub fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key,
            origin: None,
            reason: reason.into(),
        }
    }

    /// The key this error is about, if any.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            ConfigError::Missing { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::File { .. } | ConfigError::Runtime { .. } => None,
        }
    }

    /// Names `source` as where the value came from, unless a source is already named.
    pub fn with_source(self, known: Option<&Source>) -> ConfigError {
        match self {
            ConfigError::Invalid {
                key,
                origin: None,
                reason,
            } => ConfigError::Invalid {
                key,
                origin: known.cloned(),
                reason,
            },
            other => other,
        }
    }
}

/// How logs are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = ();
    /// `text` or `json`, in any case.
    fn from_str(text: &str) -> Result<LogFormat, ()> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(()),
        }
    }
}

/// What the command about to run needs from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Okta only (`sync --output`).
    Okta,
    /// Okta and the intake (`sync`, `run`).
    OktaAndIntake,
    /// Okta, and the intake if configured (`check` reports what is missing instead of failing).
    OktaMaybeIntake,
}
