//! A connector wired to a fake tenant and a fake intake for sync tests: one state directory
//! across cycles, a manual clock (retry sleeps are instant), and checks against the org's truth
//! and against a fresh full sync.

use std::sync::Arc;

use okta_asset_connector::app;
use okta_asset_connector::clock::ManualClock;
use okta_asset_connector::config::{Config, RawConfig};
use okta_asset_connector::sync::Summary;
use okta_fake::{Bucket, FakeIntake, FakeOkta, FakeOptions, Org, OrgSpec};
use serde_json::Value;

use super::connector::{config, differences_from_a_fresh_full_sync, latest_events, INTAKE_KEY};

/// How the fake's assignee list and System Log behave.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// `GET /iam/assignees/users` also lists users whose only role comes from a group.
    pub assignees_include_groups: bool,
    /// The System Log is readable (else 403: cycles fall back to the searches).
    pub feed: bool,
}

impl Variant {
    /// Every combination.
    pub const ALL: [Variant; 4] = [
        Variant {
            assignees_include_groups: false,
            feed: true,
        },
        Variant {
            assignees_include_groups: true,
            feed: true,
        },
        Variant {
            assignees_include_groups: false,
            feed: false,
        },
        Variant {
            assignees_include_groups: true,
            feed: false,
        },
    ];
}

pub struct SyncEnv {
    pub okta: FakeOkta,
    pub intake: Arc<FakeIntake>,
    pub config: Config,
    pub clock: Arc<ManualClock>,
    tweak: fn(&mut RawConfig),
}

impl SyncEnv {
    /// A fake serving `org` with `options` (time standing still unless advanced), the variant
    /// applied, and a connector configured by `tweak`.
    pub async fn start(
        org: Org,
        options: FakeOptions,
        variant: Variant,
        tweak: fn(&mut RawConfig),
    ) -> SyncEnv {
        let okta = FakeOkta::start(
            org,
            FakeOptions {
                assignees_include_groups: variant.assignees_include_groups,
                ..options
            },
        )
        .await;
        if !variant.feed {
            okta.set_forbidden(Bucket::Logs, true);
        }
        let intake = Arc::new(FakeIntake::start(INTAKE_KEY).await);
        let config = config(&okta, Some(&intake), tweak);
        let clock = Arc::new(ManualClock::new(okta.virtual_now()));
        SyncEnv {
            okta,
            intake,
            config,
            clock,
            tweak,
        }
    }

    /// A small seeded org with time standing still (it moves only with `advance`).
    pub async fn small(spec: &OrgSpec, variant: Variant) -> SyncEnv {
        SyncEnv::start(Org::generate(spec), still(), variant, |_| {}).await
    }

    /// One cycle as `sync` runs it (full when due or `full`); panics when it fails.
    pub async fn cycle(&self, full: bool) -> Summary {
        let (summary, result) = self.try_cycle(full).await;
        if let Err(error) = result {
            panic!("the cycle failed: {error}");
        }
        summary
    }

    pub async fn try_cycle(&self, full: bool) -> (Summary, Result<(), app::AppError>) {
        let (summary, result) = app::sync_once(&self.config, None, full, self.clock.clone()).await;
        (summary.expect("a summary"), result)
    }

    /// Time passes, for the fake and the connector alike.
    pub fn advance(&self, by: std::time::Duration) {
        self.okta.advance_clock(by);
        self.clock.advance(by);
    }

    /// The latest event the intake holds for `user`.
    pub fn latest(&self, user: &str) -> Value {
        latest_events(&self.intake)
            .remove(user)
            .unwrap_or_else(|| panic!("no event for {user}"))
    }

    /// Panics unless the intake's latest event per user is what a fresh full sync sends.
    pub async fn assert_like_a_fresh_full_sync(&self, context: &str) {
        let problems =
            differences_from_a_fresh_full_sync(&self.okta, &self.intake, self.tweak).await;
        assert!(
            problems.is_empty(),
            "{context}: the intake differs from a fresh full sync:\n{}",
            problems.join("\n")
        );
    }

    /// Panics unless every user's admin flag and group privileges in the intake are the org's
    /// truth.
    pub fn assert_admins_are_the_truth(&self, context: &str) {
        let events = latest_events(&self.intake);
        self.okta.with_org(|org| {
            for user in org.users() {
                let event = &events
                    .get(&user.id)
                    .unwrap_or_else(|| panic!("{context}: no event for {}", user.id))["user"];
                let admin = org.is_admin(&user.id);
                assert_eq!(
                    event["type_id"],
                    if admin { 2 } else { 1 },
                    "{context}: user {} admin={admin}, event says {}",
                    user.id,
                    event["type"]
                );
                let empty = Vec::new();
                for group in event["groups"].as_array().unwrap_or(&empty) {
                    let id = group["uid"].as_str().unwrap();
                    let mut truth: Vec<&str> = org.group_privileges(id);
                    truth.sort_unstable();
                    truth.dedup();
                    let mut shown: Vec<&str> = group["privileges"]
                        .as_array()
                        .map(|p| p.iter().map(|v| v.as_str().unwrap()).collect())
                        .unwrap_or_default();
                    shown.sort_unstable();
                    assert_eq!(
                        shown, truth,
                        "{context}: privileges of group {id} in the event of {}",
                        user.id
                    );
                }
            }
        });
    }
}

/// Fake options with the virtual clock standing still (tests move it with `advance`).
pub fn still() -> FakeOptions {
    FakeOptions {
        time_scale: 1e-9,
        ..FakeOptions::default()
    }
}
