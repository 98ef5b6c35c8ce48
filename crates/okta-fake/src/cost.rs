//! What a full sync of an org costs in Okta requests, computed from the org alone: the yardsticks
//! the connector's request counts are measured against (tests, demo, benchmark).
//!
//! Page sizes are Okta's maxima: 200 users per `/api/v1/users` page, 200 groups per
//! `/api/v1/groups` page (the connector asks for no more), 1,000 members per
//! `/api/v1/groups/{id}/users` page and 100 assignees per `/api/v1/iam/assignees/users` page.

use crate::okta::Org;

fn pages(items: usize, page_size: usize) -> u64 {
    items.div_ceil(page_size).max(1) as u64
}

/// Okta requests a full sync cannot do without: user pages, group pages (listed with
/// `expand=stats`, which costs no extra request), member pages of every group, and with `roles`
/// assignee pages, one roles call per assignee and one per group holding a role (what the
/// stats flag; a role inherited by an assignee names one of those groups too), and with `mfa`
/// one factors call per user. The assignees are those the assignee list names
/// (`include_groups`: see `FakeOptions::assignees_include_groups`).
///
/// Why every role-holding group, members or not: the connector keeps every such group's
/// privileges, so a user joining an empty admin group later is an admin in the next
/// incremental cycle without another read (real orgs have few such groups). A connector
/// keeping state also reads the System Log once or more (its position); that is not counted
/// here.
pub fn bulk_minimum(org: &Org, mfa: bool, roles: bool, include_groups: bool) -> u64 {
    let users = org.users().len();
    let mut minimum = pages(users, 200) + pages(org.groups().len(), 200);
    minimum += org
        .groups()
        .iter()
        .map(|g| pages(g.member_count(), 1000))
        .sum::<u64>();
    if roles {
        let admins = org.role_assignee_ids(include_groups).len();
        let role_groups = org.groups().iter().filter(|g| !g.roles.is_empty()).count();
        minimum += pages(admins, 100) + admins as u64 + role_groups as u64;
    }
    if mfa {
        minimum += users as u64;
    }
    minimum
}

/// What a connector making one call per user for groups, roles and factors (plus one per
/// group held for its roles) would need for the same org: the per-user strategy, counted, not
/// run.
pub fn per_user_requests(org: &Org, mfa: bool) -> u64 {
    let users = org.users().len() as u64;
    let memberships = org.membership_count() as u64;
    // groups + roles (+ factors) per user, and the roles of each of the user's groups.
    pages(org.users().len(), 200) + users * if mfa { 3 } else { 2 } + memberships
}
