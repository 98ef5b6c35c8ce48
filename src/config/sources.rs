//! The sources of configuration, each read once, later ones winning key by key: the Sekoia
//! runtime settings → the config file → the environment → the flags. Every value goes through
//! its key's parser whatever its source, and every error names the key and the source
//! (`frequency (env FREQUENCY)`), never the value. [`Loaded`] keeps which source set each key,
//! for error messages and for `okta-asset-connector config`.
//!
//! Loading does not stop at the first bad value: the log format must still be known (and a
//! `--log-format` flag must win) when another key is wrong, so that the error itself is logged
//! as asked. A later source that sets a key replaces an invalid value of an earlier one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::keys::{KeySpec, RawConfig, KEY_SPECS};
use super::runtime::RuntimeSettings;
use super::url::redact_quoted;
use super::validate::Config;
use super::{ConfigError, LogFormat, Needs, Source, CONFIG_FILE_ENV, SYMPHONY_DIR};

/// Reads an environment variable (injectable, for tests).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// An environment holding exactly `pairs`, for tests.
#[cfg(test)]
pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let env: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    move |name| env.get(name).cloned()
}

/// The name under which discovery looks for a config file.
const APP_DIR: &str = "okta-asset-connector";
/// The system-wide config file, looked for after the user's.
pub const SYSTEM_CONFIG_FILE: &str = "/etc/okta-asset-connector/config.toml";

/// What one source said: values, where each came from, warnings and errors.
#[derive(Debug, Default)]
pub(crate) struct Layer {
    raw: RawConfig,
    origins: BTreeMap<&'static str, Source>,
    notes: Vec<(&'static str, String)>,
    errors: Vec<ConfigError>,
}

impl Layer {
    /// Sets `key` from text (environment, flag, runtime setting).
    pub(crate) fn set_text(&mut self, key: &'static str, text: &str, source: Source) {
        let result = self.raw.set_text(key, text);
        self.record(key, result, source);
    }

    /// Sets `key` from a JSON value (config file; runtime files with `lenient`).
    pub(crate) fn set_json(
        &mut self,
        key: &'static str,
        value: &Value,
        lenient: bool,
        source: Source,
    ) {
        let result = self.raw.set_json(key, value, lenient);
        self.record(key, result, source);
    }

    fn record(
        &mut self,
        key: &'static str,
        result: Result<Option<&'static str>, String>,
        source: Source,
    ) {
        match result {
            Ok(note) => {
                if let Some(note) = note {
                    self.notes.push((key, format!("{key} ({source}): {note}")));
                }
                self.origins.insert(key, source);
            }
            Err(reason) => self.errors.push(ConfigError::Invalid {
                key,
                origin: Some(source),
                reason,
            }),
        }
    }

    pub(crate) fn error(&mut self, error: ConfigError) {
        self.errors.push(error);
    }

    pub(crate) fn raw(&self) -> &RawConfig {
        &self.raw
    }

    #[cfg(test)]
    pub(crate) fn origin(&self, key: &str) -> Option<&Source> {
        self.origins.get(key)
    }

    #[cfg(test)]
    pub(crate) fn errors(&self) -> impl Iterator<Item = &ConfigError> {
        self.errors.iter()
    }

    /// Overlays `later` on `self`: its values win, and replace earlier errors and warnings
    /// about the keys it sets.
    fn push(&mut self, later: Layer) {
        let replaced = |key: Option<&str>| key.is_some_and(|key| later.origins.contains_key(key));
        self.errors.retain(|error| !replaced(error.key()));
        self.notes.retain(|(key, _)| !replaced(Some(key)));
        self.raw = std::mem::take(&mut self.raw).merge(later.raw);
        self.origins.extend(later.origins);
        self.notes.extend(later.notes);
        self.errors.extend(later.errors);
    }
}

/// The values of the setting flags, as text, in command-line order.
#[derive(Debug, Clone, Default)]
pub struct FlagValues(Vec<(&'static KeySpec, String)>);

impl FlagValues {
    /// Records `--long text` (or a switch's value) for `spec`.
    pub fn push(&mut self, spec: &'static KeySpec, text: impl Into<String>) {
        self.0.push((spec, text.into()));
    }

    /// `self`, then `later` (which wins).
    pub fn then(mut self, later: FlagValues) -> FlagValues {
        self.0.extend(later.0);
        self
    }

    fn layer(&self) -> Layer {
        let mut layer = Layer::default();
        for (spec, text) in &self.0 {
            if let (false, Some(long)) = (text.trim().is_empty(), spec.flag.long()) {
                layer.set_text(spec.name, text, Source::Flag(long));
            }
        }
        layer
    }
}

/// The environment layer: for each key, the first of its variables that is set and not blank.
fn env_layer(env: EnvLookup<'_>) -> Layer {
    let mut layer = Layer::default();
    for spec in KEY_SPECS {
        let found = spec
            .env
            .iter()
            .find_map(|var| env(var).filter(|v| !v.trim().is_empty()).map(|v| (*var, v)));
        if let Some((var, text)) = found {
            layer.set_text(spec.name, &text, Source::Env(var));
        }
    }
    layer
}

/// The layer of a config file's text (TOML, or JSON when it starts with `{`).
fn document_layer(text: &str, source: &Source, path: &str) -> Layer {
    let mut layer = Layer::default();
    let file_error = |reason: String| ConfigError::File {
        path: path.to_string(),
        reason,
    };
    let document = match parse_document(text) {
        Ok(document) => document,
        Err(reason) => {
            layer.error(file_error(reason));
            return layer;
        }
    };
    for (name, value) in &document {
        match KeySpec::get(name) {
            // Unknown keys are refused so that a typo is not silently ignored.
            None => layer.error(file_error(format!(
                "unknown key `{name}` (every key is listed in docs/configuration.md)"
            ))),
            Some(_) if value.is_null() => {}
            Some(spec) => layer.set_json(spec.name, value, false, source.clone()),
        }
    }
    layer
}

/// Parses TOML or JSON into an object. Messages never quote values (a secret may sit next to
/// the mistake): quoted parts are redacted and TOML's source excerpt is left out.
fn parse_document(text: &str) -> Result<Map<String, Value>, String> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text)
            .map_err(|e| format!("invalid JSON: {}", redact_quoted(&e.to_string())));
    }
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        let at = line
            .map(|line| format!(" at line {line}"))
            .unwrap_or_default();
        format!("invalid TOML{at}: {}", redact_quoted(e.message()))
    })?;
    match serde_json::to_value(table) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err("invalid TOML: cannot read its values".into()),
    }
}

fn file_layer(path: &Path) -> Layer {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => document_layer(&text, &Source::File(path.to_path_buf()), &shown),
        Err(error) => {
            let mut layer = Layer::default();
            layer.error(ConfigError::File {
                path: shown,
                reason: error.to_string(),
            });
            layer
        }
    }
}

/// Which config file is read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFile {
    /// `--config FILE` or `OKTA_CONNECTOR_CONFIG`.
    Given { path: PathBuf, by: Source },
    /// The first of the discovery candidates that exists.
    Discovered(PathBuf),
    /// None given, none of the candidates exists.
    None { searched: Vec<PathBuf> },
}

impl ConfigFile {
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigFile::Given { path, .. } | ConfigFile::Discovered(path) => Some(path),
            ConfigFile::None { .. } => None,
        }
    }
}

/// Where a config file is looked for when none is given:
/// `$XDG_CONFIG_HOME/okta-asset-connector/config.toml` (else `~/.config/...`), then
/// [`SYSTEM_CONFIG_FILE`].
pub fn discovery_candidates(env: EnvLookup<'_>) -> Vec<PathBuf> {
    let absolute = |var: &str| env(var).map(PathBuf::from).filter(|p| p.is_absolute());
    let user_dir =
        absolute("XDG_CONFIG_HOME").or_else(|| absolute("HOME").map(|home| home.join(".config")));
    user_dir
        .map(|dir| dir.join(APP_DIR).join("config.toml"))
        .into_iter()
        .chain([PathBuf::from(SYSTEM_CONFIG_FILE)])
        .collect()
}

/// The config file: given by flag or variable, else the first candidate that exists.
pub fn choose_config_file(
    flag: Option<&Path>,
    env: EnvLookup<'_>,
    candidates: Vec<PathBuf>,
) -> ConfigFile {
    if let Some(path) = flag {
        return ConfigFile::Given {
            path: path.to_path_buf(),
            by: Source::Flag("config"),
        };
    }
    if let Some(path) = env(CONFIG_FILE_ENV).filter(|v| !v.trim().is_empty()) {
        return ConfigFile::Given {
            path: PathBuf::from(path),
            by: Source::Env(CONFIG_FILE_ENV),
        };
    }
    match candidates.iter().find(|path| path.exists()) {
        Some(path) => ConfigFile::Discovered(path.clone()),
        None => ConfigFile::None {
            searched: candidates,
        },
    }
}

/// The Sekoia runtime directory: `--symphony-dir DIR` (which must exist), else `/symphony` if
/// it is a directory, else none (runtime settings then come from the environment only).
pub fn runtime_dir(flag: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    match flag {
        Some(dir) if dir.is_dir() => Ok(Some(dir.to_path_buf())),
        Some(dir) => Err(ConfigError::Runtime {
            setting: Source::Flag("symphony-dir"),
            reason: format!("{} is not a directory", dir.display()),
        }),
        None => Ok(Some(PathBuf::from(SYMPHONY_DIR)).filter(|dir| dir.is_dir())),
    }
}

/// What the command line says about where configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct LoadRequest {
    /// `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// `--symphony-dir DIR`.
    pub symphony_dir: Option<PathBuf>,
    pub flags: FlagValues,
}

/// Reads every source once: runtime settings, config file, environment, flags.
pub fn load(request: &LoadRequest, env: EnvLookup<'_>) -> Loaded {
    match runtime_dir(request.symphony_dir.as_deref()) {
        Ok(dir) => load_with_runtime(request, env, RuntimeSettings::read(dir.as_deref(), env)),
        Err(error) => {
            let mut loaded = load_with_runtime(request, env, RuntimeSettings::read(None, env));
            loaded.errors.insert(0, error);
            loaded
        }
    }
}

/// [`load`] with runtime settings already read (e.g. with the module's secrets overlaid).
pub fn load_with_runtime(
    request: &LoadRequest,
    env: EnvLookup<'_>,
    runtime: RuntimeSettings,
) -> Loaded {
    let config_file = choose_config_file(
        request.config_file.as_deref(),
        env,
        discovery_candidates(env),
    );
    let mut merged = runtime.layer();
    if let Some(path) = config_file.path() {
        merged.push(file_layer(path));
    }
    merged.push(env_layer(env));
    merged.push(request.flags.layer());
    Loaded {
        raw: merged.raw,
        origins: merged.origins,
        errors: merged.errors,
        warnings: merged.notes.into_iter().map(|(_, note)| note).collect(),
        config_file,
        runtime_dir: runtime.dir().map(Path::to_path_buf),
        runtime_active: runtime.is_active(),
    }
}

/// Every source merged, with where each key came from.
#[derive(Debug)]
pub struct Loaded {
    raw: RawConfig,
    origins: BTreeMap<&'static str, Source>,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
    config_file: ConfigFile,
    runtime_dir: Option<PathBuf>,
    runtime_active: bool,
}

impl Loaded {
    /// The merged values.
    pub fn raw(&self) -> &RawConfig {
        &self.raw
    }

    /// The source that set `key`, `None` when no source did.
    pub fn origin(&self, key: &str) -> Option<&Source> {
        self.origins.get(key)
    }

    /// Values no source could read (bad syntax, wrong type, token mistakes).
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }

    /// What was read but fixed on the way (e.g. a token's pasted `SSWS ` prefix), to log.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn config_file(&self) -> &ConfigFile {
        &self.config_file
    }

    /// The Sekoia runtime directory read, and whether runtime settings were found.
    pub fn runtime(&self) -> (Option<&Path>, bool) {
        (self.runtime_dir.as_deref(), self.runtime_active)
    }

    /// The log format asked for, whatever else is wrong; `None` when unset or not valid (the
    /// error is then reported by [`Loaded::validate`]).
    pub fn log_format(&self) -> Option<LogFormat> {
        self.raw.log_format.as_deref()?.parse().ok()
    }

    /// The configuration the command needs, or the first error, naming its key and source.
    pub fn validate(&self, needs: Needs) -> Result<Config, ConfigError> {
        if let Some(error) = self.errors.first() {
            return Err(error.clone());
        }
        self.raw.clone().validate(needs).map_err(|error| {
            let origin = error.key().and_then(|key| self.origins.get(key));
            error.with_source(origin)
        })
    }
}

/// Readers of one source alone, without provenance (tests, tools).
impl RawConfig {
    /// Parses config file text: TOML, or JSON when it starts with `{`.
    pub fn from_text(text: &str) -> Result<RawConfig, String> {
        let layer = document_layer(text, &Source::File(PathBuf::from("(text)")), "(text)");
        match layer.errors.into_iter().next() {
            Some(error) => Err(error.to_string()),
            None => Ok(layer.raw),
        }
    }

    /// Reads the keys' environment variables through `get`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<RawConfig, ConfigError> {
        let layer = env_layer(&get);
        match layer.errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(layer.raw),
        }
    }

    /// Reads the Sekoia runtime settings of `dir` (and the environment). `None` when the
    /// runtime gave none.
    pub fn from_symphony(
        dir: &Path,
        get_env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<RawConfig>, ConfigError> {
        let settings = RuntimeSettings::read(Some(dir), &get_env);
        let layer = settings.layer();
        if let Some(error) = layer.errors.into_iter().next() {
            return Err(error);
        }
        Ok(settings.is_active().then_some(layer.raw))
    }
}

/// `$STATE_DIRECTORY` (systemd), else `$XDG_STATE_HOME/okta-asset-connector`, else
/// `~/.local/state/okta-asset-connector`, else `./okta-asset-connector-state`.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join(APP_DIR);
    }
    if let Some(home) = std::env::var_os("HOME") {
        return PathBuf::from(home).join(".local/state").join(APP_DIR);
    }
    PathBuf::from("okta-asset-connector-state")
}

#[cfg(test)]
mod tests;
