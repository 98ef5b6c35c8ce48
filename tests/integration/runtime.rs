//! The `run` runtime as a real process: killed with SIGKILL at random points while
//! the intake fails at random, it still delivers every change at least once and converges to
//! what a full sync sends; SIGTERM during a cycle exits 0 with consistent state.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use okta_asset_connector::app;
use okta_asset_connector::clock::SystemClock;
use okta_fake::rng::Rng;
use okta_fake::FakeIntake;
use okta_fake::{FakeOkta, FakeOptions, Org, OrgSpec};
use serde_json::Value;
use support::binary;
use support::connector::{fresh_state_dir, latest_events, INTAKE_KEY};

fn spawn_run(okta: &FakeOkta, intake: &FakeIntake, state_dir: &Path, extra: &[&str]) -> Child {
    binary::command()
        .args([
            "run",
            "--allow-insecure-http",
            "--frequency",
            "1",
            "--no-mfa",
        ])
        .args([
            "--base-url",
            &okta.base_url(),
            "--intake-url",
            &intake.url(),
        ])
        .arg("--state-dir")
        .arg(state_dir)
        .args(extra)
        .env("OKTA_API_TOKEN", okta.token())
        .env("INTAKE_API_KEY", INTAKE_KEY)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the connector binary starts")
}

/// What a fresh full sync of the org sends now.
async fn reference(okta: &FakeOkta) -> BTreeMap<String, Value> {
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let config =
        support::connector::config(okta, Some(&intake), |raw| raw.enrich_mfa = Some(false));
    let (_, result) = app::sync_once(&config, None, true, Arc::new(SystemClock)).await;
    result.unwrap();
    latest_events(&intake)
}

/// True when the intake's latest state equals `expected` (deleted users aside).
fn converged(intake: &FakeIntake, expected: &BTreeMap<String, Value>) -> bool {
    let got = latest_events(intake);
    expected
        .iter()
        .all(|(id, event)| got.get(id) == Some(event))
}

async fn kill_test(seed: u64) {
    // Seeded, so that a failing seed can be replayed.
    let mut rng = Rng::new(seed);
    let okta = FakeOkta::start(
        Org::generate(&OrgSpec::small(400, 15, seed)),
        FakeOptions::default(),
    )
    .await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    intake.fail_randomly(0.25, seed);
    let state_dir = fresh_state_dir();
    // (user, title) pairs that must each reach the intake at least once.
    let mut changes: Vec<(String, String)> = Vec::new();

    for round in 0..6 {
        let mut child = spawn_run(&okta, &intake, &state_dir, &["--full-sync-interval", "3"]);
        for step in 0..3 {
            tokio::time::sleep(Duration::from_millis(100 + rng.below(400))).await;
            let change = okta.with_org(|org| {
                let users = org.users();
                let user = users[rng.below(users.len() as u64) as usize].id.clone();
                let title = format!("title seed {seed} round {round} step {step}");
                org.update_user_profile(&user, "title", title.as_str());
                if rng.below(3) == 0 {
                    let groups = org.groups();
                    let group = groups[rng.below(groups.len() as u64) as usize].id.clone();
                    org.add_member(&group, &user);
                }
                (user, title)
            });
            changes.push(change);
        }
        tokio::time::sleep(Duration::from_millis(rng.below(700))).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
    }

    // Let it run undisturbed until it has caught up.
    intake.clear_faults();
    let expected = reference(&okta).await;
    let mut child = spawn_run(&okta, &intake, &state_dir, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !converged(&intake, &expected) {
        assert!(
            Instant::now() < deadline,
            "seed {seed}: the intake never converged to a full sync's state"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    terminate(&mut child, seed);

    let delivered = intake.items_by_user();
    for (user, title) in &changes {
        let seen = delivered.get(user).is_some_and(|events| {
            events
                .iter()
                .any(|e| e["user"]["ldap_person"]["job_title"] == title.as_str())
        });
        assert!(
            seen,
            "seed {seed}: the change '{title}' of user {user} never reached the intake"
        );
    }
}

/// SIGTERM, then expect exit status 0 within a few seconds.
fn terminate(child: &mut Child, seed: u64) {
    binary::sigterm(child);
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "seed {seed}: exit status {status:?} after SIGTERM"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "seed {seed}: still running 8 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_nothing_is_lost_or_skipped() {
    for seed in [11, 2024, 77_777] {
        kill_test(seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_cycle_exits_zero_and_the_next_run_completes_it() {
    let okta = FakeOkta::start(
        Org::generate(&OrgSpec::small(3000, 20, 4)),
        FakeOptions::default(),
    )
    .await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    // A slow intake keeps the first cycle busy for seconds.
    intake.slow(Duration::from_millis(200));
    let state_dir = fresh_state_dir();
    let mut child = spawn_run(&okta, &intake, &state_dir, &[]);
    let started = Instant::now();
    while intake.accepted_batches() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first batches never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        intake.accepted_batches() < 30,
        "the cycle is still in flight"
    );
    let stop = Instant::now();
    terminate(&mut child, 0);
    eprintln!("exited {:?} after SIGTERM", stop.elapsed());

    // Nothing of the interrupted cycle was committed: the next run does a full sync again.
    intake.clear_faults();
    let expected = reference(&okta).await;
    let mut child = spawn_run(&okta, &intake, &state_dir, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !converged(&intake, &expected) {
        assert!(
            Instant::now() < deadline,
            "the next run did not complete the sync"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    terminate(&mut child, 0);
}
