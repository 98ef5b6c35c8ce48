//! Raw settings → a trusted [`Config`]: normalised Okta origin, HTTPS rule, ranges, one Okta
//! credential, the intake when the command needs it; or an error that names the key and says
//! what to do.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::keys::RawConfig;
use super::url::{normalize_okta_origin, validate_intake_url};
use super::value::{header_secret_problem, DpopSetting};
use super::{
    default_state_dir, ConfigError, LogFormat, Needs, DEFAULT_CYCLE_TIMEOUT, DEFAULT_FREQUENCY,
    DEFAULT_FULL_SYNC_INTERVAL, DEFAULT_MAX_CONCURRENCY, DEFAULT_MFA_REFRESH_INTERVAL,
    DEFAULT_RATE_LIMIT_SHARE, DEFAULT_SEKOIA_BASE_URL,
};
use crate::intake::{Format, IntakeSettings};
use crate::okta::auth::{DpopMode, OAuthSettings, PrivateKey, DEFAULT_SCOPES};
use crate::okta::{OktaCredential, OktaSettings};

/// A validated configuration: only what the commands read.
#[derive(Debug)]
pub struct Config {
    /// `https://acme.okta.com/` (normalised: no path, query or credentials).
    pub okta_origin: Url,
    /// The API token, or the OAuth service app.
    pub okta_credential: OktaCredential,
    /// Intake settings; `None` only when the command does not need them.
    pub intake: Option<IntakeSettings>,
    /// Body format (also of `--output`, which has no intake settings).
    pub format: Format,
    pub batch_size: usize,
    pub frequency: Duration,
    pub full_sync_interval: Duration,
    /// How old a user's MFA factors may get before a full sync reads them again.
    pub mfa_refresh_interval: Duration,
    /// How long a cycle may take before it is stopped; `None`: no limit.
    pub cycle_timeout: Option<Duration>,
    pub rate_limit_share: f64,
    pub max_concurrency: usize,
    pub enrich_mfa: bool,
    pub enrich_roles: bool,
    pub state_dir: PathBuf,
    /// Where `run` serves `/health` and `/metrics`; `None`: off.
    pub metrics_addr: Option<SocketAddr>,
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
        let mut settings =
            OktaSettings::with_credential(self.okta_origin.clone(), self.okta_credential.clone());
        settings.rate_limit_share = self.rate_limit_share;
        settings.max_concurrency = self.max_concurrency;
        settings
    }
}

impl RawConfig {
    /// Validates everything the command needs.
    pub fn validate(self, needs: Needs) -> Result<Config, ConfigError> {
        let allow_insecure_http = self.allow_insecure_http.unwrap_or(false);
        let base_url = self.base_url.as_deref().ok_or(ConfigError::Missing {
            key: "base_url",
            hint: "set base_url in the config file, OKTA_BASE_URL or --base-url to your org, e.g. https://acme.okta.com",
        })?;
        let okta_origin = normalize_okta_origin(base_url, allow_insecure_http)?;
        let okta_credential = self.okta_credential()?;
        let format = match self.format.as_deref() {
            None => Format::default(),
            Some(text) => text
                .parse()
                .map_err(|_| ConfigError::invalid("format", "use \"sekoia\" or \"ocsf\""))?,
        };
        let batch_size = self.batch_size.unwrap_or(crate::intake::DEFAULT_BATCH_SIZE);
        in_range(
            "batch_size",
            batch_size,
            1..=10_000,
            "use a number of events from 1 to 10000",
        )?;
        let frequency = self.frequency.unwrap_or(DEFAULT_FREQUENCY);
        in_range(
            "frequency",
            frequency,
            1..=u64::MAX,
            "use at least 1 second",
        )?;
        let full_sync_interval = self
            .full_sync_interval
            .unwrap_or(DEFAULT_FULL_SYNC_INTERVAL);
        in_range(
            "full_sync_interval",
            full_sync_interval,
            1..=u64::MAX,
            "use at least 1 second",
        )?;
        let rate_limit_share = self.rate_limit_share.unwrap_or(DEFAULT_RATE_LIMIT_SHARE);
        if !(rate_limit_share > 0.0 && rate_limit_share <= 1.0) {
            return Err(ConfigError::invalid(
                "rate_limit_share",
                format!("{rate_limit_share} is out of range; use a fraction of each Okta bucket above 0 and at most 1 (default 0.5)"),
            ));
        }
        let max_concurrency = self.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY);
        in_range(
            "max_concurrency",
            max_concurrency,
            1..=32,
            "use 1 to 32 (Okta rejects more than 35 to 75 concurrent requests per org)",
        )?;
        if let Some(text) = self.log_format.as_deref() {
            text.parse::<LogFormat>()
                .map_err(|_| ConfigError::invalid("log_format", "use \"text\" or \"json\""))?;
        }
        let intake = self.intake_settings(needs, format, batch_size, allow_insecure_http)?;
        Ok(Config {
            okta_origin,
            okta_credential,
            intake,
            format,
            batch_size,
            frequency: Duration::from_secs(frequency),
            full_sync_interval: Duration::from_secs(full_sync_interval),
            mfa_refresh_interval: Duration::from_secs(
                self.mfa_refresh_interval
                    .unwrap_or(DEFAULT_MFA_REFRESH_INTERVAL),
            ),
            cycle_timeout: match self.cycle_timeout.unwrap_or(DEFAULT_CYCLE_TIMEOUT) {
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            },
            rate_limit_share,
            max_concurrency,
            enrich_mfa: self.enrich_mfa.unwrap_or(true),
            enrich_roles: self.enrich_roles.unwrap_or(true),
            state_dir: self.state_dir.clone().unwrap_or_else(default_state_dir),
            metrics_addr: metrics_addr(self.metrics_addr.as_deref())?,
        })
    }

    /// The API token (`auth = "ssws"`, the default), or the OAuth service app.
    fn okta_credential(&self) -> Result<OktaCredential, ConfigError> {
        if let Some(app) = self.oauth_settings()? {
            return Ok(OktaCredential::ServiceApp(app));
        }
        let token = self.apikey.clone().ok_or(ConfigError::Missing {
            key: "apikey",
            hint: "set the Okta API token in OKTA_API_TOKEN (or apikey in the config file); it is never accepted on the command line; or use an OAuth service app (auth = \"oauth\", see docs/permissions.md)",
        })?;
        if let Some(problem) = header_secret_problem(&token) {
            return Err(ConfigError::invalid(
                "apikey",
                format!("the Okta API token {problem}"),
            ));
        }
        Ok(OktaCredential::ApiToken(token))
    }

    /// The OAuth service-app settings with `auth = "oauth"`, `None` with `ssws` (the default).
    fn oauth_settings(&self) -> Result<Option<OAuthSettings>, ConfigError> {
        match self.auth.as_deref().map(|a| a.trim().to_ascii_lowercase()).as_deref() {
            None | Some("ssws") => return Ok(None),
            Some("oauth") => {}
            Some(_) => {
                return Err(ConfigError::invalid(
                    "auth",
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
            return Err(ConfigError::invalid(
                "client_id",
                "a client ID has no spaces",
            ));
        }
        let (key_name, text) = self.private_key_text()?;
        let key = PrivateKey::parse(&text).map_err(|e| ConfigError::invalid(key_name, e.0))?;
        let mut settings = OAuthSettings::new(client_id, key);
        settings.key_id = self
            .key_id
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        if let Some(scopes) = &self.scopes {
            settings.scopes = scope_list(scopes)?;
        }
        settings.dpop = dpop_mode(self.dpop.as_ref())?;
        Ok(Some(settings))
    }

    /// The private key's text and the key it came from.
    fn private_key_text(&self) -> Result<(&'static str, SecretString), ConfigError> {
        match (&self.private_key, &self.private_key_file) {
            (Some(_), Some(_)) => Err(ConfigError::invalid(
                "private_key",
                "set either private_key (OKTA_PRIVATE_KEY) or private_key_file (OKTA_PRIVATE_KEY_FILE), not both",
            )),
            (Some(key), None) => Ok(("private_key", key.clone())),
            (None, Some(path)) => Ok(("private_key_file", read_private_key_file(path)?)),
            (None, None) => Err(ConfigError::Missing {
                key: "private_key",
                hint: "set the service app's private key (PEM or JWK) in OKTA_PRIVATE_KEY (or private_key), or its path in private_key_file / OKTA_PRIVATE_KEY_FILE / --private-key-file",
            }),
        }
    }

    fn intake_settings(
        &self,
        needs: Needs,
        format: Format,
        batch_size: usize,
        allow_insecure_http: bool,
    ) -> Result<Option<IntakeSettings>, ConfigError> {
        if needs == Needs::Okta {
            return Ok(None);
        }
        let url = match self.intake_url() {
            Ok(url) => url,
            Err(ConfigError::Missing { .. }) if needs == Needs::OktaMaybeIntake => return Ok(None),
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
        if let Some(problem) = header_secret_problem(&api_key) {
            return Err(ConfigError::invalid(
                "sekoia_api_key",
                format!("the intake API key {problem}"),
            ));
        }
        let mut settings = IntakeSettings::new(url, api_key);
        settings.format = format;
        settings.batch_size = batch_size;
        settings.gzip = self.gzip.unwrap_or(false);
        // As the Sekoia.io SDK's asset connectors, so the platform knows who posts.
        settings.user_agent = self
            .connector_uuid
            .as_deref()
            .filter(|uuid| is_uuid_like(uuid))
            .map(crate::intake::sekoia_user_agent);
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
        if !is_uuid_like(uuid) {
            return Err(ConfigError::invalid(
                "connector_uuid",
                "expected the asset connector's UUID (hexadecimal digits and -), e.g. 6f3b0a6e-2a8e-4f5b-9d3c-0e7a1c2b4d5f",
            ));
        }
        let base = self
            .sekoia_base_url
            .as_deref()
            .unwrap_or(DEFAULT_SEKOIA_BASE_URL);
        Ok(format!(
            "{}/api/v2/asset-management/asset-connector/{uuid}",
            base.trim().trim_end_matches('/')
        ))
    }
}

/// Hexadecimal digits and `-`: what a connector UUID is made of (and nothing that would need
/// escaping in a URL path or a header).
fn is_uuid_like(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// `value` within `range`, else an error stating it (numbers are not secrets).
fn in_range<T: PartialOrd + std::fmt::Display>(
    key: &'static str,
    value: T,
    range: std::ops::RangeInclusive<T>,
    hint: &str,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            format!("{value} is out of range; {hint}"),
        ))
    }
}

fn scope_list(scopes: &str) -> Result<Vec<String>, ConfigError> {
    let list: Vec<String> = scopes
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if list.is_empty() {
        return Err(ConfigError::invalid(
            "scopes",
            format!(
                "empty; list the Okta scopes to request, e.g. \"{}\"",
                DEFAULT_SCOPES.join(" ")
            ),
        ));
    }
    Ok(list)
}

fn dpop_mode(setting: Option<&DpopSetting>) -> Result<DpopMode, ConfigError> {
    match setting {
        None => Ok(DpopMode::Auto),
        Some(DpopSetting::Bool(true)) => Ok(DpopMode::Always),
        Some(DpopSetting::Bool(false)) => Ok(DpopMode::Never),
        Some(DpopSetting::Text(text)) => text.parse().map_err(|_| {
            ConfigError::invalid(
                "dpop",
                "use \"auto\" (DPoP when Okta asks for it), true or false",
            )
        }),
    }
}

/// `metrics_addr`: `IP:PORT`, or a port alone (`9090`, `:9090`) for every interface; `off`
/// or unset: no server.
fn metrics_addr(text: Option<&str>) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(text) = text
        .map(str::trim)
        .filter(|t| !t.eq_ignore_ascii_case("off"))
    else {
        return Ok(None);
    };
    if let Ok(port) = text.trim_start_matches(':').parse::<u16>() {
        return Ok(Some(SocketAddr::from(([0, 0, 0, 0], port))));
    }
    text.parse().map(Some).map_err(|_| {
        ConfigError::invalid(
            "metrics_addr",
            "expected an IP address and port (0.0.0.0:9090, 127.0.0.1:9090, [::]:9090), a port alone, or off",
        )
    })
}

/// Reads the OAuth private key file, refusing one that other users may read: the key would
/// let them act as the service app.
fn read_private_key_file(path: &Path) -> Result<SecretString, ConfigError> {
    let unreadable = |e: std::io::Error| {
        ConfigError::invalid(
            "private_key_file",
            format!("cannot read the private key file {} ({e})", path.display()),
        )
    };
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    key_file_mode_problem(&metadata, path)?;
    std::fs::read_to_string(path)
        .map(SecretString::from)
        .map_err(unreadable)
}

/// As ssh does for its keys: refused when the file belongs to the running user and group or
/// others have any permission on it, and (stricter than ssh) whenever any user of the host
/// may read it. A file owned by another user and readable through its group is accepted: that
/// is how Kubernetes mounts a Secret for a non-root container (`fsGroup`, `defaultMode: 0440`).
#[cfg(unix)]
fn key_file_mode_problem(metadata: &std::fs::Metadata, path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let mode = metadata.mode() & 0o777;
    // SAFETY: getuid has no preconditions and cannot fail.
    let own = metadata.uid() == unsafe { libc::getuid() };
    let exposed = mode & 0o007 != 0 || (own && mode & 0o070 != 0);
    if !exposed {
        return Ok(());
    }
    Err(ConfigError::invalid(
        "private_key_file",
        format!(
            "{} has mode {mode:04o}: other users may read the service app's private key; run chmod 600 {}",
            path.display(),
            path.display()
        ),
    ))
}

#[cfg(not(unix))]
fn key_file_mode_problem(_: &std::fs::Metadata, _: &Path) -> Result<(), ConfigError> {
    Ok(())
}

#[cfg(test)]
mod tests;
