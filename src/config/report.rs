//! The effective configuration, as `okta-asset-connector config` prints it: every key with its
//! value (secrets only as `set` or `unset`) and the source that won, which config file and
//! which Sekoia runtime directory were read, and whether the result is valid for `run`.

use std::fmt::Write as _;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::keys::KEY_SPECS;
use super::sources::{ConfigFile, Loaded};
use super::url::shown;
use super::validate::Config;
use super::Needs;

/// One key of the report.
#[derive(Debug, Serialize)]
pub struct KeyReport {
    #[serde(skip)]
    pub key: &'static str,
    /// The value as set (a URL without credentials or query; `set` for a secret); `None` when
    /// no source set it (`unset` for a secret).
    pub value: Option<String>,
    pub secret: bool,
    /// The source that won (`env FREQUENCY`, `--frequency`, `config file ...`); `None` when
    /// the default applies.
    pub source: Option<String>,
    /// The default, as documented.
    pub default: &'static str,
}

/// What the configuration resolves to, once validated.
#[derive(Debug, Serialize)]
pub struct Effective {
    pub okta_origin: String,
    pub okta_auth: &'static str,
    pub intake_url: Option<String>,
    pub state_dir: String,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct EffectiveConfig {
    /// The config file read, if any.
    pub config_file: Option<String>,
    /// How it was chosen: `--config`, `env OKTA_CONNECTOR_CONFIG`, `discovered`, or `none`.
    pub config_file_from: String,
    /// Where discovery looked, when no file was given.
    pub config_file_searched: Vec<String>,
    pub runtime_dir: Option<String>,
    pub runtime_settings_found: bool,
    #[serde(serialize_with = "keys_in_table_order")]
    pub keys: Vec<KeyReport>,
    pub warnings: Vec<String>,
    /// Whether the configuration is valid for `run` (and `sync`).
    pub valid: bool,
    pub error: Option<String>,
    pub effective: Option<Effective>,
}

/// `keys` as a JSON object, in the order of the key table.
fn keys_in_table_order<S: Serializer>(
    keys: &[KeyReport],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(keys.len()))?;
    for key in keys {
        map.serialize_entry(key.key, key)?;
    }
    map.end()
}

impl EffectiveConfig {
    pub fn of(loaded: &Loaded) -> EffectiveConfig {
        let keys = KEY_SPECS
            .iter()
            .map(|spec| KeyReport {
                key: spec.name,
                value: loaded
                    .raw()
                    .shown(spec.name)
                    .or_else(|| spec.secret.then(|| "unset".to_string())),
                secret: spec.secret,
                source: loaded.origin(spec.name).map(ToString::to_string),
                default: spec.default,
            })
            .collect();
        let (config_file_from, config_file_searched) = match loaded.config_file() {
            ConfigFile::Given { by, .. } => (by.to_string(), Vec::new()),
            ConfigFile::Discovered(_) => ("discovered".to_string(), Vec::new()),
            ConfigFile::None { searched } => (
                "none".to_string(),
                searched.iter().map(|p| p.display().to_string()).collect(),
            ),
        };
        let (runtime_dir, runtime_settings_found) = loaded.runtime();
        let validated = loaded.validate(Needs::OktaAndIntake);
        EffectiveConfig {
            config_file: loaded.config_file().path().map(|p| p.display().to_string()),
            config_file_from,
            config_file_searched,
            runtime_dir: runtime_dir.map(|p| p.display().to_string()),
            runtime_settings_found,
            keys,
            warnings: loaded.warnings().to_vec(),
            valid: validated.is_ok(),
            error: validated.as_ref().err().map(ToString::to_string),
            effective: validated.ok().as_ref().map(effective),
        }
    }

    /// The report as aligned text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let file = match &self.config_file {
            Some(path) => format!("{path} ({})", self.config_file_from),
            None => format!("none (looked for {})", self.config_file_searched.join(", ")),
        };
        let _ = writeln!(out, "config file: {file}");
        let runtime = match (&self.runtime_dir, self.runtime_settings_found) {
            (_, true) => format!(
                "settings found ({})",
                self.runtime_dir.as_deref().unwrap_or("environment")
            ),
            (Some(dir), false) => format!("{dir} holds no settings"),
            (None, false) => "not found".to_string(),
        };
        let _ = writeln!(out, "Sekoia runtime: {runtime}\n");
        let rows: Vec<(&str, String, &str)> = self
            .keys
            .iter()
            .map(|key| match &key.value {
                Some(value) => (key.key, value.clone(), key.source.as_deref().unwrap_or("")),
                None => (key.key, format!("(default) {}", key.default), ""),
            })
            .collect();
        let key_width = rows.iter().map(|(key, _, _)| key.len()).max().unwrap_or(0);
        let value_width = rows
            .iter()
            .filter(|(_, _, source)| !source.is_empty())
            .map(|(_, value, _)| value.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(5, 48);
        let _ = writeln!(
            out,
            "{:key_width$}  {:value_width$}  SOURCE",
            "KEY", "VALUE"
        );
        for (key, value, source) in rows {
            let line = format!("{key:key_width$}  {value:value_width$}  {source}");
            let _ = writeln!(out, "{}", line.trim_end());
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "\nwarning: {warning}");
        }
        match (&self.effective, &self.error) {
            (Some(effective), _) => {
                let _ = writeln!(
                    out,
                    "\nvalid for sync and run: Okta {} ({}), intake {}, state in {}",
                    effective.okta_origin,
                    effective.okta_auth,
                    effective.intake_url.as_deref().unwrap_or("-"),
                    effective.state_dir
                );
            }
            (None, Some(error)) => {
                let _ = writeln!(out, "\nnot valid for sync and run: {error}");
            }
            (None, None) => {}
        }
        out
    }
}

fn effective(config: &Config) -> Effective {
    Effective {
        okta_origin: config.okta_origin.to_string(),
        okta_auth: match config.okta_credential {
            crate::okta::OktaCredential::ApiToken(_) => "API token",
            crate::okta::OktaCredential::ServiceApp(_) => "OAuth service app",
        },
        intake_url: config.intake.as_ref().map(|intake| shown(&intake.url)),
        state_dir: config.state_dir.display().to_string(),
    }
}
