//! Wiring the real connector to the fakes: a validated configuration for a fake tenant and a
//! fake intake, and what the intake holds in the connector's terms.

use std::collections::BTreeMap;

use okta_asset_connector::config::{Config, Needs, RawConfig};
use serde_json::Value;

use okta_fake::{FakeIntake, FakeOkta};

/// The intake key the fakes expect.
pub const INTAKE_KEY: &str = "intake-test-key";

/// A configuration for `okta` (and `intake` when given), plain http allowed on loopback.
pub fn config(
    okta: &FakeOkta,
    intake: Option<&FakeIntake>,
    tweak: impl FnOnce(&mut RawConfig),
) -> Config {
    let mut raw = RawConfig {
        base_url: Some(okta.base_url()),
        apikey: Some(okta.token().to_string().into()),
        allow_insecure_http: Some(true),
        intake_url: intake.map(|i| i.url()),
        sekoia_api_key: intake.map(|_| INTAKE_KEY.to_string().into()),
        state_dir: Some(fresh_state_dir()),
        ..RawConfig::default()
    };
    tweak(&mut raw);
    let needs = if intake.is_some() {
        Needs::OktaAndIntake
    } else {
        Needs::Okta
    };
    raw.validate(needs).expect("valid test configuration")
}

/// A new, empty state directory (kept after the test: a few KiB in the temp dir).
pub fn fresh_state_dir() -> std::path::PathBuf {
    tempfile::Builder::new()
        .prefix("okta-connector-test-state")
        .tempdir()
        .expect("temp dir")
        .keep()
}

/// What the intake holds now: the latest event per user, without the fields that only say
/// when it was collected (so a full and an incremental cycle can be compared).
pub fn latest_events(intake: &FakeIntake) -> BTreeMap<String, Value> {
    intake
        .items_by_user()
        .into_iter()
        .filter_map(|(id, mut events)| {
            let mut event = events.pop()?;
            let object = event.as_object_mut()?;
            object.remove("time");
            if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("logged_time");
            }
            Some((id, event))
        })
        .collect()
}
