//! `run`, and the Sekoia.io connector runtime around it.
//!
//! - [`run_loop`]: the scheduled loop: a cycle every `frequency` seconds until SIGTERM/SIGINT;
//! - [`status`]: what the loop did, as `/health` (liveness) and `/metrics` (Prometheus) report
//!   it;
//! - [`server`]: the small HTTP server of `/health` and `/metrics`;
//! - [`sekoia`]: the Sekoia.io runtime's contract: its files, the module's secrets, logs sent to
//!   the platform, configuration errors reported once, and `validate_module_configuration`.

pub mod run_loop;
pub mod sekoia;
pub mod server;
pub mod status;

use std::net::SocketAddr;

pub use run_loop::SHUTDOWN_GRACE;
pub use status::Status;

use crate::app::AppError;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::sync::Shutdown;

/// `run` outside the Sekoia runtime: `/health` and `/metrics` on `metrics_addr` when it is set,
/// then the loop until `shutdown` fires.
pub async fn run(config: &Config, clock: SharedClock, shutdown: Shutdown) -> Result<(), AppError> {
    let listen: Vec<SocketAddr> = config.metrics_addr.into_iter().collect();
    let status = Status::new(clock.clone());
    let _server = server::start(&listen, status.clone())
        .await
        .map_err(|e| AppError::Other(e.to_string()))?;
    if let Some(addr) = config.metrics_addr {
        tracing::info!(%addr, "serving /health and /metrics");
    }
    run_loop::run(config, clock, shutdown, &status).await
}
