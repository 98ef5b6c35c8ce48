//! The module's secrets. The runtime writes placeholders for them in `module_configuration`
//! and serves the values at `url_secrets` (else `url_callback` with `/callback` → `/secrets`):
//! `GET` with the runtime's bearer token answers `{"value": {"apikey": "..."}}`, which is laid
//! over the module configuration (the SDK's `Trigger._get_secrets_from_server` then
//! `Module.set_secrets`).

use serde_json::{Map, Value};

use super::client::PlatformClient;
use super::{Platform, PlatformError};

const WHAT: &str = "the module's secrets";

/// Fetches the module's secrets (retrying as the SDK does).
pub async fn fetch(
    client: &PlatformClient,
    platform: &Platform,
) -> Result<Map<String, Value>, PlatformError> {
    let answer = client.get_json(WHAT, platform.secrets_url()?).await?;
    secrets_of(answer)
}

/// The `value` object of the answer.
fn secrets_of(answer: Value) -> Result<Map<String, Value>, PlatformError> {
    match answer {
        Value::Object(mut object) => match object.remove("value") {
            Some(Value::Object(secrets)) => Ok(secrets),
            Some(Value::Null) | None => Err(PlatformError::Answer {
                what: WHAT,
                reason: "it has no `value` object".into(),
            }),
            Some(_) => Err(PlatformError::Answer {
                what: WHAT,
                reason: "its `value` is not an object".into(),
            }),
        },
        _ => Err(PlatformError::Answer {
            what: WHAT,
            reason: "it is not a JSON object".into(),
        }),
    }
}

/// The string values of `secrets`, to be kept out of the logs sent to the platform.
pub fn values(secrets: &Map<String, Value>) -> impl Iterator<Item = &str> {
    secrets.values().filter_map(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_value_object_is_the_secrets_and_errors_never_quote_it() {
        let secrets = secrets_of(json!({"value": {"apikey": "s3cr3t"}})).unwrap();
        assert_eq!(secrets["apikey"], "s3cr3t");
        for bad in [
            json!({"apikey": "s3cr3t"}),
            json!({"value": "s3cr3t"}),
            json!({"value": null}),
            json!(["s3cr3t"]),
        ] {
            let error = secrets_of(bad).unwrap_err().to_string();
            assert!(!error.contains("s3cr3t"), "{error}");
            assert!(error.contains("the module's secrets"), "{error}");
        }
    }
}
