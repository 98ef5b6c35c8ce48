//! Mapping + serialising throughput on one thread (the target: at least 200k users/s per core,
//! so that mapping never matters next to Okta's rate limits).
//!
//! `cargo bench --bench mapping [-- USERS]` builds USERS (default 200,000) recorded-like Okta
//! users (every standard profile field, some nulls, unicode, group memberships, admin and MFA
//! flags), then maps and serialises each of them into a reused buffer, as the batcher does, and
//! prints one JSON line: `{"bench":"mapping","users":N,"users_per_s":...}`.

// `is_multiple_of` needs Rust 1.87; the crate's MSRV is 1.85.
#![allow(clippy::manual_is_multiple_of)]

use std::hint::black_box;
use std::time::Instant;

use okta_asset_connector::mapping::{map_user, Enrichment, GroupInfo, MapContext, TimeUnit};
use okta_asset_connector::okta::model::User;
use serde_json::json;

const STATUSES: [&str; 8] = [
    "ACTIVE",
    "ACTIVE",
    "ACTIVE",
    "PROVISIONED",
    "STAGED",
    "SUSPENDED",
    "DEPROVISIONED",
    "LOCKED_OUT",
];

/// A user shaped like the recorded `GET /api/v1/users` items, with the profile filled in.
fn recorded_like_user(i: usize) -> User {
    let login = format!("john.doe-{i}@example.com");
    let value = json!({
        "id": format!("00u{i:017}"),
        "status": STATUSES[i % STATUSES.len()],
        "created": "2020-08-27T18:19:47.000Z",
        "activated": if i % 3 == 0 { json!(null) } else { json!("2020-08-27T18:20:00.000Z") },
        "statusChanged": "2021-01-02T03:04:05.000Z",
        "lastLogin": if i % 5 == 0 { json!(null) } else { json!("2026-02-27T08:09:10.123Z") },
        "lastUpdated": format!("2026-01-{:02}T10:11:12.345Z", 1 + i % 28),
        "passwordChanged": "2025-11-30T12:00:00.000Z",
        "type": {"id": "otyc04qb2rUDcq2YA4x6"},
        "profile": {
            "login": login,
            "email": login,
            "secondEmail": if i % 2 == 0 { json!(null) } else { json!(format!("jd{i}@home.example.org")) },
            "firstName": "John",
            "lastName": format!("Doe-Ström {i}"),
            "displayName": format!("John Doe {i}"),
            "mobilePhone": if i % 4 == 0 { json!(null) } else { json!("+1 555 0100") },
            "primaryPhone": "+1 555 0199",
            "title": "Engineer",
            "department": "R&D",
            "costCenter": "CC-42",
            "employeeNumber": format!("E{i}"),
            "organization": "Example Corp",
            "division": "Platform",
            "managerId": "00u00000000000000001",
            "manager": "Jane Boss",
            "city": "San Francisco",
            "state": "CA",
            "countryCode": "US",
            "zipCode": "94105",
            "customAttribute": {"nested": [1, 2, 3]}
        },
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": format!("https://test.okta.com/api/v1/users/00u{i:017}")}}
    });
    serde_json::from_value(value).expect("bench user parses")
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);

    let groups: Vec<GroupInfo> = (0..8)
        .map(|g| GroupInfo {
            uid: format!("00g{g:017}"),
            name: Some(format!("Group {g}")),
            desc: (g % 2 == 0).then(|| format!("Description of group {g}")),
            group_type: ["OKTA_GROUP", "APP_GROUP", "BUILT_IN"][g % 3].to_string(),
            privileges: if g == 0 {
                vec!["Super Administrator".into()]
            } else {
                vec![]
            },
        })
        .collect();
    let group_refs: Vec<&GroupInfo> = groups.iter().collect();
    let users: Vec<User> = (0..n).map(recorded_like_user).collect();
    let ctx = MapContext {
        tenant_uid: "test.okta.com".into(),
        collected_at: "2026-03-04T05:06:07.089Z".parse().unwrap(),
        time_unit: TimeUnit::Seconds,
    };

    let run = |users: &[User]| {
        let mut buf = Vec::with_capacity(4096);
        let mut bytes = 0usize;
        let start = Instant::now();
        for (i, user) in users.iter().enumerate() {
            // 3 groups each, every 50th user an admin, MFA known for 9 users in 10.
            let first = i % (group_refs.len() - 2);
            let enrichment = Enrichment {
                groups: Some(&group_refs[first..first + 3]),
                is_admin: Some(i % 50 == 0),
                has_mfa: (i % 10 != 0).then_some(i % 3 != 0),
            };
            buf.clear();
            map_user(black_box(user), &enrichment, &ctx).write_json(&mut buf);
            bytes += black_box(&buf).len();
        }
        (start.elapsed(), bytes)
    };

    // Warm-up on a slice, then the measured pass.
    run(&users[..n.min(10_000)]);
    let cpu_before = thread_cpu_ns();
    let (elapsed, bytes) = run(&users);
    let cpu_secs = thread_cpu_ns().saturating_sub(cpu_before) as f64 / 1e9;
    let secs = elapsed.as_secs_f64();
    println!(
        "{}",
        json!({
            "bench": "mapping",
            "users": n,
            "users_per_s": (n as f64 / secs).round() as u64,
            "ns_per_user": (secs * 1e9 / n as f64).round() as u64,
            "avg_event_bytes": bytes / n.max(1),
            "seconds": (secs * 1000.0).round() / 1000.0,
            // Per second of this thread's own CPU time: what one core does, whatever else the
            // machine is running (on a shared machine wall time also counts time spent waiting
            // for a core).
            "users_per_cpu_s": (n as f64 / cpu_secs.max(1e-9)).round() as u64,
        })
    );
}

/// Time this thread has spent on a CPU, ns (`/proc/thread-self/schedstat`; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
