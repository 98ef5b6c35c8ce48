//! One user in too many groups for the intake must not stop the sync (a poison pill): the
//! intake refuses their event with 413 every time, and a cycle commits nothing until every event
//! was acknowledged. The event is sent again with fewer groups, marked as truncated, and counted.

use crate::support;

use std::sync::Arc;

use okta_asset_connector::app;
use okta_asset_connector::clock::{ScaledClock, SharedClock};
use okta_asset_connector::mapping::oversized::{ENRICHMENT_NAME, TRUNCATED_LABEL};
use okta_asset_connector::state::StateStore;
use okta_fake::{FakeIntake, FakeOkta, FakeOptions, Org, OrgSpec};
use serde_json::Value;
use support::connector::{config, INTAKE_KEY};

/// Groups the one user joins on top of the generated ones.
const EXTRA_GROUPS: usize = 1_200;
/// The intake's body cap: every batch of ordinary users fits, the big user's event does not.
const MAX_BODY: usize = 48 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_in_thousands_of_groups_arrives_truncated_and_the_cycle_commits() {
    let okta = FakeOkta::start(
        Org::generate(&OrgSpec::small(30, 6, 4242)),
        FakeOptions {
            time_scale: 50.0,
            ..FakeOptions::default()
        },
    )
    .await;
    let (big, admin_group) = okta.with_org(|org| {
        let user = org.users()[1].id.clone();
        let mut admin_group = String::new();
        for i in 0..EXTRA_GROUPS {
            let id = org.create_group(
                &format!("Project team {i:04} with a long descriptive name"),
                Some("a group among very many"),
            );
            org.add_member(&id, &user);
            if i == EXTRA_GROUPS - 1 {
                // The last in Okta's order, so only admin-first keeps it.
                org.grant_group_role(&id, "HELP_DESK_ADMIN");
                admin_group = id;
            }
        }
        (user, admin_group)
    });
    let total_groups = okta.with_org(|org| org.groups_of(&big).len());
    let intake = FakeIntake::start(INTAKE_KEY).await;
    intake.max_body_bytes(Some(MAX_BODY));
    let config = config(&okta, Some(&intake), |raw| {
        raw.enrich_mfa = Some(false);
        raw.batch_size = Some(10);
    });
    let clock: SharedClock = Arc::new(ScaledClock::new(okta.virtual_now(), 50.0));

    let (summary, result) = app::sync_once(&config, None, true, clock).await;
    result.expect("the cycle completes despite the oversized event");
    let summary = summary.expect("a summary");
    assert_eq!(summary.warnings.get("oversized_events"), Some(&1));

    // Everyone arrived, the big user included, truncated and marked.
    let by_user = intake.items_by_user();
    let everyone = okta.with_org(|org| org.users().len());
    assert_eq!(by_user.len(), everyone);
    let events = &by_user[&big];
    assert_eq!(events.len(), 1);
    let event = &events[0];
    support::ocsf::validate_event(event).unwrap_or_else(|e| panic!("{e:#?}"));
    let groups = event["user"]["groups"]
        .as_array()
        .expect("some groups kept");
    assert!(
        !groups.is_empty() && groups.len() < total_groups,
        "{} of {total_groups}",
        groups.len()
    );
    assert!(
        groups.iter().any(|g| g["uid"] == admin_group.as_str()),
        "the admin group is kept first"
    );
    let marker = event["enrichments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == ENRICHMENT_NAME)
        .expect("the truncation is marked");
    assert_eq!(marker["data"]["total"], Value::from(total_groups));
    assert_eq!(marker["data"]["sent"], Value::from(groups.len()));
    assert!(event["metadata"]["labels"]
        .as_array()
        .unwrap()
        .contains(&Value::from(TRUNCATED_LABEL)));
    assert!(serde_json::to_vec(event).unwrap().len() < MAX_BODY);

    // The cursor moved: the next cycle is incremental, from where this one ended.
    let state = StateStore::open(&config.state_dir, config.okta_origin.as_str()).unwrap();
    let cursors = state.cursors().unwrap();
    assert!(cursors.users.is_some() && cursors.last_full_sync.is_some());
}
