//! The commands, wired from a validated configuration: what `main` calls.

use std::sync::Arc;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::intake::{FileOutput, HttpIntake, IntakeError, Sink};
use crate::okta::{OktaClient, OktaError};
use crate::state::{StateError, StateStore};
use crate::sync::{self, Cycle, Shutdown, Summary, SyncError, SyncOptions};

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
    /// The state directory or database cannot be used.
    State = 6,
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
    State(#[from] StateError),
    #[error("{0}")]
    Other(String),
}

impl Exit {
    /// What the code means, for help texts.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success",
            Exit::Failure => "unexpected failure",
            Exit::Config => "the configuration is missing or invalid",
            Exit::Okta => "Okta refused or failed (token, permission, rate limit, network)",
            Exit::Intake => "the intake refused or failed",
            Exit::CheckFailed => "a check failed",
            Exit::State => "the state directory or database cannot be used",
        }
    }
}

impl AppError {
    pub fn exit(&self) -> Exit {
        match self {
            AppError::Config(_) => Exit::Config,
            AppError::Okta(_) => Exit::Okta,
            AppError::Intake(_) => Exit::Intake,
            AppError::State(_) => Exit::State,
            AppError::Other(_) => Exit::Failure,
        }
    }
}

impl From<SyncError> for AppError {
    fn from(error: SyncError) -> AppError {
        match error {
            SyncError::Okta(e) => AppError::Okta(e),
            SyncError::Intake(e) => AppError::Intake(e),
            SyncError::State(e) => AppError::State(e),
            SyncError::DeliveryStopped | SyncError::Interrupted | SyncError::Spool(_) => {
                AppError::Other(error.to_string())
            }
        }
    }
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
        .map_or(crate::intake::DEFAULT_MAX_BATCH_BYTES, |i| {
            i.max_batch_bytes
        });
    SyncOptions {
        enrich_mfa: config.enrich_mfa,
        enrich_roles: config.enrich_roles,
        max_parallel: config.max_concurrency,
        tenant_uid: config.tenant_host(),
        batch_size,
        max_batch_bytes,
        full_sync_interval: config.full_sync_interval,
        mfa_refresh_interval: config.mfa_refresh_interval,
        notices: sync::Notices::default(),
    }
}

/// The sink of a cycle: the intake, or `output` (a file or `-`).
pub fn sink(config: &Config, output: Option<&str>, clock: SharedClock) -> Result<Sink, AppError> {
    match output {
        Some(target) => Ok(FileOutput::open(target, config.format)?.into()),
        None => {
            let settings = config
                .intake
                .clone()
                .ok_or_else(|| AppError::Other("no intake configured".into()))?;
            Ok(HttpIntake::new(settings, clock)?.into())
        }
    }
}

/// `sync`: one cycle, then exit. Posting to the intake uses the state (incremental unless
/// `full`, a full sync is due, or there is no state yet); `--output` always runs a full sync
/// and neither reads nor writes the state, so a debugging run cannot move production cursors.
pub async fn sync_once(
    config: &Config,
    output: Option<&str>,
    full: bool,
    clock: SharedClock,
) -> (Option<Summary>, Result<(), AppError>) {
    let prepared = (|| {
        let client = okta_client(config, clock.clone())?;
        let sink = sink(config, output, clock.clone())?;
        let state = match output {
            Some(_) => None,
            None => Some(StateStore::open(
                &config.state_dir,
                config.okta_origin.as_str(),
            )?),
        };
        Ok::<_, AppError>((client, sink, state))
    })();
    let (client, sink, mut state) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return (None, Err(error)),
    };
    let options = sync_options(config);
    let cycle = Cycle {
        client: &client,
        options: &options,
        clock,
        shutdown: Shutdown::never(),
        progress: crate::progress::Progress::off(),
    };
    let (summary, result) = sync::run_cycle(&cycle, sink, state.as_mut(), full).await;
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
