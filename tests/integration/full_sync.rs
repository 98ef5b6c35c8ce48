//! Full sync end to end against the fake tenant and the fake intake.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use okta_asset_connector::app;
use okta_asset_connector::clock::{ManualClock, SystemClock};
use okta_fake::FakeIntake;
use okta_fake::{Bucket, FakeOkta, FakeOptions, Org, OrgSpec};
use serde_json::Value;
use support::connector::{config, INTAKE_KEY};

async fn fakes(spec: &OrgSpec) -> (FakeOkta, FakeIntake) {
    let okta = FakeOkta::start(
        Org::generate(spec),
        FakeOptions {
            // Today's connector learns of role-holding groups from the roles of the users the
            // assignee list names; pinned to the list that names group-only admins too.
            assignees_include_groups: true,
            ..FakeOptions::default()
        },
    )
    .await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    (okta, intake)
}

fn by_user(intake: &FakeIntake) -> BTreeMap<String, Vec<Value>> {
    intake.items_by_user()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_arrives_once_with_correct_enrichment_and_valid_ocsf() {
    let spec = OrgSpec::small(3000, 60, 42);
    let (okta, intake) = fakes(&spec).await;
    let config = config(&okta, Some(&intake), |_| {});
    let (summary, result) = app::sync_once(&config, None, true, Arc::new(SystemClock)).await;
    result.expect("sync succeeds");
    let summary = summary.unwrap();

    let events = by_user(&intake);
    okta.with_org(|org| {
        // Every user, DEPROVISIONED included, exactly once.
        let expected: BTreeSet<&str> = org.users().iter().map(|u| u.id.as_str()).collect();
        let got: BTreeSet<&str> = events.keys().map(String::as_str).collect();
        assert_eq!(got, expected);
        for (id, items) in &events {
            assert_eq!(items.len(), 1, "user {id} delivered {} times", items.len());
        }
        let statuses: BTreeSet<&str> = org.users().iter().map(|u| u.status.as_str()).collect();
        for status in [
            "DEPROVISIONED",
            "STAGED",
            "SUSPENDED",
            "LOCKED_OUT",
            "ACTIVATING",
        ] {
            assert!(
                statuses.contains(status),
                "the seeded org has {status} users"
            );
        }
        assert_eq!(summary.users, org.users().len() as u64);

        for user in org.users() {
            let event = &events[&user.id][0];
            if let Err(errors) = support::ocsf::validate_event(event) {
                panic!(
                    "event of {} does not validate: {errors:#?}\n{event:#}",
                    user.id
                );
            }
            // Status and account state.
            assert_eq!(event["enrichments"][0]["value"], user.status.as_str());
            let disabled = !matches!(
                user.status.as_str(),
                "ACTIVE" | "PASSWORD_EXPIRED" | "RECOVERY" | "LOCKED_OUT"
            );
            assert_eq!(
                event["user"]["account"]["is_disabled"], disabled,
                "{}",
                user.id
            );
            // Groups: exactly the user's groups, with their privileges.
            let expected_groups: BTreeMap<&str, BTreeSet<&str>> = org
                .groups_of(&user.id)
                .iter()
                .map(|g| {
                    let labels = g
                        .roles
                        .iter()
                        .filter(|r| r.status == "ACTIVE")
                        .map(|r| r.label.as_str())
                        .collect();
                    (g.id.as_str(), labels)
                })
                .collect();
            let got_groups: BTreeMap<&str, BTreeSet<&str>> = event["user"]["groups"]
                .as_array()
                .map(|groups| {
                    groups
                        .iter()
                        .map(|g| {
                            let labels = g["privileges"]
                                .as_array()
                                .map(|p| p.iter().filter_map(Value::as_str).collect())
                                .unwrap_or_default();
                            (g["uid"].as_str().unwrap(), labels)
                        })
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(got_groups, expected_groups, "groups of {}", user.id);
            // Admin type from direct and group roles.
            let expected_type = if org.is_admin(&user.id) { 2 } else { 1 };
            assert_eq!(
                event["user"]["type_id"], expected_type,
                "type of {}",
                user.id
            );
            // MFA: at least one ACTIVE factor.
            assert_eq!(
                event["user"]["has_mfa"],
                org.active_factor_count(&user.id) > 0,
                "has_mfa of {}",
                user.id
            );
        }
        // The admin population covers both paths: direct roles and roles through a group.
        let via_group_only = org
            .users()
            .iter()
            .filter(|u| org.is_admin(&u.id) && u.roles.is_empty())
            .count();
        assert!(
            via_group_only > 0,
            "the org has admins through a group only"
        );
    });
    assert!(
        intake.accepted_batches() >= 30,
        "3000 users in batches of 100"
    );
    assert_eq!(intake.rejected(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_count_is_within_five_percent_of_the_bulk_minimum() {
    for (mfa, roles) in [(true, true), (false, true), (false, false)] {
        let spec = OrgSpec::small(2000, 40, 7);
        let (okta, intake) = fakes(&spec).await;
        let config = config(&okta, Some(&intake), |raw| {
            raw.enrich_mfa = Some(mfa);
            raw.enrich_roles = Some(roles);
        });
        let (summary, result) = app::sync_once(&config, None, true, Arc::new(SystemClock)).await;
        result.expect("sync succeeds");
        let minimum = okta.bulk_minimum(mfa, roles);
        let counted = okta.counters().total;
        assert_eq!(
            summary.unwrap().okta_requests_total,
            counted,
            "client and server agree"
        );
        assert!(
            counted as f64 <= minimum as f64 * 1.05,
            "mfa={mfa} roles={roles}: {counted} requests for a minimum of {minimum}"
        );
        assert!(
            counted >= minimum,
            "mfa={mfa} roles={roles}: {counted} < minimum {minimum}?"
        );
        if !mfa {
            assert_eq!(
                okta.counters()
                    .per_endpoint
                    .get("GET /api/v1/users/{id}/factors"),
                None
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_failures_are_unknown_not_false() {
    let spec = OrgSpec::small(600, 20, 11);
    let (okta, intake) = fakes(&spec).await;
    okta.set_forbidden(Bucket::Iam, true);
    // Factors of three users keep failing (beyond the client's retries); the others answer.
    let failing: Vec<String> = okta.with_org(|org| {
        org.users()
            .iter()
            .step_by(150)
            .map(|u| u.id.clone())
            .collect()
    });
    for id in &failing {
        okta.faults()
            .fail_path_contains(&format!("/users/{id}/factors"), 500, None);
    }
    let config = config(&okta, Some(&intake), |_| {});
    // Retry backoff sleeps are instant on a manual clock.
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let (summary, result) = app::sync_once(&config, None, true, clock).await;
    result.expect("the sync completes despite enrichment failures");
    let summary = summary.unwrap();
    assert!(
        summary.warnings.get("roles").copied().unwrap_or(0) >= 1,
        "{:?}",
        summary.warnings
    );
    assert!(
        summary.warnings.get("factors").copied().unwrap_or(0) >= 1,
        "{:?}",
        summary.warnings
    );
    let events = by_user(&intake);
    assert_eq!(events.len(), 600);
    let mut unknown_mfa = 0;
    okta.with_org(|org| {
        // Group roles are readable (the groups bucket was fine): members of a group holding an
        // active role are admins whatever the unreadable assignee list would have said; for
        // everyone else admin status is unknown, never "not admin".
        let through_groups = |id: &str| {
            org.groups_of(id)
                .iter()
                .any(|g| g.roles.iter().any(|r| r.status == "ACTIVE"))
        };
        let admins = org.users().iter().filter(|u| through_groups(&u.id)).count() as u64;
        assert!(admins > 0, "the org has group-held roles");
        assert_eq!(summary.admins, admins);
        assert_eq!(summary.admin_unknown, summary.users - admins);
        for (id, items) in &events {
            let user = &items[0]["user"];
            if through_groups(id) {
                assert_eq!(user["type_id"], 2, "{id} is an admin through a group");
            } else {
                assert!(
                    user.get("type_id").is_none(),
                    "admin status must be omitted when roles are unreadable"
                );
                assert!(user.get("type").is_none());
            }
            match user.get("has_mfa") {
                None => unknown_mfa += 1,
                Some(value) => assert_eq!(*value, org.active_factor_count(id) > 0, "{id}"),
            }
            // Groups still arrive (their bucket was fine).
            assert_eq!(
                user["groups"].as_array().map_or(0, Vec::len),
                org.groups_of(id).len()
            );
        }
    });
    assert_eq!(
        unknown_mfa,
        failing.len(),
        "exactly the users whose factor calls failed"
    );
    assert_eq!(unknown_mfa as u64, summary.mfa_unknown);
    for id in &failing {
        assert!(
            events[id][0]["user"].get("has_mfa").is_none(),
            "{id}: unknown, not false"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_file_holds_exactly_the_bodies_that_would_be_posted() {
    let spec = OrgSpec::small(250, 8, 3);
    let (okta, _intake) = fakes(&spec).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    let config = config(&okta, None, |raw| raw.batch_size = Some(100));
    let (summary, result) = app::sync_once(
        &config,
        Some(path.to_str().unwrap()),
        true,
        Arc::new(SystemClock),
    )
    .await;
    result.unwrap();
    assert_eq!(summary.unwrap().batches, 3);
    let text = std::fs::read_to_string(&path).unwrap();
    let bodies: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(bodies.len(), 3);
    let mut ids = BTreeSet::new();
    for body in &bodies {
        assert_eq!(body["version"], 1);
        for item in body["items"].as_array().unwrap() {
            support::ocsf::validate_event(item).unwrap();
            assert!(ids.insert(item["user"]["uid"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(ids.len(), 250);
    assert!(
        !text.contains(okta.token()),
        "the token never reaches the output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_members_cannot_be_read_omits_groups_and_commits_no_state() {
    let spec = OrgSpec::small(300, 12, 17);
    let (okta, intake) = fakes(&spec).await;
    let group = okta.with_org(|org| org.groups()[3].id.clone());
    okta.faults()
        .fail_path_contains(&format!("/groups/{group}/users"), 500, None);
    let state_dir = support::connector::fresh_state_dir();
    let config = config(&okta, Some(&intake), |raw| {
        raw.state_dir = Some(state_dir.clone())
    });
    let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let (summary, result) = app::sync_once(&config, None, true, clock).await;
    result.expect("the sync completes");
    assert!(summary.unwrap().warnings.contains_key("group_members"));
    for (id, events) in by_user(&intake) {
        assert!(
            events[0]["user"].get("groups").is_none(),
            "{id}: groups are unknown, not an incomplete list"
        );
    }
    // Incremental cycles must not diff against a snapshot missing a group.
    let state =
        okta_asset_connector::state::StateStore::open(&state_dir, config.okta_origin.as_str())
            .unwrap();
    assert_eq!(
        state.cursors().unwrap(),
        Default::default(),
        "nothing committed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reports_every_phase_with_totals() {
    use okta_asset_connector::progress::{Phase, Progress};
    use okta_asset_connector::state::StateStore;
    use okta_asset_connector::sync::{self, Cycle, Shutdown};

    let (okta, intake) = fakes(&OrgSpec::small(500, 12, 23)).await;
    let config = config(&okta, Some(&intake), |_| {});
    let clock: okta_asset_connector::clock::SharedClock =
        Arc::new(ManualClock::new(jiff::Timestamp::now()));
    let client = app::okta_client(&config, clock.clone()).unwrap();
    let options = app::sync_options(&config);
    let progress = Progress::new();
    let cycle = Cycle {
        client: &client,
        options: &options,
        clock: clock.clone(),
        shutdown: Shutdown::never(),
        progress: progress.clone(),
    };
    let sink = app::sink(&config, None, clock).unwrap();
    let mut state = StateStore::open(&config.state_dir, config.okta_origin.as_str()).unwrap();
    let (summary, result) = sync::run_cycle(&cycle, sink, Some(&mut state), false).await;
    result.expect("the sync succeeds");
    let snapshot = progress.snapshot();
    let (users, groups) =
        okta.with_org(|org| (org.users().len() as u64, org.groups().len() as u64));
    let phase = |p: Phase| {
        *snapshot
            .get(p)
            .unwrap_or_else(|| panic!("{p:?} never began"))
    };
    assert_eq!(phase(Phase::Groups).done, groups);
    assert_eq!(
        (phase(Phase::Members).done, phase(Phase::Members).total),
        (groups, Some(groups))
    );
    // The user total comes from Everyone's `usersCount`, before the users are listed.
    assert_eq!(
        (phase(Phase::Users).done, phase(Phase::Users).total),
        (users, Some(users))
    );
    assert_eq!(phase(Phase::Mfa).done, users);
    assert_eq!(phase(Phase::Delivery).done, summary.items_delivered);
    assert!(phase(Phase::Roles).done > 0);
    assert!(
        snapshot.get(Phase::Changes).is_some(),
        "the change feed was read"
    );
    assert_eq!(snapshot.running().count(), 0, "every phase finished");
}
