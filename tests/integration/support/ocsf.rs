//! Validation of emitted events: the vendored OCSF 1.8.0 User Inventory Info JSON Schema, the
//! checks the schema cannot express (`../shared/ocsf/README.md`) and the extra rules of Sekoia's
//! `UserOCSFModel` (see the module docs of `okta_asset_connector::mapping`).
//!
//! [`validate_event`] accepts `time` in either unit (ms for the `ocsf` format, whole seconds for
//! `sekoia`); [`validate_event_as`] pins the unit.

use std::sync::OnceLock;

use okta_asset_connector::mapping::TimeUnit;
use serde_json::{Map, Value};

/// The schema, vendored from `../shared/ocsf/user_inventory-1.8.0.schema.json`.
pub const SCHEMA: &str = include_str!("../../fixtures/ocsf/user_inventory-1.8.0.schema.json");

/// Epoch ms bounds for every `*_time` field: after 2001-09-09 (a value in seconds is far below)
/// and before 2286-11-20 (a value in microseconds is far above).
const MS_MIN: i64 = 1_000_000_000_000;
const MS_MAX: i64 = 10_000_000_000_000;
/// Epoch seconds bounds, same dates.
const S_MIN: i64 = 1_000_000_000;
const S_MAX: i64 = 10_000_000_000;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA).expect("vendored schema is JSON");
        jsonschema::draft202012::new(&schema).expect("vendored schema compiles")
    })
}

/// Validates one event against the OCSF schema, the README's extra checks and the Sekoia model.
/// `time` may be in ms or in seconds. Returns every problem found, each with its JSON path.
pub fn validate_event(event: &serde_json::Value) -> Result<(), Vec<String>> {
    validate(event, None)
}

/// Like [`validate_event`], with `time` required in `unit`.
pub fn validate_event_as(event: &serde_json::Value, unit: TimeUnit) -> Result<(), Vec<String>> {
    validate(event, Some(unit))
}

fn validate(event: &Value, unit: Option<TimeUnit>) -> Result<(), Vec<String>> {
    let mut errors: Vec<String> = validator()
        .iter_errors(event)
        .map(|e| format!("schema: {e} (at {})", e.instance_path()))
        .collect();
    if let Some(root) = event.as_object() {
        ocsf_extra_checks(root, unit, &mut errors);
        sekoia_model_checks(root, &mut errors);
    } else {
        errors.push("event is not a JSON object".into());
    }
    no_empties("", event, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What the OCSF README says the schema cannot check.
fn ocsf_extra_checks(root: &Map<String, Value>, unit: Option<TimeUnit>, errors: &mut Vec<String>) {
    let int = |k: &str| root.get(k).and_then(Value::as_i64);
    let text = |k: &str| root.get(k).and_then(Value::as_str);

    // type_uid == class_uid * 100 + activity_id.
    if let (Some(class), Some(activity), Some(type_uid)) =
        (int("class_uid"), int("activity_id"), int("type_uid"))
    {
        if type_uid != class * 100 + activity {
            errors.push(format!(
                "type_uid {type_uid} != class_uid {class} * 100 + activity_id {activity}"
            ));
        }
    }

    // Fixed captions of the classification fields.
    caption(
        errors,
        "activity_id",
        int("activity_id"),
        "activity_name",
        text("activity_name"),
        &[(0, "Unknown"), (1, "Log"), (2, "Collect"), (99, "Other")],
    );
    caption(
        errors,
        "category_uid",
        int("category_uid"),
        "category_name",
        text("category_name"),
        &[(5, "Discovery")],
    );
    caption(
        errors,
        "class_uid",
        int("class_uid"),
        "class_name",
        text("class_name"),
        &[(5003, "User Inventory Info")],
    );
    caption(
        errors,
        "severity_id",
        int("severity_id"),
        "severity",
        text("severity"),
        &[
            (0, "Unknown"),
            (1, "Informational"),
            (2, "Low"),
            (3, "Medium"),
            (4, "High"),
            (5, "Critical"),
            (6, "Fatal"),
            (99, "Other"),
        ],
    );
    match (text("class_name"), text("activity_name"), text("type_name")) {
        (Some(class), Some(activity), Some(type_name)) => {
            if type_name != format!("{class}: {activity}") {
                errors.push(format!(
                    "type_name {type_name:?} != \"{class}: {activity}\""
                ));
            }
        }
        _ => errors.push("type_name, class_name and activity_name are all required".into()),
    }
    if let Some(status_id) = int("status_id") {
        caption(
            errors,
            "status_id",
            Some(status_id),
            "status",
            text("status"),
            &[
                (0, "Unknown"),
                (1, "Success"),
                (2, "Failure"),
                (99, "Other"),
            ],
        );
    }
    if let Some(user) = root.get("user").and_then(Value::as_object) {
        user_captions("user", user, errors);
        if let Some(manager) = user
            .get("ldap_person")
            .and_then(|l| l.get("manager"))
            .and_then(Value::as_object)
        {
            user_captions("user.ldap_person.manager", manager, errors);
        }
    }
    // Every `*_id` anywhere has its caption.
    id_captions("", &Value::Object(root.clone()), errors);

    // Timestamps: `time` in the format's unit, every `*_time` in ms.
    match root.get("time").and_then(Value::as_i64) {
        Some(t) => {
            let is_ms = (MS_MIN..MS_MAX).contains(&t);
            let is_s = (S_MIN..S_MAX).contains(&t);
            let ok = match unit {
                Some(TimeUnit::Milliseconds) => is_ms,
                Some(TimeUnit::Seconds) => is_s,
                None => is_ms || is_s,
            };
            if !ok {
                errors.push(format!(
                    "time {t} is not epoch {:?}",
                    unit.map_or("ms or s", |u| match u {
                        TimeUnit::Milliseconds => "ms",
                        TimeUnit::Seconds => "s",
                    })
                ));
            }
        }
        None => errors.push("time must be an integer".into()),
    }
    ms_times("", &Value::Object(root.clone()), errors);
}

fn user_captions(path: &str, user: &Map<String, Value>, errors: &mut Vec<String>) {
    fn int(o: &Map<String, Value>, k: &str) -> Option<i64> {
        o.get(k).and_then(Value::as_i64)
    }
    fn text<'o>(o: &'o Map<String, Value>, k: &str) -> Option<&'o str> {
        o.get(k).and_then(Value::as_str)
    }
    if user.contains_key("type_id") || user.contains_key("type") {
        caption(
            errors,
            &format!("{path}.type_id"),
            int(user, "type_id"),
            "type",
            text(user, "type"),
            &[
                (0, "Unknown"),
                (1, "User"),
                (2, "Admin"),
                (3, "System"),
                (4, "Service"),
                (99, "Other"),
            ],
        );
    }
    if let Some(account) = user.get("account").and_then(Value::as_object) {
        if account.contains_key("type_id") || account.contains_key("type") {
            caption(
                errors,
                &format!("{path}.account.type_id"),
                int(account, "type_id"),
                "type",
                text(account, "type"),
                ACCOUNT_TYPES,
            );
        }
    }
    if user.contains_key("risk_level_id") || user.contains_key("risk_level") {
        caption(
            errors,
            &format!("{path}.risk_level_id"),
            int(user, "risk_level_id"),
            "risk_level",
            text(user, "risk_level"),
            &[
                (0, "Info"),
                (1, "Low"),
                (2, "Medium"),
                (3, "High"),
                (4, "Critical"),
                (99, "Other"),
            ],
        );
    }
}

/// `account.type_id` captions as the Sekoia model spells them (`AccountTypeStr`), which follow
/// OCSF; OCSF ids the model does not know (3, 4, 19) are rejected as unknown.
const ACCOUNT_TYPES: &[(i64, &str)] = &[
    (0, "Unknown"),
    (1, "LDAP Account"),
    (2, "Windows Account"),
    (5, "GCP Account"),
    (6, "Azure AD Account"),
    (7, "Mac OS Account"),
    (8, "Apple Account"),
    (9, "Linux Account"),
    (10, "AWS Account"),
    (11, "GCP Project"),
    (12, "OCI Compartment"),
    (13, "Azure Subscription"),
    (14, "Salesforce Account"),
    (15, "Google Workspace"),
    (16, "ServiceNow Instance"),
    (17, "M365 Tenant"),
    (18, "Email Account"),
    (99, "Other"),
];

fn caption(
    errors: &mut Vec<String>,
    id_name: &str,
    id: Option<i64>,
    caption_name: &str,
    caption: Option<&str>,
    table: &[(i64, &str)],
) {
    let Some(id) = id else {
        errors.push(format!("{id_name} missing or not an integer"));
        return;
    };
    let expected = table.iter().find(|(i, _)| *i == id).map(|(_, c)| *c);
    match (expected, caption) {
        (_, None) => errors.push(format!("{id_name} {id} has no caption {caption_name}")),
        (None, Some(_)) => errors.push(format!("{id_name} {id} is not a known value")),
        // 99 "Other" may carry a source-specific caption in OCSF; everything else is fixed.
        (Some(want), Some(got)) if want != got && id != 99 => errors.push(format!(
            "{id_name} {id} has caption {got:?}, expected {want:?}"
        )),
        _ => {}
    }
}

/// Every key `x_id` of an object needs its caption `x` (`activity_id` → `activity_name`).
fn id_captions(path: &str, v: &Value, errors: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                if let Some(stem) = k.strip_suffix("_id") {
                    let want = if k == "activity_id" {
                        "activity_name".to_string()
                    } else {
                        stem.to_string()
                    };
                    if !map.get(&want).is_some_and(Value::is_string) {
                        errors.push(format!("{path}.{k} has no caption {want}"));
                    }
                }
                id_captions(&format!("{path}.{k}"), item, errors);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                id_captions(&format!("{path}[{i}]"), item, errors);
            }
        }
        _ => {}
    }
}

/// Every `*_time` integer is epoch ms.
fn ms_times(path: &str, v: &Value, errors: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                let here = format!("{path}.{k}");
                if k.ends_with("_time") {
                    match item.as_i64() {
                        Some(t) if (MS_MIN..MS_MAX).contains(&t) => {}
                        _ => errors.push(format!("{here} = {item} is not an epoch ms timestamp")),
                    }
                }
                ms_times(&here, item, errors);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                ms_times(&format!("{path}[{i}]"), item, errors);
            }
        }
        _ => {}
    }
}

/// The project's own rule: no null, no blank string, no empty object; no empty array except a
/// known-empty `user.groups`.
fn no_empties(path: &str, v: &Value, errors: &mut Vec<String>) {
    match v {
        Value::Null => errors.push(format!("{path} is null")),
        Value::String(s) if s.trim().is_empty() => errors.push(format!("{path} is a blank string")),
        Value::Array(items) => {
            if items.is_empty() && path != ".user.groups" {
                errors.push(format!("{path} is an empty array"));
            }
            for (i, item) in items.iter().enumerate() {
                no_empties(&format!("{path}[{i}]"), item, errors);
            }
        }
        Value::Object(map) => {
            if map.is_empty() {
                errors.push(format!("{path} is an empty object"));
            }
            for (k, item) in map {
                no_empties(&format!("{path}.{k}"), item, errors);
            }
        }
        _ => {}
    }
}

/// Sekoia's `UserOCSFModel` (pydantic; unknown keys ignored). Sources: SEKOIA-IO/
/// sekoia-automation-models `sekoia_automation_models/ocsf/user.py`,
/// `.github/schemas/UserOCSFModel.json`; SEKOIA-IO/sekoia-automation-sdk
/// `sekoia_automation/asset_connector/models/ocsf/{base,user,group}.py`.
fn sekoia_model_checks(root: &Map<String, Value>, errors: &mut Vec<String>) {
    let mut need = |ok: bool, what: &str| {
        if !ok {
            errors.push(format!("sekoia: {what}"));
        }
    };
    for k in ["activity_name", "category_name", "class_name", "type_name"] {
        need(
            root.get(k).is_some_and(Value::is_string),
            &format!("{k} is a required string"),
        );
    }
    for k in ["activity_id", "category_uid", "class_uid", "type_uid"] {
        need(
            root.get(k).is_some_and(Value::is_i64),
            &format!("{k} is a required integer"),
        );
    }
    need(
        root.get("time").is_some_and(Value::is_number),
        "time is a required number",
    );
    if let Some(sev) = root.get("severity") {
        need(
            sev.as_str().is_some_and(|s| {
                [
                    "Unknown",
                    "Informational",
                    "Low",
                    "Medium",
                    "High",
                    "Critical",
                    "Fatal",
                    "Other",
                ]
                .contains(&s)
            }),
            "severity is not one of the model's values",
        );
    }
    let metadata = root.get("metadata");
    need(
        metadata
            .and_then(|m| m.get("version"))
            .is_some_and(Value::is_string),
        "metadata.version is required",
    );
    need(
        metadata
            .and_then(|m| m.get("product"))
            .and_then(|p| p.get("name"))
            .is_some_and(Value::is_string),
        "metadata.product.name is required",
    );

    let Some(user) = root.get("user").and_then(Value::as_object) else {
        need(false, "user is required");
        return;
    };
    need(
        user.get("name").is_some_and(Value::is_string),
        "user.name is required",
    );
    need(
        user.get("uid").is_some_and(Value::is_string),
        "user.uid is required",
    );
    if let Some(type_id) = user.get("type_id") {
        need(
            type_id.as_i64().is_some_and(|t| (0..=4).contains(&t)),
            "user.type_id must be 0..=4",
        );
    }
    if let Some(t) = user.get("type") {
        need(
            t.as_str()
                .is_some_and(|s| ["Unknown", "User", "Admin", "System", "Service"].contains(&s)),
            "user.type must be Unknown/User/Admin/System/Service",
        );
    }
    if let Some(account) = user.get("account") {
        need(
            account.get("name").is_some_and(Value::is_string),
            "user.account.name is required",
        );
        // Okta accounts are 99 / "Other" (Sekoia refuses other strings); the model's enum would also accept the
        // other `AccountTypeStr` captions, but none of them is true for an Okta account.
        need(
            account.get("type_id") == Some(&Value::from(99)),
            "user.account.type_id must be 99",
        );
        need(
            account.get("type").and_then(Value::as_str) == Some("Other"),
            "user.account.type must be \"Other\"",
        );
    }
    if let Some(groups) = user.get("groups") {
        match groups.as_array() {
            Some(groups) => {
                for (i, g) in groups.iter().enumerate() {
                    need(
                        g.get("name").is_some_and(Value::is_string),
                        &format!("user.groups[{i}].name is required"),
                    );
                    if let Some(p) = g.get("privileges") {
                        need(
                            p.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                            &format!("user.groups[{i}].privileges must be strings"),
                        );
                    }
                }
            }
            None => need(false, "user.groups must be an array"),
        }
    }
    if let Some(org) = user.get("org") {
        need(
            org.get("name").is_some_and(Value::is_string),
            "user.org.name is required",
        );
    }
    if let Some(has_mfa) = user.get("has_mfa") {
        need(has_mfa.is_boolean(), "user.has_mfa must be a boolean");
    }

    if let Some(enrichments) = root.get("enrichments") {
        let Some(items) = enrichments.as_array() else {
            need(false, "enrichments must be an array");
            return;
        };
        for (i, e) in items.iter().enumerate() {
            need(
                e.get("name").is_some_and(Value::is_string),
                &format!("enrichments[{i}].name is required"),
            );
            need(
                e.get("value").is_some_and(Value::is_string),
                &format!("enrichments[{i}].value is required"),
            );
            let Some(data) = e.get("data").and_then(Value::as_object) else {
                need(false, &format!("enrichments[{i}].data must be an object"));
                continue;
            };
            let typed = |k: &str, ok: fn(&Value) -> bool| data.get(k).is_none_or(ok);
            need(
                typed("is_enabled", Value::is_boolean),
                "data.is_enabled must be a boolean",
            );
            need(
                typed("last_logon", is_rfc3339),
                "data.last_logon must be RFC 3339",
            );
            need(
                typed("status_changed", is_rfc3339),
                "data.status_changed must be RFC 3339",
            );
            need(
                typed("bad_password_count", Value::is_i64),
                "data.bad_password_count must be an integer",
            );
            need(
                typed("number_of_logons", Value::is_i64),
                "data.number_of_logons must be an integer",
            );
            need(
                typed("last_time_password_change", |v| {
                    v.as_f64()
                        .is_some_and(|s| (S_MIN as f64..S_MAX as f64).contains(&s))
                }),
                "data.last_time_password_change must be epoch seconds",
            );
        }
    }
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok())
}
