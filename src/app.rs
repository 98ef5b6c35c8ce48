//! The commands, wired from a validated configuration: what `main` calls.

use std::path::Path;
use std::sync::Arc;

use crate::cli::{Command, SettingsArgs};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfigError, Needs, RawConfig, SYMPHONY_DIR};
use crate::intake::{FileOutput, HttpIntake, IntakeError, Sink};
use crate::okta::{OktaClient, OktaError};
use crate::sync::{self, Summary, SyncError, SyncOptions};

/// Process exit codes (documented in docs/troubleshooting.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// Unexpected failure.
    Failure = 1,
    /// The configuration is missing or invalid.
    Config = 2,
    /// Okta refused or failed (token, permission, rate limit, network).
    Okta = 3,
    /// The intake refused or failed.
    Intake = 4,
    /// A check failed (`check`).
    CheckFailed = 5,
}

/// An error of a command, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Okta(#[from] OktaError),
    #[error("{0}")]
    Intake(#[from] IntakeError),
    #[error("{0}")]
    Other(String),
}

impl AppError {
    pub fn exit(&self) -> Exit {
        match self {
            AppError::Config(_) => Exit::Config,
            AppError::Okta(_) => Exit::Okta,
            AppError::Intake(_) => Exit::Intake,
            AppError::Other(_) => Exit::Failure,
        }
    }
}

impl From<SyncError> for AppError {
    fn from(error: SyncError) -> AppError {
        match error {
            SyncError::Okta(e) => AppError::Okta(e),
            SyncError::Intake(e) => AppError::Intake(e),
            SyncError::DeliveryStopped => AppError::Other("delivery stopped".into()),
        }
    }
}

/// What the command needs from the configuration.
pub fn needs(command: &Command) -> Needs {
    match command {
        Command::Check { .. } => Needs::OktaMaybeIntake,
        Command::Sync { output: Some(_), .. } => Needs::Okta,
        Command::Sync { output: None, .. } | Command::Run => Needs::OktaAndIntake,
    }
}

/// Gathers every configuration layer: Sekoia runtime → file → environment → flags.
pub fn load_raw_config(args: &SettingsArgs, env: impl Fn(&str) -> Option<String> + Copy) -> Result<RawConfig, ConfigError> {
    let mut raw = RawConfig::default();
    let symphony = args.symphony_dir.clone().or_else(|| {
        let default = Path::new(SYMPHONY_DIR);
        default.is_dir().then(|| default.to_path_buf())
    });
    if let Some(dir) = symphony {
        if let Some(layer) = RawConfig::from_symphony(&dir, env)? {
            raw = raw.merge(layer);
        }
    }
    if let Some(path) = &args.config {
        raw = raw.merge(RawConfig::from_file(path)?);
    }
    raw = raw.merge(RawConfig::from_env(env)?);
    Ok(raw.merge(args.raw()))
}

/// Builds the Okta client of a configuration.
pub fn okta_client(config: &Config, clock: SharedClock) -> Result<OktaClient, OktaError> {
    OktaClient::new(config.okta_settings(), clock)
}

/// Sync options of a configuration.
pub fn sync_options(config: &Config) -> SyncOptions {
    let batch_size = config.batch_size;
    let max_batch_bytes = config
        .intake
        .as_ref()
        .map_or(crate::intake::DEFAULT_MAX_BATCH_BYTES, |i| i.max_batch_bytes);
    SyncOptions {
        enrich_mfa: config.enrich_mfa,
        enrich_roles: config.enrich_roles,
        max_parallel: config.max_concurrency,
        tenant_uid: config.tenant_host(),
        batch_size,
        max_batch_bytes,
    }
}

/// `sync`: one full cycle into the intake, or into `output`.
pub async fn sync_once(config: &Config, output: Option<&str>, clock: SharedClock) -> (Option<Summary>, Result<(), AppError>) {
    let client = match okta_client(config, clock.clone()) {
        Ok(client) => client,
        Err(error) => return (None, Err(error.into())),
    };
    let sink: Sink = match output {
        Some(target) => match FileOutput::open(target, config.format) {
            Ok(file) => file.into(),
            Err(error) => return (None, Err(error.into())),
        },
        None => {
            let Some(settings) = config.intake.clone() else {
                return (None, Err(AppError::Other("no intake configured".into())));
            };
            match HttpIntake::new(settings, clock.clone()) {
                Ok(http) => http.into(),
                Err(error) => return (None, Err(error.into())),
            }
        }
    };
    let (summary, result) = sync::full_sync(&client, sink, &sync_options(config), clock).await;
    let result = match result {
        Ok(sink) => sink.finish().await.map_err(AppError::from),
        Err(error) => Err(error.into()),
    };
    (Some(summary), result)
}

/// The real clock.
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}
