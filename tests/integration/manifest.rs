//! `manifest.json` describes the module to the Sekoia.io platform, and `connector_okta_users.json`
//! beside it the asset connector (the platform and its tooling read each connector from its own
//! `connector_*.json`). These tests keep both in agreement with the Rust configuration: same
//! keys, types, defaults, ranges, required keys and secrets, the version of `Cargo.toml` and of
//! the changelog's latest entry. Types and secrets are not copied into the test: they are read
//! from `RawConfig` itself (what it accepts, what its `Debug` hides), so a change on either side
//! makes a test fail.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use okta_asset_connector::config::{
    self, ConfigError, Needs, RawConfig, DEFAULT_FREQUENCY, DEFAULT_SEKOIA_BASE_URL,
    SYMPHONY_STATE_DIR,
};
use okta_asset_connector::intake::DEFAULT_BATCH_SIZE;
use okta_asset_connector::runtime::sekoia::MODULE_SECRETS;
use serde_json::{json, Map, Value};

/// Fixed identifiers: generated once; the platform keys the module and the connector on them.
const MODULE_UUID: &str = "3c065e7f-f9e1-4301-8365-8631690e09f9";
const CONNECTOR_UUID: &str = "4454ec01-7ea4-4d27-a74a-90db39fb33ec";

/// What `RawConfig::from_symphony` reads from `module_configuration` and
/// `connector_configuration`.
const MODULE_KEYS: [&str; 2] = ["base_url", "apikey"];
const CONNECTOR_KEYS: [&str; 4] = [
    "sekoia_base_url",
    "sekoia_api_key",
    "frequency",
    "batch_size",
];

/// The connector file, beside the manifest.
const CONNECTOR_FILE: &str = "connector_okta_users.json";

fn read_json(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{name} at the repository root: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"))
}

fn manifest() -> Value {
    read_json("manifest.json")
}

fn module_schema(manifest: &Value) -> &Map<String, Value> {
    manifest["configuration"]
        .as_object()
        .expect("configuration is an object")
}

fn connector() -> Value {
    read_json(CONNECTOR_FILE)
}

fn connector_schema(connector: &Value) -> &Map<String, Value> {
    connector["arguments"]
        .as_object()
        .expect("arguments is an object")
}

fn properties(schema: &Map<String, Value>) -> &Map<String, Value> {
    schema["properties"].as_object().expect("properties")
}

fn names(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of names, got {value}"))
        .iter()
        .map(|v| v.as_str().expect("a name").to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Parses `{key: value}` as a config file would be read (JSON).
fn raw_with(key: &str, value: Value) -> Result<RawConfig, String> {
    RawConfig::from_text(&json!({ key: value }).to_string())
}

/// A valid base configuration: Okta and a Sekoia intake.
fn base() -> RawConfig {
    RawConfig {
        base_url: Some("acme.okta.com".into()),
        apikey: Some("token".to_string().into()),
        connector_uuid: Some("0e2b7bc2-0a67-4f0d-9b4a-3f4b3c9d2e11".into()),
        sekoia_api_key: Some("key".to_string().into()),
        ..RawConfig::default()
    }
}

fn is_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(part, len)| part.len() == len && part.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn module_identity() {
    let manifest = manifest();
    assert_eq!(
        manifest["version"],
        env!("CARGO_PKG_VERSION"),
        "manifest version = Cargo.toml version"
    );
    assert_eq!(manifest["slug"], env!("CARGO_PKG_NAME"));
    assert_eq!(
        manifest["uuid"], MODULE_UUID,
        "the module UUID never changes"
    );
    for key in ["name", "description"] {
        assert!(
            manifest[key].as_str().is_some_and(|s| !s.trim().is_empty()),
            "{key} is a non-empty string"
        );
    }
    assert!(!names(&manifest["categories"]).is_empty(), "categories");
    assert!(is_uuid(MODULE_UUID) && is_uuid(CONNECTOR_UUID));
    // The platform reads connectors from their own files, and offers "Test connector"
    // (validate_module_configuration) only when the manifest says the module supports it.
    assert!(
        manifest.get("connectors").is_none(),
        "connectors live in connector_*.json"
    );
    assert_eq!(manifest["supports_validation"], true);
}

/// The latest entry of CHANGELOG.md (`## YYYY-MM-DD - x.y.z`) is the manifest's version.
#[test]
fn the_changelog_names_the_manifest_version() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("CHANGELOG.md");
    let text = std::fs::read_to_string(path).expect("CHANGELOG.md");
    assert!(
        text.starts_with("# Changelog\n"),
        "the title on the first line"
    );
    let latest = text
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .find(|title| !title.eq_ignore_ascii_case("unreleased"))
        .expect("a released entry");
    let (date, version) = latest.split_once(" - ").expect("`## YYYY-MM-DD - x.y.z`");
    assert!(
        date.len() == 10 && jiff::civil::Date::strptime("%Y-%m-%d", date).is_ok(),
        "{date}"
    );
    assert_eq!(version, manifest()["version"]);
}

#[test]
fn every_connector_file_is_this_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("connector_") && name.ends_with(".json"))
        .collect();
    assert_eq!(files, [CONNECTOR_FILE]);
}

#[test]
fn asset_connector_identity() {
    let connector = connector();
    let connector = connector.as_object().expect("connector object");
    assert_eq!(
        connector["uuid"], CONNECTOR_UUID,
        "the connector UUID never changes"
    );
    assert_ne!(MODULE_UUID, CONNECTOR_UUID);
    assert_eq!(connector["type"], "asset");
    assert_eq!(connector["capability"], "account_detection");
    for key in ["name", "description"] {
        assert!(
            connector[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key}"
        );
    }
    // The image's default command is `run`; the platform passes docker_parameters as the command.
    assert_eq!(connector["docker_parameters"], "run");
}

#[test]
fn schemas_hold_exactly_the_keys_the_runtime_files_carry() {
    let (manifest, connector) = (manifest(), connector());
    let module = module_schema(&manifest);
    let connector = connector_schema(&connector);
    for schema in [module, connector] {
        assert_eq!(schema["type"], "object");
        assert!(schema["$schema"]
            .as_str()
            .is_some_and(|s| s.contains("json-schema.org")));
    }
    let module_keys: BTreeSet<String> = properties(module).keys().cloned().collect();
    let connector_keys: BTreeSet<String> = properties(connector).keys().cloned().collect();
    assert_eq!(module_keys, set(&MODULE_KEYS));
    assert_eq!(connector_keys, set(&CONNECTOR_KEYS));
    for key in module_keys.iter().chain(&connector_keys) {
        assert!(
            config::KEYS.contains(&key.as_str()),
            "manifest key {key} is not a configuration key (config::KEYS)"
        );
    }
}

/// A value of the JSON Schema type, and one of another type.
fn samples(schema_type: &str) -> (Value, Value) {
    match schema_type {
        "string" => (json!("x"), json!(5)),
        "integer" => (json!(5), json!("5")),
        "number" => (json!(0.5), json!("0.5")),
        "boolean" => (json!(true), json!("true")),
        other => panic!("unexpected schema type {other}"),
    }
}

#[test]
fn property_types_match_raw_config_fields() {
    let (manifest, connector) = (manifest(), connector());
    for schema in [module_schema(&manifest), connector_schema(&connector)] {
        for (key, property) in properties(schema) {
            let schema_type = property["type"]
                .as_str()
                .expect("every property has a type");
            let (good, bad) = samples(schema_type);
            assert!(
                raw_with(key, good.clone()).is_ok(),
                "{key}: RawConfig refuses {good} although the manifest says {schema_type}"
            );
            assert!(
                raw_with(key, bad.clone()).is_err(),
                "{key}: RawConfig accepts {bad}, so it is not a {schema_type}"
            );
            assert!(
                property["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{key} has a description"
            );
        }
    }
}

#[test]
fn defaults_equal_the_rust_defaults() {
    let (manifest, connector) = (manifest(), connector());
    let connector = properties(connector_schema(&connector));
    assert_eq!(connector["frequency"]["default"], json!(DEFAULT_FREQUENCY));
    assert_eq!(
        connector["batch_size"]["default"],
        json!(DEFAULT_BATCH_SIZE)
    );
    // No default base URL in the schema: a default there would always be sent and would hide
    // the region's URL the runtime gives in ASSET_CONNECTOR_PRODUCTION_BASE_URL.
    assert!(
        connector["sekoia_base_url"].get("default").is_none(),
        "sekoia_base_url has no default in the connector file"
    );
    // Secrets and module keys have no default.
    assert!(
        connector["sekoia_api_key"].get("default").is_none(),
        "a secret has no default"
    );
    for property in properties(module_schema(&manifest)).values() {
        assert!(property.get("default").is_none());
    }

    // And what validation does when the key is absent is what the manifest says.
    let config = base().validate(Needs::OktaAndIntake).unwrap();
    assert_eq!(
        json!(config.frequency.as_secs()),
        connector["frequency"]["default"]
    );
    assert_eq!(json!(config.batch_size), connector["batch_size"]["default"]);
    let intake = config.intake.expect("intake configured");
    assert!(
        intake.url.as_str().starts_with(&format!(
            "{DEFAULT_SEKOIA_BASE_URL}/api/v2/asset-management/asset-connector/"
        )),
        "{}",
        intake.url
    );
}

#[test]
fn ranges_match_validation() {
    let connector = connector();
    let connector = properties(connector_schema(&connector));
    let check = |key: &str, raw: fn(u64) -> RawConfig| {
        let property = &connector[key];
        let minimum = property["minimum"].as_u64().expect("minimum");
        assert!(
            raw(minimum).validate(Needs::OktaAndIntake).is_ok(),
            "{key} = minimum"
        );
        if minimum > 0 {
            let error = raw(minimum - 1).validate(Needs::OktaAndIntake).unwrap_err();
            assert!(
                matches!(error, ConfigError::Invalid { key: k, .. } if k == key),
                "{error}"
            );
        }
        if let Some(maximum) = property["maximum"].as_u64() {
            assert!(
                raw(maximum).validate(Needs::OktaAndIntake).is_ok(),
                "{key} = maximum"
            );
            let error = raw(maximum + 1).validate(Needs::OktaAndIntake).unwrap_err();
            assert!(
                matches!(error, ConfigError::Invalid { key: k, .. } if k == key),
                "{error}"
            );
        }
    };
    check("frequency", |n| RawConfig {
        frequency: Some(n),
        ..base()
    });
    check("batch_size", |n| RawConfig {
        batch_size: Some(n as usize),
        ..base()
    });
}

/// The keys whose value `RawConfig`'s `Debug` does not show: the `SecretString` fields.
fn secret_keys() -> BTreeSet<String> {
    config::KEYS
        .iter()
        .filter(|key| {
            let canary = format!("canary-value-of-{key}");
            match raw_with(key, json!(canary)) {
                // Not a string field (numbers, booleans): cannot hold a secret.
                Err(_) => false,
                Ok(raw) => !format!("{raw:?}").contains(&canary),
            }
        })
        .map(|key| key.to_string())
        .collect()
}

#[test]
fn secrets_are_exactly_the_secret_string_fields() {
    let secrets = secret_keys();
    for key in ["apikey", "sekoia_api_key"] {
        assert!(
            secrets.contains(key),
            "{key} is a SecretString field of RawConfig"
        );
    }
    let (manifest, connector) = (manifest(), connector());
    let module = module_schema(&manifest);
    let connector = connector_schema(&connector);
    let in_manifest: BTreeSet<String> = properties(module)
        .keys()
        .chain(properties(connector).keys())
        .cloned()
        .collect();
    let declared: BTreeSet<String> = names(&module["secrets"])
        .into_iter()
        .chain(names(&connector["secrets"]))
        .collect();
    // The manifest's secrets are exactly its keys that RawConfig holds as SecretString.
    let expected: BTreeSet<String> = secrets.intersection(&in_manifest).cloned().collect();
    assert_eq!(declared, expected);
    // And the module's are those validate_module_configuration takes from the platform.
    assert_eq!(names(&module["secrets"]), set(MODULE_SECRETS));
    for schema in [module, connector] {
        let props = properties(schema);
        for secret in names(&schema["secrets"]) {
            assert!(
                props.contains_key(&secret),
                "secret {secret} is a property of its schema"
            );
        }
    }
}

#[test]
fn required_keys_are_those_validation_requires() {
    let (manifest, connector) = (manifest(), connector());
    let module = module_schema(&manifest);
    let connector = connector_schema(&connector);
    assert_eq!(names(&module["required"]), set(&["base_url", "apikey"]));
    assert_eq!(names(&connector["required"]), set(&["sekoia_api_key"]));

    let missing = |raw: RawConfig, needs: Needs| match raw.validate(needs) {
        Err(ConfigError::Missing { key, .. }) => Some(key),
        _ => None,
    };
    assert_eq!(
        missing(
            RawConfig {
                base_url: None,
                ..base()
            },
            Needs::Okta
        ),
        Some("base_url")
    );
    assert_eq!(
        missing(
            RawConfig {
                apikey: None,
                ..base()
            },
            Needs::Okta
        ),
        Some("apikey")
    );
    assert_eq!(
        missing(
            RawConfig {
                sekoia_api_key: None,
                ..base()
            },
            Needs::OktaAndIntake
        ),
        Some("sekoia_api_key")
    );
    // Everything else has a default.
    for key in ["sekoia_base_url", "frequency", "batch_size"] {
        assert!(!names(&connector["required"]).contains(key));
    }
}

#[test]
fn connector_arguments_are_internal() {
    let connector = connector();
    let connector = connector_schema(&connector);
    assert_eq!(names(&connector["internal"]), set(&CONNECTOR_KEYS));
}

/// Writes the Sekoia runtime's files into a temporary directory, as the platform would from
/// the manifest's schemas, and reads them back with `RawConfig::from_symphony`.
#[test]
fn runtime_files_built_from_the_manifest_parse_and_validate() {
    let connector_file = connector();
    let schema = connector_schema(&connector_file);
    let secrets = names(&schema["secrets"]);
    let connector = properties(schema);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("module_configuration"),
        json!({"base_url": "https://acme.okta.com", "apikey": "okta-token-value"}).to_string(),
    )
    .unwrap();
    // Every connector argument with a default, with it; the secret filled in.
    let mut arguments = Map::new();
    for (key, property) in connector {
        if secrets.contains(key) {
            arguments.insert(key.clone(), json!("sekoia-key-value"));
        } else if let Some(default) = property.get("default") {
            arguments.insert(key.clone(), default.clone());
        }
    }
    std::fs::write(
        dir.path().join("connector_configuration"),
        Value::Object(arguments).to_string(),
    )
    .unwrap();
    let instance = "6f3b0a6e-2a8e-4f5b-9d3c-0e7a1c2b4d5f";
    std::fs::write(
        dir.path().join("connector_configuration_uuid"),
        format!("{instance}\n"),
    )
    .unwrap();

    let raw = RawConfig::from_symphony(dir.path(), |_| None)
        .expect("runtime files parse")
        .expect("runtime files found");
    let debug = format!("{raw:?}");
    assert!(
        !debug.contains("okta-token-value") && !debug.contains("sekoia-key-value"),
        "{debug}"
    );
    let config = raw
        .validate(Needs::OktaAndIntake)
        .expect("valid configuration");
    assert_eq!(config.okta_origin.as_str(), "https://acme.okta.com/");
    assert_eq!(config.frequency, Duration::from_secs(DEFAULT_FREQUENCY));
    assert_eq!(config.batch_size, DEFAULT_BATCH_SIZE);
    assert_eq!(config.state_dir, Path::new(SYMPHONY_STATE_DIR));
    assert_eq!(
        config.intake.expect("intake").url.as_str(),
        format!("{DEFAULT_SEKOIA_BASE_URL}/api/v2/asset-management/asset-connector/{instance}")
    );
}

#[test]
fn runtime_files_may_carry_extra_keys_and_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    // The platform may add keys of its own to these files; they must not break the connector.
    std::fs::write(
        dir.path().join("module_configuration"),
        r#"{"base_url": "acme.okta.com", "apikey": "t", "added_by_the_platform": 1}"#,
    )
    .unwrap();
    let env = |name: &str| match name {
        "CONNECTOR_CONFIGURATION" => {
            Some(r#"{"sekoia_api_key": "k", "frequency": 60, "intake_server": "x"}"#.to_string())
        }
        "CONNECTOR_CONFIGURATION_UUID" => Some("0e2b7bc2-0a67-4f0d-9b4a-3f4b3c9d2e11".to_string()),
        _ => None,
    };
    let config = RawConfig::from_symphony(dir.path(), env)
        .unwrap()
        .unwrap()
        .validate(Needs::OktaAndIntake)
        .unwrap();
    assert_eq!(config.frequency, Duration::from_secs(60));
    assert!(config.intake.is_some());
}
