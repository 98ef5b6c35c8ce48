//! `run` under the Sekoia.io runtime, in the order the SDK's trigger does it:
//!
//! 1. `/health` and `/metrics` served on the runtime's `liveness_port` and `metrics_port`
//!    (the SDK's `start_monitoring`), and the logs sent to the platform;
//! 2. the module's secrets fetched and laid over `module_configuration`;
//! 3. the configuration validated; a configuration error is logged once as `critical` (the
//!    platform shows it), and the connector then waits for SIGTERM instead of exiting, so the
//!    runtime does not restart it in a loop that cannot succeed. (The SDK does not exit either,
//!    but calls `run()` again every `_STOP_EVENT_WAIT`, 120 s; here the configuration is read
//!    once per start, so another attempt could only fail the same way and the wait lasts until
//!    SIGTERM.)
//! 4. the cycles, until SIGTERM. An error the loop cannot retry (the state directory unusable)
//!    is reported the same way as a configuration error.
//!
//! When the platform could not be reached for the secrets after every retry, or refused the
//! runtime's token (401, 403: a critical log could not reach it either, with the same token),
//! the connector exits non-zero: a new start may find the platform back or get a valid token,
//! which is what the runtime's restart is for. The SDK's trigger does the same (it raises out
//! of `_get_secrets_from_server`).

use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::client::PlatformClient;
use super::logs::{LogShipper, Redactor};
use super::{secrets, Context};
use crate::app::{AppError, Exit};
use crate::config::{self, Config, Needs, RawConfig};
use crate::okta::OktaCredential;
use crate::runtime::status::Status;
use crate::runtime::{run_loop, server};
use crate::state;
use crate::sync::Shutdown;

/// How long the logs still waiting may take to reach the platform at exit.
const LOG_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs until `shutdown` fires, logs going to the platform through `shipper`; the exit code.
pub async fn run(
    context: Context<'_>,
    shipper: LogShipper,
    redactor: Redactor,
    mut shutdown: Shutdown,
) -> Exit {
    redactor.add(context.platform.token().expose_secret());
    let client = match context.client() {
        Ok(client) => client,
        Err(error) => return report_and_wait(error.to_string(), &mut shutdown).await,
    };
    let logs = context
        .platform
        .logs_url()
        .cloned()
        .map(|url| shipper.spawn(client.clone(), url));
    let exit = serve_and_run(&context, &client, &redactor, shutdown).await;
    if let Some(logs) = logs {
        logs.finish(LOG_FLUSH_TIMEOUT).await;
    }
    exit
}

async fn serve_and_run(
    context: &Context<'_>,
    client: &PlatformClient,
    redactor: &Redactor,
    mut shutdown: Shutdown,
) -> Exit {
    let platform = &context.platform;
    let status = Status::new(context.clock.clone());
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
        Err(error) if error.needs_a_restart() => {
            tracing::error!("{error}; exiting, so that the runtime starts the connector again");
            return Exit::Failure;
        }
        Err(error) => return report_and_wait(error.to_string(), &mut shutdown).await,
    };
    for value in secrets::values(&secrets) {
        redactor.add(value);
    }
    let loaded = context.load(&secrets);
    hide_configured_secrets(redactor, loaded.raw());
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
    hide_validated_secrets(redactor, loaded.raw(), &config);
    if config.state_dir == Path::new(config::SYMPHONY_STATE_DIR) {
        // Versions before 0.2.0 kept their state in the data volume itself.
        if let Err(error) =
            state::adopt_legacy(Path::new(config::SYMPHONY_DATA_DIR), &config.state_dir)
        {
            return report_and_wait(error.to_string(), &mut shutdown).await;
        }
    }
    let outcome = run_loop::run(&config, context.clock.clone(), shutdown.clone(), &status).await;
    let exit = match outcome {
        Ok(()) => Exit::Ok,
        Err(error) => report_and_wait(error.to_string(), &mut shutdown).await,
    };
    drop(server);
    exit
}

/// Hides from the logs sent to the platform the secrets the configuration's sources gave,
/// wherever they came from (the secrets endpoint, `module_configuration`, `OKTA_API_TOKEN`, ...),
/// as soon as they are read: a configuration error logged next is covered too.
fn hide_configured_secrets(redactor: &Redactor, raw: &RawConfig) {
    for secret in [&raw.apikey, &raw.sekoia_api_key].into_iter().flatten() {
        redactor.add(secret.expose_secret());
    }
    if let Some(key) = &raw.private_key {
        redactor.add_private_key(key.expose_secret());
    }
}

/// Hides the secrets of the validated configuration, in the form they are used: the Okta API
/// token or the service app's private key, and the intake key.
fn hide_validated_secrets(redactor: &Redactor, raw: &RawConfig, config: &Config) {
    match &config.okta_credential {
        OktaCredential::ApiToken(token) => redactor.add(token.expose_secret()),
        OktaCredential::ServiceApp(_) => {
            // The parsed key keeps no text: a key given as a file is read again (validation
            // has just read it and checked that only its owner can).
            if let Some(text) = raw
                .private_key_file
                .as_ref()
                .and_then(|path| std::fs::read_to_string(path).ok())
            {
                redactor.add_private_key(SecretString::from(text).expose_secret());
            }
        }
    }
    if let Some(intake) = &config.intake {
        redactor.add(intake.api_key.expose_secret());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawConfig {
        RawConfig {
            base_url: Some("https://acme.okta.com".into()),
            intake_url: Some("https://intake.example/batch".into()),
            sekoia_api_key: Some(SecretString::from("intake-key-canary")),
            ..RawConfig::default()
        }
    }

    #[test]
    fn an_api_token_from_any_source_and_the_intake_key_are_hidden() {
        let raw = RawConfig {
            apikey: Some(SecretString::from("00okta-token-canary")),
            ..raw()
        };
        let config = raw.clone().validate(Needs::OktaAndIntake).unwrap();
        let redactor = Redactor::default();
        hide_validated_secrets(&redactor, &raw, &config);
        assert_eq!(
            redactor.redact("00okta-token-canary intake-key-canary"),
            "[REDACTED] [REDACTED]"
        );
        let redactor = Redactor::default();
        hide_configured_secrets(&redactor, &raw);
        assert_eq!(
            redactor.redact("00okta-token-canary intake-key-canary"),
            "[REDACTED] [REDACTED]"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_service_app_key_file_is_hidden_line_by_line() {
        use std::os::unix::fs::PermissionsExt;
        let pem = include_str!("../../../tests/fixtures/keys/unit/rsa-2048.pkcs8.pem");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, pem).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let raw = RawConfig {
            auth: Some("oauth".into()),
            client_id: Some("0oa-client".into()),
            private_key_file: Some(path),
            ..raw()
        };
        let config = raw.clone().validate(Needs::OktaAndIntake).unwrap();
        let redactor = Redactor::default();
        hide_validated_secrets(&redactor, &raw, &config);
        let body_line = pem.lines().nth(5).unwrap();
        assert!(body_line.len() > 40, "{body_line}");
        assert_eq!(
            redactor.redact(&format!("key {body_line} client 0oa-client")),
            "key [REDACTED] client 0oa-client"
        );
    }
}
