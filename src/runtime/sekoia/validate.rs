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

use serde_json::{json, Map, Value};

use super::{Context, PlatformError, MODULE_SECRETS};
use crate::app::{AppError, Exit};
use crate::check::{self, Report};
use crate::config::Needs;

/// Reports the account's validation; the exit code.
pub async fn run(context: &Context<'_>) -> Exit {
    match report(context).await {
        Ok(()) => Exit::Ok,
        Err(error) => {
            tracing::error!("validate_module_configuration: {error}");
            Exit::Failure
        }
    }
}

async fn report(context: &Context<'_>) -> Result<(), PlatformError> {
    let client = context.client()?;
    let callback = context.platform.callback_url()?;
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
    let report = validate(context, &secrets).await;
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
async fn validate(context: &Context<'_>, secrets: &Map<String, Value>) -> Report {
    match context.load(secrets).validate(Needs::Okta) {
        Ok(config) => check::run_account(&config, context.clock.clone()).await,
        Err(error) => Report::config_error(AppError::Config(error).to_string()),
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
