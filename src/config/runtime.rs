//! The settings the Sekoia connector runtime gives a connector, read as the platform's own SDK
//! (`sekoia-automation-sdk`, `configuration/filesystem.py`) reads them: each setting from its
//! file in the runtime directory (`/symphony`) first, else from the environment variable of
//! the same name in upper case, whose JSON may be base64-encoded (`configuration/utils.py`,
//! `json_load`). The environment is read even when there is no runtime directory.
//!
//! The asset connector also honours, as the SDK's `asset_connector/connector.py` does:
//! `ASSET_CONNECTOR_BATCH_SIZE` and `ASSET_CONNECTOR_FREQUENCY` over the connector
//! configuration's `batch_size` and `frequency`, and `ASSET_CONNECTOR_PRODUCTION_BASE_URL` as
//! the base URL when the connector configuration has no `sekoia_base_url`.
//!
//! The module's secrets are not in `module_configuration` (the platform leaves placeholders
//! there): whoever fetches them overlays them with [`RuntimeSettings::overlay_module_secrets`]
//! before the settings become a configuration layer.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Map, Value};

use super::sources::{EnvLookup, Layer};
use super::url::redact_quoted;
use super::{ConfigError, Source, SYMPHONY_STATE_DIR};

/// The module's configuration: `{base_url, apikey}` (secrets as placeholders).
pub const MODULE_CONFIGURATION: &str = "module_configuration";
/// The asset connector's arguments: `{sekoia_base_url, sekoia_api_key, frequency, batch_size}`.
pub const CONNECTOR_CONFIGURATION: &str = "connector_configuration";
/// The configured connector's UUID.
pub const CONNECTOR_CONFIGURATION_UUID: &str = "connector_configuration_uuid";
/// The keys read from `module_configuration`; the platform may add others, which are ignored.
pub const MODULE_KEYS: &[&str] = &["base_url", "apikey"];
/// The keys read from `connector_configuration`.
pub const CONNECTOR_KEYS: &[&str] = &[
    "sekoia_base_url",
    "sekoia_api_key",
    "frequency",
    "batch_size",
];
/// Base URL of the asset API when the connector configuration has no `sekoia_base_url`.
pub const PRODUCTION_BASE_URL_ENV: &str = "ASSET_CONNECTOR_PRODUCTION_BASE_URL";
/// Overrides the connector configuration's `batch_size`.
pub const BATCH_SIZE_ENV: &str = "ASSET_CONNECTOR_BATCH_SIZE";
/// Overrides the connector configuration's `frequency`.
pub const FREQUENCY_ENV: &str = "ASSET_CONNECTOR_FREQUENCY";

/// Reads single runtime settings: the file `dir/name` first, else the variable `NAME`.
pub struct RuntimeDir<'a> {
    dir: Option<&'a Path>,
    env: EnvLookup<'a>,
}

impl<'a> RuntimeDir<'a> {
    /// `dir` is `None` when there is no runtime directory (settings then come from the
    /// environment only).
    pub fn new(dir: Option<&'a Path>, env: EnvLookup<'a>) -> RuntimeDir<'a> {
        RuntimeDir { dir, env }
    }

    /// A text setting (e.g. `token`, `url_callback`), as given: the SDK does not trim.
    pub fn text(&self, name: &'static str) -> Result<Option<(String, Source)>, ConfigError> {
        if let Some(path) = self.dir.map(|dir| dir.join(name)).filter(|p| p.is_file()) {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Runtime {
                setting: Source::RuntimeFile(name),
                reason: e.to_string(),
            })?;
            return Ok(Some((text, Source::RuntimeFile(name))));
        }
        let var = name.to_ascii_uppercase();
        Ok((self.env)(&var)
            .filter(|value| !value.is_empty())
            .map(|value| (value, Source::RuntimeEnv(var))))
    }

    /// A JSON object setting (`module_configuration`, ...): JSON in a file; JSON or
    /// base64-encoded JSON in the environment.
    pub fn json(&self, name: &'static str) -> Result<Option<Document>, ConfigError> {
        let Some((text, source)) = self.text(name)? else {
            return Ok(None);
        };
        let parsed = match source {
            Source::RuntimeFile(_) => parse_json(&text),
            _ => parse_json(&text).or_else(|error| parse_base64_json(&text).map_err(|_| error)),
        };
        let fail = |reason: String| ConfigError::Runtime {
            setting: source.clone(),
            reason,
        };
        match parsed.map_err(|e| {
            fail(format!(
                "{e} (expected JSON, or base64-encoded JSON in an environment variable)"
            ))
        })? {
            Value::Object(object) => Ok(Some(Document { object, source })),
            _ => Err(fail("expected a JSON object".into())),
        }
    }
}

fn parse_json(text: &str) -> Result<Value, String> {
    // Syntax errors give a position, not content; quoted parts are redacted all the same.
    serde_json::from_str(text)
        .map_err(|e| format!("invalid JSON: {}", redact_quoted(&e.to_string())))
}

fn parse_base64_json(text: &str) -> Result<Value, String> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| "not base64".to_string())?;
    serde_json::from_slice(&bytes).map_err(|_| "not JSON".to_string())
}

/// A JSON object setting and where it came from. It holds secrets as plain JSON (the
/// intake key in the connector configuration, the module's secrets once overlaid), so its
/// `Debug` shows the keys only.
#[derive(Clone)]
pub struct Document {
    pub object: Map<String, Value>,
    pub source: Source,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("keys", &self.object.keys().collect::<Vec<_>>())
            .field("source", &self.source)
            .finish()
    }
}

/// What the Sekoia runtime says about this connector, read once.
#[derive(Debug, Default)]
pub struct RuntimeSettings {
    dir: Option<PathBuf>,
    module: Option<Document>,
    connector: Option<Document>,
    connector_uuid: Option<(String, Source)>,
    production_base_url: Option<String>,
    batch_size: Option<String>,
    frequency: Option<String>,
    /// Keys of `module` that came from the platform's secrets.
    secret_keys: Vec<String>,
    errors: Vec<ConfigError>,
}

impl RuntimeSettings {
    /// Reads the runtime settings from `dir` (when there is one) and the environment.
    /// Errors are kept, to be reported with the rest of the configuration.
    pub fn read(dir: Option<&Path>, env: EnvLookup<'_>) -> RuntimeSettings {
        let reader = RuntimeDir::new(dir, env);
        let mut errors = Vec::new();
        let module = kept(reader.json(MODULE_CONFIGURATION), &mut errors);
        let connector = kept(reader.json(CONNECTOR_CONFIGURATION), &mut errors);
        let connector_uuid = kept(reader.text(CONNECTOR_CONFIGURATION_UUID), &mut errors)
            .map(|(uuid, source)| (uuid.trim().to_string(), source))
            .filter(|(uuid, _)| !uuid.is_empty());
        let var = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        RuntimeSettings {
            dir: dir.map(Path::to_path_buf),
            module,
            connector,
            connector_uuid,
            production_base_url: var(PRODUCTION_BASE_URL_ENV),
            batch_size: var(BATCH_SIZE_ENV),
            frequency: var(FREQUENCY_ENV),
            secret_keys: Vec::new(),
            errors,
        }
    }

    /// The runtime directory read, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Whether the connector runs under the Sekoia runtime: it gave a module or connector
    /// configuration, or a connector UUID.
    pub fn is_active(&self) -> bool {
        self.module.is_some() || self.connector.is_some() || self.connector_uuid.is_some()
    }

    /// Overlays the module's secrets, as the platform serves them (`{"apikey": "..."}`), on
    /// the module configuration: a key there replaces the placeholder of the same name.
    pub fn overlay_module_secrets(&mut self, secrets: &Map<String, Value>) {
        let module = self.module.get_or_insert_with(|| Document {
            object: Map::new(),
            source: Source::RuntimeSecrets,
        });
        for (key, value) in secrets {
            module.object.insert(key.clone(), value.clone());
            self.secret_keys.push(key.clone());
        }
    }

    /// The configuration layer these settings make.
    pub(crate) fn layer(&self) -> Layer {
        let mut layer = Layer::default();
        for error in &self.errors {
            layer.error(error.clone());
        }
        if let Some(module) = &self.module {
            for key in MODULE_KEYS {
                self.set_from(&mut layer, module, key);
            }
        }
        if let Some(connector) = &self.connector {
            for key in CONNECTOR_KEYS {
                self.set_from(&mut layer, connector, key);
            }
        }
        self.apply_asset_connector_env(&mut layer);
        if let Some((uuid, source)) = &self.connector_uuid {
            layer.set_text("connector_uuid", uuid, source.clone());
        }
        if self.is_active() {
            layer.set_text("state_dir", SYMPHONY_STATE_DIR, Source::RuntimeDefault);
        }
        layer
    }

    fn set_from(&self, layer: &mut Layer, doc: &Document, key: &'static str) {
        let Some(value) = doc.object.get(key).filter(|v| !is_blank(v)) else {
            return;
        };
        let source = if self.secret_keys.iter().any(|k| k == key) {
            Source::RuntimeSecrets
        } else {
            doc.source.clone()
        };
        layer.set_json(key, value, true, source);
    }

    /// The SDK's precedence: the variables win over the connector configuration's
    /// `batch_size` and `frequency`; the configuration's `sekoia_base_url` wins over the
    /// production base URL.
    fn apply_asset_connector_env(&self, layer: &mut Layer) {
        if let Some(batch) = &self.batch_size {
            layer.set_text("batch_size", batch, Source::Env(BATCH_SIZE_ENV));
        }
        if let Some(frequency) = &self.frequency {
            layer.set_text("frequency", frequency, Source::Env(FREQUENCY_ENV));
        }
        if let Some(base) = &self.production_base_url {
            if !layer.raw().is_set("sekoia_base_url") {
                layer.set_text(
                    "sekoia_base_url",
                    base,
                    Source::Env(PRODUCTION_BASE_URL_ENV),
                );
            }
        }
    }
}

/// The value read, or `None` with the error kept for later.
fn kept<T>(result: Result<Option<T>, ConfigError>, errors: &mut Vec<ConfigError>) -> Option<T> {
    result.unwrap_or_else(|error| {
        errors.push(error);
        None
    })
}

/// `null` and `""` mean "not set" in the runtime's JSON, as the SDK's `x or default` reads them.
fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sources::env_of;
    use serde_json::json;

    #[test]
    fn a_document_never_shows_its_values_in_debug() {
        let mut object = Map::new();
        object.insert("sekoia_api_key".into(), Value::String("c4n4ry-k3y".into()));
        let doc = Document {
            object,
            source: Source::RuntimeSecrets,
        };
        let shown = format!("{doc:?}");
        assert!(
            shown.contains("sekoia_api_key") && !shown.contains("c4n4ry"),
            "{shown}"
        );
    }

    #[test]
    fn the_file_wins_over_the_variable_and_variables_may_be_base64() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("module_configuration"),
            r#"{"base_url":"file.okta.com"}"#,
        )
        .unwrap();
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(r#"{"sekoia_api_key":"k","frequency":"60"}"#);
        let env = env_of(&[
            ("MODULE_CONFIGURATION", r#"{"base_url":"env.okta.com"}"#),
            ("CONNECTOR_CONFIGURATION", &encoded),
        ]);
        let settings = RuntimeSettings::read(Some(dir.path()), &env);
        let layer = settings.layer();
        assert_eq!(layer.raw().base_url.as_deref(), Some("file.okta.com"));
        assert_eq!(
            layer.raw().frequency,
            Some(60),
            "lenient: a number in a string"
        );
        assert_eq!(
            layer.origin("frequency"),
            Some(&Source::RuntimeEnv("CONNECTOR_CONFIGURATION".into()))
        );
        assert_eq!(
            layer.origin("base_url"),
            Some(&Source::RuntimeFile("module_configuration"))
        );
    }

    #[test]
    fn without_a_directory_the_environment_is_read() {
        let env = env_of(&[("CONNECTOR_CONFIGURATION_UUID", " 0e2b7bc2-0a67 \n")]);
        let settings = RuntimeSettings::read(None, &env);
        assert!(settings.is_active());
        let layer = settings.layer();
        assert_eq!(layer.raw().connector_uuid.as_deref(), Some("0e2b7bc2-0a67"));
        assert_eq!(
            layer.raw().state_dir.as_deref(),
            Some(Path::new(SYMPHONY_STATE_DIR))
        );
    }

    #[test]
    fn asset_connector_variables_follow_the_sdk_precedence() {
        let env = env_of(&[
            (
                "CONNECTOR_CONFIGURATION",
                r#"{"sekoia_api_key":"k","frequency":60,"batch_size":10}"#,
            ),
            ("ASSET_CONNECTOR_FREQUENCY", "30"),
            ("ASSET_CONNECTOR_BATCH_SIZE", "20"),
            (
                "ASSET_CONNECTOR_PRODUCTION_BASE_URL",
                "https://app.eu2.sekoia.io",
            ),
        ]);
        let layer = RuntimeSettings::read(None, &env).layer();
        assert_eq!(layer.raw().frequency, Some(30));
        assert_eq!(layer.raw().batch_size, Some(20));
        assert_eq!(
            layer.raw().sekoia_base_url.as_deref(),
            Some("https://app.eu2.sekoia.io")
        );
        assert_eq!(
            layer.origin("frequency"),
            Some(&Source::Env("ASSET_CONNECTOR_FREQUENCY"))
        );

        // The connector configuration's own base URL wins over the production one; an empty
        // one does not.
        let base_url_with = |connector_configuration: &str| {
            let env = env_of(&[
                ("CONNECTOR_CONFIGURATION", connector_configuration),
                (
                    "ASSET_CONNECTOR_PRODUCTION_BASE_URL",
                    "https://app.eu2.sekoia.io",
                ),
            ]);
            let layer = RuntimeSettings::read(None, &env).layer();
            layer.raw().sekoia_base_url.clone()
        };
        let own = base_url_with(r#"{"sekoia_base_url":"https://own.example"}"#);
        assert_eq!(own.as_deref(), Some("https://own.example"));
        let empty = base_url_with(r#"{"sekoia_base_url":""}"#);
        assert_eq!(empty.as_deref(), Some("https://app.eu2.sekoia.io"));
    }

    #[test]
    fn secrets_overlay_the_placeholders() {
        let env = env_of(&[(
            "MODULE_CONFIGURATION",
            r#"{"base_url":"acme.okta.com","apikey":"placeholder"}"#,
        )]);
        let mut settings = RuntimeSettings::read(None, &env);
        let secrets = json!({"apikey": "real-token"});
        settings.overlay_module_secrets(secrets.as_object().unwrap());
        let layer = settings.layer();
        use secrecy::ExposeSecret;
        assert_eq!(
            layer.raw().apikey.as_ref().unwrap().expose_secret(),
            "real-token"
        );
        assert_eq!(layer.origin("apikey"), Some(&Source::RuntimeSecrets));
        assert_eq!(
            layer.origin("base_url"),
            Some(&Source::RuntimeEnv("MODULE_CONFIGURATION".into()))
        );
    }

    #[test]
    fn errors_name_the_setting_and_never_quote_values() {
        let env = env_of(&[
            (
                "MODULE_CONFIGURATION",
                r#"{"base_url":"acme.okta.com","apikey":123456789}"#,
            ),
            (
                "CONNECTOR_CONFIGURATION",
                r#"{"frequency":"s3cr3t-key","sekoia_api_key":"k"}"#,
            ),
        ]);
        let layer = RuntimeSettings::read(None, &env).layer();
        let errors: Vec<String> = layer.errors().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("apikey (env MODULE_CONFIGURATION)"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("frequency (env CONNECTOR_CONFIGURATION)"),
            "{errors:?}"
        );
        for error in &errors {
            assert!(
                !error.contains("123456789") && !error.contains("s3cr3t"),
                "{error}"
            );
        }
        let env = env_of(&[("MODULE_CONFIGURATION", r#"{"apikey": "s3cr3t"#)]);
        let layer = RuntimeSettings::read(None, &env).layer();
        let error = layer.errors().next().unwrap().to_string();
        assert!(
            error.contains("env MODULE_CONFIGURATION") && !error.contains("s3cr3t"),
            "{error}"
        );
    }
}
