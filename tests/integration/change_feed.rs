//! Every change in the next cycle, with the System Log as change feed: random churn
//! of every kind with a visibility lag, sign-in noise, intake failures and killed cycles, after
//! which every settled incremental cycle leaves the intake equal to a fresh full sync; quiet
//! cycles cost a handful of requests; deleted groups, factor changes and the fallback without
//! the log; full syncs that re-read only the factors that may have changed.

use crate::support;

use std::time::Duration;

use okta_asset_connector::config::RawConfig;
use okta_asset_connector::sync::changes::FeedMode;
use okta_fake::rng::Rng;
use okta_fake::{Churn, FakeOptions, GroupType, Org, OrgSpec};
use support::connector::is_deleted;
use support::env::{still, SyncEnv, Variant};

const FEED: Variant = Variant {
    assignees_include_groups: false,
    feed: true,
};
const NO_FEED: Variant = Variant {
    assignees_include_groups: false,
    feed: false,
};

fn factor_calls(env: &SyncEnv) -> u64 {
    env.okta
        .counters()
        .endpoint("GET /api/v1/users/{id}/factors")
}

// ------------------------------------------------------------------------- equivalence

/// Largest delay (virtual ms) between a change and the moment the log shows its event.
const LAG_MS: u64 = 5_000;

fn churned_config(raw: &mut RawConfig) {
    raw.batch_size = Some(7);
    // A full sync now and then, so catching up with the log and the MFA cache take part.
    raw.full_sync_interval = Some(600);
}

/// What goes wrong in a step's cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Trouble {
    None,
    /// The intake fails some requests (retried; the cycle may still fail).
    FlakyIntake,
    /// The intake refuses everything after some batches.
    IntakeDown,
    /// The cycle is abandoned at a random moment (its future dropped, as a kill would).
    Killed,
}

async fn churn_and_compare(seed: u64, steps: usize) -> usize {
    let org = Org::generate(&OrgSpec {
        group_only_admin_groups: 1,
        ..OrgSpec::small(150, 12, seed)
    });
    let options = FakeOptions {
        log_lag_ms: LAG_MS,
        signins_per_minute: 240.0,
        ..still()
    };
    let variant = Variant {
        assignees_include_groups: seed.is_multiple_of(2),
        feed: true,
    };
    let env = SyncEnv::start(org, options, variant, churned_config).await;
    let mut rng = Rng::new(seed);
    let mut churn = Churn::new(seed);
    env.cycle(false).await;
    let mut compared = 0;
    let mut tally = std::collections::BTreeMap::<String, u32>::new();
    for step in 0..steps {
        let changes = env.okta.with_org(|org| {
            if step == 0 {
                churn.every_kind(org)
            } else {
                let n = rng.below(7) as usize;
                churn.run(org, n)
            }
        });
        // Time passes: past the log's lag (the cycle must then see everything), or not.
        let settled = rng.chance(0.6);
        let wait = if settled {
            LAG_MS + 1_000 + rng.below(90_000)
        } else {
            rng.below(LAG_MS)
        };
        env.advance(Duration::from_millis(wait));
        let trouble = match rng.below(8) {
            0 => Trouble::FlakyIntake,
            1 => Trouble::IntakeDown,
            2 => Trouble::Killed,
            _ => Trouble::None,
        };
        let context =
            format!("seed {seed} step {step} ({trouble:?}, settled {settled}): {changes:?}");
        let outcome = match trouble {
            Trouble::None => Some(env.try_cycle(false).await),
            Trouble::FlakyIntake => {
                env.intake.fail_randomly(0.4, seed * 1000 + step as u64);
                Some(env.try_cycle(false).await)
            }
            Trouble::IntakeDown => {
                let after = env.intake.accepted_batches() + rng.below(3);
                env.intake.fail_after_accepted(after, 400);
                Some(env.try_cycle(false).await)
            }
            Trouble::Killed => {
                let at = Duration::from_micros(rng.below(60_000));
                tokio::time::timeout(at, env.try_cycle(false)).await.ok()
            }
        };
        env.intake.clear_faults();
        let what = match &outcome {
            None => "killed".to_string(),
            Some((summary, Ok(()))) => format!("{} ok", summary.kind),
            Some((summary, Err(_))) => format!("{} failed", summary.kind),
        };
        *tally.entry(format!("{trouble:?}: {what}")).or_default() += 1;
        match outcome {
            Some((summary, Ok(()))) if trouble == Trouble::None => {
                assert!(
                    summary.warnings.is_empty(),
                    "{context}: {:?}",
                    summary.warnings
                );
                if settled {
                    env.assert_like_a_fresh_full_sync(&context).await;
                    compared += 1;
                }
            }
            _ => {}
        }
    }
    eprintln!("seed {seed}: {compared} comparisons; cycles {tally:?}");
    // Whatever was left, one more settled, trouble-free cycle catches up.
    env.advance(Duration::from_millis(LAG_MS + 1_000));
    env.cycle(false).await;
    env.assert_like_a_fresh_full_sync(&format!("seed {seed}: final"))
        .await;
    compared + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_incremental_cycles_equal_a_fresh_full_sync_under_churn_lag_noise_failures_and_kills(
) {
    let steps = std::env::var("CHURN_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let mut compared = 0;
    for seed in [1, 2, 3, 4] {
        compared += churn_and_compare(seed, steps).await;
    }
    assert!(compared >= steps, "only {compared} comparisons");
}

// ------------------------------------------------------------------------------ cost

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_incremental_cycle_with_a_live_sign_in_stream_costs_a_handful_of_requests() {
    let options = FakeOptions {
        signins_per_minute: 600.0,
        ..still()
    };
    let env = SyncEnv::start(
        Org::generate(&OrgSpec::small(10_000, 100, 21)),
        options,
        FEED,
        |_| {},
    )
    .await;
    env.cycle(false).await;
    let delivered = env.intake.item_count();
    // Twenty minutes of sign-ins: 12,000 of them, three events each, none of them a change.
    env.advance(Duration::from_secs(20 * 60));
    env.okta.reset_counters();
    let summary = env.cycle(false).await;
    assert_eq!(summary.kind, "incremental");
    assert_eq!(summary.change_feed, FeedMode::SystemLog);
    let counters = env.okta.counters();
    eprintln!(
        "quiet incremental cycle, 10,000 users, 600 sign-ins/min: {} Okta requests {:?}",
        counters.total, counters.per_endpoint
    );
    assert_eq!(
        counters.endpoint("GET /api/v1/logs"),
        1,
        "sign-ins cost nothing"
    );
    assert_eq!(summary.change_feed_events, 0);
    assert!(counters.total <= 5, "{:?}", counters.per_endpoint);
    assert_eq!(
        env.intake.item_count(),
        delivered,
        "nothing changed, nothing sent"
    );
}

// --------------------------------------------------------------------- specific changes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_group_leaves_its_members_events_at_once_without_warnings() {
    for variant in [FEED, NO_FEED] {
        let env = SyncEnv::small(
            &OrgSpec {
                group_only_admin_groups: 1,
                ..OrgSpec::small(200, 10, 8)
            },
            variant,
        )
        .await;
        env.cycle(true).await;
        // The role-holding OKTA_GROUP with the most members admin through it alone.
        let (group, members, only_through_it) = env.okta.with_org(|org| {
            let group = org
                .groups()
                .iter()
                .filter(|g| g.group_type == GroupType::Okta && !g.roles.is_empty())
                .max_by_key(|g| g.member_count())
                .expect("a role-holding group");
            let members: Vec<String> = org
                .members_of(&group.id)
                .iter()
                .map(|s| s.to_string())
                .collect();
            let only: Vec<String> = org
                .group_only_admin_ids()
                .into_iter()
                .filter(|u| {
                    members.iter().any(|m| m == u)
                        && org
                            .groups_of(u)
                            .iter()
                            .filter(|g| g.roles.iter().any(|r| r.status == "ACTIVE"))
                            .count()
                            == 1
                })
                .map(str::to_string)
                .collect();
            (group.id.clone(), members, only)
        });
        assert!(!only_through_it.is_empty(), "{variant:?}");
        env.okta.with_org(|org| org.delete_group(&group));
        env.advance(Duration::from_secs(5));
        let summary = env.cycle(false).await;
        assert!(
            summary.warnings.is_empty(),
            "{variant:?}: {:?}",
            summary.warnings
        );
        for member in &members {
            let event = env.latest(member);
            let groups = event["user"]["groups"].as_array().unwrap();
            assert!(
                groups.iter().all(|g| g["uid"] != group.as_str()),
                "{variant:?}: {member} still in the deleted group"
            );
        }
        for user in &only_through_it {
            assert_eq!(
                env.latest(user)["user"]["type_id"],
                1,
                "{variant:?}: {user}"
            );
        }
        // And the next cycle has nothing to say about it.
        env.advance(Duration::from_secs(5));
        let before = env.intake.item_count();
        let summary = env.cycle(false).await;
        assert!(
            summary.warnings.is_empty(),
            "{variant:?}: {:?}",
            summary.warnings
        );
        assert_eq!(env.intake.item_count(), before, "{variant:?}");
        env.assert_like_a_fresh_full_sync(&format!("{variant:?}"))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factor_enrolments_and_resets_arrive_in_the_next_incremental_cycle() {
    let env = SyncEnv::small(&OrgSpec::small(200, 8, 3), FEED).await;
    env.cycle(true).await;
    let (without, with) = env.okta.with_org(|org| {
        let without = org
            .users()
            .iter()
            .find(|u| u.status == "ACTIVE" && u.active_factor_count() == 0)
            .unwrap()
            .id
            .clone();
        let with = org
            .users()
            .iter()
            .find(|u| u.status == "ACTIVE" && u.active_factor_count() > 0)
            .unwrap()
            .id
            .clone();
        (without, with)
    });
    assert_eq!(env.latest(&without)["user"]["has_mfa"], false);
    assert_eq!(env.latest(&with)["user"]["has_mfa"], true);
    let updated = |id: &str| env.okta.with_org(|org| org.user(id).unwrap().last_updated);
    let before = (updated(&without), updated(&with));
    env.okta.with_org(|org| {
        org.add_factor(&without, "token:software:totp", "ACTIVE");
        org.reset_factors(&with);
    });
    assert_eq!(
        (updated(&without), updated(&with)),
        before,
        "lastUpdated did not move"
    );
    env.advance(Duration::from_secs(5));
    env.okta.reset_counters();
    let summary = env.cycle(false).await;
    assert_eq!(summary.kind, "incremental");
    assert_eq!(env.latest(&without)["user"]["has_mfa"], true);
    assert_eq!(env.latest(&with)["user"]["has_mfa"], false);
    assert_eq!(
        factor_calls(&env),
        2,
        "only the two users named by factor events"
    );
    env.assert_like_a_fresh_full_sync("after factor changes")
        .await;
}

/// Okta's reference says a polling answer always carries a `next` link. Answered like a
/// bounded query instead (a link only while more events wait), the feed still reaches every
/// event, and the next cycle polls on from the last event read rather than reading the whole
/// log since the first position again: 1,200 factor changes (none moves `lastUpdated`, so
/// only the log tells) arrive in one cycle, and the quiet cycle after it reads one page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_answers_without_a_next_link_still_reach_every_event_once() {
    let options = FakeOptions {
        log_polling_without_next: true,
        ..still()
    };
    let org = Org::generate(&OrgSpec::small(1_200, 8, 5));
    let env = SyncEnv::start(org, options, FEED, |_| {}).await;
    env.cycle(true).await;
    let users: Vec<(String, usize)> = env.okta.with_org(|org| {
        org.users()
            .iter()
            .map(|u| (u.id.clone(), u.active_factor_count()))
            .collect()
    });
    for (id, factors) in users {
        env.okta.with_org(|org| {
            if factors == 0 {
                org.add_factor(&id, "token:software:totp", "ACTIVE");
            } else {
                org.reset_factors(&id);
            }
        });
        // One change per millisecond, as changes made one after the other are.
        env.advance(Duration::from_millis(1));
    }
    let log_pages = || env.okta.counters().endpoint("GET /api/v1/logs");
    env.advance(Duration::from_secs(5));
    env.okta.reset_counters();
    assert_eq!(env.cycle(false).await.kind, "incremental");
    assert!(
        log_pages() >= 2,
        "more than a page of events: {}",
        log_pages()
    );
    env.assert_like_a_fresh_full_sync("after 1,200 factor changes, polled without next links")
        .await;
    env.advance(Duration::from_secs(5));
    env.okta.reset_counters();
    env.cycle(false).await;
    assert_eq!(
        log_pages(),
        1,
        "the quiet cycle polls on from the last event"
    );
}

/// The change feed position the state holds.
fn stored_position(env: &SyncEnv) -> String {
    let store = okta_asset_connector::state::StateStore::open(
        &env.config.state_dir,
        env.config.okta_origin.as_str(),
    )
    .unwrap();
    store.feed_position().unwrap().expect("a position")
}

/// Okta's reference gives a polling cursor no lifetime. A stored position Okta refuses (400)
/// is not asked for again every cycle: the incremental cycle uses the searches and drops it,
/// and a full sync starts a new one at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_feed_position_is_replaced_not_asked_for_every_cycle() {
    let env = SyncEnv::small(&OrgSpec::small(100, 6, 8), FEED).await;
    env.cycle(true).await;
    let refuse = |env: &SyncEnv| {
        // This very link: Okta would still answer a new one.
        let position = url::Url::parse(&stored_position(env)).unwrap();
        let pattern = format!("/api/v1/logs?{}", position.query().unwrap());
        env.okta.faults().fail_path_contains(&pattern, 400, None);
    };
    let log_reads = || env.okta.counters().endpoint("GET /api/v1/logs");

    // A full sync whose stored position is refused starts a new one.
    refuse(&env);
    let old = stored_position(&env);
    env.advance(Duration::from_secs(5));
    env.cycle(true).await;
    assert_ne!(stored_position(&env), old, "a new position");
    env.advance(Duration::from_secs(5));
    let summary = env.cycle(false).await;
    assert_eq!(summary.change_feed, FeedMode::SystemLog);

    // An incremental cycle whose position is refused drops it: the next cycles do not ask.
    refuse(&env);
    env.advance(Duration::from_secs(5));
    let summary = env.cycle(false).await;
    assert!(
        summary.warnings.contains_key("change_feed"),
        "{:?}",
        summary.warnings
    );
    env.advance(Duration::from_secs(5));
    env.okta.reset_counters();
    let summary = env.cycle(false).await;
    assert_eq!(summary.change_feed, FeedMode::Fallback);
    assert_eq!(
        log_reads(),
        0,
        "the refused position is not asked for again"
    );
    env.cycle(true).await;
    env.advance(Duration::from_secs(5));
    assert_eq!(env.cycle(false).await.change_feed, FeedMode::SystemLog);
    env.assert_like_a_fresh_full_sync("after a refused position")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_system_log_cycles_fall_back_to_the_searches_and_still_converge() {
    let env = SyncEnv::small(
        &OrgSpec {
            group_only_admin_groups: 1,
            ..OrgSpec::small(200, 10, 19)
        },
        NO_FEED,
    )
    .await;
    let summary = env.cycle(false).await;
    assert_eq!(summary.change_feed, FeedMode::Fallback);
    // Every kind of change except MFA changes that leave the record alone (those wait for a
    // full sync without the log: documented).
    env.okta.with_org(|org| {
        let users: Vec<String> = org.users().iter().map(|u| u.id.clone()).collect();
        let groups: Vec<String> = org
            .groups()
            .iter()
            .filter(|g| g.group_type == GroupType::Okta)
            .map(|g| g.id.clone())
            .collect();
        org.update_user_profile(&users[3], "department", "Moved");
        org.set_user_status(&users[4], "SUSPENDED");
        org.add_member(&groups[0], &users[5]);
        org.rename_group(&groups[1], "Renamed");
        org.grant_group_role(&groups[2], "REPORT_ADMIN");
        org.grant_user_role(&users[6], "READ_ONLY_ADMIN");
        org.delete_group(&groups[3]);
        org.set_user_status(&users[7], "DEPROVISIONED");
        org.delete_user(&users[7]);
        org.create_user("fallback.new@example.com", "Fall", "Back", "ACTIVE");
    });
    env.advance(Duration::from_secs(5));
    let summary = env.cycle(false).await;
    assert_eq!(summary.kind, "incremental");
    assert_eq!(summary.change_feed, FeedMode::Fallback);
    assert_eq!(summary.change_feed_lag_s, None);
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    env.assert_like_a_fresh_full_sync("fallback").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_after_the_first_reads_factors_only_where_they_may_have_changed() {
    for variant in [FEED, NO_FEED] {
        let env = SyncEnv::small(&OrgSpec::small(300, 8, 4), variant).await;
        env.cycle(true).await;
        let users = env.okta.with_org(|org| org.users().len() as u64);
        assert_eq!(
            factor_calls(&env),
            users,
            "the first full sync reads every factor"
        );
        let (enrolled, reset) = env.okta.with_org(|org| {
            let pick = |has: bool| {
                org.users()
                    .iter()
                    .find(|u| u.status == "ACTIVE" && (u.active_factor_count() > 0) == has)
                    .unwrap()
                    .id
                    .clone()
            };
            let (enrolled, reset) = (pick(false), pick(true));
            org.add_factor(&enrolled, "push", "ACTIVE");
            org.reset_factors(&reset);
            (enrolled, reset)
        });
        env.advance(Duration::from_secs(3_600));
        env.okta.reset_counters();
        let summary = env.cycle(true).await;
        assert_eq!(summary.kind, "full");
        let expected = if variant.feed { 2 } else { users };
        assert_eq!(
            factor_calls(&env),
            expected,
            "{variant:?}: factors re-read by the second full sync"
        );
        assert_eq!(env.latest(&enrolled)["user"]["has_mfa"], true);
        assert_eq!(env.latest(&reset)["user"]["has_mfa"], false);
        env.assert_like_a_fresh_full_sync(&format!("{variant:?}"))
            .await;
        // A week later every cached value is older than `mfa_refresh_interval`.
        env.advance(Duration::from_secs(8 * 24 * 3_600));
        env.okta.reset_counters();
        env.cycle(true).await;
        assert_eq!(
            factor_calls(&env),
            users,
            "{variant:?}: stale values re-read"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_delete_seen_in_the_log_is_sent_once_as_deleted() {
    let env = SyncEnv::small(&OrgSpec::small(150, 6, 77), FEED).await;
    env.cycle(true).await;
    let gone = env.okta.with_org(|org| {
        let id = org.users()[10].id.clone();
        org.set_user_status(&id, "DEPROVISIONED");
        org.delete_user(&id);
        id
    });
    env.advance(Duration::from_secs(5));
    let summary = env.cycle(false).await;
    assert_eq!(summary.deleted, 1);
    assert!(is_deleted(&env.latest(&gone)));
    env.advance(Duration::from_secs(5));
    assert_eq!(
        env.cycle(false).await.deleted,
        0,
        "sent once, then forgotten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_change_in_a_large_group_arrives_through_the_log_alone() {
    // Groups of more than a thousand members are not listed again when their membership
    // moves (a page per thousand members): the membership events say who joined and left.
    let env = SyncEnv::start(
        Org::generate(&OrgSpec::small(2_500, 4, 61)),
        still(),
        FEED,
        |raw| raw.enrich_mfa = Some(false),
    )
    .await;
    let group = env.okta.with_org(|org| {
        let group = org.create_group("Large", None);
        let users: Vec<String> = org
            .users()
            .iter()
            .take(1_500)
            .map(|u| u.id.clone())
            .collect();
        for user in &users {
            org.add_member(&group, user);
        }
        group
    });
    env.cycle(true).await;
    let (joined, left) = env.okta.with_org(|org| {
        let members = org.members_of(&group);
        assert!(members.len() > 1_000);
        let left = members[0].to_string();
        let joined = org.first_non_member_of(&group).unwrap().id.clone();
        org.add_member(&group, &joined);
        org.remove_member(&group, &left);
        (joined, left)
    });
    env.advance(Duration::from_secs(5));
    env.okta.reset_counters();
    env.cycle(false).await;
    assert_eq!(
        env.okta
            .counters()
            .endpoint("GET /api/v1/groups/{id}/users"),
        0,
        "the large group was not listed again"
    );
    let in_group = |user: &str| {
        env.latest(user)["user"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["uid"] == group.as_str())
    };
    assert!(in_group(&joined));
    assert!(!in_group(&left));
    env.assert_like_a_fresh_full_sync("large group").await;
}
