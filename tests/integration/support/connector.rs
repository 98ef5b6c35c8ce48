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

/// Paths where two JSON values differ, for readable failures.
pub fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (va, vb) = (
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                );
                differences(&format!("{path}.{key}"), va, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if a != b => out.push(format!("{path}: intake holds {a} / a full sync sends {b}")),
        _ => {}
    }
}

/// Whether an event is a hard-delete event.
pub fn is_deleted(event: &Value) -> bool {
    event["enrichments"][0]["value"] == "DELETED"
}

/// Runs a fresh full sync of `okta` (its own state and intake, settings adjusted by `tweak`)
/// and lists every way `intake`'s latest event per user differs from what it sent: a user
/// missing, a field different, or a user gone from Okta whose latest event is not a deletion.
pub async fn differences_from_a_fresh_full_sync(
    okta: &FakeOkta,
    intake: &FakeIntake,
    tweak: impl FnOnce(&mut RawConfig),
) -> Vec<String> {
    let reference = FakeIntake::start(INTAKE_KEY).await;
    let fresh = config(okta, Some(&reference), tweak);
    let clock = std::sync::Arc::new(okta_asset_connector::clock::ManualClock::new(
        jiff::Timestamp::now(),
    ));
    let (_, result) = okta_asset_connector::app::sync_once(&fresh, None, true, clock).await;
    result.expect("the reference full sync succeeds");
    let held = latest_events(intake);
    let expected = latest_events(&reference);
    let mut problems = Vec::new();
    for (id, event) in &expected {
        match held.get(id) {
            None => problems.push(format!("user {id} never reached the intake")),
            Some(got) => {
                let mut diff = Vec::new();
                differences("", got, event, &mut diff);
                problems.extend(diff.into_iter().map(|d| format!("user {id}: {d}")));
            }
        }
    }
    for (id, event) in &held {
        if !expected.contains_key(id) && !is_deleted(event) {
            problems.push(format!(
                "user {id} is gone from Okta but its latest event is not a deletion"
            ));
        }
    }
    problems
}
