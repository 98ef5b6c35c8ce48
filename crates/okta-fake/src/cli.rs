//! The `fake-okta` command line: a standalone fake Okta tenant.
//!
//! ```text
//! cargo run --release -p okta-fake --bin fake-okta -- --users 100000 --groups 2000 --port 8080 --token T
//! cargo run --release --example fake-okta -- …   # the same, from the connector's package
//! curl -H 'Authorization: SSWS T' 'http://127.0.0.1:8080/api/v1/users?search=status%20pr&limit=200'
//! ```

use std::collections::HashMap;
use std::time::Instant;

use clap::{Parser, ValueEnum};

use crate::okta::{Bucket, FakeOkta, FakeOptions, Org, OrgSpec, StatsAdminSpelling};

/// Serves a seeded fake Okta org on 127.0.0.1 until Ctrl-C. Logs go to stderr.
///
/// Endpoints: GET /api/v1/users (search, filter, limit, after), /api/v1/users/{id}[/roles|/factors|/groups],
/// /api/v1/groups (filter, search, limit, after, expand=stats), /api/v1/groups/{id}[/users|/roles],
/// /api/v1/iam/assignees/users, /api/v1/logs (since, until, filter, q, limit, sortOrder, after).
/// Requests need `Authorization: SSWS <token>`.
#[derive(Parser, Debug)]
#[command(name = "fake-okta", version)]
struct Args {
    /// Number of users to generate.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Number of groups to generate (Everyone included).
    #[arg(long, default_value_t = 50)]
    groups: usize,
    /// Port on 127.0.0.1 (0 = any free port; the URL is logged).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// API token clients must send as `Authorization: SSWS <token>`.
    #[arg(long, default_value = "test-token")]
    token: String,
    /// Generator seed: the same seed (and sizes) gives the same org.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Per-bucket rate limit per window (off by default; headers then advertise 1000000).
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Per-bucket override, repeatable: BUCKET=N with BUCKET one of users-list, user-by-id,
    /// groups, iam, logs, other.
    #[arg(long = "bucket-limit", value_name = "BUCKET=N")]
    bucket_limits: Vec<String>,
    /// Rate-limit window length, in virtual seconds.
    #[arg(long, default_value_t = 60)]
    window_secs: u64,
    /// Virtual seconds per real second (60 = a 60 s window lasts 1 real second).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Max in-flight requests before a concurrency 429 (Limit 0 / Remaining 0). Off by default.
    #[arg(long)]
    concurrency_cap: Option<usize>,
    /// Fraction of users holding an admin role directly.
    #[arg(long, default_value_t = 0.005)]
    admin_fraction: f64,
    /// Average groups per user, Everyone included.
    #[arg(long, default_value_t = 8.0)]
    memberships_per_user: f64,
    /// Fraction of users with at least one MFA factor.
    #[arg(long, default_value_t = 0.8)]
    factor_fraction: f64,
    /// Groups holding a role while none of their members holds one directly (their members
    /// are admins through the group only), beyond the three role groups every org has.
    #[arg(long, default_value_t = 0)]
    group_only_admin_groups: usize,
    /// GET /api/v1/iam/assignees/users also lists users whose only role comes through a
    /// group. Okta does not document whether it does; by default only users holding a role
    /// directly are listed.
    #[arg(long)]
    assignees_include_groups: bool,
    /// Key of the admin flag in a group's `_embedded.stats` (`expand=stats`): `observed` =
    /// hasAdminPrivilege, as real orgs answer; `spec` = hasAdminPrivlege, as Okta's API spec
    /// spells it.
    #[arg(long, value_enum, default_value_t = Spelling::Observed)]
    stats_admin_spelling: Spelling,
    /// Largest delay, in virtual milliseconds, between a System Log event's `published` time and
    /// the moment GET /api/v1/logs shows it. Each event draws its own delay up to this, so
    /// events appear out of `published` order: a client resuming from the last `published` it
    /// saw misses some, one following the polling `next` link misses none.
    #[arg(long, default_value_t = 0)]
    log_lag_ms: u64,
    /// Answer polling System Log queries like bounded ones: a `next` link only when more events
    /// wait (Okta's reference says polling answers always carry one; clients should not rely on
    /// it).
    #[arg(long)]
    log_polling_without_next: bool,
    /// Sign-ins per virtual minute written to the System Log (user.session.start,
    /// policy.evaluate_sign_on, user.authentication.sso by random ACTIVE users): a live org's
    /// log is mostly these.
    #[arg(long, default_value_t = 0.0)]
    signins_per_minute: f64,
    /// Random changes per virtual minute made to the org while serving (profile edits,
    /// lifecycle changes, new and deleted users, memberships, group renames, creations and
    /// deletions, roles, factors), each recorded in the System Log as Okta would: run the
    /// connector's `run` against it and watch it pick them up. --verbose logs each change.
    #[arg(long, default_value_t = 0.0)]
    churn_per_minute: f64,
    /// Seed of those random changes.
    #[arg(long, default_value_t = 1)]
    churn_seed: u64,
    /// Another client eats this fraction of every bucket's limit (0 = none).
    #[arg(long, default_value_t = 0.0)]
    external_fraction: f64,
    /// Log one line per request.
    #[arg(long)]
    verbose: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Spelling {
    Observed,
    Spec,
}

impl From<Spelling> for StatsAdminSpelling {
    fn from(spelling: Spelling) -> StatsAdminSpelling {
        match spelling {
            Spelling::Observed => StatsAdminSpelling::Observed,
            Spelling::Spec => StatsAdminSpelling::Spec,
        }
    }
}

fn parse_bucket(s: &str) -> Result<(Bucket, u32), String> {
    let (name, n) = s.split_once('=').ok_or("expected BUCKET=N")?;
    let bucket = match name {
        "users-list" => Bucket::UsersList,
        "user-by-id" => Bucket::UserById,
        "groups" => Bucket::Groups,
        "iam" => Bucket::Iam,
        "logs" => Bucket::Logs,
        "other" => Bucket::Other,
        _ => return Err(format!("unknown bucket {name}")),
    };
    Ok((bucket, n.parse().map_err(|_| format!("bad number {n}"))?))
}

/// Parses the command line and serves until Ctrl-C (exit status 2 on a bad flag).
pub fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("fake-okta: start the async runtime");
    runtime.block_on(serve(args));
}

async fn serve(args: Args) {
    let mut rate_limits = HashMap::new();
    for spec in &args.bucket_limits {
        match parse_bucket(spec) {
            Ok((b, n)) => {
                rate_limits.insert(b, n);
            }
            Err(e) => {
                eprintln!("fake-okta: --bucket-limit {spec}: {e}");
                std::process::exit(2);
            }
        }
    }
    let started = Instant::now();
    let org = Org::generate(&OrgSpec {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
        admin_fraction: args.admin_fraction,
        memberships_per_user: args.memberships_per_user,
        factor_fraction: args.factor_fraction,
        group_only_admin_groups: args.group_only_admin_groups,
    });
    let (memberships, admins) = (org.membership_count(), org.admin_user_ids().len());
    let generated = started.elapsed();
    let okta = FakeOkta::start(
        org,
        FakeOptions {
            token: args.token.clone(),
            port: args.port,
            rate_limit: args.rate_limit,
            rate_limits,
            window_secs: args.window_secs,
            time_scale: args.time_scale,
            concurrency_cap: args.concurrency_cap,
            verbose: args.verbose,
            assignees_include_groups: args.assignees_include_groups,
            stats_admin_spelling: args.stats_admin_spelling.into(),
            log_lag_ms: args.log_lag_ms,
            log_polling_without_next: args.log_polling_without_next,
            signins_per_minute: args.signins_per_minute,
            churn_per_minute: args.churn_per_minute,
            churn_seed: args.churn_seed,
        },
    )
    .await;
    if args.external_fraction > 0.0 {
        for b in Bucket::ALL {
            okta.faults().external_consumer(b, args.external_fraction);
        }
    }
    eprintln!(
        "fake-okta: serving {} ({} users, {} groups, {} memberships, {} admins; seed {}; generated in {:.2?}; rate limit {}; time scale {})",
        okta.base_url(),
        args.users,
        args.groups,
        memberships,
        admins,
        args.seed,
        generated,
        args.rate_limit.map_or("off".to_string(), |n| format!("{n}/{}s", args.window_secs)),
        args.time_scale,
    );
    let _ = tokio::signal::ctrl_c().await;
    let c = okta.counters();
    eprintln!(
        "fake-okta: stopping after {} requests ({} 429, {} concurrency 429); {} random changes made",
        c.total,
        c.http_429,
        c.http_429_concurrency,
        okta.churned().len()
    );
}
