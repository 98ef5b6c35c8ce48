//! The fake tenant speaks Okta's published contract: every answer of every endpoint the connector
//! reads (users list and search, user by id, user roles, factors and groups, groups with and
//! without `expand=stats`, group members and roles, the role assignee list, the System Log, and
//! Okta's error body) validates against the response schemas of Okta's management OpenAPI spec,
//! vendored and converted in `tests/fixtures/okta-spec/` (see its README).
//!
//! The spec's own errors, each confirmed in the spec and tolerated here (`tolerate`):
//! 1. `UserStatus` omits `ACTIVATING`, which its own description names as a status users have.
//! 2. `RoleType` omits `MOBILE_ADMIN`, a role type Okta returns (the "Mobile Administrator").
//! 3. `OktaUserGroupProfile.description` is not nullable; Okta returns `null` for a group
//!    without a description.
//! 4. No endpoint declares a 401, which every one returns for a bad token, with the `Error` body.
//! 5. The role and factor `oneOf`s overlap (a standard role also matches `CustomRole`; every
//!    factor matches several alternatives), so a plain `oneOf` rejects every valid answer: the
//!    conversion validates them by their discriminator, as OpenAPI defines it.
//!
//! The fake's own deliberate infidelity, tolerated (`DELIBERATE`): one generated user has
//! `profile.email` "not-an-email", which Okta's profile validation would refuse, so that the
//! connector is shown to survive it.
//!
//! What the fake sends beyond the spec and the test accepts: `hasAdminPrivilege` in
//! `_embedded.stats` next to the spec's `hasAdminPrivlege` property (real orgs send the former;
//! the schema allows other properties); the `signed_nonce` factor type (in the spec's enum, with
//! no schema of its own: checked against the common factor properties only).

use std::collections::BTreeMap;

use okta_fake::okta::okta_time;
use okta_fake::{Bucket, Churn, FakeOkta, FakeOptions, Org, OrgSpec};
use serde_json::{json, Value};

use crate::fake_okta::{client, get, get_with, urlencode};

const SPEC: &str = include_str!("../fixtures/okta-spec/management-subset.schema.json");

/// Violations the fake commits on purpose (see the module documentation).
const DELIBERATE: &[&str] = &["\"not-an-email\" is not a \"email\""];

/// The spec's `$defs` with the known errors above corrected.
fn defs() -> Value {
    let mut spec: Value = serde_json::from_str(SPEC).expect("the vendored schema is JSON");
    let mut defs = spec["$defs"].take();
    tolerate(&mut defs);
    defs
}

fn tolerate(defs: &mut Value) {
    // 1. ACTIVATING.
    push_enum(&mut defs["UserStatus"]["enum"], "ACTIVATING");
    // 2. MOBILE_ADMIN.
    push_enum(&mut defs["RoleType"]["enum"], "MOBILE_ADMIN");
    // 3. A null group description.
    defs["OktaUserGroupProfile"]["properties"]["description"]["type"] = json!(["string", "null"]);
}

fn push_enum(values: &mut Value, value: &str) {
    let values = values.as_array_mut().expect("an enum");
    assert!(
        !values.iter().any(|v| v == value),
        "the spec now has {value}: drop the tolerance"
    );
    values.push(json!(value));
}

struct Contract {
    defs: Value,
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl Contract {
    fn new() -> Contract {
        Contract {
            defs: defs(),
            validators: BTreeMap::new(),
        }
    }

    /// Every violation of `root`'s schema by `answer`, each with its JSON path.
    fn check(&mut self, root: &str, what: &str, answer: &Value) -> Vec<String> {
        let defs = &self.defs;
        let validator = self.validators.entry(root.to_string()).or_insert_with(|| {
            assert!(defs.get(root).is_some(), "no schema {root}");
            let schema = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$defs": defs,
                "$ref": format!("#/$defs/{root}"),
            });
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&schema)
                .expect("the schema compiles")
        });
        validator
            .iter_errors(answer)
            .map(|e| format!("{what} ({root}): {e} at {}", e.instance_path()))
            .filter(|problem| !DELIBERATE.iter().any(|d| problem.contains(d)))
            .collect()
    }
}

/// An org with every case the generator makes, a day of changes and an hour of sign-ins in
/// its log; virtual time stands still afterwards.
async fn busy_fake() -> FakeOkta {
    let mut org = Org::generate(&OrgSpec {
        group_only_admin_groups: 2,
        ..OrgSpec::small(240, 30, 31)
    });
    Churn::new(3).a_day(&mut org);
    let okta = FakeOkta::start(
        org,
        FakeOptions {
            signins_per_minute: 5.0,
            time_scale: 1e-9,
            ..FakeOptions::default()
        },
    )
    .await;
    okta.advance_clock(std::time::Duration::from_secs(3600));
    okta
}

/// Every page of `first` (Link-header paging), as one array.
async fn all_pages(okta: &FakeOkta, first: &str) -> Vec<Value> {
    let mut url = format!("{}{first}", okta.base_url());
    let mut pages = Vec::new();
    loop {
        assert!(pages.len() < 1000, "{first}: paging does not end");
        let r = get_with(&client(), &url, okta.token()).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let empty = r.body.as_array().is_some_and(Vec::is_empty);
        pages.push(r.body.clone());
        match r.next() {
            Some(next) if !empty => url = next,
            _ => return pages,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_the_connector_reads_matches_the_published_spec() {
    let okta = busy_fake().await;
    let mut contract = Contract::new();
    let mut problems = Vec::new();
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    let mut check = |contract: &mut Contract, root: &'static str, what: String, answer: &Value| {
        *checked.entry(root).or_default() += 1;
        problems.extend(contract.check(root, &what, answer));
    };

    // Users: the plain list, a search of every status, each by id and by login.
    for first in [
        "/api/v1/users?limit=50",
        &format!("/api/v1/users?search={}&limit=200", urlencode("status pr")),
    ] {
        for page in all_pages(&okta, first).await {
            check(&mut contract, "listUsers", first.to_string(), &page);
        }
    }
    let (users, groups) = okta.with_org(|o| {
        let users: Vec<(String, String)> = o
            .users()
            .iter()
            .map(|u| (u.id.clone(), u.login()))
            .collect();
        let groups: Vec<String> = o.groups().iter().map(|g| g.id.clone()).collect();
        (users, groups)
    });
    for (id, login) in users.iter().take(60) {
        for key in [id, login] {
            let r = get(&okta, &format!("/api/v1/users/{}", urlencode(key))).await;
            check(&mut contract, "getUser", format!("user {key}"), &r.body);
        }
    }
    // Every user's roles, factors and groups.
    for (id, _) in &users {
        let r = get(&okta, &format!("/api/v1/users/{id}/roles")).await;
        check(
            &mut contract,
            "listAssignedRolesForUser",
            format!("roles of {id}"),
            &r.body,
        );
        let r = get(&okta, &format!("/api/v1/users/{id}/factors")).await;
        check(
            &mut contract,
            "listFactors",
            format!("factors of {id}"),
            &r.body,
        );
    }
    for (id, _) in users.iter().take(40) {
        for page in all_pages(&okta, &format!("/api/v1/users/{id}/groups")).await {
            check(
                &mut contract,
                "listUserGroups",
                format!("groups of {id}"),
                &page,
            );
        }
    }
    // Groups, with and without stats; each group, its members and its roles.
    for first in [
        "/api/v1/groups?limit=7",
        "/api/v1/groups?expand=stats&limit=7",
    ] {
        for page in all_pages(&okta, first).await {
            check(&mut contract, "listGroups", first.to_string(), &page);
        }
    }
    for id in &groups {
        for expand in ["", "?expand=stats"] {
            let r = get(&okta, &format!("/api/v1/groups/{id}{expand}")).await;
            check(
                &mut contract,
                "getGroup",
                format!("group {id}{expand}"),
                &r.body,
            );
        }
        for page in all_pages(&okta, &format!("/api/v1/groups/{id}/users?limit=100")).await {
            check(
                &mut contract,
                "listGroupUsers",
                format!("members of {id}"),
                &page,
            );
        }
        let r = get(&okta, &format!("/api/v1/groups/{id}/roles")).await;
        check(
            &mut contract,
            "listGroupAssignedRoles",
            format!("roles of {id}"),
            &r.body,
        );
    }
    // The role assignee list (body-link paging).
    let mut url = format!("{}/api/v1/iam/assignees/users?limit=5", okta.base_url());
    loop {
        let r = get_with(&client(), &url, okta.token()).await;
        check(
            &mut contract,
            "listUsersWithRoleAssignments",
            url.clone(),
            &r.body,
        );
        match r.body["_links"]["next"]["href"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    // The System Log: a day of changes (made before the org was served, so published around
    // the end of the generated history) and an hour of sign-ins, polled and bounded.
    let since = okta_time(jiff::Timestamp::from_second(okta_fake::okta::HISTORY_END_S).unwrap());
    for first in [
        format!("/api/v1/logs?since={}&limit=200", urlencode(&since)),
        format!(
            "/api/v1/logs?since={}&until={}&sortOrder=DESCENDING&limit=1000",
            urlencode(&since),
            urlencode(&okta_time(okta.virtual_now()))
        ),
    ] {
        for page in all_pages(&okta, &first).await {
            check(&mut contract, "listLogEvents", first.clone(), &page);
        }
    }

    // Okta's error body, for every error the connector can meet (401s are undeclared: 4).
    let errors = async {
        let mut out: Vec<(String, Value)> = Vec::new();
        let r = get(&okta, "/api/v1/users/00unknownuser0000000").await;
        out.push(("404".into(), r.body));
        let r = get(
            &okta,
            &format!("/api/v1/users?search={}", urlencode("nonsense ^^")),
        )
        .await;
        out.push(("400 search".into(), r.body));
        let r = get(&okta, "/api/v1/logs?filter=bogus").await;
        out.push(("400 logs".into(), r.body));
        let r = get_with(
            &client(),
            &format!("{}/api/v1/users", okta.base_url()),
            "wrong",
        )
        .await;
        out.push(("401".into(), r.body));
        okta.set_forbidden(Bucket::Logs, true);
        let r = get(&okta, "/api/v1/logs").await;
        out.push(("403".into(), r.body));
        okta.set_forbidden(Bucket::Logs, false);
        okta.faults().fail_next(1, 429);
        let r = get(&okta, "/api/v1/groups").await;
        out.push(("429".into(), r.body));
        okta.faults().fail_next(1, 500);
        let r = get(&okta, "/api/v1/groups").await;
        out.push(("500".into(), r.body));
        out
    }
    .await;
    for (what, body) in &errors {
        assert!(body["errorCode"].is_string(), "{what}: {body}");
        check(&mut contract, "Error", format!("error {what}"), body);
    }

    assert!(
        problems.is_empty(),
        "{} violations:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // Every endpoint was exercised, and not trivially.
    for (root, at_least) in [
        ("listUsers", 3),
        ("getUser", 100),
        ("listAssignedRolesForUser", 200),
        ("listFactors", 200),
        ("listUserGroups", 40),
        ("listGroups", 8),
        ("getGroup", 50),
        ("listGroupUsers", 30),
        ("listGroupAssignedRoles", 30),
        ("listUsersWithRoleAssignments", 2),
        ("listLogEvents", 2),
        ("Error", 7),
    ] {
        let n = checked.get(root).copied().unwrap_or(0);
        assert!(n >= at_least, "{root}: {n} answers checked");
    }
}

/// The checks can fail: answers that break the contract are caught.
#[test]
fn the_contract_rejects_what_okta_would_not_send() {
    let mut contract = Contract::new();
    let user = json!([{"id": "00u1", "status": "HIBERNATING", "created": "yesterday"}]);
    assert!(!contract.check("listUsers", "bad user", &user).is_empty());
    let role = json!([{"id": "ra1", "type": "NOT_A_ROLE", "status": "ACTIVE"}]);
    assert!(!contract
        .check("listAssignedRolesForUser", "bad role", &role)
        .is_empty());
    let factor = json!([{"id": "mbl1", "factorType": "sms", "provider": "OKTA",
        "profile": {"phoneNumber": "+1 XXX-XXX-1337"}}]);
    assert!(!contract
        .check("listFactors", "masked phone", &factor)
        .is_empty());
    let event = json!([{"uuid": "u", "severity": "LOUD", "outcome": {"result": "MAYBE"}}]);
    assert!(!contract
        .check("listLogEvents", "bad event", &event)
        .is_empty());
    let group = json!({"id": "00g1", "type": "SOCIAL_GROUP", "profile": {"name": 3}});
    assert!(!contract.check("getGroup", "bad group", &group).is_empty());
    // The tolerances are there, and only them.
    let activating = json!([{"id": "00u1", "status": "ACTIVATING"}]);
    assert!(contract
        .check("listUsers", "activating", &activating)
        .is_empty());
    let mobile = json!([{"id": "ra1", "type": "MOBILE_ADMIN", "status": "ACTIVE"}]);
    assert!(contract
        .check("listAssignedRolesForUser", "mobile", &mobile)
        .is_empty());
}
