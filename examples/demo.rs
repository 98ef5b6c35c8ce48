//! The connector end to end, on this machine only: starts the bundled fake Okta tenant (a
//! seeded org of 2,000 users with every status, groups, admins and MFA factors) and a fake
//! intake, runs one full sync exactly as `okta-asset-connector sync` does, then prints the
//! run summary and one delivered OCSF event.
//!
//!     cargo run --release --example demo [-- --users N --groups G --seed S]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use clap::Parser;
use okta_asset_connector::app;
use okta_asset_connector::clock::SystemClock;
use support::connector::{config, INTAKE_KEY};
use support::fake_intake::FakeIntake;
use support::fake_okta::{FakeOkta, FakeOptions, Org, OrgSpec};

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

    let config = config(&okta, Some(&intake), |raw| {
        if args.no_mfa {
            raw.enrich_mfa = Some(false);
        }
    });
    let (summary, result) = app::sync_once(&config, None, true, Arc::new(SystemClock)).await;
    if let Some(summary) = &summary {
        println!("{summary}");
    }
    result?;

    let mfa = !args.no_mfa;
    let minimum = okta.with_org(|org| support::connector::bulk_minimum(org, mfa, true));
    let per_user = okta.with_org(|org| support::connector::per_user_requests(org, mfa));
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
