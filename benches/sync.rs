//! End-to-end sync benchmark (what "fast" means: docs/performance.md): requests, wall time against the rate-limit
//! floor, 429s, peak memory, CPU and events/s of a real full sync against the fake tenant.
//!
//! ```text
//! cargo bench --bench sync                 # every scenario (a few minutes)
//! cargo bench --bench sync -- --quick      # the 10k-user quiet scenario only (< 1 min)
//! cargo bench --bench sync -- --only 100k  # scenarios whose name contains "100k"
//! cargo bench --bench sync -- --rate-limit 1200 --time-scale 120
//! cargo bench --bench sync -- --index-memory # the membership index alone: old layout vs new
//! ```
//!
//! Method (docs/performance.md has the details):
//! - This process generates the seeded org, computes its bulk minimum and the per-user
//!   strategy's request count, and serves it with the fake tenant (in-process) with a
//!   per-bucket limit of `--rate-limit` requests per 60 s window, on a virtual clock running
//!   `--time-scale` times faster than real time (Okta's minute lasts 60/scale real seconds).
//! - The connector runs in a **child process** (this same executable with `--child`), so its
//!   peak RSS (`VmHWM`) and CPU time are its own, not the fake's (the fake holds the whole org).
//!   The child runs the real full sync (`app::sync_once`, state store included) with a
//!   `ScaledClock` of the same scale started at the fake's virtual time, so every wait is still
//!   computed from Okta's `Date` / `X-Rate-Limit-Reset` headers, and posts to a loopback intake
//!   inside the child that checks and counts the items without storing them.
//! - Then "a day of changes": the bench applies `Churn::a_day` to the org (one change per 50
//!   users, every kind: profiles, lifecycle, memberships, groups, roles, factors) and moves the
//!   fake's clock a day on; the same child runs a second full sync on its state (the change
//!   feed caught up, factors re-read only where a factor event named the user). Its requests
//!   are reported next to the first's.
//! - One JSON line per scenario on stdout.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use okta_asset_connector::app;
use okta_asset_connector::clock::ScaledClock;
use okta_asset_connector::config::{Needs, RawConfig};
use okta_fake::cost::per_user_requests;
use okta_fake::{Bucket, Churn, FakeIntake, FakeOkta, FakeOptions, Org, OrgSpec};
use serde_json::{json, Value};

const TOKEN: &str = "bench-token";
const INTAKE_KEY: &str = "bench-intake-key";
const SEED: u64 = 7;
const GROUPS: usize = 2_000;
/// Okta's windows: one minute.
const WINDOW_SECS: u64 = 60;
/// The connector's default `rate_limit_share`.
const SHARE: f64 = 0.5;

struct Scenario {
    name: String,
    users: usize,
    mfa: bool,
    /// Fraction of every bucket another client eats (0 = quiet org).
    external: f64,
}

fn scenarios() -> Vec<Scenario> {
    let mut all = Vec::new();
    for users in [10_000, 100_000] {
        for external in [0.0, 0.5] {
            for mfa in [true, false] {
                let size = format!("{}k", users / 1000);
                let org = if external > 0.0 { "busy" } else { "quiet" };
                let mfa_name = if mfa { "mfa" } else { "nomfa" };
                all.push(Scenario {
                    name: format!("{size}-{org}-{mfa_name}"),
                    users,
                    mfa,
                    external,
                });
            }
        }
    }
    all
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--child") {
        child(&args);
        return;
    }
    if args.iter().any(|a| a == "--index-child") {
        index_child(&args);
        return;
    }
    if args.iter().any(|a| a == "--index-memory") {
        index_memory();
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let only = arg_value(&args, "--only");
    let rate_limit: u32 = arg_value(&args, "--rate-limit").map_or(1_200, |v| v.parse().unwrap());
    let scale: f64 = arg_value(&args, "--time-scale").map_or(120.0, |v| v.parse().unwrap());
    let selected: Vec<Scenario> = scenarios()
        .into_iter()
        .filter(|s| {
            if quick {
                s.name == "10k-quiet-mfa"
            } else {
                only.as_deref().is_none_or(|o| s.name.contains(o))
            }
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut org_cache: Option<(usize, Org)> = None;
    for scenario in selected {
        if org_cache.as_ref().is_none_or(|(n, _)| *n != scenario.users) {
            drop(org_cache.take()); // free the previous org first
            let spec = OrgSpec {
                users: scenario.users,
                groups: GROUPS,
                seed: SEED,
                ..OrgSpec::default()
            };
            org_cache = Some((scenario.users, Org::generate(&spec)));
        }
        let org = org_cache.as_ref().unwrap().1.clone();
        let line = runtime.block_on(run_scenario(&scenario, org, rate_limit, scale));
        println!("{line}");
    }
}

async fn run_scenario(scenario: &Scenario, org: Org, rate_limit: u32, scale: f64) -> Value {
    let users = org.users().len() as u64;
    let groups = org.groups().len() as u64;
    let memberships = org.membership_count() as u64;
    let admins = org.admin_user_ids().len() as u64;
    let per_user = per_user_requests(&org, scenario.mfa);
    let okta = Arc::new(
        FakeOkta::start(
            org,
            FakeOptions {
                token: TOKEN.into(),
                rate_limit: Some(rate_limit),
                window_secs: WINDOW_SECS,
                time_scale: scale,
                ..FakeOptions::default()
            },
        )
        .await,
    );
    let min_requests = okta.bulk_minimum(scenario.mfa, true);
    if scenario.external > 0.0 {
        for bucket in Bucket::ALL {
            okta.faults().external_consumer(bucket, scenario.external);
        }
    }
    // The fake's virtual time and the wall clock, read together: the child derives its own
    // virtual start from them (both processes read the same system clock).
    let virtual_ms = okta.virtual_now().as_millisecond();
    let unix_ms = unix_ms();
    // `BENCH_TRACE=1`: the server's requests per bucket every real second, on stderr.
    let trace = std::env::var_os("BENCH_TRACE").map(|_| {
        let okta = okta.clone();
        let counters = move || okta.counters();
        tokio::spawn(async move {
            let mut last = counters();
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let now = counters();
                let delta: Vec<String> = Bucket::ALL
                    .iter()
                    .map(|b| format!("{}={}", b.name(), now.bucket(*b) - last.bucket(*b)))
                    .collect();
                eprintln!("bench trace: {} 429={}", delta.join(" "), now.http_429);
                last = now;
            }
        })
    });
    let exe = std::env::current_exe().unwrap();
    let (first, second) = tokio::task::spawn_blocking({
        let args = vec![
            "--child".to_string(),
            "--okta".into(),
            okta.base_url(),
            "--mfa".into(),
            scenario.mfa.to_string(),
            "--virtual-ms".into(),
            virtual_ms.to_string(),
            "--unix-ms".into(),
            unix_ms.to_string(),
            "--time-scale".into(),
            scale.to_string(),
        ];
        let okta = okta.clone();
        move || {
            let mut child = Command::new(exe)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("run the connector child");
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let mut next_result = || -> Value {
                lines
                    .by_ref()
                    .map_while(Result::ok)
                    .find_map(|l| serde_json::from_str(&l).ok())
                    .unwrap_or_else(|| panic!("the connector child printed no result"))
            };
            let first = next_result();
            let factors = || okta.counters().endpoint("GET /api/v1/users/{id}/factors");
            let factors_before = factors();
            // A day of changes, then the second full sync.
            let changes = okta.with_org(|org| Churn::new(SEED).a_day(org).len());
            okta.advance_clock(std::time::Duration::from_secs(24 * 3600));
            let go = format!(
                "{} {}\n",
                okta.virtual_now().as_millisecond(),
                unix_ms_now()
            );
            child
                .stdin
                .take()
                .unwrap()
                .write_all(go.as_bytes())
                .unwrap();
            let mut second = next_result();
            second["changes"] = json!(changes);
            second["factor_reads"] = json!(factors() - factors_before);
            let status = child.wait().unwrap();
            assert!(status.success(), "the connector child failed: {status:?}");
            (first, second)
        }
    })
    .await
    .unwrap();
    let child = first;
    if let Some(trace) = trace {
        trace.abort();
    }
    let counters = okta.counters();
    let requests = child["requests"].as_u64().unwrap();
    let per_bucket = &child["requests_per_bucket"];
    let budget = SHARE * rate_limit as f64;
    let floor_virtual = Bucket::ALL
        .iter()
        .map(|b| per_bucket[b.name()].as_u64().unwrap_or(0) as f64 / budget)
        .fold(0.0, f64::max)
        * WINDOW_SECS as f64;
    let floor_s = floor_virtual / scale;
    let wall_s = child["wall_s"].as_f64().unwrap();
    let http_429 = child["http_429"].as_u64().unwrap();
    let items = child["items_delivered"].as_u64().unwrap();
    json!({
        "scenario": scenario.name,
        "users": users,
        "groups": groups,
        "memberships": memberships,
        "admins": admins,
        "mfa": scenario.mfa,
        "external_consumer": scenario.external,
        "rate_limit_per_min": rate_limit,
        "rate_limit_share": SHARE,
        "time_scale": scale,
        "requests": requests,
        "min_requests": min_requests,
        "requests_vs_min": round3(requests as f64 / min_requests as f64),
        "per_user_requests": per_user,
        "requests_per_bucket": per_bucket,
        "server_requests": counters.total,
        "wall_s": round3(wall_s),
        "floor_s": round3(floor_s),
        "wall_vs_floor": round3(wall_s / floor_s),
        "wall_virtual_min": round3(wall_s * scale / 60.0),
        "floor_virtual_min": round3(floor_virtual / 60.0),
        "per_user_virtual_min": round3(per_user as f64 / budget),
        "http_429": http_429,
        "http_429_pct": round3(100.0 * http_429 as f64 / requests.max(1) as f64),
        "server_429": counters.http_429,
        "peak_rss_mib": child["peak_rss_mib"],
        "cpu_s": child["cpu_s"],
        "items_delivered": items,
        "events_per_s": (items as f64 / wall_s).round(),
        "summary_users": child["users"],
        "second_full_after_a_day": {
            "changes": second["changes"],
            "requests": second["requests"],
            "requests_vs_first": round3(second["requests"].as_u64().unwrap() as f64 / requests as f64),
            "requests_per_bucket": second["requests_per_bucket"],
            "factor_reads": second["factor_reads"],
            "wall_s": round3(second["wall_s"].as_f64().unwrap()),
            "deleted": second["deleted"],
            "change_feed": second["change_feed"],
            "peak_rss_mib": second["peak_rss_mib"],
        },
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn unix_ms_now() -> i64 {
    unix_ms()
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

// ---------------------------------------------------------------------------- the child

/// Runs one full sync as the connector would, and prints one JSON line of its own measures.
fn child(args: &[String]) {
    let okta_url = arg_value(args, "--okta").expect("--okta");
    let mfa: bool = arg_value(args, "--mfa").unwrap().parse().unwrap();
    let virtual_ms: i64 = arg_value(args, "--virtual-ms").unwrap().parse().unwrap();
    let unix_then: i64 = arg_value(args, "--unix-ms").unwrap().parse().unwrap();
    let scale: f64 = arg_value(args, "--time-scale").unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let intake = FakeIntake::start(INTAKE_KEY).await;
        intake.keep_items(false);
        let state_dir =
            std::env::temp_dir().join(format!("okta-bench-state-{}", std::process::id()));
        let raw = RawConfig {
            base_url: Some(okta_url),
            apikey: Some(TOKEN.to_string().into()),
            allow_insecure_http: Some(true),
            intake_url: Some(intake.url()),
            sekoia_api_key: Some(INTAKE_KEY.to_string().into()),
            state_dir: Some(state_dir.clone()),
            enrich_mfa: Some(mfa),
            rate_limit_share: Some(SHARE),
            ..RawConfig::default()
        };
        let config = raw
            .validate(Needs::OktaAndIntake)
            .expect("valid configuration");
        let first = run_child_sync(&config, virtual_ms, unix_then, scale, &intake).await;
        println!("{first}");
        // The parent applies a day of changes and answers with the fake's new virtual time.
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        let mut parts = go.split_whitespace().map(|p| p.parse::<i64>().unwrap());
        let (virtual_ms, unix_then) = (parts.next().unwrap(), parts.next().unwrap());
        let second = run_child_sync(&config, virtual_ms, unix_then, scale, &intake).await;
        println!("{second}");
        let _ = std::fs::remove_dir_all(&state_dir);
        drop(intake);
    });
}

/// One full sync on the child's state, measured.
async fn run_child_sync(
    config: &okta_asset_connector::config::Config,
    virtual_ms: i64,
    unix_then: i64,
    scale: f64,
    intake: &FakeIntake,
) -> Value {
    // The fake's virtual time now: its time then, plus the real time since, scaled.
    let elapsed_ms = (unix_ms() - unix_then) as f64 * scale;
    let start = jiff::Timestamp::from_millisecond(virtual_ms + elapsed_ms as i64).unwrap();
    let clock = Arc::new(ScaledClock::new(start, scale));
    let items_before = intake.item_count();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let (summary, result) = app::sync_once(config, None, true, clock).await;
    let wall = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    if let Err(error) = result {
        eprintln!("bench: the sync failed: {error}");
        std::process::exit(1);
    }
    let summary = summary.unwrap();
    json!({
        "users": summary.users,
        "groups": summary.groups,
        "memberships": summary.memberships,
        "admins": summary.admins,
        "deleted": summary.deleted,
        "change_feed": summary.change_feed,
        "requests": summary.okta_requests_total,
        "requests_per_bucket": summary.okta_requests,
        "http_429": summary.okta_429_quota + summary.okta_429_concurrency,
        "wall_s": wall.as_secs_f64(),
        "cpu_s": round3(cpu),
        "peak_rss_mib": round3(peak_rss_kib() as f64 / 1024.0),
        "items_delivered": intake.item_count() - items_before,
        "warnings": summary.warnings,
    })
}

/// `VmHWM` of this process, KiB.
fn peak_rss_kib() -> u64 {
    rss_kib("VmHWM:")
}

/// User + system CPU time of this process (`/proc/self/stat`, clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

// ------------------------------------------------------------- the membership index alone

/// Layouts measured by `--index-memory`: name, users, groups per user (Everyone aside).
const INDEX_LAYOUTS: [(&str, usize, usize); 2] = [
    ("2m-members-in-one-group", 2_000_000, 1),
    ("100k-users-x8-groups", 100_000, 8),
];
const INDEX_GROUPS: usize = 2_000;

/// Peak RSS growth of building the user → groups index, the way the connector lists members
/// (group by group), with the layout before this change (`old`: a hash map from each boxed id
/// string to a vector of group indices, fed a whole group's member list at a time) and the
/// compact one (`new`: packed ids and flat `u32` runs, fed page by page). Each in a child
/// process of its own, so its `VmHWM` is its own.
fn index_memory() {
    let exe = std::env::current_exe().unwrap();
    for (name, users, per_user) in INDEX_LAYOUTS {
        for layout in ["old", "new"] {
            let output = Command::new(&exe)
                .args([
                    "--index-child",
                    layout,
                    &users.to_string(),
                    &per_user.to_string(),
                ])
                .stderr(Stdio::inherit())
                .output()
                .expect("run the index child");
            let line: Value = BufReader::new(&output.stdout[..])
                .lines()
                .map_while(Result::ok)
                .find_map(|l| serde_json::from_str(&l).ok())
                .expect("the index child printed a result");
            let memberships = line["memberships"].as_u64().unwrap();
            let growth = line["rss_growth_kib"].as_u64().unwrap();
            println!(
                "{}",
                json!({
                    "index": name,
                    "layout": layout,
                    "memberships": memberships,
                    "peak_rss_growth_mib": round3(growth as f64 / 1024.0),
                    "bytes_per_membership": round3(growth as f64 * 1024.0 / memberships as f64),
                })
            );
        }
    }
}

/// An Okta-like user id (`00u` + 17 letters and digits), the same for the same `n`.
fn okta_id(n: usize) -> String {
    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut x = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995;
    let mut id = String::with_capacity(20);
    id.push_str("00u");
    for _ in 0..17 {
        id.push(ALNUM[(x % 62) as usize] as char);
        x = (x / 62) ^ (x << 7).wrapping_mul(31);
    }
    id
}

fn index_child(args: &[String]) {
    let at = args.iter().position(|a| a == "--index-child").unwrap();
    let layout = args[at + 1].as_str();
    let users: usize = args[at + 2].parse().unwrap();
    let per_user: usize = args[at + 3].parse().unwrap();
    // Members per group, as user numbers (built first: not part of what is measured). User `u`
    // is in groups (u·7 + j·131) mod INDEX_GROUPS for j < per_user; with one group per user,
    // everyone is in the same group.
    let groups = if per_user == 1 { 1 } else { INDEX_GROUPS };
    let mut by_group: Vec<Vec<u32>> = vec![Vec::new(); groups];
    for u in 0..users {
        for j in 0..per_user {
            by_group[(u * 7 + j * 131) % groups].push(u as u32);
        }
    }
    let before = rss_kib("VmRSS:");
    let memberships;
    match layout {
        "old" => {
            let mut map: std::collections::HashMap<Box<str>, Vec<u32>> =
                std::collections::HashMap::new();
            let mut count = 0u64;
            for (g, members) in by_group.iter().enumerate() {
                // The old listing returned a group's whole member list, then indexed it.
                let members: Vec<String> = members.iter().map(|&u| okta_id(u as usize)).collect();
                for member in members {
                    let groups = map.entry(member.into_boxed_str()).or_default();
                    if !groups.contains(&(g as u32)) {
                        groups.push(g as u32);
                        count += 1;
                    }
                }
            }
            memberships = count;
            std::hint::black_box(&map);
        }
        _ => {
            let mut index =
                okta_asset_connector::sync::directory::index::MembershipIndex::default();
            for (g, members) in by_group.iter().enumerate() {
                // Pages of 1,000 member ids, indexed as they arrive.
                for page in members.chunks(1000) {
                    let page: Vec<String> = page.iter().map(|&u| okta_id(u as usize)).collect();
                    for id in &page {
                        index.add(id, g as u32);
                    }
                }
            }
            index.seal();
            memberships = index.count();
            std::hint::black_box(&index);
        }
    }
    let peak = rss_kib("VmHWM:");
    println!(
        "{}",
        json!({"memberships": memberships, "rss_growth_kib": peak.saturating_sub(before)})
    );
}

/// A `/proc/self/status` field in KiB.
fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
