//! `run` under the Sekoia.io runtime, in the order the SDK's trigger does it:
//!
//! 1. `/health` and `/metrics` served on the runtime's `liveness_port` and `metrics_port`
//!    (the SDK's `start_monitoring`), and the logs sent to the platform;
//! 2. the module's secrets fetched and laid over `module_configuration`;
//! 3. the configuration validated; a configuration error is logged once as `critical` (the
//!    platform shows it), and the connector then waits for SIGTERM instead of exiting, so the
//!    runtime does not restart it in a loop that cannot succeed;
//! 4. the cycles, until SIGTERM. An error the loop cannot retry (the state directory unusable)
//!    is reported the same way as a configuration error.
//!
//! When the platform could not be reached for the secrets after every retry, the connector
//! exits non-zero: a new start may find it back, which is what the runtime's restart is for.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::ExposeSecret;

use super::client::{PlatformClient, PLATFORM_BACKOFF};
use super::logs::{LogShipper, Redactor};
use super::{secrets, Platform};
use crate::app::{AppError, Exit};
use crate::clock::SharedClock;
use crate::config::sources::EnvLookup;
use crate::config::{self, LoadRequest, Needs, RuntimeSettings};
use crate::runtime::status::Status;
use crate::runtime::{run_loop, server};
use crate::state;
use crate::sync::Shutdown;

/// How long the logs still waiting may take to reach the platform at exit.
const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// What `run` needs under the runtime.
pub struct Connector<'a> {
    pub platform: Platform,
    pub shipper: LogShipper,
    pub redactor: Redactor,
    /// The runtime directory (`/symphony`, or `--symphony-dir`), when there is one.
    pub dir: Option<PathBuf>,
    pub request: &'a LoadRequest,
    pub env: EnvLookup<'a>,
    pub clock: SharedClock,
}

impl Connector<'_> {
    /// Runs until `shutdown` fires; the exit code.
    pub async fn run(self, mut shutdown: Shutdown) -> Exit {
        self.redactor.add(self.platform.token().expose_secret());
        let client = match PlatformClient::new(
            self.platform.token(),
            self.clock.clone(),
            PLATFORM_BACKOFF,
        ) {
            Ok(client) => client,
            Err(error) => return report_and_wait(error.to_string(), &mut shutdown).await,
        };
        let logs = self
            .platform
            .logs_url()
            .cloned()
            .map(|url| self.shipper.spawn(client.clone(), url));
        let exit = serve_and_run(
            &self.platform,
            &client,
            &self.redactor,
            Prepared {
                dir: self.dir,
                request: self.request,
                env: self.env,
            },
            self.clock,
            shutdown,
        )
        .await;
        if let Some(logs) = logs {
            logs.finish(LOG_FLUSH_TIMEOUT).await;
        }
        exit
    }
}

/// Where the configuration comes from.
struct Prepared<'a> {
    dir: Option<PathBuf>,
    request: &'a LoadRequest,
    env: EnvLookup<'a>,
}

async fn serve_and_run(
    platform: &Platform,
    client: &PlatformClient,
    redactor: &Redactor,
    prepared: Prepared<'_>,
    clock: SharedClock,
    mut shutdown: Shutdown,
) -> Exit {
    let status = Status::new(clock.clone());
    let server = match server::start(&platform.listen_addrs(), status.clone()).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!("{error}");
            return Exit::Failure;
        }
    };
    tracing::info!(
        liveness_port = platform.liveness_port,
        metrics_port = platform.metrics_port,
        "serving /health and /metrics"
    );
    let secrets = match secrets::fetch(client, platform).await {
        Ok(secrets) => secrets,
        Err(error) if error.is_transient() => {
            tracing::error!("{error}; exiting, so that the runtime starts the connector again");
            return Exit::Failure;
        }
        Err(error) => return report_and_wait(error.to_string(), &mut shutdown).await,
    };
    for value in secrets::values(&secrets) {
        redactor.add(value);
    }
    let mut settings = RuntimeSettings::read(prepared.dir.as_deref(), prepared.env);
    settings.overlay_module_secrets(&secrets);
    let loaded = config::load_with_runtime(prepared.request, prepared.env, settings);
    for warning in loaded.warnings() {
        tracing::warn!("{warning}");
    }
    let config = match loaded.validate(Needs::OktaAndIntake) {
        Ok(config) => config,
        Err(error) => {
            let message = AppError::Config(error).to_string();
            return report_and_wait(message, &mut shutdown).await;
        }
    };
    if let Some(intake) = &config.intake {
        redactor.add(intake.api_key.expose_secret());
    }
    if config.state_dir == Path::new(config::SYMPHONY_STATE_DIR) {
        // Versions before 0.2.0 kept their state in the data volume itself.
        if let Err(error) =
            state::adopt_legacy(Path::new(config::SYMPHONY_DATA_DIR), &config.state_dir)
        {
            return report_and_wait(error.to_string(), &mut shutdown).await;
        }
    }
    let outcome = run_loop::run(&config, clock, shutdown.clone(), &status).await;
    let exit = match outcome {
        Ok(()) => Exit::Ok,
        Err(error) => report_and_wait(error.to_string(), &mut shutdown).await,
    };
    drop(server);
    exit
}

/// Logs `message` once as `critical` (sent to the platform at once), then waits for SIGTERM:
/// the runtime would otherwise restart the connector into the same error, again and again.
async fn report_and_wait(message: String, shutdown: &mut Shutdown) -> Exit {
    tracing::error!(critical = true, "{message}");
    tracing::warn!(
        "the connector now waits to be stopped: fix the cause above (in Sekoia.io for the configuration), then restart it"
    );
    shutdown.wait().await;
    Exit::Ok
}
