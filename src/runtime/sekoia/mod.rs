//! The Sekoia.io connector runtime's contract, as its SDK (`sekoia-automation-sdk`) implements
//! it for the modules it runs (docs/deploy/sekoia-runtime.md has the whole table):
//!
//! - the runtime's settings, each a file of `/symphony` or else the upper-case environment
//!   variable: the configurations (read by `config::runtime`), and here the platform's `token`,
//!   `url_callback`, `url_secrets`, `url_logs`, `liveness_port` and `metrics_port`
//!   ([`Platform`]);
//! - [`client`]: requests to the platform with `Authorization: Bearer <token>`, through the
//!   shared transport and retry loop;
//! - [`secrets`]: the module's secrets, which the platform serves instead of writing them to
//!   `module_configuration`;
//! - [`logs`]: logs batched to the platform beside stderr;
//! - [`connector`]: `run` under the runtime (secrets, configuration errors reported once as
//!   `critical` then a wait for SIGTERM, `/health` and `/metrics` on the runtime's ports);
//! - [`validate`]: `validate_module_configuration`, the "Test connector" protocol.

pub mod client;
pub mod connector;
pub mod logs;
pub mod secrets;
pub mod validate;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde_json::{Map, Value};
use url::Url;

use client::{PlatformClient, PLATFORM_BACKOFF};

use crate::app::Exit;
use crate::clock::SharedClock;
use crate::config::runtime::RuntimeDir;
use crate::config::sources::EnvLookup;
use crate::config::{self, LoadRequest, Loaded, RuntimeSettings};
use crate::http::shown_url;
use crate::sync::Shutdown;

/// The bearer token of the platform's endpoints.
pub const TOKEN: &str = "token";
/// Where the module reports (`validate_module_configuration` PATCHes it).
pub const URL_CALLBACK: &str = "url_callback";
/// Where the module's secrets are served; default: `url_callback` with `/callback` → `/secrets`.
pub const URL_SECRETS: &str = "url_secrets";
/// Where logs are POSTed; default: `url_callback` with `/callback` → `/logs`.
pub const URL_LOGS: &str = "url_logs";
/// The port of `/health`.
pub const LIVENESS_PORT: &str = "liveness_port";
/// The port of `/metrics`.
pub const METRICS_PORT: &str = "metrics_port";
/// The SDK's defaults for the two ports.
pub const DEFAULT_LIVENESS_PORT: u16 = 8000;
pub const DEFAULT_METRICS_PORT: u16 = 8020;
/// The module configuration's secrets, as `manifest.json` lists them: the platform serves their
/// values, `module_configuration` holds placeholders.
pub const MODULE_SECRETS: &[&str] = &["apikey"];

/// Why the platform could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// A runtime setting is missing or not valid.
    #[error("Sekoia runtime setting {name}: {reason}")]
    Setting { name: &'static str, reason: String },
    /// The platform refused a request (a 4xx other than 408 and 429): retrying cannot help.
    #[error("the Sekoia.io platform refused {what} at {url}: HTTP {status}{hint}", hint = status_hint(*status))]
    Refused {
        what: &'static str,
        url: String,
        status: u16,
    },
    /// No answer, or a 408/429/5xx, after every retry.
    #[error(
        "the Sekoia.io platform did not answer {what} at {url} after {attempts} attempts: {reason}"
    )]
    Unavailable {
        what: &'static str,
        url: String,
        attempts: u32,
        reason: String,
    },
    /// An answer that does not say what the contract says it should.
    #[error("the Sekoia.io platform's answer to {what} is not usable: {reason}")]
    Answer { what: &'static str, reason: String },
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (the runtime's token was refused; only the runtime can give another, by starting the connector again)",
        404 => " (the URL the runtime gave does not exist)",
        _ => "",
    }
}

impl PlatformError {
    /// Whether waiting and starting again could help (the platform was unavailable), as
    /// opposed to a refusal or a wrong setting.
    pub fn is_transient(&self) -> bool {
        matches!(self, PlatformError::Unavailable { .. })
    }

    /// Whether a new start of the connector could succeed where this one failed: the platform
    /// was unavailable, or it refused the runtime's token (401, 403), which only the runtime can
    /// replace. The SDK's trigger exits on both, after its retries, and the runtime restarts it.
    pub fn needs_a_restart(&self) -> bool {
        self.is_transient()
            || matches!(
                self,
                PlatformError::Refused {
                    status: 401 | 403,
                    ..
                }
            )
    }
}

/// The platform's side of the runtime: where to fetch secrets, send logs and report, with which
/// token, and the ports to serve `/health` and `/metrics` on.
pub struct Platform {
    token: SecretString,
    callback: Option<Url>,
    secrets: Option<Url>,
    logs: Option<Url>,
    pub liveness_port: u16,
    pub metrics_port: u16,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |url: &Option<Url>| url.as_ref().map(shown_url);
        f.debug_struct("Platform")
            .field("token", &"[REDACTED]")
            .field("callback", &show(&self.callback))
            .field("secrets", &show(&self.secrets))
            .field("logs", &show(&self.logs))
            .field("liveness_port", &self.liveness_port)
            .field("metrics_port", &self.metrics_port)
            .finish()
    }
}

impl Platform {
    /// Reads the platform's settings from the runtime directory `dir` (when there is one) and the
    /// environment. `None` when the runtime gave no `token`: the connector then runs on its own
    /// (secrets from its own configuration, logs on stderr only).
    pub fn discover(
        dir: Option<&Path>,
        env: EnvLookup<'_>,
    ) -> Result<Option<Platform>, PlatformError> {
        let reader = RuntimeDir::new(dir, env);
        let text = |name: &'static str| -> Result<Option<String>, PlatformError> {
            reader
                .text(name)
                .map(|found| found.map(|(text, _)| text.trim().to_string()))
                .map(|found| found.filter(|text| !text.is_empty()))
                .map_err(|e| PlatformError::Setting {
                    name,
                    reason: e.to_string(),
                })
        };
        let Some(token) = text(TOKEN)? else {
            return Ok(None);
        };
        let url = |name: &'static str| -> Result<Option<Url>, PlatformError> {
            text(name)?.map(|text| parse_url(name, &text)).transpose()
        };
        let callback = url(URL_CALLBACK)?;
        let derived = |path: &str| {
            callback
                .as_ref()
                .and_then(|c| Url::parse(&c.as_str().replace("/callback", path)).ok())
        };
        let secrets = url(URL_SECRETS)?.or_else(|| derived("/secrets"));
        let logs = url(URL_LOGS)?.or_else(|| derived("/logs"));
        if callback.is_none() && secrets.is_none() && logs.is_none() {
            return Err(PlatformError::Setting {
                name: URL_CALLBACK,
                reason: "the runtime gave a token but no url_callback (nor url_secrets, url_logs)"
                    .into(),
            });
        }
        let port = |name: &'static str, default: u16| -> Result<u16, PlatformError> {
            match text(name)? {
                None => Ok(default),
                Some(text) => text.parse().map_err(|_| PlatformError::Setting {
                    name,
                    reason: "expected a port number from 0 to 65535".into(),
                }),
            }
        };
        Ok(Some(Platform {
            token: SecretString::from(token),
            callback,
            secrets,
            logs,
            liveness_port: port(LIVENESS_PORT, DEFAULT_LIVENESS_PORT)?,
            metrics_port: port(METRICS_PORT, DEFAULT_METRICS_PORT)?,
        }))
    }

    pub fn token(&self) -> &SecretString {
        &self.token
    }

    pub fn callback_url(&self) -> Result<&Url, PlatformError> {
        required(&self.callback, URL_CALLBACK)
    }

    pub fn secrets_url(&self) -> Result<&Url, PlatformError> {
        required(&self.secrets, URL_SECRETS)
    }

    pub fn logs_url(&self) -> Option<&Url> {
        self.logs.as_ref()
    }

    /// Where `/health` and `/metrics` are served: every interface, as the SDK binds them.
    pub fn listen_addrs(&self) -> [SocketAddr; 2] {
        let any = Ipv4Addr::UNSPECIFIED.into();
        [
            SocketAddr::new(any, self.liveness_port),
            SocketAddr::new(any, self.metrics_port),
        ]
    }
}

/// What a command does under the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `run`: the connector.
    Connector,
    /// `validate_module_configuration`.
    Validator,
}

/// The runtime as a command meets it, decided before logging is set up (the platform's logs
/// need a layer of their own).
pub enum Runtime {
    /// Not under the runtime, or a command the runtime does not concern.
    Off,
    Connector {
        platform: Platform,
        layer: Option<logs::PlatformLogLayer>,
        shipper: logs::LogShipper,
        redactor: logs::Redactor,
        dir: Option<PathBuf>,
    },
    Validator {
        platform: Platform,
        dir: Option<PathBuf>,
    },
    /// Under the runtime, but its settings cannot be used.
    Broken { role: Role, error: PlatformError },
}

impl Runtime {
    /// Reads the platform's settings for `role` from the runtime directory `dir` and the
    /// environment. `run` without the runtime's token is `Off` (the connector on its own);
    /// `validate_module_configuration` cannot do without it.
    pub fn prepare(
        role: Option<Role>,
        dir: Option<&Path>,
        env: EnvLookup<'_>,
        clock: crate::clock::SharedClock,
    ) -> Runtime {
        let Some(role) = role else {
            return Runtime::Off;
        };
        let platform = match (Platform::discover(dir, env), role) {
            (Ok(Some(platform)), _) => platform,
            (Ok(None), Role::Connector) => return Runtime::Off,
            (Ok(None), Role::Validator) => {
                let error = PlatformError::Setting {
                    name: TOKEN,
                    reason: "validate_module_configuration runs under the Sekoia.io runtime and needs its token and url_callback (files of /symphony or --symphony-dir, else the TOKEN and URL_CALLBACK variables)".into(),
                };
                return Runtime::Broken { role, error };
            }
            (Err(error), _) => return Runtime::Broken { role, error },
        };
        let dir = dir.map(Path::to_path_buf);
        match role {
            Role::Validator => Runtime::Validator { platform, dir },
            Role::Connector => {
                let redactor = logs::Redactor::default();
                let (layer, shipper) = logs::channel(redactor.clone(), clock);
                Runtime::Connector {
                    platform,
                    layer: Some(layer),
                    shipper,
                    redactor,
                    dir,
                }
            }
        }
    }

    /// The layer that sends logs to the platform, to install with the others (once).
    pub fn log_layer(&mut self) -> Option<logs::PlatformLogLayer> {
        match self {
            Runtime::Connector { layer, .. } => layer.take(),
            _ => None,
        }
    }

    /// Whether the command reads the configuration again under the runtime (with the module's
    /// secrets laid over it) and logs its warnings itself: the caller then does not log those of
    /// its first reading, which would be the same lines twice.
    pub fn logs_configuration_warnings(&self) -> bool {
        matches!(self, Runtime::Connector { .. })
    }

    /// Whether the command runs under the runtime ([`Runtime::take_over`] then runs it).
    pub fn takes_over(&self) -> bool {
        !matches!(self, Runtime::Off)
    }

    /// Runs the command under the runtime; the exit code.
    pub async fn take_over(
        self,
        request: &LoadRequest,
        env: EnvLookup<'_>,
        clock: SharedClock,
        mut shutdown: Shutdown,
    ) -> Exit {
        let context = |platform, dir| Context {
            platform,
            dir,
            request,
            env,
            clock,
        };
        match self {
            Runtime::Off => Exit::Ok,
            Runtime::Broken {
                role: Role::Validator,
                error,
            } => {
                tracing::error!("{error}");
                Exit::Config
            }
            Runtime::Broken {
                role: Role::Connector,
                error,
            } => {
                // No platform to report to: stderr, then the same wait as any configuration
                // error under the runtime.
                tracing::error!(critical = true, "{error}");
                shutdown.wait().await;
                Exit::Ok
            }
            Runtime::Validator { platform, dir } => validate::run(&context(platform, dir)).await,
            Runtime::Connector {
                platform,
                shipper,
                redactor,
                dir,
                ..
            } => connector::run(context(platform, dir), shipper, redactor, shutdown).await,
        }
    }
}

/// What a run under the runtime needs, whatever its role: the platform, where the
/// configuration comes from, and the clock.
pub struct Context<'a> {
    pub platform: Platform,
    /// The runtime directory (`/symphony`, or `--symphony-dir`), when there is one.
    pub dir: Option<PathBuf>,
    pub request: &'a LoadRequest,
    pub env: EnvLookup<'a>,
    pub clock: SharedClock,
}

impl Context<'_> {
    /// The configuration, with the module's `secrets` laid over `module_configuration`.
    pub fn load(&self, secrets: &Map<String, Value>) -> Loaded {
        let mut settings = RuntimeSettings::read(self.dir.as_deref(), self.env);
        settings.overlay_module_secrets(secrets);
        config::load_with_runtime(self.request, self.env, settings)
    }

    /// A client of the platform's endpoints, with the runtime's token.
    pub fn client(&self) -> Result<PlatformClient, PlatformError> {
        PlatformClient::new(self.platform.token(), self.clock.clone(), PLATFORM_BACKOFF)
    }
}

fn required<'a>(url: &'a Option<Url>, name: &'static str) -> Result<&'a Url, PlatformError> {
    url.as_ref().ok_or(PlatformError::Setting {
        name,
        reason: "not given by the runtime (neither the setting nor url_callback)".into(),
    })
}

/// An `http` or `https` URL. Plain http is accepted: these URLs come from the runtime itself,
/// which may address the platform inside its own network.
fn parse_url(name: &'static str, text: &str) -> Result<Url, PlatformError> {
    let url = Url::parse(text).map_err(|e| PlatformError::Setting {
        name,
        reason: format!("not a URL ({e})"),
    })?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(PlatformError::Setting {
            name,
            reason: "expected an http or https URL".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sources::env_of;

    #[test]
    fn urls_derive_from_the_callback_as_the_sdk_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "tok\n").unwrap();
        std::fs::write(
            dir.path().join("url_callback"),
            "https://api.example/api/v1/runs/42/callback",
        )
        .unwrap();
        let platform = Platform::discover(Some(dir.path()), &|_| None)
            .unwrap()
            .unwrap();
        assert_eq!(
            platform.secrets_url().unwrap().as_str(),
            "https://api.example/api/v1/runs/42/secrets"
        );
        assert_eq!(
            platform.logs_url().unwrap().as_str(),
            "https://api.example/api/v1/runs/42/logs"
        );
        assert_eq!(
            (platform.liveness_port, platform.metrics_port),
            (8000, 8020)
        );
        assert!(!format!("{platform:?}").contains("tok\""));
        // Explicit URLs and ports win; the environment is read without a directory.
        let env = env_of(&[
            ("TOKEN", "t"),
            ("URL_CALLBACK", "http://p/callback"),
            ("URL_LOGS", "http://logs.example/in"),
            ("LIVENESS_PORT", "9000"),
        ]);
        let platform = Platform::discover(None, &env).unwrap().unwrap();
        assert_eq!(
            platform.logs_url().unwrap().as_str(),
            "http://logs.example/in"
        );
        assert_eq!(platform.secrets_url().unwrap().as_str(), "http://p/secrets");
        assert_eq!(platform.liveness_port, 9000);
    }

    #[test]
    fn no_token_means_no_platform_and_bad_settings_are_named() {
        assert!(Platform::discover(None, &|_| None).unwrap().is_none());
        let error = Platform::discover(None, &env_of(&[("TOKEN", "t")])).unwrap_err();
        assert!(error.to_string().contains("url_callback"), "{error}");
        let error = Platform::discover(
            None,
            &env_of(&[("TOKEN", "t"), ("URL_CALLBACK", "ftp://x/callback")]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("url_callback"), "{error}");
        let error = Platform::discover(
            None,
            &env_of(&[
                ("TOKEN", "t"),
                ("URL_CALLBACK", "http://x/callback"),
                ("METRICS_PORT", "eighty"),
            ]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("metrics_port"), "{error}");
    }
}
