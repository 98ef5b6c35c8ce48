//! Tests of the fake Okta tenant itself (`crates/okta-fake`): if the fake is wrong, every
//! test built on it proves nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use okta_fake::okta::okta_time;
use okta_fake::{Bucket, FakeOkta, FakeOptions, GroupType, Org, OrgSpec};
use serde_json::Value;

pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn num(&self, name: &str) -> i64 {
        self.header(name)
            .unwrap_or_else(|| panic!("missing {name}"))
            .parse()
            .unwrap()
    }

    pub(crate) fn next(&self) -> Option<String> {
        self.headers.get_all("link").iter().find_map(|v| {
            let v = v.to_str().ok()?;
            if !v.ends_with("rel=\"next\"") {
                return None;
            }
            Some(v[v.find('<')? + 1..v.find('>')?].to_string())
        })
    }

    /// The ids of the items of a list.
    fn ids(&self) -> Vec<&str> {
        let items = self.body.as_array().expect("a list");
        items
            .iter()
            .map(|item| item["id"].as_str().unwrap())
            .collect()
    }

    pub(crate) fn error_code(&self) -> &str {
        self.body["errorCode"].as_str().unwrap_or("")
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

pub(crate) async fn get_with(client: &reqwest::Client, url: &str, token: &str) -> Resp {
    let r = client
        .get(url)
        .header("Authorization", format!("SSWS {token}"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

pub(crate) async fn get(okta: &FakeOkta, path_and_query: &str) -> Resp {
    let url = format!("{}{}", okta.base_url(), path_and_query);
    get_with(&client(), &url, okta.token()).await
}

/// Follows `next` links exactly as given; returns every item id and the number of pages.
pub(crate) async fn collect_ids(okta: &FakeOkta, first: &str) -> (Vec<String>, usize) {
    let client = client();
    let mut url = format!("{}{}", okta.base_url(), first);
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let r = get_with(&client, &url, okta.token()).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        pages += 1;
        ids.extend(r.ids().into_iter().map(String::from));
        match r.next() {
            Some(next) => url = next,
            None => return (ids, pages),
        }
    }
}

/// A tiny org (10 users, 3 groups) served with the options `tweak` sets.
async fn tiny_with(tweak: impl FnOnce(&mut FakeOptions)) -> FakeOkta {
    let mut options = FakeOptions::default();
    tweak(&mut options);
    FakeOkta::start(Org::generate(&OrgSpec::small(10, 3, 1)), options).await
}

/// A tiny org whose buckets allow `limit` requests a window of `window_secs` virtual seconds,
/// its clock running `time_scale` times faster than the real one.
async fn tiny_limited(limit: u32, window_secs: u64, time_scale: f64) -> FakeOkta {
    let options = FakeOptions {
        rate_limit: Some(limit),
        window_secs,
        time_scale,
        ..FakeOptions::default()
    };
    FakeOkta::start(Org::generate(&OrgSpec::small(10, 3, 1)), options).await
}

/// `path` with one query parameter, `name` = `value` (URL-encoded), and a page size when given.
fn query_url(path: &str, name: &str, value: &str, limit: Option<usize>) -> String {
    let limit = limit.map_or(String::new(), |limit| format!("&limit={limit}"));
    format!("{path}?{name}={}{limit}", urlencode(value))
}

/// A GET of `url` with `authorization` as it stands (none when `None`).
async fn raw_get(url: &str, authorization: Option<String>) -> reqwest::Result<reqwest::Response> {
    let mut request = client().get(url);
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    request.send().await
}

/// The status of a GET of `path_and_query`.
async fn status_of(okta: &FakeOkta, path_and_query: &str) -> u16 {
    get(okta, path_and_query).await.status
}

impl Resp {
    /// `X-Rate-Limit-Limit`, `-Remaining` and `-Reset`.
    fn rate_limit(&self) -> (i64, i64, i64) {
        let limit = self.num("x-rate-limit-limit");
        let remaining = self.num("x-rate-limit-remaining");
        (limit, remaining, self.num("x-rate-limit-reset"))
    }
}

async fn small(users: usize, groups: usize) -> FakeOkta {
    FakeOkta::start(
        Org::generate(&OrgSpec::small(users, groups, 42)),
        FakeOptions::default(),
    )
    .await
}

#[tokio::test]
async fn paging_visits_every_user_once() {
    let okta = small(120, 10).await;
    let expected: Vec<String> = okta.with_org(|o| o.users().iter().map(|u| u.id.clone()).collect());
    for limit in [1usize, 7, 200] {
        let (ids, pages) = collect_ids(
            &okta,
            &format!("/api/v1/users?search=status%20pr&limit={limit}"),
        )
        .await;
        assert_eq!(ids, expected, "limit {limit}");
        assert_eq!(pages, 120usize.div_ceil(limit), "limit {limit}");
    }
}

#[tokio::test]
async fn cursors_are_opaque_and_links_are_two_fields() {
    let okta = small(30, 5).await;
    let r = get(&okta, "/api/v1/users?search=status%20pr&limit=5").await;
    let links: Vec<&str> = r
        .headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(links.len(), 2, "{links:?}");
    let base = okta.base_url();
    assert_eq!(
        links[0],
        format!("<{base}/api/v1/users?search=status%20pr&limit=5>; rel=\"self\"")
    );
    let next = r.next().unwrap();
    assert!(
        next.starts_with(&format!("{base}/api/v1/users?after="))
            && next.ends_with("&search=status%20pr&limit=5"),
        "{next}"
    );
    let cursor = url::Url::parse(&next)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "after")
        .unwrap()
        .1
        .into_owned();
    let page_ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    okta.with_org(|o| {
        for u in o.users() {
            assert!(
                !cursor.contains(&u.id) && !cursor.contains(&u.id[3..]),
                "cursor {cursor} reveals {}",
                u.id
            );
        }
    });
    assert!(!page_ids.iter().any(|id| cursor.contains(id)));
    // A forged cursor is refused.
    let forged = get(&okta, "/api/v1/users?after=AAAAAAAAAAAAAAAA&limit=5").await;
    assert_eq!(forged.status, 400);
    // The last page has no next link.
    let (ids, _) = collect_ids(&okta, "/api/v1/users?search=status%20pr&limit=30").await;
    assert_eq!(ids.len(), 30);
}

#[tokio::test]
async fn plain_list_omits_deprovisioned_search_includes_them() {
    let okta = small(60, 5).await;
    let (deprov, total): (HashSet<String>, usize) = okta.with_org(|o| {
        (
            o.users()
                .iter()
                .filter(|u| u.status == "DEPROVISIONED")
                .map(|u| u.id.clone())
                .collect(),
            o.users().len(),
        )
    });
    assert!(!deprov.is_empty());
    let (plain, _) = collect_ids(&okta, "/api/v1/users?limit=200").await;
    assert_eq!(plain.len(), total - deprov.len());
    assert!(plain.iter().all(|id| !deprov.contains(id)));
    let (all, _) = collect_ids(&okta, "/api/v1/users?search=status+pr&limit=200").await;
    assert_eq!(all.len(), total);
    let (filtered, _) = collect_ids(
        &okta,
        "/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22&limit=200",
    )
    .await;
    assert_eq!(filtered.into_iter().collect::<HashSet<_>>(), deprov);
    // id eq ... or id eq ...
    let some: Vec<String> = deprov.iter().take(2).cloned().collect();
    let search = some
        .iter()
        .map(|id| format!("id eq \"{id}\""))
        .collect::<Vec<_>>()
        .join(" or ");
    let url = format!("/api/v1/users?search={}&limit=200", urlencode(&search));
    let (found, _) = collect_ids(&okta, &url).await;
    assert_eq!(found.len(), some.len());
    // Anything else is an invalid search.
    let bad = get(&okta, "/api/v1/users?search=nickName%20zz%20%22x%22").await;
    assert_eq!((bad.status, bad.error_code()), (400, "E0000031"));
}

pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn rate_limit_headers_count_down_and_reset() {
    // 600× time: a 60 s window lasts 0.1 real second... too fast to count down; use a 1 real
    // second window (window 60 virtual s at scale 60).
    let okta = tiny_limited(50, 60, 60.0).await;
    // Align to the start of a window for a stable count.
    let now = okta.virtual_now().as_millisecond();
    let to_next = 60_000 - now.rem_euclid(60_000);
    tokio::time::sleep(Duration::from_millis((to_next / 60 + 20) as u64)).await;
    let a = get(&okta, "/api/v1/users?limit=1").await;
    let b = get(&okta, "/api/v1/users?limit=1").await;
    let other_bucket = get(&okta, "/api/v1/groups?limit=1").await;
    assert_eq!(a.num("x-rate-limit-limit"), 50);
    assert_eq!(a.num("x-rate-limit-remaining"), 49);
    assert_eq!(b.num("x-rate-limit-remaining"), 48);
    assert_eq!(
        other_bucket.num("x-rate-limit-remaining"),
        49,
        "buckets are separate"
    );
    let reset = a.num("x-rate-limit-reset");
    assert_eq!(reset % 60, 0);
    let date = a.header("date").unwrap();
    assert!(date.ends_with(" GMT"), "{date}");
    assert!(a.header("x-okta-request-id").is_some());
    assert_ne!(a.header("x-okta-request-id"), b.header("x-okta-request-id"));
    // After the reset, the count starts again.
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    let c = get(&okta, "/api/v1/users?limit=1").await;
    assert_eq!(c.num("x-rate-limit-remaining"), 49);
    assert!(c.num("x-rate-limit-reset") > reset);
}

#[tokio::test]
async fn quota_429_past_the_limit() {
    let okta = tiny_with(|options| {
        options.rate_limits = HashMap::from([(Bucket::UsersList, 3)]);
        options.window_secs = 3600;
    })
    .await;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let r = get(&okta, "/api/v1/users?limit=1").await;
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let last = last.unwrap();
    assert_eq!(last.error_code(), "E0000047");
    let (limit, remaining, reset) = last.rate_limit();
    assert_eq!((limit, remaining), (3, 0));
    assert!(reset > okta.virtual_now().as_second());
    // Other buckets are unaffected (and advertise the "off" limit).
    let g = get(&okta, "/api/v1/groups").await;
    assert_eq!(g.status, 200);
    assert_eq!(g.num("x-rate-limit-limit"), 1_000_000);
    let c = okta.counters();
    assert_eq!(c.http_429, 2);
    assert_eq!(c.bucket(Bucket::UsersList), 5);
    assert_eq!(c.bucket(Bucket::Groups), 1);
    assert_eq!(c.endpoint("GET /api/v1/users"), 5);
    assert_eq!(c.total, 6);
}

#[tokio::test]
async fn external_consumer_eats_the_budget() {
    let okta = tiny_limited(100, 3600, 1.0).await;
    okta.faults().external_consumer(Bucket::UsersList, 1.0);
    let r = get(&okta, "/api/v1/users?limit=1").await;
    // Whatever the position in the hour, the other client already used its share so far.
    let into = okta.virtual_now().as_second().rem_euclid(3600) as f64 / 3600.0;
    let expected = 100 - 1 - (100.0 * into).floor() as i64;
    assert!((r.num("x-rate-limit-remaining") - expected).abs() <= 1);
    assert_eq!(okta.counters().total, 1);
}

#[tokio::test]
async fn concurrency_429_with_zero_headers() {
    let okta = tiny_with(|options| options.concurrency_cap = Some(2)).await;
    okta.faults().slow(Duration::from_millis(300));
    let client = client();
    let url = format!("{}/api/v1/users?limit=1", okta.base_url());
    let handles: Vec<_> = (0..5)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), okta.token().to_string());
            tokio::spawn(async move { get_with(&client, &url, &token).await })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.unwrap());
    }
    let refused: Vec<&Resp> = results.iter().filter(|r| r.status == 429).collect();
    assert_eq!(
        refused.len(),
        3,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in refused {
        assert_eq!(r.error_code(), "E0000047");
        let (limit, remaining, reset) = r.rate_limit();
        assert_eq!((limit, remaining), (0, 0));
        assert!(reset > 0);
    }
    let c = okta.counters();
    assert_eq!((c.http_429, c.http_429_concurrency), (3, 3));
}

#[tokio::test]
async fn mutation_shows_up_in_incremental_query() {
    let okta = small(50, 8).await;
    let since = okta_time(okta.virtual_now());
    let q = |since: &str| {
        let search = format!("lastUpdated gt \"{since}\"");
        query_url("/api/v1/users", "search", &search, Some(200))
    };
    let (before, _) = collect_ids(&okta, &q(&since)).await;
    assert!(before.is_empty(), "generated history is before the clock");
    let (id, other) = okta.with_org(|o| (o.users()[3].id.clone(), o.users()[4].id.clone()));
    okta.with_org(|o| o.update_user_profile(&id, "title", "Chief Fake Officer"));
    let (after, _) = collect_ids(&okta, &q(&since)).await;
    assert_eq!(after, [id.as_str()]);
    let r = get(&okta, &format!("/api/v1/users/{id}")).await;
    assert_eq!(r.body["profile"]["title"], "Chief Fake Officer");
    let lu: jiff::Timestamp = r.body["lastUpdated"].as_str().unwrap().parse().unwrap();
    assert!(lu >= since.parse::<jiff::Timestamp>().unwrap());
    // ge works too, and a deactivation is found.
    okta.with_org(|o| o.set_user_status(&other, "DEPROVISIONED"));
    let ge_since = format!("lastUpdated ge \"{since}\"");
    let ge = query_url("/api/v1/users", "filter", &ge_since, Some(200));
    let (found, _) = collect_ids(&okta, &ge).await;
    assert_eq!(
        found.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([id.clone(), other.clone()])
    );
    let r = get(&okta, &format!("/api/v1/users/{other}")).await;
    assert_eq!(r.body["status"], "DEPROVISIONED");
    assert!(r.body["statusChanged"].as_str().unwrap() >= since.as_str());
    // Hard delete: gone everywhere.
    okta.with_org(|o| o.delete_user(&other));
    let r = get(&okta, &format!("/api/v1/users/{other}")).await;
    assert_eq!((r.status, r.error_code()), (404, "E0000007"));
    assert_eq!(
        r.body["errorSummary"],
        format!("Not found: Resource not found: {other} (User)")
    );
    let (all, _) = collect_ids(&okta, "/api/v1/users?search=status%20pr&limit=7").await;
    assert_eq!(all.len(), 49);
}

#[tokio::test]
async fn membership_change_bumps_group_not_user() {
    let okta = small(50, 8).await;
    let since = okta_time(okta.virtual_now());
    let (group, user, user_lu) = okta.with_org(|o| {
        let g = o.first_group_of(GroupType::Okta).unwrap().id.clone();
        let u = o.first_non_member_of(&g).unwrap();
        (g, u.id.clone(), u.last_updated)
    });
    let filter = format!("lastUpdated gt \"{since}\" or lastMembershipUpdated gt \"{since}\"");
    let url = query_url("/api/v1/groups", "filter", &filter, Some(200));
    assert!(collect_ids(&okta, &url).await.0.is_empty());
    assert!(okta.with_org(|o| o.add_member(&group, &user)));
    assert_eq!(collect_ids(&okta, &url).await.0, [group.as_str()]);
    // The user's lastUpdated did not move, so incremental user search does not see it.
    let r = get(&okta, &format!("/api/v1/users/{user}")).await;
    assert_eq!(r.body["lastUpdated"], okta_time(user_lu));
    let updated_since = format!("lastUpdated gt \"{since}\"");
    let users_url = query_url("/api/v1/users", "search", &updated_since, None);
    assert!(collect_ids(&okta, &users_url).await.0.is_empty());
    let (members, _) = collect_ids(&okta, &format!("/api/v1/groups/{group}/users?limit=2")).await;
    assert!(members.contains(&user));
    let user_groups = get(&okta, &format!("/api/v1/users/{user}/groups")).await;
    assert!(user_groups.ids().contains(&group.as_str()));
    // Either filter clause alone, search too, and type eq.
    let members_since = format!("lastMembershipUpdated gt \"{since}\"");
    let search = query_url("/api/v1/groups", "search", &members_since, None);
    assert_eq!(collect_ids(&okta, &search).await.0, [group.as_str()]);
    let by_name = query_url("/api/v1/groups", "filter", &updated_since, None);
    assert!(collect_ids(&okta, &by_name).await.0.is_empty());
    okta.with_org(|o| o.rename_group(&group, "Renamed"));
    assert_eq!(collect_ids(&okta, &by_name).await.0, [group.as_str()]);
    let okta_groups = collect_ids(&okta, "/api/v1/groups?filter=type%20eq%20%22OKTA_GROUP%22")
        .await
        .0;
    let expected = okta.with_org(|o| {
        o.groups()
            .iter()
            .filter(|g| g.group_type == GroupType::Okta)
            .count()
    });
    assert_eq!(okta_groups.len(), expected);
}

#[tokio::test]
async fn iam_assignees_body_paging_and_roles() {
    for include_groups in [false, true] {
        iam_assignees(include_groups).await;
    }
}

async fn iam_assignees(include_groups: bool) {
    let okta = FakeOkta::start(
        Org::generate(&OrgSpec {
            users: 400,
            groups: 30,
            seed: 9,
            admin_fraction: 0.05,
            ..OrgSpec::default()
        }),
        FakeOptions {
            assignees_include_groups: include_groups,
            ..FakeOptions::default()
        },
    )
    .await;
    let expected: Vec<String> = okta.with_org(|o| {
        let listed = o.role_assignee_ids(include_groups);
        let direct: Vec<&str> = o
            .users()
            .iter()
            .filter(|u| !u.roles.is_empty())
            .map(|u| u.id.as_str())
            .collect();
        if include_groups {
            assert_eq!(listed, o.admin_user_ids(), "every role holder");
            assert!(listed.len() > direct.len(), "group-only admins listed too");
        } else {
            assert_eq!(listed, direct, "direct role holders only");
        }
        listed.iter().map(|s| s.to_string()).collect()
    });
    assert!(expected.len() > 3, "{}", expected.len());
    let client = client();
    let mut url = format!("{}/api/v1/iam/assignees/users?limit=3", okta.base_url());
    let mut seen = Vec::new();
    loop {
        let r = get_with(&client, &url, okta.token()).await;
        assert_eq!(r.status, 200);
        let org_id = okta.with_org(|o| o.org_id.clone());
        for v in r.body["value"].as_array().unwrap() {
            let id = v["id"].as_str().unwrap();
            assert_eq!(v["orn"], format!("orn:okta:directory:{org_id}:users:{id}"));
            seen.push(id.to_string());
        }
        match r.body["_links"].get("next") {
            Some(next) => url = next["href"].as_str().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    // Roles of an admin through a group carry assignmentType GROUP.
    let (via_group, group_id) = okta.with_org(|o| {
        let g = o.groups().iter().find(|g| !g.roles.is_empty()).unwrap();
        (o.members_of(&g.id)[0].to_string(), g.id.clone())
    });
    let r = get(&okta, &format!("/api/v1/users/{via_group}/roles")).await;
    let roles = r.body.as_array().unwrap();
    assert!(roles.iter().any(|r| r["assignmentType"] == "GROUP"));
    let r = get(&okta, &format!("/api/v1/groups/{group_id}/roles")).await;
    assert!(!r.body.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn auth_forbidden_and_not_found() {
    let okta = small(10, 3).await;
    let url = format!("{}/api/v1/users", okta.base_url());
    let bad = get_with(&client(), &url, "wrong").await;
    assert_eq!((bad.status, bad.error_code()), (401, "E0000011"));
    assert_eq!(bad.body["errorSummary"], "Invalid token provided");
    assert!(bad.body["errorId"].as_str().unwrap().starts_with("oae"));
    assert_eq!(bad.body["errorCauses"], serde_json::json!([]));
    let none = raw_get(&url, None).await.unwrap();
    assert_eq!(none.status().as_u16(), 401);
    // The official Python SDK (okta 3.x) sends `SSWS<token>` without the space.
    let glued = raw_get(&url, Some(format!("SSWS{}", okta.token()))).await;
    assert_eq!(glued.unwrap().status().as_u16(), 200);
    okta.set_forbidden(Bucket::UserById, true);
    let id = okta.with_org(|o| o.users()[0].id.clone());
    let r = get(&okta, &format!("/api/v1/users/{id}/factors")).await;
    assert_eq!((r.status, r.error_code()), (403, "E0000006"));
    assert_eq!(get(&okta, "/api/v1/users").await.status, 200);
    okta.set_forbidden(Bucket::UserById, false);
    let factors = format!("/api/v1/users/{id}/factors");
    assert_eq!(status_of(&okta, &factors).await, 200);
    let r = get(&okta, "/api/v1/groups/00gnope/users").await;
    assert_eq!((r.status, r.error_code()), (404, "E0000007"));
    let r = get(&okta, "/api/v1/nothing/here").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn fault_injection() {
    let okta = small(30, 3).await;
    let faults = okta.faults();
    faults.fail_nth(2, 500);
    let a = get(&okta, "/api/v1/users?limit=1").await;
    let b = get(&okta, "/api/v1/users?limit=1").await;
    let c = get(&okta, "/api/v1/users?limit=1").await;
    assert_eq!((a.status, b.status, c.status), (200, 500, 200));
    assert_eq!(b.error_code(), "E0000009");
    faults.fail_next(2, 503);
    assert_eq!(get(&okta, "/api/v1/groups").await.status, 503);
    assert_eq!(get(&okta, "/api/v1/groups").await.status, 503);
    assert_eq!(get(&okta, "/api/v1/groups").await.status, 200);
    let id = okta.with_org(|o| o.users()[1].id.clone());
    faults.fail_path_contains("/factors", 500, Some(1));
    let factors = format!("/api/v1/users/{id}/factors");
    assert_eq!(status_of(&okta, &factors).await, 500);
    assert_eq!(status_of(&okta, &factors).await, 200);
    // Truncated body: the client sees an error reading the body.
    faults.truncate_next(1);
    let url = format!("{}/api/v1/users?limit=5", okta.base_url());
    let token = format!("SSWS {}", okta.token());
    let r = raw_get(&url, Some(token.clone())).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.bytes().await.is_err(), "truncated body must fail");
    // Dropped connection.
    faults.drop_next(1);
    assert!(raw_get(&url, Some(token)).await.is_err());
    // Foreign next link.
    faults.foreign_next_link("https://evil.example.com");
    let r = get(&okta, "/api/v1/users?search=status%20pr&limit=5").await;
    assert!(r
        .next()
        .unwrap()
        .starts_with("https://evil.example.com/api/v1/users?after="));
    let r = get(&okta, "/api/v1/users?search=status%20pr&limit=5").await;
    assert!(r.next().unwrap().starts_with(&okta.base_url()));
    // Slow.
    faults.slow(Duration::from_millis(200));
    let t = std::time::Instant::now();
    get(&okta, "/api/v1/groups").await;
    assert!(t.elapsed() >= Duration::from_millis(200));
    faults.clear();
    let t = std::time::Instant::now();
    get(&okta, "/api/v1/groups").await;
    assert!(t.elapsed() < Duration::from_millis(200));
}

#[test]
fn same_seed_same_org_and_realistic_content() {
    let spec = OrgSpec::small(300, 40, 7);
    let a = Org::generate(&spec);
    let b = Org::generate(&spec);
    assert!(
        a.users() == b.users() && a.groups() == b.groups(),
        "same seed, same org"
    );
    let c = Org::generate(&OrgSpec::small(300, 40, 8));
    assert_ne!(a.users()[0].id, c.users()[0].id);

    let statuses: BTreeSet<&str> = a.users().iter().map(|u| u.status.as_str()).collect();
    let every_status = "ACTIVE STAGED PROVISIONED RECOVERY LOCKED_OUT PASSWORD_EXPIRED SUSPENDED \
        DEPROVISIONED ACTIVATING";
    for s in every_status.split_whitespace() {
        assert!(statuses.contains(s), "missing status {s}");
    }
    let types: HashSet<GroupType> = a.groups().iter().map(|g| g.group_type).collect();
    assert_eq!(types.len(), 3);
    let everyone = a.everyone().unwrap();
    assert_eq!(everyone.name, "Everyone");
    assert_eq!(a.members_of(&everyone.id).len(), 300);
    assert!(a.groups().iter().any(|g| g.member_count() == 1));
    // Roles: an unknown type, a custom one, a group-inherited admin, a user with both.
    let user_types: HashSet<String> = a
        .users()
        .iter()
        .flat_map(|u| u.roles.iter().map(|r| r.role_type.clone()))
        .collect();
    assert!(user_types.contains("MOBILE_ADMIN") && user_types.contains("CUSTOM"));
    let inherited: Vec<&str> = a
        .users()
        .iter()
        .filter(|u| u.roles.is_empty() && a.is_admin(&u.id))
        .map(|u| u.id.as_str())
        .collect();
    assert!(!inherited.is_empty(), "an admin only through a group");
    assert!(a.users().iter().any(|u| {
        let roles = a.user_roles(&u.id);
        roles.iter().any(|r| r.assignment_type() == "USER")
            && roles.iter().any(|r| r.assignment_type() == "GROUP")
    }));
    assert_eq!(
        a.admin_user_ids().len(),
        a.users().iter().filter(|u| a.is_admin(&u.id)).count()
    );
    // Factors: some users with factors but none ACTIVE.
    assert!(a
        .users()
        .iter()
        .any(|u| !u.factors.is_empty() && u.active_factor_count() == 0));
    assert!(a.users().iter().any(|u| u.active_factor_count() > 0));
    assert!(a.users().iter().any(|u| u.factors.is_empty()));
    // Nulls, odd profiles.
    assert!(a
        .users()
        .iter()
        .any(|u| u.status == "ACTIVE" && u.activated.is_none()));
    assert!(a.users().iter().any(|u| u.last_login.is_none()));
    assert!(a.users().iter().any(|u| u.credentials_json.is_none()));
    let profiles: Vec<serde_json::Map<String, Value>> =
        a.users().iter().map(|u| u.profile()).collect();
    assert!(profiles.iter().any(|p| !p.contains_key("firstName")));
    assert!(profiles.iter().any(|p| !p.contains_key("email")));
    assert!(profiles.iter().any(|p| p
        .get("title")
        .and_then(Value::as_str)
        .is_some_and(|t| t.len() >= 2000)));
    assert!(profiles.iter().any(|p| p
        .get("title")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains("<script>"))));
    assert!(profiles
        .iter()
        .any(|p| p.get("firstName").and_then(Value::as_str) == Some("Zoë")));
    assert!(profiles.iter().any(|p| p.get("managerId").is_some()));
    assert!(profiles
        .iter()
        .any(|p| p.get("extensionAttributes").is_some_and(Value::is_object)));
    let end = jiff::Timestamp::from_second(okta_fake::okta::HISTORY_END_S).unwrap();
    assert!(a
        .users()
        .iter()
        .all(|u| u.last_updated < end && u.created <= u.last_updated));
    // Membership count is in the requested ballpark (users × 8, Everyone included).
    let m = a.membership_count();
    assert!((1500..=2700).contains(&m), "{m}");
}

#[tokio::test]
async fn json_shapes_match_okta() {
    let okta = small(50, 10).await;
    let r = get(&okta, "/api/v1/users?search=status%20pr&limit=50").await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    for u in r.body.as_array().unwrap() {
        let id = u["id"].as_str().unwrap();
        assert!(id.starts_with("00u") && id.len() == 20);
        for k in [
            "status",
            "created",
            "lastUpdated",
            "type",
            "profile",
            "_links",
        ] {
            assert!(u.get(k).is_some(), "{k} missing in {u}");
        }
        for k in ["activated", "statusChanged", "lastLogin", "passwordChanged"] {
            assert!(u[k].is_null() || u[k].as_str().unwrap().ends_with(".000Z"));
        }
        assert!(u["lastUpdated"].as_str().unwrap().ends_with(".000Z"));
    }
    let factors_user = okta.with_org(|o| {
        o.users()
            .iter()
            .find(|u| !u.factors.is_empty())
            .unwrap()
            .id
            .clone()
    });
    let r = get(&okta, &format!("/api/v1/users/{factors_user}/factors")).await;
    let f = &r.body.as_array().unwrap()[0];
    for k in [
        "id",
        "factorType",
        "provider",
        "vendorName",
        "status",
        "created",
        "lastUpdated",
        "profile",
    ] {
        assert!(f.get(k).is_some(), "{k} missing in {f}");
    }
    let r = get(&okta, "/api/v1/groups").await;
    let groups = r.body.as_array().unwrap();
    assert_eq!(groups.len(), 10);
    assert!(r.header("link").unwrap().contains("limit=10000"));
    let everyone = groups.iter().find(|g| g["type"] == "BUILT_IN").unwrap();
    assert_eq!(everyone["profile"]["name"], "Everyone");
    assert_eq!(everyone["objectClass"][0], "okta:user_group");
    let app = groups.iter().find(|g| g["type"] == "APP_GROUP").unwrap();
    assert_eq!(app["objectClass"][0], "okta:windows_security_principal");
    assert!(app["profile"]["samAccountName"].is_string());
    assert!(groups
        .iter()
        .all(|g| g["lastMembershipUpdated"].is_string()));
    // Group members page through every member exactly once.
    let (gid, expected) = okta.with_org(|o| {
        let g = &o.groups()[0];
        (
            g.id.clone(),
            o.members_of(&g.id)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
    });
    let (members, _) = collect_ids(&okta, &format!("/api/v1/groups/{gid}/users?limit=7")).await;
    assert_eq!(members, expected);
    // omitCredentials.
    let r = client()
        .get(format!("{}/api/v1/users?limit=50", okta.base_url()))
        .header("Authorization", format!("SSWS {}", okta.token()))
        .header(
            "Content-Type",
            "application/json; okta-response=omitCredentials,omitCredentialsLinks",
        )
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(body
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u.get("credentials").is_none()));
}

#[test]
fn large_org_generates_quickly() {
    // The release example serves 100k users; here a 20k org keeps debug test time small.
    let t = std::time::Instant::now();
    let org = Org::generate(&OrgSpec::small(20_000, 400, 3));
    let m = org.membership_count();
    assert!((140_000..=180_000).contains(&m), "{m}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}
