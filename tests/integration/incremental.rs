//! Incremental cycles against the fake tenant: after mutations, what the intake holds
//! equals what a fresh full sync produces; membership-only changes arrive; quiet cycles are cheap.

use crate::support;

use std::sync::Arc;

use okta_asset_connector::app;
use okta_asset_connector::clock::SystemClock;
use okta_asset_connector::config::Config;
use okta_fake::FakeIntake;
use okta_fake::{FakeOkta, FakeOptions, GroupType, Org, OrgSpec};
use serde_json::Value;
use support::connector::{
    config, differences, fresh_state_dir, is_deleted, latest_events, INTAKE_KEY,
};

async fn sync(config: &Config, full: bool) -> okta_asset_connector::sync::Summary {
    let (summary, result) = app::sync_once(config, None, full, Arc::new(SystemClock)).await;
    result.expect("cycle succeeds");
    summary.expect("a summary")
}

/// A fake org from `spec` and `options`, a fake intake, and a configuration for both with a
/// state directory of its own, adjusted by `tweak`.
async fn org_intake_config(
    spec: OrgSpec,
    options: FakeOptions,
    tweak: impl FnOnce(&mut okta_asset_connector::config::RawConfig),
) -> (FakeOkta, FakeIntake, Config) {
    let okta = FakeOkta::start(Org::generate(&spec), options).await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let state_dir = fresh_state_dir();
    let config = config(&okta, Some(&intake), |raw| {
        raw.state_dir = Some(state_dir);
        tweak(raw);
    });
    (okta, intake, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_cycles_converge_to_what_a_full_sync_sends() {
    let (okta, intake, config) = org_intake_config(
        OrgSpec::small(800, 30, 5),
        FakeOptions {
            // Today's connector learns of role-holding groups from the roles of the users the
            // assignee list names; pinned to the list that names group-only admins too.
            assignees_include_groups: true,
            ..FakeOptions::default()
        },
        |_| {},
    )
    .await;
    assert_eq!(
        sync(&config, false).await.kind,
        "full",
        "the first cycle is a full sync"
    );

    // A series of mutations, each in its own incremental cycle or together.
    let deleted = okta.with_org(|org| {
        let users: Vec<String> = org.users().iter().map(|u| u.id.clone()).collect();
        let groups: Vec<String> = org
            .groups()
            .iter()
            .filter(|g| g.group_type.as_str() == "OKTA_GROUP")
            .map(|g| g.id.clone())
            .collect();
        org.update_user_profile(&users[1], "title", "Chief Incremental Officer");
        org.update_user_profile(&users[2], "mobilePhone", Value::Null);
        org.set_user_status(&users[3], "DEPROVISIONED");
        org.set_user_status(&users[4], "SUSPENDED");
        org.add_member(&groups[0], &users[5]);
        let member = org.members_of(&groups[1])[0].to_string();
        org.remove_member(&groups[1], &member);
        org.rename_group(&groups[2], "Renamed group ünïcode");
        org.grant_user_role(&users[6], "READ_ONLY_ADMIN");
        org.grant_group_role(&groups[3], "HELP_DESK_ADMIN");
        let admin = org
            .users()
            .iter()
            .find(|u| !u.roles.is_empty())
            .map(|u| (u.id.clone(), u.roles[0].id.clone()))
            .unwrap();
        org.revoke_user_role(&admin.0, &admin.1);
        org.delete_user(&users[7]);
        org.create_user("new.person@example.com", "New", "Person", "ACTIVE");
        users[7].clone()
    });
    let summary = sync(&config, false).await;
    assert_eq!(summary.kind, "incremental");
    assert_eq!(summary.deleted, 1);
    // A second wave after the first incremental cycle.
    okta.with_org(|org| {
        let users: Vec<String> = org.users().iter().map(|u| u.id.clone()).collect();
        let group = org.first_group_of(GroupType::Okta).unwrap().id.clone();
        org.remove_member(&group, &users[5]);
        org.update_user_profile(&users[8], "department", "Moved");
    });
    assert_eq!(sync(&config, false).await.kind, "incremental");

    // A fresh full sync of the same org, with its own state and intake.
    let reference = FakeIntake::start(INTAKE_KEY).await;
    let fresh = support::connector::config(&okta, Some(&reference), |_| {});
    sync(&fresh, true).await;

    let incremental = latest_events(&intake);
    let expected = latest_events(&reference);
    for (id, event) in &expected {
        let got = incremental
            .get(id)
            .unwrap_or_else(|| panic!("user {id} never reached the intake"));
        let mut diff = Vec::new();
        differences("", got, event, &mut diff);
        assert!(
            diff.is_empty(),
            "user {id}: incremental state differs from a full sync:\n{}",
            diff.join("\n")
        );
    }
    for (id, event) in &incremental {
        if !expected.contains_key(id) {
            assert!(
                is_deleted(event),
                "user {id} is gone from Okta but was not sent as deleted"
            );
            assert_eq!(id, &deleted);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_change_alone_is_sent_by_the_next_incremental_cycle() {
    let (okta, intake, config) =
        org_intake_config(OrgSpec::small(300, 12, 9), FakeOptions::default(), |_| {}).await;
    sync(&config, false).await;

    let (group, user, last_updated_before) = okta.with_org(|org| {
        let group = org.first_group_of(GroupType::Okta).unwrap().id.clone();
        let user = org.first_non_member_of(&group).unwrap();
        (group, user.id.clone(), user.last_updated)
    });
    okta.with_org(|org| assert!(org.add_member(&group, &user)));
    assert_eq!(
        okta.with_org(|org| org.user(&user).unwrap().last_updated),
        last_updated_before
    );

    let before = intake.items_by_user()[&user].len();
    let summary = sync(&config, false).await;
    assert_eq!(summary.kind, "incremental");
    let events = &intake.items_by_user()[&user];
    assert_eq!(events.len(), before + 1, "the user was sent again");
    let groups: Vec<&str> = events.last().unwrap()["user"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["uid"].as_str().unwrap())
        .collect();
    assert!(
        groups.contains(&group.as_str()),
        "the new group is in the event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_incremental_cycle_costs_a_handful_of_requests() {
    let (okta, intake, config) = org_intake_config(
        OrgSpec::small(10_000, 100, 21),
        FakeOptions::default(),
        |raw| raw.enrich_mfa = Some(false),
    )
    .await;
    sync(&config, false).await;
    let delivered = intake.items().len();
    okta.reset_counters();
    let summary = sync(&config, false).await;
    assert_eq!(summary.kind, "incremental");
    let requests = okta.counters().total;
    eprintln!(
        "quiet incremental cycle on 10,000 users: {requests} Okta requests {:?}",
        okta.counters().per_endpoint
    );
    assert!(
        requests <= 10,
        "{requests} requests: {:?}",
        okta.counters().per_endpoint
    );
    assert_eq!(
        intake.items().len(),
        delivered,
        "nothing changed, nothing sent"
    );
}
