//! The connector end to end, on this machine only: starts the bundled fake Okta tenant (a
//! seeded org of 2,000 users with every status, groups, admins and MFA factors) and a fake
//! intake, runs one full sync exactly as `okta-asset-connector sync` does, then prints the
//! run summary and one delivered OCSF event.
//!
//!     cargo run --release --example demo [-- --users N --groups G --seed S]

use std::sync::Arc;

use clap::Parser;
use okta_asset_connector::app;
use okta_asset_connector::clock::SystemClock;
use okta_asset_connector::config::{Config, Needs, RawConfig};
use okta_fake::cost::per_user_requests;
use okta_fake::{FakeIntake, FakeOkta, FakeOptions, Org, OrgSpec};

/// The key the fake intake expects.
const INTAKE_KEY: &str = "demo-intake-key";

/// Runs a full sync against a fake Okta org and a fake intake.
#[derive(Parser)]
struct Args {
    /// Users in the fake org.
    #[arg(long, default_value_t = 2000)]
    users: usize,
    /// Groups in the fake org.
    #[arg(long, default_value_t = 50)]
    groups: usize,
    /// Seed of the generated org (same seed, same org).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Do not read MFA factors (as `--no-mfa` of the connector).
    #[arg(long)]
    no_mfa: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec = OrgSpec::small(args.users, args.groups, args.seed);
    eprintln!(
        "generating a fake Okta org: {} users, {} groups (seed {})",
        args.users, args.groups, args.seed
    );
    let okta = FakeOkta::start(Org::generate(&spec), FakeOptions::default()).await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    eprintln!(
        "fake Okta at {}, fake intake at {}",
        okta.base_url(),
        intake.url()
    );

    let state_dir = tempfile::Builder::new()
        .prefix("okta-connector-demo-state")
        .tempdir()?;
    let config = demo_config(&okta, &intake, state_dir.path(), !args.no_mfa)?;
    let (summary, result) = app::sync_once(&config, None, true, Arc::new(SystemClock)).await;
    if let Some(summary) = &summary {
        println!("{summary}");
    }
    result?;

    let mfa = !args.no_mfa;
    let minimum = okta.bulk_minimum(mfa, true);
    let per_user = okta.with_org(|org| per_user_requests(org, mfa));
    println!(
        "\nOkta requests: {} (bulk minimum {minimum}; a one-call-per-user connector would need about {per_user})",
        okta.counters().total
    );
    println!(
        "intake received {} events in {} batches",
        intake.items().len(),
        intake.accepted_batches()
    );

    // Show an interesting user: an admin with MFA, if there is one.
    let items = intake.items();
    let example = items
        .iter()
        .find(|e| e["user"]["type_id"] == 2 && e["user"]["has_mfa"] == true)
        .or_else(|| items.first());
    if let Some(event) = example {
        println!(
            "\none event as delivered:\n{}",
            serde_json::to_string_pretty(event)?
        );
    }
    Ok(())
}

/// The connector's configuration for the two fakes: plain HTTP on loopback, a fresh state
/// directory.
fn demo_config(
    okta: &FakeOkta,
    intake: &FakeIntake,
    state_dir: &std::path::Path,
    mfa: bool,
) -> anyhow::Result<Config> {
    let raw = RawConfig {
        base_url: Some(okta.base_url()),
        apikey: Some(okta.token().to_string().into()),
        allow_insecure_http: Some(true),
        intake_url: Some(intake.url()),
        sekoia_api_key: Some(INTAKE_KEY.to_string().into()),
        state_dir: Some(state_dir.to_path_buf()),
        enrich_mfa: Some(mfa),
        ..RawConfig::default()
    };
    Ok(raw.validate(Needs::OktaAndIntake)?)
}
