//! Configuration: raw settings from every source, validated into a trusted [`Config`].
//!
//! Sources, later ones winning: Sekoia runtime files (`/symphony`) → config file (TOML, or JSON)
//! → environment → command-line flags. [`RawConfig`] holds what the sources said, every field
//! optional; [`RawConfig::validate`] turns it into a [`Config`] whose values are known good
//! (normalised Okta origin, HTTPS rule, ranges), or explains exactly what to fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::{Host, Url};

use crate::intake::{Format, IntakeSettings};
use crate::okta::auth::{DpopMode, OAuthSettings, PrivateKey, DEFAULT_SCOPES};
use crate::okta::{OktaCredential, OktaSettings};

/// Default `frequency`: seconds between cycles of `run`.
pub const DEFAULT_FREQUENCY: u64 = 1200;
/// Default `full_sync_interval` in seconds.
pub const DEFAULT_FULL_SYNC_INTERVAL: u64 = 86_400;
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

/// Every configuration key, as spelled in a config file. Tests keep this list, `manifest.json`
/// and `docs/configuration.md` in agreement.
pub const KEYS: &[&str] = &[
    "base_url",
    "apikey",
    "intake_url",
    "sekoia_base_url",
    "connector_uuid",
    "sekoia_api_key",
    "format",
    "frequency",
    "batch_size",
    "full_sync_interval",
    "rate_limit_share",
    "max_concurrency",
    "enrich_mfa",
    "enrich_roles",
    "state_dir",
    "allow_insecure_http",
    "log_format",
    "gzip",
    "auth",
    "client_id",
    "private_key",
    "private_key_file",
    "key_id",
    "scopes",
    "dpop",
];

/// Settings as the sources gave them. Unknown keys are refused so a typo is not silently ignored.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub base_url: Option<String>,
    pub apikey: Option<SecretString>,
    pub intake_url: Option<String>,
    pub sekoia_base_url: Option<String>,
    pub connector_uuid: Option<String>,
    pub sekoia_api_key: Option<SecretString>,
    pub format: Option<String>,
    pub frequency: Option<u64>,
    pub batch_size: Option<usize>,
    pub full_sync_interval: Option<u64>,
    pub rate_limit_share: Option<f64>,
    pub max_concurrency: Option<usize>,
    pub enrich_mfa: Option<bool>,
    pub enrich_roles: Option<bool>,
    pub state_dir: Option<PathBuf>,
    pub allow_insecure_http: Option<bool>,
    pub log_format: Option<String>,
    pub gzip: Option<bool>,
    /// `ssws` (default: `apikey`) or `oauth` (service app: the keys below).
    pub auth: Option<String>,
    pub client_id: Option<String>,
    /// PEM or JWK private key of the service app.
    pub private_key: Option<SecretString>,
    pub private_key_file: Option<PathBuf>,
    pub key_id: Option<String>,
    /// Space- (or comma-) separated.
    pub scopes: Option<String>,
    /// `auto`, `true` or `false` (a boolean is accepted too).
    pub dpop: Option<DpopSetting>,
}

/// `dpop` as written: `"auto"`, `"true"`, `true`, ...
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum DpopSetting {
    Bool(bool),
    Text(String),
}

/// Why the configuration cannot be used. Every message says what to do.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("missing {key}: {hint}")]
    Missing {
        key: &'static str,
        hint: &'static str,
    },
    #[error("invalid {key} ({value}): {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

fn invalid(
    key: &'static str,
    value: impl std::fmt::Display,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// How logs are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
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

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    /// `https://acme.okta.com` (normalised: no path, query or credentials).
    pub okta_origin: Url,
    /// The SSWS API token (empty with `auth = "oauth"`).
    pub okta_token: SecretString,
    /// OAuth 2.0 service app settings with `auth = "oauth"`.
    pub okta_oauth: Option<OAuthSettings>,
    /// Intake settings; `None` only when the command does not need them.
    pub intake: Option<IntakeSettings>,
    pub format: Format,
    pub batch_size: usize,
    pub frequency: Duration,
    pub full_sync_interval: Duration,
    pub rate_limit_share: f64,
    pub max_concurrency: usize,
    pub enrich_mfa: bool,
    pub enrich_roles: bool,
    pub state_dir: PathBuf,
    pub allow_insecure_http: bool,
    pub log_format: Option<LogFormat>,
    pub gzip: bool,
}

impl Config {
    /// The Okta org host (`acme.okta.com`): the events' `metadata.tenant_uid`.
    pub fn tenant_host(&self) -> String {
        let host = self.okta_origin.host_str().unwrap_or_default();
        match self.okta_origin.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// Settings for the Okta client.
    pub fn okta_settings(&self) -> OktaSettings {
        let credential = match &self.okta_oauth {
            Some(oauth) => OktaCredential::ServiceApp(oauth.clone()),
            None => OktaCredential::ApiToken(self.okta_token.clone()),
        };
        let mut settings = OktaSettings::with_credential(self.okta_origin.clone(), credential);
        settings.rate_limit_share = self.rate_limit_share;
        settings.max_concurrency = self.max_concurrency;
        settings
    }
}

impl RawConfig {
    /// Overlays `other` on `self`: every value `other` sets wins.
    pub fn merge(self, other: RawConfig) -> RawConfig {
        RawConfig {
            base_url: other.base_url.or(self.base_url),
            apikey: other.apikey.or(self.apikey),
            intake_url: other.intake_url.or(self.intake_url),
            sekoia_base_url: other.sekoia_base_url.or(self.sekoia_base_url),
            connector_uuid: other.connector_uuid.or(self.connector_uuid),
            sekoia_api_key: other.sekoia_api_key.or(self.sekoia_api_key),
            format: other.format.or(self.format),
            frequency: other.frequency.or(self.frequency),
            batch_size: other.batch_size.or(self.batch_size),
            full_sync_interval: other.full_sync_interval.or(self.full_sync_interval),
            rate_limit_share: other.rate_limit_share.or(self.rate_limit_share),
            max_concurrency: other.max_concurrency.or(self.max_concurrency),
            enrich_mfa: other.enrich_mfa.or(self.enrich_mfa),
            enrich_roles: other.enrich_roles.or(self.enrich_roles),
            state_dir: other.state_dir.or(self.state_dir),
            allow_insecure_http: other.allow_insecure_http.or(self.allow_insecure_http),
            log_format: other.log_format.or(self.log_format),
            gzip: other.gzip.or(self.gzip),
            auth: other.auth.or(self.auth),
            client_id: other.client_id.or(self.client_id),
            private_key: other.private_key.or(self.private_key),
            private_key_file: other.private_key_file.or(self.private_key_file),
            key_id: other.key_id.or(self.key_id),
            scopes: other.scopes.or(self.scopes),
            dpop: other.dpop.or(self.dpop),
        }
    }

    /// Reads a config file: TOML, or JSON when the content starts with `{`.
    pub fn from_file(path: &Path) -> Result<RawConfig, ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        RawConfig::from_text(&text).map_err(file_error)
    }

    /// Parses TOML or JSON text. Error messages never quote values: serde says `invalid type:
    /// string "…"` with the value itself, which may be a secret typed into the wrong key.
    pub fn from_text(text: &str) -> Result<RawConfig, String> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text)
                .map_err(|e| format!("invalid JSON: {}", redact_quoted(&e.to_string())))
        } else {
            toml::from_str(text)
                .map_err(|e| format!("invalid TOML: {}", redact_quoted(e.message())))
        }
    }

    /// Reads the environment variables of BRIEF §2 through `get` (injectable for tests).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<RawConfig, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        Ok(RawConfig {
            base_url: get("OKTA_BASE_URL"),
            apikey: get("OKTA_API_TOKEN").map(SecretString::from),
            intake_url: get("INTAKE_URL"),
            sekoia_base_url: get("SEKOIA_BASE_URL"),
            connector_uuid: get("CONNECTOR_UUID"),
            sekoia_api_key: get("INTAKE_API_KEY")
                .or_else(|| get("SEKOIA_API_KEY"))
                .map(SecretString::from),
            format: get("INTAKE_FORMAT"),
            frequency: parse_env(&get, "FREQUENCY", "frequency")?,
            batch_size: parse_env(&get, "BATCH_SIZE", "batch_size")?,
            full_sync_interval: parse_env(&get, "FULL_SYNC_INTERVAL", "full_sync_interval")?,
            rate_limit_share: parse_env(&get, "RATE_LIMIT_SHARE", "rate_limit_share")?,
            max_concurrency: parse_env(&get, "MAX_CONCURRENCY", "max_concurrency")?,
            enrich_mfa: parse_bool_env(&get, "ENRICH_MFA", "enrich_mfa")?,
            enrich_roles: parse_bool_env(&get, "ENRICH_ROLES", "enrich_roles")?,
            state_dir: get("STATE_DIR").map(PathBuf::from),
            allow_insecure_http: parse_bool_env(
                &get,
                "ALLOW_INSECURE_HTTP",
                "allow_insecure_http",
            )?,
            log_format: get("LOG_FORMAT"),
            gzip: parse_bool_env(&get, "INTAKE_GZIP", "gzip")?,
            auth: get("OKTA_AUTH"),
            client_id: get("OKTA_CLIENT_ID"),
            private_key: get("OKTA_PRIVATE_KEY").map(SecretString::from),
            private_key_file: get("OKTA_PRIVATE_KEY_FILE").map(PathBuf::from),
            key_id: get("OKTA_KEY_ID"),
            scopes: get("OKTA_SCOPES"),
            dpop: get("OKTA_DPOP").map(DpopSetting::Text),
        })
    }

    /// Reads the Sekoia connector runtime's files in `dir` (each may instead come from the
    /// upper-case environment variable of the same name). Returns `None` when there is none.
    pub fn from_symphony(
        dir: &Path,
        get_env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<RawConfig>, ConfigError> {
        let read = |name: &str| -> Option<String> {
            get_env(&name.to_uppercase()).or_else(|| std::fs::read_to_string(dir.join(name)).ok())
        };
        let module = read("module_configuration");
        let connector = read("connector_configuration");
        let uuid = read("connector_configuration_uuid");
        if module.is_none() && connector.is_none() && uuid.is_none() {
            return Ok(None);
        }
        let mut raw = RawConfig {
            state_dir: Some(PathBuf::from(SYMPHONY_DATA_DIR)),
            connector_uuid: uuid.map(|u| u.trim().to_string()).filter(|u| !u.is_empty()),
            ..RawConfig::default()
        };
        if let Some(text) = module {
            let module: SymphonyModule =
                serde_json::from_str(&text).map_err(|e| ConfigError::File {
                    path: "module_configuration".into(),
                    reason: format!("invalid JSON: {e}"),
                })?;
            raw.base_url = module.base_url;
            raw.apikey = module.apikey;
        }
        if let Some(text) = connector {
            let connector: SymphonyConnector =
                serde_json::from_str(&text).map_err(|e| ConfigError::File {
                    path: "connector_configuration".into(),
                    reason: format!("invalid JSON: {e}"),
                })?;
            raw.sekoia_base_url = connector.sekoia_base_url;
            raw.sekoia_api_key = connector.sekoia_api_key;
            raw.frequency = connector.frequency;
            raw.batch_size = connector.batch_size;
        }
        Ok(Some(raw))
    }

    /// Validates everything the command needs.
    pub fn validate(self, needs: Needs) -> Result<Config, ConfigError> {
        let allow_insecure_http = self.allow_insecure_http.unwrap_or(false);
        let base_url = self.base_url.as_deref().ok_or(ConfigError::Missing {
            key: "base_url",
            hint: "set base_url in the config file, OKTA_BASE_URL or --base-url to your org, e.g. https://acme.okta.com",
        })?;
        let okta_origin = normalize_okta_origin(base_url, allow_insecure_http)?;
        let okta_oauth = self.oauth_settings()?;
        let okta_token = match (&okta_oauth, self.apikey.clone()) {
            (Some(_), _) => SecretString::from(String::new()),
            (None, Some(token)) => token,
            (None, None) => return Err(ConfigError::Missing {
                key: "apikey",
                hint: "set the Okta API token in OKTA_API_TOKEN (or apikey in the config file); it is never accepted on the command line; or use an OAuth service app (auth = \"oauth\", see docs/permissions.md)",
            }),
        };
        let format = match self.format.as_deref() {
            None => Format::default(),
            Some(text) => text
                .parse()
                .map_err(|_| invalid("format", text, "use \"sekoia\" or \"ocsf\""))?,
        };
        let batch_size = self.batch_size.unwrap_or(crate::intake::DEFAULT_BATCH_SIZE);
        if !(1..=10_000).contains(&batch_size) {
            return Err(invalid(
                "batch_size",
                batch_size,
                "use a number of events from 1 to 10000",
            ));
        }
        let frequency = self.frequency.unwrap_or(DEFAULT_FREQUENCY);
        if frequency < 1 {
            return Err(invalid("frequency", frequency, "use at least 1 second"));
        }
        let full_sync_interval = self
            .full_sync_interval
            .unwrap_or(DEFAULT_FULL_SYNC_INTERVAL);
        if full_sync_interval < 1 {
            return Err(invalid(
                "full_sync_interval",
                full_sync_interval,
                "use at least 1 second",
            ));
        }
        let rate_limit_share = self.rate_limit_share.unwrap_or(DEFAULT_RATE_LIMIT_SHARE);
        if !(rate_limit_share > 0.0 && rate_limit_share <= 1.0) {
            return Err(invalid(
                "rate_limit_share",
                rate_limit_share,
                "use a fraction of each Okta bucket above 0 and at most 1 (default 0.5)",
            ));
        }
        let max_concurrency = self.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY);
        if !(1..=32).contains(&max_concurrency) {
            return Err(invalid(
                "max_concurrency",
                max_concurrency,
                "use 1 to 32 (Okta rejects more than 35 to 75 concurrent requests per org)",
            ));
        }
        let log_format = match self.log_format.as_deref() {
            None => None,
            Some("text") => Some(LogFormat::Text),
            Some("json") => Some(LogFormat::Json),
            Some(other) => return Err(invalid("log_format", other, "use \"text\" or \"json\"")),
        };
        let gzip = self.gzip.unwrap_or(false);
        let intake = self.intake_settings(needs, format, batch_size, gzip, allow_insecure_http)?;
        Ok(Config {
            okta_origin,
            okta_token,
            okta_oauth,
            intake,
            format,
            batch_size,
            frequency: Duration::from_secs(frequency),
            full_sync_interval: Duration::from_secs(full_sync_interval),
            rate_limit_share,
            max_concurrency,
            enrich_mfa: self.enrich_mfa.unwrap_or(true),
            enrich_roles: self.enrich_roles.unwrap_or(true),
            state_dir: self.state_dir.clone().unwrap_or_else(default_state_dir),
            allow_insecure_http,
            log_format,
            gzip,
        })
    }

    /// The OAuth service-app settings with `auth = "oauth"`, `None` with `ssws` (the default).
    fn oauth_settings(&self) -> Result<Option<OAuthSettings>, ConfigError> {
        match self.auth.as_deref().map(|a| a.trim().to_ascii_lowercase()) {
            None => return Ok(None),
            Some(auth) if auth == "ssws" => return Ok(None),
            Some(auth) if auth == "oauth" => {}
            Some(other) => {
                return Err(invalid(
                    "auth",
                    other,
                    "use \"ssws\" (API token in apikey) or \"oauth\" (service app: client_id and private key)",
                ))
            }
        }
        let client_id = self
            .client_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or(ConfigError::Missing {
                key: "client_id",
                hint: "set the service app's client ID (Applications > the app > General) in client_id, OKTA_CLIENT_ID or --client-id",
            })?;
        if client_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid("client_id", client_id, "a client ID has no spaces"));
        }
        let text = match (&self.private_key, &self.private_key_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "private_key",
                    "[redacted]",
                    "set either private_key (OKTA_PRIVATE_KEY) or private_key_file (OKTA_PRIVATE_KEY_FILE), not both",
                ))
            }
            (Some(key), None) => key.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(SecretString::from)
                .map_err(|e| {
                    invalid(
                        "private_key_file",
                        path.display(),
                        format!("cannot read the private key file ({e})"),
                    )
                })?,
            (None, None) => {
                return Err(ConfigError::Missing {
                    key: "private_key",
                    hint: "set the service app's private key (PEM or JWK) in OKTA_PRIVATE_KEY (or private_key), or its path in private_key_file / OKTA_PRIVATE_KEY_FILE / --private-key-file",
                })
            }
        };
        let key_name = if self.private_key.is_some() {
            "private_key"
        } else {
            "private_key_file"
        };
        let key = PrivateKey::parse(&text).map_err(|e| invalid(key_name, "[redacted]", e.0))?;
        let mut settings = OAuthSettings::new(client_id, key);
        settings.key_id = self
            .key_id
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        if let Some(scopes) = &self.scopes {
            let list: Vec<String> = scopes
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if list.is_empty() {
                return Err(invalid(
                    "scopes",
                    "\"\"",
                    format!(
                        "list the Okta scopes to request, e.g. \"{}\"",
                        DEFAULT_SCOPES.join(" ")
                    ),
                ));
            }
            settings.scopes = list;
        }
        settings.dpop = match &self.dpop {
            None => DpopMode::Auto,
            Some(DpopSetting::Bool(true)) => DpopMode::Always,
            Some(DpopSetting::Bool(false)) => DpopMode::Never,
            Some(DpopSetting::Text(text)) => text.parse().map_err(|_| {
                invalid(
                    "dpop",
                    text,
                    "use \"auto\" (DPoP when Okta asks for it), true or false",
                )
            })?,
        };
        Ok(Some(settings))
    }

    fn intake_settings(
        &self,
        needs: Needs,
        format: Format,
        batch_size: usize,
        gzip: bool,
        allow_insecure_http: bool,
    ) -> Result<Option<IntakeSettings>, ConfigError> {
        if needs == Needs::Okta {
            return Ok(None);
        }
        let url = match self.intake_url() {
            Ok(url) => url,
            Err(error)
                if needs == Needs::OktaMaybeIntake
                    && matches!(error, ConfigError::Missing { .. }) =>
            {
                return Ok(None)
            }
            Err(error) => return Err(error),
        };
        let url = validate_intake_url(&url, allow_insecure_http)?;
        let Some(api_key) = self.sekoia_api_key.clone() else {
            if needs == Needs::OktaMaybeIntake {
                return Ok(None);
            }
            return Err(ConfigError::Missing {
                key: "sekoia_api_key",
                hint: "set the intake key in INTAKE_API_KEY (or sekoia_api_key in the config file), or use `sync --output FILE` to write events instead of posting",
            });
        };
        let mut settings = IntakeSettings::new(url, api_key);
        settings.format = format;
        settings.batch_size = batch_size;
        settings.gzip = gzip;
        Ok(Some(settings))
    }

    /// `intake_url`, or the Sekoia asset-connector URL derived from the base URL and the UUID.
    fn intake_url(&self) -> Result<String, ConfigError> {
        if let Some(url) = &self.intake_url {
            return Ok(url.clone());
        }
        let uuid = self.connector_uuid.as_deref().ok_or(ConfigError::Missing {
            key: "intake_url",
            hint: "set intake_url (INTAKE_URL, --intake-url), or connector_uuid (CONNECTOR_UUID, --connector-uuid) to post to Sekoia.io, or use `sync --output FILE`",
        })?;
        if uuid.is_empty() || !uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(invalid(
                "connector_uuid",
                uuid,
                "expected the asset connector's UUID, e.g. 7c8f…-…",
            ));
        }
        let base = self
            .sekoia_base_url
            .as_deref()
            .unwrap_or(DEFAULT_SEKOIA_BASE_URL);
        Ok(format!(
            "{}/api/v2/asset-management/asset-connector/{uuid}",
            base.trim_end_matches('/')
        ))
    }
}

#[derive(Deserialize)]
struct SymphonyModule {
    base_url: Option<String>,
    apikey: Option<SecretString>,
}

#[derive(Deserialize)]
struct SymphonyConnector {
    sekoia_base_url: Option<String>,
    sekoia_api_key: Option<SecretString>,
    frequency: Option<u64>,
    batch_size: Option<usize>,
}

fn parse_env<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    key: &'static str,
) -> Result<Option<T>, ConfigError> {
    get(var)
        .map(|value| {
            value
                .trim()
                .parse()
                .map_err(|_| invalid(key, format!("{var}={value}"), "not a number"))
        })
        .transpose()
}

fn parse_bool_env(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    key: &'static str,
) -> Result<Option<bool>, ConfigError> {
    get(var)
        .map(|value| match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(invalid(key, format!("{var}={value}"), "use true or false")),
        })
        .transpose()
}

/// `$STATE_DIRECTORY` (systemd), else `$XDG_STATE_HOME/okta-asset-connector`, else
/// `~/.local/state/okta-asset-connector`, else `./okta-asset-connector-state`.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("okta-asset-connector");
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".local/state/okta-asset-connector");
    }
    PathBuf::from("okta-asset-connector-state")
}

/// Accepts `acme.okta.com`, `https://acme.okta.com`, `https://acme.okta.com/`; refuses paths,
/// queries, fragments and credentials (they would be silently dropped or, worse, sent).
pub fn normalize_okta_origin(input: &str, allow_insecure_http: bool) -> Result<Url, ConfigError> {
    let key = "base_url";
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(invalid(
            key,
            "\"\"",
            "empty; use your org URL, e.g. https://acme.okta.com",
        ));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| invalid(key, redact_url_text(trimmed), format!("not a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            key,
            redact_url_text(trimmed),
            "credentials in the URL are not allowed; put the API token in OKTA_API_TOKEN",
        ));
    }
    check_scheme(key, &url, allow_insecure_http)?;
    if url.path() != "/" && !url.path().is_empty() {
        let hint = if url.path().starts_with("/oauth2") || url.path().starts_with("/api") {
            "use the org URL only (https://acme.okta.com), without /api/v1 or /oauth2"
        } else {
            "use the org URL only, e.g. https://acme.okta.com"
        };
        return Err(invalid(
            key,
            shown(&url),
            format!("has a path ({}); {hint}", url.path()),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        // Not echoed: a query is where people paste tokens (`?token=...`).
        return Err(invalid(
            key,
            format!("{}?…", shown(&url)),
            "has a query or fragment; use the org URL only, e.g. https://acme.okta.com",
        ));
    }
    if let Some(host) = url.host_str() {
        if host.contains("-admin.") {
            return Err(invalid(
                key,
                url.as_str(),
                "this is the admin console host; use the org host without -admin (e.g. https://acme.okta.com)",
            ));
        }
    }
    let mut origin = url;
    origin.set_path("/");
    Ok(origin)
}

/// The intake URL: HTTPS (or loopback HTTP when allowed), no credentials.
pub fn validate_intake_url(input: &str, allow_insecure_http: bool) -> Result<Url, ConfigError> {
    let key = "intake_url";
    let url = Url::parse(input.trim())
        .map_err(|e| invalid(key, redact_url_text(input), format!("not a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            key,
            redact_url_text(input),
            "credentials in the URL are not allowed; put the intake key in INTAKE_API_KEY",
        ));
    }
    check_scheme(key, &url, allow_insecure_http)?;
    Ok(url)
}

/// A URL as it may appear in an error: no credentials, no query, no fragment.
fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

fn check_scheme(
    key: &'static str,
    url: &Url,
    allow_insecure_http: bool,
) -> Result<(), ConfigError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http && is_loopback(url) => Ok(()),
        "http" if allow_insecure_http => Err(invalid(
            key,
            shown(url),
            "plain http is only allowed for loopback hosts (127.0.0.1, ::1, localhost), even with allow_insecure_http",
        )),
        "http" => Err(invalid(
            key,
            shown(url),
            "plain http is refused; use https (http is only for local tests with --allow-insecure-http on a loopback host)",
        )),
        other => Err(invalid(key, shown(url), format!("unsupported scheme {other}; use https"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Replaces the content of every double-quoted part of `message` (escaped quotes included)
/// with `…`; key names, which serde puts in backticks, stay.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    let mut escaped = false;
    for c in message.chars() {
        if quoted {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
                out.push_str("…\"");
            }
        } else {
            out.push(c);
            quoted = c == '"';
        }
    }
    if quoted {
        out.push('…');
    }
    out
}

/// Hides anything that looks like credentials before a URL text goes into an error.
fn redact_url_text(text: &str) -> String {
    // The last `@`: a password may itself contain `@` (the URL parser splits at the last one).
    match text.rsplit_once('@') {
        Some((before, after)) => match before.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://[redacted]@{after}"),
            None => format!("[redacted]@{after}"),
        },
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn ok(input: &str) -> String {
        normalize_okta_origin(input, false).unwrap().to_string()
    }

    #[test]
    fn base_url_forms_are_normalised() {
        assert_eq!(ok("acme.okta.com"), "https://acme.okta.com/");
        assert_eq!(ok("https://acme.okta.com/"), "https://acme.okta.com/");
        assert_eq!(ok("  https://ACME.okta.com  "), "https://acme.okta.com/");
        assert_eq!(
            ok("https://login.acme.com:8443"),
            "https://login.acme.com:8443/"
        );
    }

    #[test]
    fn bad_base_urls_are_refused_with_a_reason() {
        for (input, needle) in [
            ("https://acme.okta.com/api/v1", "without /api/v1"),
            ("https://acme.okta.com/?x=1", "query"),
            ("https://user:hunter2@acme.okta.com", "credentials"),
            ("http://acme.okta.com", "plain http is refused"),
            ("ftp://acme.okta.com", "unsupported scheme"),
            ("https://acme-admin.okta.com", "admin console"),
            ("", "empty"),
            ("https://", "not a URL"),
        ] {
            let error = normalize_okta_origin(input, false).unwrap_err().to_string();
            assert!(error.contains(needle), "{input}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn insecure_http_only_on_loopback_and_only_when_allowed() {
        assert!(normalize_okta_origin("http://127.0.0.1:8080", true).is_ok());
        assert!(normalize_okta_origin("http://localhost:8080", true).is_ok());
        assert!(normalize_okta_origin("http://[::1]:8080", true).is_ok());
        assert!(normalize_okta_origin("http://127.0.0.1:8080", false).is_err());
        assert!(normalize_okta_origin("http://10.0.0.1:8080", true).is_err());
    }

    fn raw() -> RawConfig {
        RawConfig {
            base_url: Some("acme.okta.com".into()),
            apikey: Some("token".to_string().into()),
            ..RawConfig::default()
        }
    }

    #[test]
    fn intake_url_is_derived_from_connector_uuid() {
        let config = RawConfig {
            connector_uuid: Some("0e2b7bc2-0a67-4f0d-9b4a-3f4b3c9d2e11".into()),
            sekoia_api_key: Some("key".to_string().into()),
            ..raw()
        }
        .validate(Needs::OktaAndIntake)
        .unwrap();
        let intake = config.intake.unwrap();
        assert_eq!(
            intake.url.as_str(),
            "https://api.sekoia.io/api/v2/asset-management/asset-connector/0e2b7bc2-0a67-4f0d-9b4a-3f4b3c9d2e11"
        );
        assert_eq!(intake.api_key.expose_secret(), "key");
    }

    #[test]
    fn output_mode_needs_no_intake() {
        let config = raw().validate(Needs::Okta).unwrap();
        assert!(config.intake.is_none());
        let error = raw().validate(Needs::OktaAndIntake).unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Missing {
                    key: "intake_url",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn later_sources_win() {
        let file = RawConfig::from_text("base_url = \"file.okta.com\"\nbatch_size = 10\n").unwrap();
        let env =
            RawConfig::from_env(|name| (name == "BATCH_SIZE").then(|| "20".to_string())).unwrap();
        let merged = file.merge(env);
        assert_eq!(merged.base_url.as_deref(), Some("file.okta.com"));
        assert_eq!(merged.batch_size, Some(20));
    }

    #[test]
    fn file_errors_do_not_echo_secrets() {
        let error = RawConfig::from_text("apikey = \"s3cr3t\"\nbogus = 1\n").unwrap_err();
        assert!(error.contains("bogus"), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
        let json =
            RawConfig::from_text("{\"apikey\": \"s3cr3t\", \"frequency\": \"x\"}").unwrap_err();
        assert!(!json.contains("s3cr3t"), "{json}");
        // A secret typed into the wrong key is not echoed by serde's "invalid type" either.
        let json = RawConfig::from_text("{\"frequency\": \"s3\\\"cr3t\"}").unwrap_err();
        assert!(
            !json.contains("cr3t") && json.contains("expected u64"),
            "{json}"
        );
        let toml = RawConfig::from_text("batch_size = \"s3cr3t\"\n").unwrap_err();
        assert!(
            !toml.contains("s3cr3t") && toml.contains("invalid type"),
            "{toml}"
        );
    }

    #[test]
    fn ranges_are_checked() {
        for (raw, key) in [
            (
                RawConfig {
                    rate_limit_share: Some(0.0),
                    ..raw()
                },
                "rate_limit_share",
            ),
            (
                RawConfig {
                    rate_limit_share: Some(1.5),
                    ..raw()
                },
                "rate_limit_share",
            ),
            (
                RawConfig {
                    frequency: Some(0),
                    ..raw()
                },
                "frequency",
            ),
            (
                RawConfig {
                    batch_size: Some(0),
                    ..raw()
                },
                "batch_size",
            ),
            (
                RawConfig {
                    max_concurrency: Some(500),
                    ..raw()
                },
                "max_concurrency",
            ),
            (
                RawConfig {
                    format: Some("xml".into()),
                    ..raw()
                },
                "format",
            ),
        ] {
            let error = raw.validate(Needs::Okta).unwrap_err();
            assert!(
                matches!(&error, ConfigError::Invalid { key: k, .. } if *k == key),
                "{error}"
            );
        }
    }

    #[test]
    fn symphony_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("module_configuration"),
            r#"{"base_url":"acme.okta.com","apikey":"t"}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("connector_configuration"),
            r#"{"sekoia_base_url":"https://app.sekoia.io","sekoia_api_key":"k","frequency":60,"batch_size":50}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("connector_configuration_uuid"),
            "0e2b7bc2-0a67\n",
        )
        .unwrap();
        let raw = RawConfig::from_symphony(dir.path(), |_| None)
            .unwrap()
            .unwrap();
        let config = raw.validate(Needs::OktaAndIntake).unwrap();
        assert_eq!(config.frequency, Duration::from_secs(60));
        assert_eq!(config.batch_size, 50);
        assert_eq!(config.state_dir, PathBuf::from(SYMPHONY_DATA_DIR));
        assert_eq!(
            config.intake.unwrap().url.as_str(),
            "https://app.sekoia.io/api/v2/asset-management/asset-connector/0e2b7bc2-0a67"
        );
    }
}
