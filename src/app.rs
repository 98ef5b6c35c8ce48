//! The commands, wired from a validated configuration: what `main` calls.

use std::sync::Arc;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::intake::{FileOutput, HttpIntake, IntakeError, Sink};
use crate::okta::{OktaClient, OktaError};
use crate::progress::Progress;
use crate::render::{View, Watcher};
use crate::state::{StateError, StateStore};
use crate::sync::{self, Cycle, Shutdown, Summary, SyncError, SyncOptions, WrittenTo};

/// Process exit codes: one table for every command (shown in each command's `--help` and in
/// docs/operations.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// Unexpected failure.
    Failure = 1,
    /// The command line or the configuration is missing or invalid.
    Config = 2,
    /// Okta refused or failed (token, permission, rate limit, network).
    Okta = 3,
    /// The intake refused or failed.
    Intake = 4,
    /// A check failed (`check`).
    CheckFailed = 5,
    /// The state directory or database, or the temporary user spool, cannot be used.
    State = 6,
    /// The `--output` file cannot be written (missing directory, permissions, disk full).
    Output = 7,
    /// The cycle did not finish within `cycle_timeout`.
    TimedOut = 8,
    /// `run`: a second SIGTERM or SIGINT ended it at once (128 + SIGINT).
    Stopped = 130,
    /// Standard output was closed by its reader (`| head`): 128 + SIGPIPE, as a program killed
    /// by SIGPIPE reports it, so `set -o pipefail` scripts read it the usual way.
    OutputClosed = 141,
}

/// An error of a command, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Okta(#[from] OktaError),
    #[error("{0}")]
    Intake(IntakeError),
    /// `--output` cannot be written.
    #[error("{0}")]
    Output(IntakeError),
    /// The reader of standard output went away (`sync --output - | head`).
    #[error("standard output was closed by its reader")]
    OutputClosed,
    #[error("{0}")]
    State(#[from] StateError),
    /// Local storage other than the state: the temporary user spool.
    #[error("{0}")]
    Storage(String),
    /// The cycle ran past `cycle_timeout`.
    #[error("{0}")]
    TimedOut(String),
    #[error("{0}")]
    Other(String),
}

impl Exit {
    /// Every code, in order.
    pub const ALL: [Exit; 11] = [
        Exit::Ok,
        Exit::Failure,
        Exit::Config,
        Exit::Okta,
        Exit::Intake,
        Exit::CheckFailed,
        Exit::State,
        Exit::Output,
        Exit::TimedOut,
        Exit::Stopped,
        Exit::OutputClosed,
    ];

    /// What the code means, for help texts.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success",
            Exit::Failure => "unexpected failure",
            Exit::Config => "the command line or the configuration is missing or invalid",
            Exit::Okta => "Okta refused or failed (token, permission, rate limit, network)",
            Exit::Intake => "the intake refused or failed",
            Exit::CheckFailed => "a check failed",
            Exit::State => {
                "the state directory or database, or the temporary user spool, cannot be used"
            }
            Exit::Output => {
                "the --output file cannot be written (missing directory, permissions, disk full)"
            }
            Exit::TimedOut => "the cycle did not finish within cycle_timeout (nothing committed)",
            Exit::Stopped => "run: a second SIGTERM or SIGINT ended it at once",
            Exit::OutputClosed => {
                "standard output was closed by its reader (| head): 128 + SIGPIPE"
            }
        }
    }
}

impl AppError {
    pub fn exit(&self) -> Exit {
        match self {
            AppError::Config(_) => Exit::Config,
            AppError::Okta(_) => Exit::Okta,
            AppError::Intake(_) => Exit::Intake,
            AppError::Output(_) => Exit::Output,
            AppError::OutputClosed => Exit::OutputClosed,
            AppError::State(_) | AppError::Storage(_) => Exit::State,
            AppError::TimedOut(_) => Exit::TimedOut,
            AppError::Other(_) => Exit::Failure,
        }
    }
}

impl From<IntakeError> for AppError {
    /// Writing `--output` is not the intake: its failures have their own code, and a reader
    /// that went away is no failure at all.
    fn from(error: IntakeError) -> AppError {
        match error {
            IntakeError::Io { ref source, .. }
                if source.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                AppError::OutputClosed
            }
            IntakeError::Io { .. } => AppError::Output(error),
            error => AppError::Intake(error),
        }
    }
}

impl From<SyncError> for AppError {
    fn from(error: SyncError) -> AppError {
        match error {
            SyncError::Okta(e) => AppError::Okta(e),
            SyncError::Intake(e) => e.into(),
            SyncError::State(e) => AppError::State(e),
            SyncError::Spool(_) => AppError::Storage(error.to_string()),
            SyncError::TimedOut { .. } => AppError::TimedOut(error.to_string()),
            SyncError::DeliveryStopped | SyncError::Interrupted => {
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
        cycle_timeout: config.cycle_timeout,
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
            // A user in too many groups for the intake is sent with fewer, never blocks a cycle.
            let intake = HttpIntake::new(settings, clock)
                .map_err(AppError::Intake)?
                .shrink_oversized_with(crate::mapping::oversized::fewer_groups);
            Ok(intake.into())
        }
    }
}

/// `sync`: one cycle, then exit. Posting to the intake uses the state (incremental unless
/// `full`, a full sync is due, or there is no state yet); `--output` always runs a full sync
/// and neither reads nor writes the state, so a debugging run cannot move production cursors.
/// Its progress is shown as the process's [`View`] says. The summary (marked failed when the
/// cycle failed) comes back whenever the cycle started.
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
    let written_to = match output {
        Some("-") => Some(WrittenTo::Stdout),
        Some(_) => Some(WrittenTo::File(sink.destination())),
        None => None,
    };
    let options = sync_options(config);
    let progress = Progress::new();
    let cycle = Cycle {
        client: &client,
        options: &options,
        clock,
        shutdown: Shutdown::never(),
        progress: progress.clone(),
    };
    let watcher = Watcher::start(View::current(), progress, client.clone());
    let (mut summary, result) = sync::run_cycle(&cycle, sink, state.as_mut(), full).await;
    let result = match result {
        Ok(sink) => sink.finish().await.map_err(AppError::from),
        Err(error) => Err(error.into()),
    };
    watcher.stop().await;
    summary.failed = result.is_err();
    summary.written_to = written_to;
    (Some(summary), result)
}

/// The real clock.
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}
