use serde_json::{json, Value};

use super::*;

fn ctx(unit: TimeUnit) -> MapContext {
    MapContext {
        tenant_uid: "acme.okta.com".into(),
        collected_at: "2026-03-04T05:06:07.089Z".parse().unwrap(),
        time_unit: unit,
    }
}

fn user(json: Value) -> User {
    serde_json::from_value(json).unwrap()
}

fn rich_user() -> User {
    user(json!({
        "id": "00u1rich",
        "status": "ACTIVE",
        "created": "2020-01-02T03:04:05.000Z",
        "activated": "2020-01-02T03:05:00.000Z",
        "statusChanged": "2021-02-03T04:05:06.007Z",
        "lastLogin": "2026-03-01T08:00:00.123Z",
        "lastUpdated": "2026-02-28T10:11:12.345Z",
        "passwordChanged": "2025-12-31T23:59:59.000Z",
        "profile": {
            "login": "ann.lee@acme.com",
            "email": "ann.lee@acme.com",
            "secondEmail": "ann@home.example.org",
            "firstName": "Ann",
            "lastName": "Lee",
            "displayName": "Ann L.",
            "mobilePhone": "+33 6 00 00 00 00",
            "primaryPhone": "+33 1 00 00 00 00",
            "title": "SOC lead",
            "department": "Security",
            "costCenter": "CC-42",
            "employeeNumber": "E1001",
            "organization": "Acme",
            "division": "Cyber",
            "managerId": "00u1boss",
            "manager": "Bob Boss",
            "city": "Lyon",
            "state": "ARA",
            "countryCode": "FR",
            "zipCode": "69001",
            "customThing": {"nested": [1, 2, 3]}
        }
    }))
}

fn groups() -> Vec<GroupInfo> {
    vec![
        GroupInfo {
            uid: "00g1".into(),
            name: Some("Everyone".into()),
            desc: Some("All users in your organization".into()),
            group_type: "BUILT_IN".into(),
            privileges: vec![],
        },
        GroupInfo {
            uid: "00g2".into(),
            name: Some("Okta admins".into()),
            desc: None,
            group_type: "OKTA_GROUP".into(),
            privileges: vec![
                "Super Administrator".into(),
                "Read-only Administrator".into(),
            ],
        },
    ]
}

fn to_value(event: &Event<'_>) -> Value {
    serde_json::from_slice(&event.to_json_bytes()).unwrap()
}

/// Asserts the value holds no `null`, no blank string and no empty object anywhere.
fn assert_no_empties(path: &str, v: &Value) {
    match v {
        Value::Null => panic!("null at {path}"),
        Value::String(s) => assert!(!s.trim().is_empty(), "blank string at {path}"),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_no_empties(&format!("{path}[{i}]"), item);
            }
        }
        Value::Object(map) => {
            assert!(!map.is_empty(), "empty object at {path}");
            for (k, item) in map {
                assert_no_empties(&format!("{path}.{k}"), item);
            }
        }
        _ => {}
    }
}

#[test]
fn rich_user_maps_field_by_field() {
    let u = rich_user();
    let gs = groups();
    let refs: Vec<&GroupInfo> = gs.iter().collect();
    let e = Enrichment {
        groups: Some(&refs),
        is_admin: Some(true),
        has_mfa: Some(true),
    };
    let c = ctx(TimeUnit::Milliseconds);
    let ev = to_value(&map_user(&u, &e, &c));
    assert_no_empties("", &ev);

    // Classification.
    assert_eq!(ev["activity_id"], 2);
    assert_eq!(ev["activity_name"], "Collect");
    assert_eq!(ev["category_uid"], 5);
    assert_eq!(ev["category_name"], "Discovery");
    assert_eq!(ev["class_uid"], 5003);
    assert_eq!(ev["class_name"], "User Inventory Info");
    assert_eq!(ev["type_uid"], 500302);
    assert_eq!(ev["type_name"], "User Inventory Info: Collect");
    assert_eq!(ev["severity_id"], 1);
    assert_eq!(ev["severity"], "Informational");
    assert_eq!(ev["time"], 1772600767089_i64);

    // Metadata.
    let updated_ms = "2026-02-28T10:11:12.345Z"
        .parse::<Timestamp>()
        .unwrap()
        .as_millisecond();
    let uid = ev["metadata"]["uid"].as_str().unwrap().to_string();
    assert_is_content_uid(&uid, "00u1rich");
    assert_eq!(
        ev["metadata"],
        json!({
            "version": "1.8.0",
            "product": {"name": "Okta", "vendor_name": "Okta"},
            "tenant_uid": "acme.okta.com",
            "uid": uid,
            "logged_time": 1772600767089_i64,
        })
    );

    // User.
    let user = &ev["user"];
    assert_eq!(user["uid"], "00u1rich");
    assert_eq!(user["name"], "ann.lee@acme.com");
    assert_eq!(user["uid_alt"], "ann.lee@acme.com");
    assert_eq!(user["email_addr"], "ann.lee@acme.com");
    assert_eq!(user["domain"], "acme.com");
    assert_eq!(user["full_name"], "Ann Lee");
    assert_eq!(user["display_name"], "Ann L.");
    assert_eq!(user["phone_number"], "+33 6 00 00 00 00");
    assert_eq!(user["type_id"], 2);
    assert_eq!(user["type"], "Admin");
    assert_eq!(user["has_mfa"], true);
    assert_eq!(
        user["account"],
        json!({"uid": "00u1rich", "name": "ann.lee@acme.com", "type_id": 99, "type": "Other",
               "is_disabled": false, "is_locked": false})
    );
    assert_eq!(
        user["groups"],
        json!([
            {"uid": "00g1", "name": "Everyone", "desc": "All users in your organization",
             "type": "BUILT_IN"},
            {"uid": "00g2", "name": "Okta admins", "type": "OKTA_GROUP",
             "privileges": ["Super Administrator", "Read-only Administrator"]},
        ])
    );
    assert_eq!(user["org"], json!({"name": "Acme", "ou_name": "Cyber"}));
    let ms = |s: &str| s.parse::<Timestamp>().unwrap().as_millisecond();
    assert_eq!(
        user["ldap_person"],
        json!({
            "given_name": "Ann",
            "surname": "Lee",
            "job_title": "SOC lead",
            "department": "Security",
            "cost_center": "CC-42",
            "employee_uid": "E1001",
            "email_addrs": ["ann.lee@acme.com", "ann@home.example.org"],
            "manager": {"uid": "00u1boss", "name": "Bob Boss"},
            "location": {"city": "Lyon", "region": "ARA", "country": "FR", "postal_code": "69001"},
            "created_time": ms("2020-01-02T03:04:05.000Z"),
            "modified_time": updated_ms,
            "last_login_time": ms("2026-03-01T08:00:00.123Z"),
        })
    );

    // Enrichment.
    assert_eq!(
        ev["enrichments"],
        json!([{
            "name": "account",
            "value": "ACTIVE",
            "data": {
                "is_enabled": true,
                "last_logon": "2026-03-01T08:00:00.123Z",
                "last_time_password_change":
                    "2025-12-31T23:59:59.000Z".parse::<Timestamp>().unwrap().as_second(),
                "status_changed": "2021-02-03T04:05:06.007Z",
            }
        }])
    );
}

#[test]
fn time_unit_only_changes_time() {
    let u = rich_user();
    let e = Enrichment::UNKNOWN;
    let (cs, cm) = (ctx(TimeUnit::Seconds), ctx(TimeUnit::Milliseconds));
    let mut s = to_value(&map_user(&u, &e, &cs));
    let mut m = to_value(&map_user(&u, &e, &cm));
    assert_eq!(s["time"], 1772600767_i64);
    assert_eq!(m["time"], 1772600767089_i64);
    s.as_object_mut().unwrap().remove("time");
    m.as_object_mut().unwrap().remove("time");
    assert_eq!(s, m);
}

#[test]
fn minimal_user_has_no_nulls_or_empties() {
    let u = user(json!({"id": "00u1min", "status": "STAGED", "profile": {"login": "min"}}));
    let c = ctx(TimeUnit::Milliseconds);
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert_no_empties("", &ev);
    let user = &ev["user"];
    assert_eq!(
        user,
        &json!({
            "uid": "00u1min",
            "name": "min",
            "uid_alt": "min",
            "account": {"uid": "00u1min", "name": "min", "type_id": 99, "type": "Other",
                        "is_disabled": true, "is_locked": false},
        })
    );
    assert_is_content_uid(ev["metadata"]["uid"].as_str().unwrap(), "00u1min");
    assert_eq!(
        ev["enrichments"],
        json!([{"name": "account", "value": "STAGED", "data": {"is_enabled": false}}])
    );
}

#[test]
fn blank_strings_and_nulls_everywhere_are_omitted() {
    let u = user(json!({
        "id": "00u1", "status": "ACTIVE", "created": null, "activated": null,
        "statusChanged": null, "lastLogin": null, "lastUpdated": null, "passwordChanged": null,
        "profile": {"login": "x@y.zz", "email": "", "secondEmail": "  ", "firstName": " ",
                    "lastName": null, "displayName": "", "mobilePhone": "", "primaryPhone": null,
                    "organization": "", "division": "D", "managerId": "", "manager": null,
                    "city": "", "state": " ", "countryCode": null, "zipCode": ""}
    }));
    let c = MapContext {
        tenant_uid: String::new(),
        ..ctx(TimeUnit::Seconds)
    };
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert_no_empties("", &ev);
    assert!(ev["metadata"].get("tenant_uid").is_none());
    let user = ev["user"].as_object().unwrap();
    for key in [
        "email_addr",
        "domain",
        "full_name",
        "display_name",
        "phone_number",
        "org",
        "ldap_person",
    ] {
        assert!(!user.contains_key(key), "{key} should be omitted");
    }
}

#[test]
fn unknown_enrichment_omits_mfa_type_and_groups() {
    let u = rich_user();
    let c = ctx(TimeUnit::Milliseconds);
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    let user = ev["user"].as_object().unwrap();
    for key in ["has_mfa", "type_id", "type", "groups"] {
        assert!(
            !user.contains_key(key),
            "{key} must be omitted when unknown"
        );
    }
    let event = map_user(&u, &Enrichment::UNKNOWN, &c);
    assert_eq!(event.is_admin(), None);
    assert_eq!(event.has_mfa(), None);
}

#[test]
fn known_false_and_known_empty_are_stated() {
    let u = rich_user();
    let c = ctx(TimeUnit::Milliseconds);
    let none: [&GroupInfo; 0] = [];
    let e = Enrichment {
        groups: Some(&none),
        is_admin: Some(false),
        has_mfa: Some(false),
    };
    let ev = to_value(&map_user(&u, &e, &c));
    assert_eq!(ev["user"]["has_mfa"], false);
    assert_eq!(ev["user"]["type_id"], 1);
    assert_eq!(ev["user"]["type"], "User");
    assert_eq!(ev["user"]["groups"], json!([]));
}

#[test]
fn status_drives_disabled_and_locked() {
    let c = ctx(TimeUnit::Milliseconds);
    let cases = [
        ("ACTIVE", false, false, true),
        ("PASSWORD_EXPIRED", false, false, true),
        ("RECOVERY", false, false, true),
        ("LOCKED_OUT", false, true, true),
        ("STAGED", true, false, false),
        ("PROVISIONED", true, false, false),
        ("SUSPENDED", true, false, false),
        ("DEPROVISIONED", true, false, false),
        ("ACTIVATING", true, false, false),
    ];
    for (status, disabled, locked, enabled) in cases {
        let u = user(json!({"id": "00u1", "status": status, "profile": {"login": "a"}}));
        let event = map_user(&u, &Enrichment::UNKNOWN, &c);
        assert_eq!(event.status(), status);
        let ev = to_value(&event);
        assert_eq!(ev["user"]["account"]["is_disabled"], disabled, "{status}");
        assert_eq!(ev["user"]["account"]["is_locked"], locked, "{status}");
        assert_eq!(ev["enrichments"][0]["value"], status);
        assert_eq!(
            ev["enrichments"][0]["data"]["is_enabled"], enabled,
            "{status}"
        );
    }
}

#[test]
fn blank_status_is_reported_as_unknown() {
    let u = user(json!({"id": "00u1", "status": "", "profile": {"login": "a"}}));
    let c = ctx(TimeUnit::Milliseconds);
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert_eq!(ev["enrichments"][0]["value"], "UNKNOWN");
    assert_eq!(ev["user"]["account"]["is_disabled"], true);
}

#[test]
fn invalid_emails_are_omitted_everywhere() {
    let c = ctx(TimeUnit::Milliseconds);
    for bad in [
        "not-an-email",
        "a@b",
        "a@@b.com",
        "a b@c.com",
        "ä@b.com",
        "a@b..com",
        ".a@b.com",
        "a,b@c.com",
        "a@-b.com",
        "a@b.com ",
        "<script>@x.com",
    ] {
        let u = user(json!({"id": "00u1", "status": "ACTIVE",
                            "profile": {"login": "a", "email": bad, "secondEmail": bad}}));
        let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
        assert!(ev["user"].get("email_addr").is_none(), "{bad}");
        assert!(ev["user"].get("domain").is_none(), "{bad}");
        assert!(ev["user"].get("ldap_person").is_none(), "{bad}");
    }
    // A valid second address is kept even when the first one is not.
    let u = user(json!({"id": "00u1", "status": "ACTIVE",
                        "profile": {"login": "a", "email": "bad", "secondEmail": "ok@x.org"}}));
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert!(ev["user"].get("email_addr").is_none());
    assert_eq!(
        ev["user"]["ldap_person"]["email_addrs"],
        json!(["ok@x.org"])
    );
    // The same address twice is listed once.
    let u = user(json!({"id": "00u1", "status": "ACTIVE",
                        "profile": {"login": "a", "email": "ok@x.org", "secondEmail": "ok@x.org"}}));
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert_eq!(
        ev["user"]["ldap_person"]["email_addrs"],
        json!(["ok@x.org"])
    );
}

#[test]
fn email_validator() {
    for good in [
        "a@b.co",
        "first.last+tag@sub.example.com",
        "x_y-z@a-b.io",
        "O'Brien@x.ie",
        "1@2.3",
    ] {
        assert!(is_valid_email(good), "{good}");
    }
    for bad in [
        "",
        "@b.co",
        "a@",
        "a@b",
        "a@.b.co",
        "a@b.co.",
        "a..b@c.co",
        "a.@b.co",
        "a@b_c.co",
        "é@b.co",
        "a@bé.co",
        "a b@c.co",
        "a@b.c o",
        "\"q\"@b.co",
    ] {
        assert!(!is_valid_email(bad), "{bad}");
    }
    assert!(!is_valid_email(&format!("{}@b.co", "a".repeat(65))));
    assert!(!is_valid_email(&format!("a@{}.co", "b".repeat(64))));
}

#[test]
fn full_name_rules() {
    let c = ctx(TimeUnit::Milliseconds);
    let cases: [(Value, Value, Option<&str>); 6] = [
        (json!("Ann"), json!("Lee"), Some("Ann Lee")),
        (json!("  Ann "), json!(" Lee  "), Some("Ann Lee")),
        (json!("Ann"), json!(null), Some("Ann")),
        (json!(null), json!("Lee"), Some("Lee")),
        (json!(" "), json!(""), None),
        (json!(null), json!(null), None),
    ];
    for (first, last, expected) in cases {
        let u = user(json!({"id": "00u1", "status": "ACTIVE",
                            "profile": {"login": "a", "firstName": first, "lastName": last}}));
        let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
        assert_eq!(
            ev["user"].get("full_name").and_then(Value::as_str),
            expected
        );
        assert_ne!(
            ev["user"].get("full_name").and_then(Value::as_str),
            Some("None")
        );
    }
}

#[test]
fn phone_falls_back_to_primary() {
    let c = ctx(TimeUnit::Milliseconds);
    let u = user(json!({"id": "00u1", "status": "ACTIVE",
                        "profile": {"login": "a", "mobilePhone": null, "primaryPhone": "+1 555"}}));
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert_eq!(ev["user"]["phone_number"], "+1 555");
}

#[test]
fn org_only_with_organization_and_manager_location_when_partial() {
    let c = ctx(TimeUnit::Milliseconds);
    let u = user(json!({"id": "00u1", "status": "ACTIVE",
                        "profile": {"login": "a", "division": "D", "manager": "Bob", "zipCode": "75001"}}));
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert!(ev["user"].get("org").is_none());
    assert_eq!(ev["user"]["ldap_person"]["manager"], json!({"name": "Bob"}));
    assert_eq!(
        ev["user"]["ldap_person"]["location"],
        json!({"postal_code": "75001"})
    );
    let u = user(json!({"id": "00u1", "status": "ACTIVE",
                        "profile": {"login": "a", "organization": "Acme"}}));
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert_eq!(ev["user"]["org"], json!({"name": "Acme"}));
}

#[test]
fn values_are_copied_verbatim() {
    let c = ctx(TimeUnit::Milliseconds);
    let long = "é".repeat(2000);
    let html = "<img src=x onerror=alert(1)>&amp;\"'";
    let u = user(json!({"id": "00u1", "status": "ACTIVE",
                        "profile": {"login": "a", "displayName": html, "title": long, "department": "日本語 🚀"}}));
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert_eq!(ev["user"]["display_name"], html);
    assert_eq!(ev["user"]["ldap_person"]["job_title"], long.as_str());
    assert_eq!(ev["user"]["ldap_person"]["department"], "日本語 🚀");
}

#[test]
fn missing_login_falls_back_to_id_for_required_names() {
    let c = ctx(TimeUnit::Milliseconds);
    let u = user(json!({"id": "00u1", "status": "ACTIVE", "profile": null}));
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert_eq!(ev["user"]["name"], "00u1");
    assert_eq!(ev["user"]["account"]["name"], "00u1");
    assert!(ev["user"].get("uid_alt").is_none());
    assert!(is_mappable(&u));
    let blank = user(json!({"id": " ", "status": "ACTIVE"}));
    assert!(!is_mappable(&blank));
}

#[test]
fn groups_without_name_use_the_id_and_unusable_groups_are_skipped() {
    let c = ctx(TimeUnit::Milliseconds);
    let u = rich_user();
    let gs = [
        GroupInfo {
            uid: "00g9".into(),
            group_type: "APP_GROUP".into(),
            ..GroupInfo::default()
        },
        GroupInfo::default(),
        GroupInfo {
            uid: "00g8".into(),
            name: Some("  ".into()),
            desc: Some(String::new()),
            group_type: String::new(),
            privileges: vec![String::new(), "Help Desk Administrator".into()],
        },
    ];
    let refs: Vec<&GroupInfo> = gs.iter().collect();
    let e = Enrichment {
        groups: Some(&refs),
        ..Enrichment::UNKNOWN
    };
    let ev = to_value(&map_user(&u, &e, &c));
    assert_no_empties("", &ev);
    assert_eq!(
        ev["user"]["groups"],
        json!([
            {"uid": "00g9", "name": "00g9", "type": "APP_GROUP"},
            {"uid": "00g8", "name": "00g8", "privileges": ["Help Desk Administrator"]},
        ])
    );
}

#[test]
fn implausible_timestamps_are_omitted() {
    let c = ctx(TimeUnit::Milliseconds);
    let u = user(
        json!({"id": "00u1", "status": "ACTIVE", "created": "1970-01-01T00:00:00Z",
                        "lastUpdated": "1999-01-01T00:00:00Z", "lastLogin": "1990-01-01T00:00:00Z",
                        "passwordChanged": "1980-01-01T00:00:00Z", "statusChanged": "1960-01-01T00:00:00Z",
                        "profile": {"login": "a"}}),
    );
    let ev = to_value(&map_user(&u, &Enrichment::UNKNOWN, &c));
    assert!(ev["user"].get("ldap_person").is_none());
    assert_eq!(ev["enrichments"][0]["data"], json!({"is_enabled": true}));
    assert_is_content_uid(ev["metadata"]["uid"].as_str().unwrap(), "00u1");
}

#[test]
fn deleted_user_event() {
    let c = ctx(TimeUnit::Seconds);
    let at: Timestamp = "2026-03-04T05:00:00Z".parse().unwrap();
    let event = map_deleted_user("00u1gone", Some("gone@acme.com"), at, &c);
    assert_eq!(event.user_uid(), "00u1gone");
    assert_eq!(event.status(), "DELETED");
    let ev = to_value(&event);
    assert_no_empties("", &ev);
    assert_eq!(ev["class_uid"], 5003);
    assert_eq!(ev["time"], 1772600767_i64);
    assert_eq!(
        ev["metadata"]["uid"],
        format!("00u1gone:deleted:{}", at.as_millisecond())
    );
    assert_eq!(
        ev["user"],
        json!({
            "uid": "00u1gone",
            "name": "gone@acme.com",
            "uid_alt": "gone@acme.com",
            "account": {"uid": "00u1gone", "name": "gone@acme.com", "type_id": 99, "type": "Other",
                        "is_disabled": true},
            "ldap_person": {"deleted_time": at.as_millisecond()},
        })
    );
    assert_eq!(
        ev["enrichments"],
        json!([{"name": "account", "value": "DELETED", "data": {"is_enabled": false}}])
    );
    // Without a login the id names the account.
    let ev = to_value(&map_deleted_user("00u1gone", None, at, &c));
    assert_eq!(ev["user"]["name"], "00u1gone");
    assert!(ev["user"].get("uid_alt").is_none());
}

#[test]
fn write_json_appends() {
    let u = rich_user();
    let c = ctx(TimeUnit::Milliseconds);
    let event = map_user(&u, &Enrichment::UNKNOWN, &c);
    let mut buf = b"[".to_vec();
    event.write_json(&mut buf);
    assert_eq!(&buf[1..], event.to_json_bytes().as_slice());
}

/// `{id}:` then 32 lowercase hex digits.
fn assert_is_content_uid(uid: &str, id: &str) {
    let fingerprint = uid
        .strip_prefix(id)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{uid} does not start with {id}:"));
    assert_eq!(fingerprint.len(), 32, "{uid}");
    assert!(
        fingerprint
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{uid}"
    );
}

#[test]
fn metadata_uid_is_stable_and_follows_record_and_enrichment() {
    let c = ctx(TimeUnit::Milliseconds);
    let uid = |u: &User, e: &Enrichment<'_>| {
        to_value(&map_user(u, e, &c))["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let u = rich_user();
    let gs = groups();
    let refs: Vec<&GroupInfo> = gs.iter().collect();
    let base = Enrichment {
        groups: Some(&refs),
        is_admin: Some(false),
        has_mfa: Some(true),
    };
    let first = uid(&u, &base);
    // Same content, same uid (also across time units and collection times).
    let later = MapContext {
        collected_at: "2027-01-01T00:00:00Z".parse().unwrap(),
        ..ctx(TimeUnit::Seconds)
    };
    assert_eq!(first, uid(&u, &base));
    assert_eq!(
        first,
        to_value(&map_user(&u, &base, &later))["metadata"]["uid"]
    );
    // Any change of the enrichment or of lastUpdated gives a new uid.
    let mut renamed = gs.clone();
    renamed[0].name = Some("Everybody".into());
    let renamed_refs: Vec<&GroupInfo> = renamed.iter().collect();
    let variants = [
        Enrichment {
            groups: Some(&refs[..1]),
            ..base
        },
        Enrichment {
            groups: None,
            ..base
        },
        Enrichment {
            groups: Some(&[]),
            ..base
        },
        Enrichment {
            groups: Some(&renamed_refs),
            ..base
        },
        Enrichment {
            is_admin: Some(true),
            ..base
        },
        Enrichment {
            is_admin: None,
            ..base
        },
        Enrichment {
            has_mfa: Some(false),
            ..base
        },
        Enrichment {
            has_mfa: None,
            ..base
        },
    ];
    let mut seen = std::collections::HashSet::from([first.clone()]);
    for v in &variants {
        assert!(seen.insert(uid(&u, v)), "{v:?} did not change metadata.uid");
    }
    let mut newer = u.clone();
    newer.last_updated = Some("2026-03-01T00:00:00Z".parse().unwrap());
    assert_ne!(first, uid(&newer, &base));
    // A second change inside the same second: Okta's `lastUpdated` is the same, the content
    // is not, and neither is the uid.
    let mut same_second = u.clone();
    same_second.profile.title = Some("Another title".into());
    assert_eq!(same_second.last_updated, u.last_updated);
    assert_ne!(first, uid(&same_second, &base));
    let mut status = u.clone();
    status.status = crate::okta::model::UserStatus::Suspended;
    assert_ne!(first, uid(&status, &base));
    // Another org, another uid.
    let other_org = MapContext {
        tenant_uid: "other.okta.com".into(),
        ..ctx(TimeUnit::Milliseconds)
    };
    assert_ne!(
        first,
        to_value(&map_user(&u, &base, &other_org))["metadata"]["uid"]
    );
}

#[test]
fn fingerprints_differ_for_any_single_byte_change() {
    let base: Vec<u8> = (0..200u8).collect();
    let first = super::event::fingerprint128(&base);
    let mut seen = std::collections::HashSet::from([first]);
    for i in 0..base.len() {
        let mut changed = base.clone();
        changed[i] ^= 0x01;
        assert!(
            seen.insert(super::event::fingerprint128(&changed)),
            "byte {i}"
        );
    }
    assert!(seen.insert(super::event::fingerprint128(&base[..199])));
    assert_eq!(first, super::event::fingerprint128(&base));
}
