//! Every event the mapping can produce validates against the vendored OCSF 1.8.0 User Inventory
//! Info schema, the README's extra checks and the Sekoia model rules (`support::ocsf`):
//! users from real recorded Okta responses, hand-made edge cases, and arbitrary user objects
//! (proptest). Also proves that the validator rejects bad events, and snapshots one rich event.

// Only the validator of the test kit: the rest of `support` belongs to other tests.
use crate::support::ocsf;

use std::path::Path;

use jiff::Timestamp;
use okta_asset_connector::mapping::{
    is_mappable, map_deleted_user, map_user, Enrichment, GroupInfo, MapContext, TimeUnit,
};
use okta_asset_connector::okta::model::User;
use proptest::prelude::*;
use serde_json::{json, Value};

use ocsf::{validate_event, validate_event_as};

const UNITS: [TimeUnit; 2] = [TimeUnit::Seconds, TimeUnit::Milliseconds];

fn ctx(unit: TimeUnit) -> MapContext {
    MapContext {
        tenant_uid: "acme.okta.com".into(),
        collected_at: "2026-03-04T05:06:07.089Z".parse().unwrap(),
        time_unit: unit,
    }
}

/// A group as the mapper takes it.
fn group(
    uid: &str,
    name: Option<&str>,
    desc: Option<&str>,
    kind: &str,
    roles: &[&str],
) -> GroupInfo {
    GroupInfo {
        uid: uid.into(),
        name: name.map(String::from),
        desc: desc.map(String::from),
        group_type: kind.into(),
        privileges: roles.iter().map(|role| role.to_string()).collect(),
    }
}

/// Everyone, an admin group with markup and non-Latin text in its name, an app group with an
/// empty description and an empty role label.
fn sample_groups() -> Vec<GroupInfo> {
    let everyone = "All users in your organization";
    let admin_roles = ["Super Administrator", "Help Desk Administrator"];
    vec![
        group(
            "00g1everyone",
            Some("Everyone"),
            Some(everyone),
            "BUILT_IN",
            &[],
        ),
        group(
            "00g2admins",
            Some("Admins <b>&</b> 管理者"),
            None,
            "OKTA_GROUP",
            &admin_roles,
        ),
        group("00g3ad", None, Some(""), "APP_GROUP", &[""]),
    ]
}

/// Every enrichment known and true: `groups`, admin, MFA.
fn fully_enriched<'a>(groups: &'a [&'a GroupInfo]) -> Enrichment<'a> {
    Enrichment {
        groups: Some(groups),
        is_admin: Some(true),
        has_mfa: Some(true),
    }
}

/// `user` fully enriched with the sample groups, as JSON with times in milliseconds.
fn rich_event(user: &User) -> Value {
    let groups = sample_groups();
    let refs: Vec<&GroupInfo> = groups.iter().collect();
    let c = ctx(TimeUnit::Milliseconds);
    serde_json::from_slice(&map_user(user, &fully_enriched(&refs), &c).to_json_bytes()).unwrap()
}

/// Maps `user` with several enrichments in both time units and validates every event.
fn assert_user_validates(label: &str, user: &User) {
    assert!(is_mappable(user), "{label}: blank id");
    let groups = sample_groups();
    let refs: Vec<&GroupInfo> = groups.iter().collect();
    let none: [&GroupInfo; 0] = [];
    let enrichments = [
        Enrichment::UNKNOWN,
        fully_enriched(&refs),
        Enrichment {
            groups: Some(&none),
            is_admin: Some(false),
            has_mfa: Some(false),
        },
    ];
    for unit in UNITS {
        let c = ctx(unit);
        for e in &enrichments {
            let event = map_user(user, e, &c);
            assert_eq!(event.user_uid(), user.id);
            let value: Value = serde_json::from_slice(&event.to_json_bytes()).unwrap();
            if let Err(errors) = validate_event_as(&value, unit) {
                panic!("{label} ({unit:?}, {e:?}) does not validate: {errors:#?}\n{value:#}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Real recorded responses.

/// Every JSON object under `v` that looks like an Okta user (`id`, `status`, `profile.login`).
fn collect_users<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(map) => {
            let looks_like_user = map.get("id").is_some_and(Value::is_string)
                && map.contains_key("status")
                && map.get("profile").and_then(|p| p.get("login")).is_some();
            if looks_like_user {
                out.push(v);
            } else {
                map.values().for_each(|item| collect_users(item, out));
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_users(item, out)),
        _ => {}
    }
}

#[test]
fn every_recorded_user_maps_to_a_valid_event() {
    // The lead vendors the recordings into tests/fixtures/okta-recordings; before that they are
    // read from the shared copy. Without either, this part is skipped (with a note).
    let dir = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/okta-recordings"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/okta-recordings"),
    ]
    .into_iter()
    .find(|d| d.is_dir());
    let Some(dir) = dir else {
        eprintln!("SKIPPED: no Okta recordings in tests/fixtures/okta-recordings");
        return;
    };
    let mut users_seen = 0;
    let mut files_with_users = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let cassette: Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
        let mut in_file = 0;
        for (i, interaction) in cassette["interactions"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let Some(body) = interaction["response"]["body"]["string"].as_str() else {
                continue;
            };
            let Ok(body) = serde_json::from_str::<Value>(body) else {
                continue; // empty bodies (204) and non-JSON answers
            };
            let mut users = Vec::new();
            collect_users(&body, &mut users);
            for raw in users {
                let user: User = serde_json::from_value(raw.clone()).unwrap_or_else(|e| {
                    panic!(
                        "{} interaction {i}: user does not parse: {e}",
                        path.display()
                    )
                });
                assert_user_validates(&format!("{} #{i} {}", path.display(), user.id), &user);
                in_file += 1;
            }
        }
        users_seen += in_file;
        files_with_users += usize::from(in_file > 0);
    }
    eprintln!("{users_seen} recorded users from {files_with_users} files validated");
    assert!(
        users_seen >= 5,
        "expected the recordings to hold users, found {users_seen}"
    );
}

// ---------------------------------------------------------------------------------------------
// Hand-made edge cases.

fn edge_case_users() -> Vec<(&'static str, Value)> {
    let long = "x".repeat(2000);
    let long_unicode = "漢字🚀é".repeat(500);
    vec![
        (
            "nulls everywhere",
            json!({
                "id": "00u1nulls", "status": "ACTIVE", "created": null, "activated": null,
                "statusChanged": null, "lastLogin": null, "lastUpdated": null, "passwordChanged": null,
                "type": null, "credentials": null, "_links": null,
                "profile": {"login": null, "email": null, "secondEmail": null, "firstName": null,
                    "lastName": null, "displayName": null, "mobilePhone": null, "primaryPhone": null,
                    "title": null, "department": null, "costCenter": null, "employeeNumber": null,
                    "organization": null, "division": null, "managerId": null, "manager": null,
                    "city": null, "state": null, "countryCode": null, "zipCode": null}
            }),
        ),
        (
            "empty strings everywhere",
            json!({
                "id": "00u1empty", "status": "PROVISIONED", "created": "", "lastUpdated": "",
                "profile": {"login": "", "email": "", "secondEmail": "", "firstName": "", "lastName": "",
                    "displayName": " ", "mobilePhone": "", "primaryPhone": "", "title": "\t",
                    "organization": "", "division": "", "managerId": "", "manager": "", "city": "",
                    "state": "", "countryCode": "", "zipCode": ""}
            }),
        ),
        (
            "profile null",
            json!({"id": "00u1pnull", "status": "STAGED", "profile": null}),
        ),
        (
            "no profile",
            json!({"id": "00u1nop", "status": "SUSPENDED"}),
        ),
        (
            "unicode",
            json!({
                "id": "00u1uni", "status": "ACTIVE", "created": "2019-05-06T07:08:09.000Z",
                "profile": {"login": "zoë.ßtraße@例え.jp", "email": "zoë@例え.jp", "firstName": "Zoë",
                    "lastName": "Ström-Ñúñez 😀", "displayName": "Zoë 😀", "title": "工程師",
                    "city": "Zürich", "state": "ZH", "countryCode": "CH", "organization": "Ünïcödé AG",
                    "division": "Ω"}
            }),
        ),
        (
            "html",
            json!({
                "id": "00u1html", "status": "ACTIVE",
                "profile": {"login": "<script>alert(1)</script>", "email": "\"><img src=x>@x.com",
                    "firstName": "<b>Bold</b>", "lastName": "&amp; &lt;", "displayName": "</div>",
                    "department": "<!-- comment -->", "manager": "<a href='javascript:x'>m</a>"}
            }),
        ),
        (
            "2000-char values",
            json!({
                "id": "00u1long", "status": "ACTIVE", "lastUpdated": "2026-01-02T03:04:05.000Z",
                "profile": {"login": long, "email": format!("{long}@example.com"), "firstName": long,
                    "lastName": long_unicode, "displayName": long, "title": long, "department": long,
                    "costCenter": long, "employeeNumber": long, "organization": long, "division": long,
                    "managerId": long, "manager": long, "city": long, "state": long,
                    "countryCode": long, "zipCode": long, "mobilePhone": long}
            }),
        ),
        (
            "odd status ACTIVATING",
            json!({
                "id": "00u1actv", "status": "ACTIVATING", "created": "2026-01-02T03:04:05.000Z",
                "activated": null, "profile": {"login": "act@example.com", "email": "act@example.com"}
            }),
        ),
        (
            "deprovisioned",
            json!({
                "id": "00u1deprov", "status": "DEPROVISIONED", "statusChanged": "2025-01-01T00:00:00.000Z",
                "lastLogin": "2024-12-31T23:59:59.999Z", "profile": {"login": "gone@example.com"}
            }),
        ),
        (
            "locked out",
            json!({
                "id": "00u1locked", "status": "LOCKED_OUT", "passwordChanged": "2024-06-01T00:00:00.000Z",
                "profile": {"login": "locked@example.com"}
            }),
        ),
        (
            "custom attributes of every JSON type",
            json!({
                "id": "00u1custom", "status": "PASSWORD_EXPIRED", "lastUpdated": "2026-01-02T03:04:05.000Z",
                "profile": {"login": "c@example.com", "employeeNumber": 42, "costCenter": 3.5,
                    "department": true, "title": ["a", "b"], "organization": {"name": "x"},
                    "customString": "s", "customInt": 7, "customFloat": 1.25, "customBool": false,
                    "customNull": null, "customArray": [1, "two", null, {"three": 3}],
                    "customObject": {"nested": {"deeper": [true]}}}
            }),
        ),
        (
            "odd timestamps",
            json!({
                "id": "00u1time", "status": "RECOVERY", "created": "not a date",
                "activated": 1234567890, "statusChanged": "1970-01-01T00:00:00.000Z",
                "lastLogin": "2026-02-30T00:00:00.000Z", "lastUpdated": "2026-01-02T03:04:05.123456789Z",
                "passwordChanged": {"when": "yesterday"}, "profile": {"login": "t@example.com"}
            }),
        ),
        (
            "email forms",
            json!({
                "id": "00u1mail", "status": "ACTIVE",
                "profile": {"login": "m", "email": "first.last+tag@sub.example.co.uk",
                    "secondEmail": "bad@@example.com"}
            }),
        ),
    ]
}

#[test]
fn edge_case_users_map_to_valid_events() {
    for (label, raw) in edge_case_users() {
        let user: User = serde_json::from_value(raw).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_user_validates(label, &user);
    }
}

#[test]
fn deleted_user_events_validate() {
    let at: Timestamp = "2026-03-04T05:00:00Z".parse().unwrap();
    for unit in UNITS {
        let c = ctx(unit);
        for login in [Some("gone@example.com"), None, Some(""), Some("<b>x</b>")] {
            let event = map_deleted_user("00u1gone", login, at, &c);
            let value: Value = serde_json::from_slice(&event.to_json_bytes()).unwrap();
            if let Err(errors) = validate_event_as(&value, unit) {
                panic!("deleted user ({login:?}, {unit:?}): {errors:#?}\n{value:#}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The validator can fail.

fn valid_event() -> Value {
    let user: User = serde_json::from_value(edge_case_users()[4].1.clone()).unwrap();
    let mut value = rich_event(&user);
    value["user"]["ldap_person"]["last_login_time"] = json!(1_772_000_000_000_i64);
    value["enrichments"][0]["data"]["last_time_password_change"] = json!(1_772_000_000_i64);
    value
}

#[test]
fn validator_rejects_bad_events() {
    let base = valid_event();
    validate_event(&base).expect("the base event is valid");

    type Mutation = fn(&mut Value);
    let cases: Vec<(&str, Mutation)> = vec![
        ("class_uid 1", |v| v["class_uid"] = json!(1)),
        ("type_uid not class*100+activity", |v| {
            v["type_uid"] = json!(500301)
        }),
        ("activity_name wrong", |v| v["activity_name"] = json!("Log")),
        ("type_name wrong", |v| {
            v["type_name"] = json!("User Inventory Info: Log")
        }),
        ("severity caption wrong", |v| v["severity"] = json!("High")),
        ("severity caption missing", |v| {
            v.as_object_mut().unwrap().remove("severity");
        }),
        ("seconds in a ms field", |v| {
            v["user"]["ldap_person"]["created_time"] = json!(1_600_000_000)
        }),
        ("microseconds in a ms field", |v| {
            v["user"]["ldap_person"]["modified_time"] = json!(1_600_000_000_000_000_i64)
        }),
        ("time in neither unit", |v| v["time"] = json!(12345)),
        ("account type Foo", |v| {
            v["user"]["account"]["type"] = json!("Foo")
        }),
        ("account type_id not 99", |v| {
            v["user"]["account"]["type_id"] = json!(1);
            v["user"]["account"]["type"] = json!("LDAP Account");
        }),
        ("account without type", |v| {
            v["user"]["account"].as_object_mut().unwrap().remove("type");
        }),
        ("user type 99 (Sekoia rejects)", |v| {
            v["user"]["type_id"] = json!(99);
            v["user"]["type"] = json!("Other");
        }),
        ("user type caption wrong", |v| {
            v["user"]["type"] = json!("User")
        }),
        ("user type_id without caption", |v| {
            v["user"].as_object_mut().unwrap().remove("type");
        }),
        ("user without name (Sekoia)", |v| {
            v["user"].as_object_mut().unwrap().remove("name");
        }),
        ("user without uid (Sekoia)", |v| {
            v["user"].as_object_mut().unwrap().remove("uid");
        }),
        ("group without name (Sekoia)", |v| {
            v["user"]["groups"][0]
                .as_object_mut()
                .unwrap()
                .remove("name");
        }),
        ("org without name", |v| {
            v["user"]["org"] = json!({"ou_name": "x"})
        }),
        ("null value", |v| v["user"]["display_name"] = Value::Null),
        ("empty string", |v| v["user"]["display_name"] = json!("")),
        ("unknown attribute", |v| {
            v["user"]["favourite_colour"] = json!("blue")
        }),
        ("invalid email", |v| {
            v["user"]["email_addr"] = json!("not an email")
        }),
        ("enrichment value not a string", |v| {
            v["enrichments"][0]["value"] = json!(1)
        }),
        ("enrichment without data", |v| {
            v["enrichments"][0].as_object_mut().unwrap().remove("data");
        }),
        ("password change in ms", |v| {
            v["enrichments"][0]["data"]["last_time_password_change"] = json!(1_772_000_000_000_i64)
        }),
        ("last_logon not RFC 3339", |v| {
            v["enrichments"][0]["data"]["last_logon"] = json!("yesterday")
        }),
        ("empty privileges array", |v| {
            v["user"]["groups"][0]["privileges"] = json!([])
        }),
        ("metadata without version", |v| {
            v["metadata"].as_object_mut().unwrap().remove("version");
        }),
    ];
    for (label, mutate) in cases {
        let mut event = base.clone();
        mutate(&mut event);
        assert!(
            validate_event(&event).is_err(),
            "validator accepted: {label}\n{event:#}"
        );
    }

    // `time` must match the unit when the unit is pinned.
    let mut seconds = base.clone();
    seconds["time"] = json!(1_772_600_767);
    validate_event(&seconds).expect("seconds accepted when the unit is open");
    assert!(validate_event_as(&seconds, TimeUnit::Milliseconds).is_err());
    assert!(validate_event_as(&base, TimeUnit::Seconds).is_err());
}

// ---------------------------------------------------------------------------------------------
// Snapshot.

#[test]
fn rich_user_event_snapshot() {
    let user: User = serde_json::from_value(json!({
        "id": "00u1rich", "status": "ACTIVE",
        "created": "2020-01-02T03:04:05.000Z", "activated": "2020-01-02T03:05:00.000Z",
        "statusChanged": "2021-02-03T04:05:06.007Z", "lastLogin": "2026-03-01T08:00:00.123Z",
        "lastUpdated": "2026-02-28T10:11:12.345Z", "passwordChanged": "2025-12-31T23:59:59.000Z",
        "profile": {
            "login": "ann.lee@acme.com", "email": "ann.lee@acme.com",
            "secondEmail": "ann@home.example.org", "firstName": "Ann", "lastName": "Lee",
            "displayName": "Ann L.", "mobilePhone": "+33 6 00 00 00 00", "title": "SOC lead",
            "department": "Security", "costCenter": "CC-42", "employeeNumber": "E1001",
            "organization": "Acme", "division": "Cyber", "managerId": "00u1boss",
            "manager": "Bob Boss", "city": "Lyon", "state": "ARA", "countryCode": "FR",
            "zipCode": "69001"
        }
    }))
    .unwrap();
    let value = rich_event(&user);
    validate_event_as(&value, TimeUnit::Milliseconds).unwrap();
    insta::assert_json_snapshot!("rich_user_event", value);
}

// ---------------------------------------------------------------------------------------------
// Property: arbitrary user-ish JSON never panics and, when it parses as a user, validates.

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9 ._-]{0,12}",
        2 => "[a-z0-9.+]{1,8}@[a-z0-9-]{1,8}\\.[a-z]{2,4}",
        1 => "\\PC{0,30}",
        1 => "[<>&\"' a-z]{0,10}",
        1 => Just(String::new()),
        1 => Just("   ".to_string()),
    ]
}

/// Null, a boolean, a number (an integer or a fraction) or text, each as likely.
fn json_leaf() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
    ];
    let scalar = prop_oneof![
        any::<bool>().prop_map(Value::from),
        text().prop_map(Value::from)
    ];
    prop_oneof![1 => Just(Value::Null), 2 => scalar, 2 => number]
}

fn json_any() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A profile or top-level field value: mostly strings, sometimes anything.
fn field() -> impl Strategy<Value = Value> {
    prop_oneof![4 => text().prop_map(Value::from), 1 => json_any()]
}

fn timestamp() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0i64..4_102_444_800, 0i64..1000).prop_map(|(s, ms)| {
            let t = Timestamp::from_millisecond(s * 1000 + ms).unwrap();
            Value::from(format!("{t:.3}"))
        }),
        1 => field(),
    ]
}

fn status() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "STAGED", "PROVISIONED", "ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED",
            "SUSPENDED", "DEPROVISIONED", "ACTIVATING",
        ])
        .prop_map(Value::from),
        1 => field(),
    ]
}

const PROFILE_FIELDS: [&str; 20] = [
    "login",
    "email",
    "secondEmail",
    "firstName",
    "lastName",
    "displayName",
    "mobilePhone",
    "primaryPhone",
    "title",
    "department",
    "costCenter",
    "employeeNumber",
    "organization",
    "division",
    "managerId",
    "manager",
    "city",
    "state",
    "countryCode",
    "zipCode",
];

fn profile() -> impl Strategy<Value = Value> {
    let known = prop::collection::vec(prop::option::of(field()), PROFILE_FIELDS.len());
    let custom = prop::collection::btree_map("[a-zA-Z]{1,10}", json_any(), 0..3);
    prop_oneof![
        8 => (known, custom).prop_map(|(values, custom)| {
            let mut map: serde_json::Map<String, Value> = custom.into_iter().collect();
            for (name, value) in PROFILE_FIELDS.iter().zip(values) {
                if let Some(value) = value {
                    map.insert(name.to_string(), value);
                }
            }
            Value::Object(map)
        }),
        1 => json_any(),
    ]
}

fn user_json() -> impl Strategy<Value = Value> {
    let id = prop_oneof![8 => "00u[A-Za-z0-9]{5,17}".prop_map(Value::from), 1 => field()];
    let times = prop::collection::vec(prop::option::of(timestamp()), 6);
    (
        prop::option::weighted(0.9, id),
        prop::option::weighted(0.9, status()),
        times,
        prop::option::of(profile()),
    )
        .prop_map(|(id, status, times, profile)| {
            let mut map = serde_json::Map::new();
            if let Some(id) = id {
                map.insert("id".into(), id);
            }
            if let Some(status) = status {
                map.insert("status".into(), status);
            }
            let names = [
                "created",
                "activated",
                "statusChanged",
                "lastLogin",
                "lastUpdated",
                "passwordChanged",
            ];
            for (name, t) in names.iter().zip(times) {
                if let Some(t) = t {
                    map.insert(name.to_string(), t);
                }
            }
            if let Some(profile) = profile {
                map.insert("profile".into(), profile);
            }
            Value::Object(map)
        })
}

fn group_info() -> impl Strategy<Value = GroupInfo> {
    (
        prop_oneof![4 => "00g[a-z0-9]{4,10}", 1 => text()],
        prop::option::of(text()),
        prop::option::of(text()),
        prop_oneof![
            prop::sample::select(vec!["OKTA_GROUP", "APP_GROUP", "BUILT_IN"])
                .prop_map(String::from),
            text()
        ],
        prop::collection::vec(text(), 0..3),
    )
        .prop_map(|(uid, name, desc, group_type, privileges)| GroupInfo {
            uid,
            name,
            desc,
            group_type,
            privileges,
        })
}

proptest! {
    // No failure persistence file: integration tests have no `src/lib.rs` next to them.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_users_map_to_valid_events_or_fail_to_parse(
        raw in user_json(),
        groups in prop::option::of(prop::collection::vec(group_info(), 0..4)),
        is_admin in prop::option::of(any::<bool>()),
        has_mfa in prop::option::of(any::<bool>()),
        tenant in text(),
        collected_ms in 1_000_000_000_000i64..4_102_444_800_000,
    ) {
        let Ok(user) = serde_json::from_value::<User>(raw.clone()) else {
            return Ok(()); // not a user: the client rejects the page item, nothing to map
        };
        if !is_mappable(&user) {
            return Ok(()); // blank id: the sync skips it (documented in `mapping`)
        }
        let refs: Option<Vec<&GroupInfo>> = groups.as_ref().map(|g| g.iter().collect());
        let e = Enrichment { groups: refs.as_deref(), is_admin, has_mfa };
        for unit in UNITS {
            let c = MapContext {
                tenant_uid: tenant.clone(),
                collected_at: Timestamp::from_millisecond(collected_ms).unwrap(),
                time_unit: unit,
            };
            let value: Value =
                serde_json::from_slice(&map_user(&user, &e, &c).to_json_bytes()).unwrap();
            if let Err(errors) = validate_event_as(&value, unit) {
                prop_assert!(false, "input {raw:#}\nerrors {errors:#?}\nevent {value:#}");
            }
        }
    }
}

#[test]
fn property_is_not_vacuous() {
    // Most generated objects must parse as users, or the property above proves little.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = user_json();
    let mapped = (0..256)
        .filter(|_| {
            let raw = strategy.new_tree(&mut runner).unwrap().current();
            serde_json::from_value::<User>(raw).is_ok_and(|u| is_mappable(&u))
        })
        .count();
    assert!(mapped >= 128, "only {mapped} of 256 generated users parse");
}
