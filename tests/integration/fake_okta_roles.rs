//! The fake tenant's admin model: `expand=stats` on groups, both readings of the role assignee
//! list, role grants, revocations and status changes for users and groups, the timestamps each
//! mutation moves, and orgs whose role-holding groups have no member with a direct role.

use std::collections::BTreeSet;

use okta_fake::okta::okta_time;
use okta_fake::{FakeOkta, FakeOptions, GroupType, Org, OrgSpec, StatsAdminSpelling};
use serde_json::Value;

use crate::fake_okta::{collect_ids, get, urlencode};

async fn serve(spec: OrgSpec, options: FakeOptions) -> FakeOkta {
    FakeOkta::start(Org::generate(&spec), options).await
}

/// Every group of every page of `first`, as JSON.
async fn all_groups(okta: &FakeOkta, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = format!("{}{first}", okta.base_url());
    loop {
        let r = crate::fake_okta::get_with(&crate::fake_okta::client(), &url, okta.token()).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        out.extend(r.body.as_array().unwrap().iter().cloned());
        match r.next() {
            Some(next) => url = next,
            None => return out,
        }
    }
}

#[tokio::test]
async fn groups_expand_stats_embeds_counts_and_the_admin_flag() {
    for spelling in [StatsAdminSpelling::Observed, StatsAdminSpelling::Spec] {
        let okta = serve(
            OrgSpec::small(120, 12, 3),
            FakeOptions {
                stats_admin_spelling: spelling,
                ..FakeOptions::default()
            },
        )
        .await;
        let (key, other) = match spelling {
            StatsAdminSpelling::Observed => ("hasAdminPrivilege", "hasAdminPrivlege"),
            StatsAdminSpelling::Spec => ("hasAdminPrivlege", "hasAdminPrivilege"),
        };
        // Small pages: `expand` must survive in the next links.
        let groups = all_groups(&okta, "/api/v1/groups?expand=stats&limit=5").await;
        assert_eq!(groups.len(), 12);
        let mut flagged = 0;
        for g in &groups {
            let id = g["id"].as_str().unwrap();
            let stats = &g["_embedded"]["stats"];
            let (members, has_role) = okta.with_org(|o| {
                let group = o.group(id).unwrap();
                (group.member_count(), !group.roles.is_empty())
            });
            assert_eq!(stats["usersCount"], members, "{id}");
            assert!(stats["appsCount"].is_u64(), "{id}: {stats}");
            assert_eq!(stats["groupPushMappingsCount"], 0, "{id}");
            assert_eq!(stats[key], has_role, "{id}: {stats}");
            assert!(stats.get(other).is_none(), "one spelling only: {stats}");
            assert_eq!(
                stats["_links"]["self"]["href"],
                format!("{}/api/v1/groups/{id}/stats", okta.base_url())
            );
            flagged += usize::from(has_role);
        }
        assert_eq!(flagged, 3, "the generator's three role groups");
        // Without expand: no `_embedded`; a single group takes expand too.
        let plain = all_groups(&okta, "/api/v1/groups").await;
        assert!(plain.iter().all(|g| g.get("_embedded").is_none()));
        let id = groups[0]["id"].as_str().unwrap();
        let one = get(&okta, &format!("/api/v1/groups/{id}?expand=stats")).await;
        assert_eq!(one.body["_embedded"], groups[0]["_embedded"]);
    }
}

#[tokio::test]
async fn the_assignee_list_names_direct_role_holders_or_every_role_holder() {
    let spec = OrgSpec {
        group_only_admin_groups: 2,
        ..OrgSpec::small(300, 20, 11)
    };
    for include_groups in [false, true] {
        let okta = serve(
            spec.clone(),
            FakeOptions {
                assignees_include_groups: include_groups,
                ..FakeOptions::default()
            },
        )
        .await;
        let mut listed = Vec::new();
        let mut url = "/api/v1/iam/assignees/users?limit=10".to_string();
        loop {
            let r = get(&okta, &url).await;
            assert_eq!(r.status, 200);
            for v in r.body["value"].as_array().unwrap() {
                listed.push(v["id"].as_str().unwrap().to_string());
            }
            match r.body["_links"]["next"]["href"].as_str() {
                Some(next) => url = next.trim_start_matches(&okta.base_url()).to_string(),
                None => break,
            }
        }
        let (direct, group_only) = okta.with_org(|o| {
            let direct: BTreeSet<String> = o
                .users()
                .iter()
                .filter(|u| !u.roles.is_empty())
                .map(|u| u.id.clone())
                .collect();
            let group_only: BTreeSet<String> = o
                .group_only_admin_ids()
                .into_iter()
                .map(str::to_string)
                .collect();
            (direct, group_only)
        });
        assert!(!group_only.is_empty());
        let listed: BTreeSet<String> = listed.into_iter().collect();
        assert!(
            listed.is_superset(&direct),
            "include_groups={include_groups}"
        );
        assert_eq!(
            listed.is_disjoint(&group_only),
            !include_groups,
            "group-only admins listed only when include_groups"
        );
    }
}

#[tokio::test]
async fn group_only_admin_groups_have_no_member_holding_a_direct_role() {
    let org = Org::generate(&OrgSpec {
        group_only_admin_groups: 3,
        ..OrgSpec::small(600, 40, 5)
    });
    let without = Org::generate(&OrgSpec::small(600, 40, 5));
    let role_groups: Vec<_> = org
        .groups()
        .iter()
        .filter(|g| !g.roles.is_empty())
        .collect();
    assert_eq!(role_groups.len(), 3 + 3, "three more role groups");
    let group_only: Vec<_> = role_groups
        .iter()
        .filter(|g| {
            org.members_of(&g.id)
                .iter()
                .all(|u| org.user(u).unwrap().roles.is_empty())
        })
        .collect();
    assert!(group_only.len() >= 3, "{}", group_only.len());
    assert!(group_only.iter().any(|g| g.member_count() >= 2));
    for g in &group_only {
        for u in org.members_of(&g.id) {
            assert!(org.is_admin(u), "{u} is an admin through {}", g.id);
        }
    }
    assert!(org.group_only_admin_ids().len() > without.group_only_admin_ids().len());
    // The option adds roles only: users and their direct roles are those of the same seed.
    assert_eq!(org.users().len(), without.users().len());
    for (a, b) in org.users().iter().zip(without.users()) {
        assert_eq!((&a.id, &a.roles), (&b.id, &b.roles));
    }
}

/// `/api/v1/users/{id}/roles` as (type, status, assignmentType) triples.
async fn served_roles(okta: &FakeOkta, user: &str) -> BTreeSet<(String, String, String)> {
    let r = get(okta, &format!("/api/v1/users/{user}/roles")).await;
    assert_eq!(r.status, 200);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap().to_string();
            (field("type"), field("status"), field("assignmentType"))
        })
        .collect()
}

fn triple(t: &str, status: &str, assignment: &str) -> (String, String, String) {
    (t.into(), status.into(), assignment.into())
}

#[tokio::test]
async fn role_grants_revocations_and_status_changes_leave_the_users_last_updated_alone() {
    let okta = serve(OrgSpec::small(60, 8, 21), FakeOptions::default()).await;
    let (user, group, member) = okta.with_org(|o| {
        let user = o
            .users()
            .iter()
            .find(|u| u.roles.is_empty() && !o.is_admin(&u.id))
            .unwrap()
            .id
            .clone();
        let group = o
            .groups()
            .iter()
            .find(|g| g.group_type == GroupType::Okta && g.roles.is_empty() && g.member_count() > 0)
            .unwrap();
        let member = o
            .members_of(&group.id)
            .into_iter()
            .find(|m| !o.is_admin(m))
            .unwrap()
            .to_string();
        (user, group.id.clone(), member)
    });
    let stamps = |okta: &FakeOkta| {
        okta.with_org(|o| {
            let g = o.group(&group).unwrap();
            (
                o.user(&user).unwrap().last_updated,
                o.user(&member).unwrap().last_updated,
                g.last_updated,
                g.last_membership_updated,
            )
        })
    };
    let before = stamps(&okta);

    // A user: grant, deactivate, reactivate, revoke.
    let assignment = okta.with_org(|o| o.grant_user_role(&user, "USER_ADMIN"));
    assert_eq!(
        served_roles(&okta, &user).await,
        BTreeSet::from([triple("USER_ADMIN", "ACTIVE", "USER")])
    );
    assert!(okta.with_org(|o| o.is_admin(&user)));
    let granted = okta.with_org(|o| o.user(&user).unwrap().roles[0].clone());
    assert_eq!(granted.id, assignment);
    assert_eq!(okta_time(granted.created).len(), 24);
    assert!(okta_time(granted.created).ends_with(".000Z"));
    assert_eq!(
        okta.with_org(|o| o.set_user_role_status(&user, &assignment, "INACTIVE")),
        1
    );
    assert_eq!(
        served_roles(&okta, &user).await,
        BTreeSet::from([triple("USER_ADMIN", "INACTIVE", "USER")])
    );
    assert!(!okta.with_org(|o| o.is_admin(&user)), "an INACTIVE role");
    let after_status = okta.with_org(|o| o.user(&user).unwrap().roles[0].last_updated);
    // Stamped now (the same second as the grant, or a later one).
    assert!(after_status >= granted.last_updated);
    assert_eq!(after_status.as_millisecond() % 1000, 0);
    okta.with_org(|o| o.set_user_role_status(&user, "USER_ADMIN", "ACTIVE"));
    assert!(okta.with_org(|o| o.is_admin(&user)));
    let revoked = okta.with_org(|o| o.revoke_user_role(&user, &assignment));
    assert_eq!(revoked.len(), 1);
    assert!(served_roles(&okta, &user).await.is_empty());
    assert!(!okta.with_org(|o| o.is_admin(&user)));

    // A group: its members hold its roles, ACTIVE or not.
    let assignment = okta.with_org(|o| o.grant_group_role(&group, "HELP_DESK_ADMIN"));
    assert_eq!(
        served_roles(&okta, &member).await,
        BTreeSet::from([triple("HELP_DESK_ADMIN", "ACTIVE", "GROUP")])
    );
    let r = get(&okta, &format!("/api/v1/groups/{group}/roles")).await;
    assert_eq!(r.body[0]["id"], assignment.as_str());
    assert_eq!(
        okta.with_org(|o| o.group_privileges(&group).join(",")),
        "Help Desk Administrator"
    );
    assert!(okta.with_org(|o| o.is_admin(&member)));
    okta.with_org(|o| o.set_group_role_status(&group, &assignment, "INACTIVE"));
    assert_eq!(
        served_roles(&okta, &member).await,
        BTreeSet::from([triple("HELP_DESK_ADMIN", "INACTIVE", "GROUP")])
    );
    assert!(okta.with_org(|o| o.group_privileges(&group).is_empty()));
    assert!(!okta.with_org(|o| o.is_admin(&member)));
    let stats = get(&okta, &format!("/api/v1/groups/{group}?expand=stats")).await;
    assert_eq!(
        stats.body["_embedded"]["stats"]["hasAdminPrivilege"], true,
        "an assignment, whatever its status"
    );
    okta.with_org(|o| o.revoke_group_role(&group, "HELP_DESK_ADMIN"));
    assert!(served_roles(&okta, &member).await.is_empty());

    // None of it moved a user's lastUpdated, nor the group's timestamps.
    assert_eq!(stamps(&okta), before);
}

#[tokio::test]
async fn mutations_move_the_timestamps_okta_moves_in_whole_seconds() {
    let okta = serve(OrgSpec::small(40, 6, 8), FakeOptions::default()).await;
    let since = okta_time(okta.virtual_now());
    let lu = |okta: &FakeOkta, id: &str| okta.with_org(|o| o.user(id).unwrap().last_updated);
    let (a, b) = okta.with_org(|o| (o.users()[1].id.clone(), o.users()[2].id.clone()));

    // Profile and status changes move lastUpdated, to a whole second.
    let before = lu(&okta, &a);
    okta.with_org(|o| o.update_user_profile(&a, "title", "Auditor"));
    let after = lu(&okta, &a);
    assert!(after > before);
    assert_eq!(after.as_millisecond() % 1000, 0);
    let r = get(&okta, &format!("/api/v1/users/{a}")).await;
    assert!(r.body["lastUpdated"].as_str().unwrap().ends_with(".000Z"));

    // Factor changes do not.
    let before = lu(&okta, &b);
    let factor = okta.with_org(|o| o.add_factor(&b, "push", "ACTIVE"));
    okta.with_org(|o| o.set_factor_status(&b, &factor, "INACTIVE"));
    assert_eq!(lu(&okta, &b), before);

    // Two changes to one user within one second: equal lastUpdated values.
    let status = okta.with_org(|o| match o.user(&a).unwrap().status.as_str() {
        "SUSPENDED" => "ACTIVE",
        _ => "SUSPENDED",
    });
    let (first, second) = okta.with_org(|o| {
        o.in_one_second(|o| {
            o.update_user_profile(&a, "title", "First");
            let first = o.user(&a).unwrap().last_updated;
            o.set_user_status(&a, status);
            (first, o.user(&a).unwrap().last_updated)
        })
    });
    assert_eq!(first, second);
    let r = get(&okta, &format!("/api/v1/users/{a}")).await;
    assert_eq!(r.body["status"], status);
    assert_eq!(r.body["statusChanged"], r.body["lastUpdated"]);

    // A new user: created = lastUpdated, in Everyone, whose lastMembershipUpdated moves.
    let id = okta.with_org(|o| o.create_user("new.hire@example.com", "New", "Hire", "ACTIVE"));
    let (created, everyone) = okta.with_org(|o| {
        let u = o.user(&id).unwrap();
        assert_eq!(u.created, u.last_updated);
        let everyone = o.everyone().unwrap();
        assert!(o.members_of(&everyone.id).contains(&id.as_str()));
        (u.created, everyone.last_membership_updated)
    });
    assert_eq!(everyone, created);
    let search = format!(
        "/api/v1/users?search={}",
        urlencode(&format!("lastUpdated gt \"{since}\""))
    );
    let (changed, _) = collect_ids(&okta, &search).await;
    assert_eq!(
        changed.into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([a.clone(), id.clone()])
    );
}
