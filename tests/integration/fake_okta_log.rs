//! The fake tenant's System Log, group deletion, factor changes and random churn: the events each
//! mutation records, polling and bounded queries with a visibility lag, sign-in noise, the log's
//! own rate-limit bucket, and the seeded "day of changes".

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use okta_fake::okta::okta_time;
use okta_fake::{Bucket, Change, Churn, FakeOkta, FakeOptions, GroupType, Org, OrgSpec};
use serde_json::Value;

use crate::fake_okta::{client, get, get_with, urlencode, Resp};

/// Virtual time stands still unless a test advances it.
const FROZEN: f64 = 1e-9;

async fn frozen(spec: OrgSpec, tweak: impl FnOnce(&mut FakeOptions)) -> FakeOkta {
    let mut options = FakeOptions {
        time_scale: FROZEN,
        ..FakeOptions::default()
    };
    tweak(&mut options);
    FakeOkta::start(Org::generate(&spec), options).await
}

fn logs_since(okta: &FakeOkta, since: &str, extra: &str) -> String {
    format!(
        "{}/api/v1/logs?since={}{extra}",
        okta.base_url(),
        urlencode(since)
    )
}

/// Every event from `first`, following `next` until a page comes back empty.
async fn drain(okta: &FakeOkta, first: &str) -> (Vec<Value>, String) {
    let client = client();
    let mut url = first.to_string();
    let mut events = Vec::new();
    loop {
        let r = get_with(&client, &url, okta.token()).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let page = r.body.as_array().unwrap().clone();
        let next = r.next().expect("a polling answer always has a next link");
        if page.is_empty() {
            return (events, next);
        }
        events.extend(page);
        url = next;
    }
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap().to_string())
        .collect()
}

fn target_ids(event: &Value, kind: &str) -> Vec<String> {
    event["target"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == kind)
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_mutation_records_the_events_okta_records() {
    let okta = frozen(OrgSpec::small(80, 10, 4), |_| {}).await;
    let since = okta_time(okta.virtual_now());
    let step = |okta: &FakeOkta| okta.advance_clock(Duration::from_secs(1));
    let (user, other, group) = okta.with_org(|o| {
        let group = o
            .groups()
            .iter()
            .find(|g| g.group_type == GroupType::Okta && g.member_count() > 0)
            .unwrap()
            .id
            .clone();
        let members: HashSet<&str> = o.members_of(&group).into_iter().collect();
        let user = o
            .users()
            .iter()
            .find(|u| {
                u.status == "ACTIVE" && !members.contains(u.id.as_str()) && u.id != o.users()[0].id
            })
            .unwrap()
            .id
            .clone();
        let other = o.users()[5].id.clone();
        (user, other, group)
    });
    let mut expected: Vec<(&str, Vec<(&str, String)>)> = Vec::new();
    let act = |okta: &FakeOkta, f: &dyn Fn(&mut Org)| {
        okta.with_org(|o| f(o));
        step(okta);
    };
    act(&okta, &|o| o.update_user_profile(&user, "title", "Analyst"));
    expected.push(("user.account.update_profile", vec![("User", user.clone())]));
    act(&okta, &|o| o.set_user_status(&user, "SUSPENDED"));
    expected.push(("user.lifecycle.suspend", vec![("User", user.clone())]));
    act(&okta, &|o| o.set_user_status(&user, "ACTIVE"));
    expected.push(("user.lifecycle.unsuspend", vec![("User", user.clone())]));
    act(&okta, &|o| {
        o.add_member(&group, &user);
    });
    expected.push((
        "group.user_membership.add",
        vec![("User", user.clone()), ("UserGroup", group.clone())],
    ));
    act(&okta, &|o| {
        o.remove_member(&group, &user);
    });
    expected.push((
        "group.user_membership.remove",
        vec![("User", user.clone()), ("UserGroup", group.clone())],
    ));
    act(&okta, &|o| o.rename_group(&group, "Renamed"));
    expected.push(("group.profile.update", vec![("UserGroup", group.clone())]));
    act(&okta, &|o| {
        o.grant_user_role(&user, "USER_ADMIN");
    });
    expected.push(("user.account.privilege.grant", vec![("User", user.clone())]));
    act(&okta, &|o| {
        o.set_user_role_status(&user, "USER_ADMIN", "INACTIVE");
    });
    expected.push((
        "user.account.privilege.revoke",
        vec![("User", user.clone())],
    ));
    act(&okta, &|o| {
        o.revoke_user_role(&user, "USER_ADMIN");
    });
    expected.push((
        "user.account.privilege.revoke",
        vec![("User", user.clone())],
    ));
    act(&okta, &|o| {
        o.grant_group_role(&group, "HELP_DESK_ADMIN");
    });
    expected.push(("group.privilege.grant", vec![("UserGroup", group.clone())]));
    act(&okta, &|o| {
        o.revoke_group_role(&group, "HELP_DESK_ADMIN");
    });
    expected.push(("group.privilege.revoke", vec![("UserGroup", group.clone())]));
    act(&okta, &|o| {
        let factor = o.add_factor(&user, "push", "PENDING_ACTIVATION");
        o.activate_factor(&user, &factor);
        o.set_factor_status(&user, &factor, "INACTIVE");
        o.reset_factors(&user);
    });
    for t in [
        "user.mfa.factor.update",
        "user.mfa.factor.activate",
        "user.mfa.factor.deactivate",
        "user.mfa.factor.reset_all",
    ] {
        expected.push((t, vec![("User", user.clone())]));
    }
    act(&okta, &|o| o.set_user_status(&other, "DEPROVISIONED"));
    act(&okta, &|o| o.delete_user(&other));
    expected.push(("user.lifecycle.deactivate", vec![("User", other.clone())]));
    expected.push((
        "user.lifecycle.delete.initiated",
        vec![("User", other.clone())],
    ));
    expected.push((
        "user.lifecycle.delete.completed",
        vec![("User", other.clone())],
    ));
    let new_group = okta.with_org(|o| o.create_group("Fresh", None));
    step(&okta);
    okta.with_org(|o| o.delete_group(&new_group));
    step(&okta);
    expected.push((
        "group.lifecycle.create",
        vec![("UserGroup", new_group.clone())],
    ));
    expected.push((
        "group.lifecycle.delete",
        vec![("UserGroup", new_group.clone())],
    ));
    let new_user = okta.with_org(|o| o.create_user("fresh@example.com", "F", "R", "ACTIVE"));
    expected.push(("user.lifecycle.create", vec![("User", new_user.clone())]));
    expected.push(("user.lifecycle.activate", vec![("User", new_user.clone())]));

    let (events, _) = drain(&okta, &logs_since(&okta, &since, "")).await;
    let got: Vec<(String, Vec<(String, String)>)> = events
        .iter()
        .map(|e| {
            let targets = e["target"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["type"].as_str().unwrap().to_string(),
                        t["id"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (e["eventType"].as_str().unwrap().to_string(), targets)
        })
        .collect();
    let expected: Vec<(String, Vec<(String, String)>)> = expected
        .into_iter()
        .map(|(t, targets)| {
            (
                t.to_string(),
                targets
                    .into_iter()
                    .map(|(k, id)| (k.to_string(), id))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Every event names its actor (the super admin) and a unique uuid; published is Okta's format.
    let uuids: HashSet<&str> = events.iter().map(|e| e["uuid"].as_str().unwrap()).collect();
    assert_eq!(uuids.len(), events.len());
    let admin = okta.with_org(|o| o.users()[0].id.clone());
    for e in &events {
        assert_eq!(e["actor"]["id"], admin.as_str());
        assert_eq!(e["actor"]["type"], "User");
        assert_eq!(e["outcome"]["result"], "SUCCESS");
        assert_eq!(e["version"], "0");
        assert_eq!(e["published"].as_str().unwrap().len(), 24);
        assert!(e["displayMessage"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let grant = events
        .iter()
        .find(|e| e["eventType"] == "user.account.privilege.grant")
        .unwrap();
    assert_eq!(
        grant["debugContext"]["debugData"]["privilegeGranted"],
        "User Administrator"
    );
}

#[tokio::test]
async fn polling_follows_persistence_time_and_misses_no_late_event() {
    let lag = 10_000;
    let okta = frozen(OrgSpec::small(60, 6, 12), |o| o.log_lag_ms = lag).await;
    let since = okta_time(okta.virtual_now());
    let users: Vec<String> =
        okta.with_org(|o| o.users()[1..31].iter().map(|u| u.id.clone()).collect());

    // One change a second for 30 s, polled every 3 s, both ways:
    // - following the polling `next` link;
    // - naively, with a bounded query from the last `published` seen.
    let mut polled: Vec<Value> = Vec::new();
    let mut next = logs_since(&okta, &since, "&limit=7");
    let mut naive: Vec<Value> = Vec::new();
    let mut naive_since = since.clone();
    for (i, user) in users.iter().enumerate() {
        okta.with_org(|o| o.update_user_profile(user, "title", format!("t{i}")));
        okta.advance_clock(Duration::from_secs(1));
        if i % 3 == 2 {
            let (page, resume) = drain(&okta, &next).await;
            polled.extend(page);
            next = resume;
            let until = okta_time(okta.virtual_now());
            let url = format!(
                "{}/api/v1/logs?since={}&until={}&limit=1000",
                okta.base_url(),
                urlencode(&naive_since),
                urlencode(&until)
            );
            let r = get_with(&client(), &url, okta.token()).await;
            assert_eq!(r.status, 200);
            assert!(r.next().is_none(), "a bounded answer that fits has no next");
            let page = r.body.as_array().unwrap().clone();
            if let Some(last) = page.last() {
                // The naive cursor: strictly after the last published time seen.
                let t: jiff::Timestamp = last["published"].as_str().unwrap().parse().unwrap();
                naive_since = okta_time(t + Duration::from_millis(1));
            }
            naive.extend(page);
        }
    }
    // Let every event become visible, then drain both once more.
    okta.advance_clock(Duration::from_millis(lag + 1));
    let (page, _) = drain(&okta, &next).await;
    polled.extend(page);
    let url = format!(
        "{}/api/v1/logs?since={}&until={}",
        okta.base_url(),
        urlencode(&naive_since),
        urlencode(&okta_time(okta.virtual_now()))
    );
    naive.extend(
        get(&okta, url.trim_start_matches(&okta.base_url()))
            .await
            .body
            .as_array()
            .unwrap()
            .clone(),
    );

    let ids = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["uuid"].as_str().unwrap().to_string())
            .collect()
    };
    let polled_ids = ids(&polled);
    let unique: BTreeSet<&String> = polled_ids.iter().collect();
    assert_eq!(
        polled_ids.len(),
        30,
        "every event once: {:?}",
        types(&polled)
    );
    assert_eq!(unique.len(), 30);
    // Polling serves persistence order, which is not published order with a lag.
    let published: Vec<&str> = polled
        .iter()
        .map(|e| e["published"].as_str().unwrap())
        .collect();
    let mut sorted = published.clone();
    sorted.sort();
    assert_ne!(published, sorted, "the lag reorders events");
    // The naive client loses the late ones.
    assert!(naive.len() < 30, "naive cursor saw {} of 30", naive.len());
}

#[tokio::test]
async fn polling_answers_always_carry_a_next_link_even_when_empty() {
    let okta = frozen(OrgSpec::small(20, 3, 1), |_| {}).await;
    let since = okta_time(okta.virtual_now());
    let r = get(&okta, &format!("/api/v1/logs?since={}", urlencode(&since))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, Value::Array(vec![]));
    let next = r.next().expect("next on an empty polling page");
    // Nothing new: the next link answers empty again, with a next link again.
    let r = get_with(&client(), &next, okta.token()).await;
    assert!(r.body.as_array().unwrap().is_empty());
    let again = r.next().unwrap();
    // Something new: the same link now has it.
    let user = okta.with_org(|o| o.users()[2].id.clone());
    okta.with_org(|o| o.update_user_profile(&user, "title", "New"));
    let r = get_with(&client(), &again, okta.token()).await;
    assert_eq!(
        types(r.body.as_array().unwrap()),
        ["user.account.update_profile"]
    );
    assert!(r.next().is_some());
    // A bounded query that fits in one page has no next link.
    let until = okta_time(okta.virtual_now() + Duration::from_secs(1));
    let r = get(
        &okta,
        &format!(
            "/api/v1/logs?since={}&until={}",
            urlencode(&since),
            urlencode(&until)
        ),
    )
    .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert!(r.next().is_none());
}

async fn log_status(okta: &FakeOkta, query: &str) -> Resp {
    get(okta, &format!("/api/v1/logs?{query}")).await
}

#[tokio::test]
async fn log_queries_filter_sort_limit_and_refuse_what_they_cannot_read() {
    let okta = frozen(OrgSpec::small(40, 6, 2), |_| {}).await;
    let since = urlencode(&okta_time(okta.virtual_now()));
    let (a, b, group) = okta.with_org(|o| {
        let g = o
            .groups()
            .iter()
            .find(|g| g.group_type == GroupType::Okta)
            .unwrap()
            .id
            .clone();
        (o.users()[1].id.clone(), o.users()[2].id.clone(), g)
    });
    for (i, user) in [&a, &b, &a].into_iter().enumerate() {
        okta.with_org(|o| o.update_user_profile(user, "title", format!("v{i}")));
        okta.advance_clock(Duration::from_secs(1));
    }
    okta.with_org(|o| o.rename_group(&group, "Renamed"));
    okta.advance_clock(Duration::from_secs(1));
    okta.with_org(|o| {
        o.add_member(&group, &a);
    });
    okta.advance_clock(Duration::from_secs(1));

    let filter = |f: &str| format!("since={since}&filter={}", urlencode(f));
    let r = log_status(
        &okta,
        &filter(
            r#"eventType eq "group.profile.update" or eventType eq "group.user_membership.add""#,
        ),
    )
    .await;
    assert_eq!(
        types(r.body.as_array().unwrap()),
        ["group.profile.update", "group.user_membership.add"]
    );
    let r = log_status(&okta, &filter(r#"eventType sw "group.""#)).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = log_status(
        &okta,
        &filter(r#"eventType eq "user.account.update_profile""#),
    )
    .await;
    assert_eq!(r.body.as_array().unwrap().len(), 3);
    // q: every keyword, case-insensitively, in the type, message, or a target's names.
    let login_b = okta.with_org(|o| o.user(&b).unwrap().login());
    let r = log_status(
        &okta,
        &format!("since={since}&q={}", urlencode(&login_b.to_uppercase())),
    )
    .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(target_ids(&r.body[0], "User"), std::slice::from_ref(&b));

    // Bounded, newest first, two a page.
    let until = urlencode(&okta_time(okta.virtual_now()));
    let r = log_status(
        &okta,
        &format!("since={since}&until={until}&sortOrder=DESCENDING&limit=2"),
    )
    .await;
    assert_eq!(
        types(r.body.as_array().unwrap()),
        ["group.user_membership.add", "group.profile.update"]
    );
    let next = r.next().unwrap();
    let r = get_with(&client(), &next, okta.token()).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = get_with(&client(), &r.next().unwrap(), okta.token()).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert!(r.next().is_none());

    // What the fake cannot read: a 400 naming the parameter, with the reason.
    for (query, param) in [
        (filter("displayMessage eq \"x\""), "filter"),
        (filter("eventType eq"), "filter"),
        (format!("since={since}&limit=1001"), "limit"),
        (format!("since={since}&limit=-1"), "limit"),
        ("since=yesterday".to_string(), "since"),
        (format!("since={since}&sortOrder=RANDOM"), "sortOrder"),
        (format!("since={since}&after=bogus"), "after"),
    ] {
        let r = log_status(&okta, &query).await;
        assert_eq!((r.status, r.error_code()), (400, "E0000001"), "{query}");
        assert_eq!(
            r.body["errorSummary"],
            format!("Api validation failed: {param}"),
            "{query}"
        );
        assert!(
            r.body["errorCauses"][0]["errorSummary"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "{query}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn the_system_log_has_its_own_rate_limit_bucket() {
    let okta = frozen(OrgSpec::small(20, 3, 3), |o| {
        o.rate_limits.insert(Bucket::Logs, 2);
    })
    .await;
    for expected in [200, 200, 429] {
        let r = get(&okta, "/api/v1/logs").await;
        assert_eq!(r.status, expected);
        assert_eq!(r.header("x-rate-limit-limit"), Some("2"));
    }
    assert_eq!(get(&okta, "/api/v1/users").await.status, 200);
    let counters = okta.counters();
    assert_eq!(counters.bucket(Bucket::Logs), 3);
    assert_eq!(counters.endpoint("GET /api/v1/logs"), 3);
}

#[tokio::test]
async fn sign_in_noise_arrives_at_the_configured_rate() {
    let okta = frozen(OrgSpec::small(50, 4, 6), |o| o.signins_per_minute = 60.0).await;
    let since = okta_time(okta.virtual_now());
    okta.advance_clock(Duration::from_secs(600));
    let (events, _) = drain(&okta, &logs_since(&okta, &since, "&limit=1000")).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in types(&events) {
        *counts.entry(t).or_default() += 1;
    }
    let sign_ins = counts["user.session.start"];
    assert!((450..=750).contains(&sign_ins), "{counts:?}");
    assert_eq!(counts["policy.evaluate_sign_on"], sign_ins);
    assert_eq!(counts["user.authentication.sso"], sign_ins);
    assert_eq!(counts.len(), 3, "{counts:?}");
    // Each by an ACTIVE user; a filter on change types leaves them all out.
    let active: HashSet<String> = okta.with_org(|o| {
        o.users()
            .iter()
            .filter(|u| u.status == "ACTIVE")
            .map(|u| u.id.clone())
            .collect()
    });
    assert!(events
        .iter()
        .all(|e| active.contains(e["actor"]["id"].as_str().unwrap())));
    let changes = logs_since(
        &okta,
        &since,
        &format!(
            "&filter={}",
            urlencode(r#"eventType sw "user.lifecycle" or eventType sw "group.""#)
        ),
    );
    assert!(drain(&okta, &changes).await.0.is_empty());
}

#[tokio::test]
async fn a_deleted_group_is_gone_with_its_roles() {
    let okta = frozen(OrgSpec::small(200, 20, 14), |_| {}).await;
    let (group, members, before) = okta.with_org(|o| {
        let g = o
            .groups()
            .iter()
            .find(|g| g.group_type == GroupType::Okta && !g.roles.is_empty())
            .unwrap();
        let members: Vec<String> = o.members_of(&g.id).iter().map(|s| s.to_string()).collect();
        let before: Vec<_> = members
            .iter()
            .map(|m| o.user(m).unwrap().last_updated)
            .collect();
        (g.id.clone(), members, before)
    });
    assert!(!members.is_empty());
    okta.with_org(|o| o.delete_group(&group));
    for path in ["", "/users", "/roles"] {
        let r = get(&okta, &format!("/api/v1/groups/{group}{path}")).await;
        assert_eq!((r.status, r.error_code()), (404, "E0000007"), "{path}");
    }
    let listed = crate::fake_okta::collect_ids(&okta, "/api/v1/groups")
        .await
        .0;
    assert!(!listed.contains(&group));
    for (member, lu) in members.iter().zip(before) {
        let r = get(&okta, &format!("/api/v1/users/{member}/groups")).await;
        assert!(r
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["id"] != group.as_str()));
        let r = get(&okta, &format!("/api/v1/users/{member}/roles")).await;
        assert!(r.body.as_array().unwrap().iter().all(|role| {
            !role["_links"]["assignee"]["href"]
                .as_str()
                .unwrap()
                .ends_with(&group)
        }));
        assert_eq!(okta.with_org(|o| o.user(member).unwrap().last_updated), lu);
    }
    // Group indices stay right after the removal: every user's groups list their members.
    okta.with_org(|o| {
        for u in o.users() {
            for g in o.groups_of(&u.id) {
                assert!(o.members_of(&g.id).contains(&u.id.as_str()));
            }
        }
    });
}

#[tokio::test]
async fn churn_makes_every_kind_of_change_and_says_what_it_did() {
    let spec = OrgSpec::small(300, 20, 77);
    let run = |seed: u64| {
        let mut org = Org::generate(&spec);
        let mut churn = Churn::new(seed);
        let every = churn.every_kind(&mut org);
        let day = churn.a_day(&mut org);
        (org, every, day)
    };
    let (org, every, day) = run(5);
    let kinds: Vec<&str> = every.iter().map(Change::kind).collect();
    assert_eq!(
        kinds,
        [
            "profile",
            "status",
            "create_user",
            "delete_user",
            "add_member",
            "remove_member",
            "rename_group",
            "create_group",
            "delete_group",
            "grant_user_role",
            "revoke_user_role",
            "user_role_status",
            "grant_group_role",
            "revoke_group_role",
            "group_role_status",
            "activate_factor",
            "reset_factors",
            "same_second",
        ]
    );
    assert!(day.len() >= 100);
    // Same seed, same org: same changes. Another seed: others.
    let (_, every_again, day_again) = run(5);
    assert_eq!((every_again, day_again), (every.clone(), day.clone()));
    assert_ne!(run(6).2, day);
    // What it says it did is what happened.
    for change in every.iter().chain(&day) {
        match change {
            Change::DeleteUser { user } => assert!(org.user(user).is_none()),
            Change::DeleteGroup { group, .. } => assert!(org.group(group).is_none()),
            Change::SameSecond { user, changes } if org.user(user).is_some() => {
                assert!(changes.len() >= 2);
            }
            _ => {}
        }
    }
    let deleted_users = every
        .iter()
        .chain(&day)
        .filter(|c| matches!(c, Change::DeleteUser { .. }))
        .count();
    assert_eq!(
        org.log().of_type("user.lifecycle.delete.completed").count(),
        deleted_users
    );
    let same_second = every.iter().find_map(|c| match c {
        Change::SameSecond { user, .. } => Some(user.clone()),
        _ => None,
    });
    let user = same_second.unwrap();
    let events: Vec<_> = org
        .log()
        .events()
        .iter()
        .filter(|e| e.targets_id(&user))
        .collect();
    assert!(events.len() >= 2);
}

#[tokio::test]
async fn churn_changes_a_served_org_while_it_runs() {
    let okta = FakeOkta::start(
        Org::generate(&OrgSpec::small(100, 8, 3)),
        FakeOptions {
            time_scale: 60.0,
            churn_per_minute: 600.0,
            churn_seed: 9,
            ..FakeOptions::default()
        },
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while okta.churned().len() < 5 {
        assert!(std::time::Instant::now() < deadline, "no churn");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logged = okta.with_org(|o| o.log().events().len());
    assert!(
        logged >= 5,
        "{logged} events for {} changes",
        okta.churned().len()
    );
}
