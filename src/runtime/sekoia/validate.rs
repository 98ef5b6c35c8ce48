//! `validate_module_configuration`: the platform's "Test connector" for the module's account,
//! as the SDK's `AccountValidator.execute` reports it on `url_callback`:
//!
//! 1. `PATCH {"status": "running"}`; the answer's `module_configuration.value` carries the
//!    module's secrets (only those `manifest.json` lists as secrets are taken);
//! 2. the account is validated: the Okta URL, the token (or OAuth app) and its permissions, by
//!    `check`'s own Okta checks. No connector is configured at this point, so the intake and
//!    the state directory are not part of it;
//! 3. `PATCH {"status": "finished", "results": {"success": true|false}}`, with `"error"` (the
//!    first failed check, its reason and its fix) when it failed.
//!
//! The exit code is 0 once the result was reported, whatever the result.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::client::{PlatformClient, PLATFORM_BACKOFF};
use super::{Platform, PlatformError, MODULE_SECRETS};
use crate::app::{AppError, Exit};
use crate::check::{self, Report};
use crate::clock::SharedClock;
use crate::config::sources::EnvLookup;
use crate::config::{self, LoadRequest, Needs, RuntimeSettings};

/// What the validation needs.
pub struct Validation<'a> {
    pub platform: Platform,
    pub dir: Option<PathBuf>,
    pub request: &'a LoadRequest,
    pub env: EnvLookup<'a>,
    pub clock: SharedClock,
}

impl Validation<'_> {
    pub async fn run(self) -> Exit {
        match self.report().await {
            Ok(()) => Exit::Ok,
            Err(error) => {
                tracing::error!("validate_module_configuration: {error}");
                Exit::Failure
            }
        }
    }

    async fn report(&self) -> Result<(), PlatformError> {
        let client =
            PlatformClient::new(self.platform.token(), self.clock.clone(), PLATFORM_BACKOFF)?;
        let callback = self.platform.callback_url()?;
        let running = client
            .patch_json(
                "the validation's start",
                callback,
                &json!({"status": "running"}),
            )
            .await?;
        let secrets = module_secrets(&running);
        if secrets.is_empty() {
            tracing::warn!("the platform's answer carries none of the module's secrets; validating with module_configuration as it is");
        }
        let report = self.validate(&secrets).await;
        for line in report.to_text().lines() {
            tracing::info!("{line}");
        }
        let result = results(&report);
        match client
            .patch_json("the validation's result", callback, &result)
            .await
        {
            // Accepted (2xx); what the platform answers to it is not used.
            Ok(_) | Err(PlatformError::Answer { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The account's checks, with `secrets` laid over the module configuration.
    async fn validate(&self, secrets: &Map<String, Value>) -> Report {
        let mut settings = RuntimeSettings::read(self.dir.as_deref(), self.env);
        settings.overlay_module_secrets(secrets);
        let loaded = config::load_with_runtime(self.request, self.env, settings);
        match loaded.validate(Needs::Okta) {
            Ok(config) => check::run_account(&config, self.clock.clone()).await,
            Err(error) => Report::config_error(AppError::Config(error).to_string()),
        }
    }
}

/// `module_configuration.value` of the answer, restricted to the manifest's secrets.
fn module_secrets(answer: &Value) -> Map<String, Value> {
    answer
        .pointer("/module_configuration/value")
        .and_then(Value::as_object)
        .map(|value| {
            value
                .iter()
                .filter(|(key, _)| MODULE_SECRETS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The second PATCH's body.
fn results(report: &Report) -> Value {
    let mut body = json!({
        "status": "finished",
        "results": {"success": report.success},
    });
    if let Some(error) = report.first_failure() {
        body["error"] = Value::String(error);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Check, CheckName, Status};

    #[test]
    fn only_the_manifest_secrets_are_taken_from_the_answer() {
        let answer = json!({"module_configuration": {"value": {
            "apikey": "tok", "base_url": "https://elsewhere.example", "other": 1
        }}});
        let secrets = module_secrets(&answer);
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets["apikey"], "tok");
        assert!(module_secrets(&json!({"status": "running"})).is_empty());
        assert!(module_secrets(&Value::Null).is_empty());
    }

    #[test]
    fn the_result_says_why_it_failed_with_the_fix() {
        let failed = Report::assemble(
            vec![
                Check::new(CheckName::Config, Status::Ok, "valid", ""),
                Check::new(
                    CheckName::Token,
                    Status::Fail,
                    "Okta refused the token",
                    "create a new one",
                ),
            ],
            "skipped",
        );
        assert_eq!(
            results(&failed),
            json!({
                "status": "finished",
                "results": {"success": false},
                "error": "token: Okta refused the token; fix: create a new one",
            })
        );
        let passed = Report::assemble(
            vec![Check::new(CheckName::Config, Status::Ok, "valid", "")],
            "skipped",
        );
        assert_eq!(
            results(&passed),
            json!({"status": "finished", "results": {"success": true}})
        );
    }
}
