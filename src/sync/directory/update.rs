//! An incremental cycle's changes applied to the stored directory: groups listed or named by
//! events (renamed, created, deleted, roles granted or revoked), member lists re-read, users'
//! group lists re-read, and roles re-read. Returns every user whose event may have changed.

use std::collections::BTreeSet;

use super::roles::{self, Admins, GroupRoles};
use super::Directory;
use crate::okta::endpoints::MEMBERS_PAGE;
use crate::okta::model::Group;
use crate::okta::OktaClient;
use crate::progress::{Phase, Progress};
use crate::sync::changes::{ChangeSet, FeedMode};
use crate::sync::cycle::{Cycle, SyncError, Warnings};

/// Work found while applying group listings and events.
#[derive(Default)]
struct Pending {
    /// Users whose event may have changed.
    affected: BTreeSet<String>,
    /// Groups whose roles to read.
    roles: BTreeSet<String>,
    /// Groups whose member list to read again.
    relist: BTreeSet<String>,
}

/// Applies `changes` to `directory` and `admins`; returns the users whose groups, privileges
/// or admin status may have changed.
pub async fn apply(
    cycle: &Cycle<'_>,
    directory: &mut Directory,
    admins: &mut Admins,
    changes: &ChangeSet,
    warnings: &Warnings,
) -> Result<BTreeSet<String>, SyncError> {
    let client = cycle.client;
    let roles_on = cycle.options.enrich_roles;
    let fallback = changes.status.mode == FeedMode::Fallback;
    let mut pending = Pending::default();

    let listed: BTreeSet<&str> = changes.groups.iter().map(|g| g.id.as_str()).collect();
    if changes.groups_complete {
        for id in directory.group_ids() {
            if !listed.contains(id.as_str()) {
                pending.affected.extend(directory.delete_group(&id));
            }
        }
    }
    for group in &changes.groups {
        let membership_changed = group
            .last_membership_updated
            .is_none_or(|at| at > changes.groups_since);
        // Without the feed every member list that changed is read again; with it, large groups
        // are left to the membership events (re-listing Everyone for each new user would cost
        // a page per thousand users), small ones are re-read at once (one request).
        let small = group
            .users_count()
            .is_some_and(|n| n <= u64::from(MEMBERS_PAGE));
        let relist = membership_changed && (fallback || small);
        take_group(
            directory,
            group.clone(),
            roles_on && fallback,
            relist,
            &mut pending,
        );
    }
    // A group the listing just gave is not fetched again.
    for id in changes
        .marks
        .groups
        .iter()
        .filter(|id| !listed.contains(id.as_str()))
    {
        match client.get_group(id).await {
            Ok(group) => {
                let new = directory.group_roles(id).is_none();
                take_group(directory, group, false, new, &mut pending);
            }
            Err(error) if roles::is_not_found(&error) => {
                pending.affected.extend(directory.delete_group(id));
            }
            Err(error) => warnings.unapplied(
                "groups",
                format!("cannot read group {id}: {error}"),
                Some(&error),
            ),
        }
        cycle.check_stop()?;
    }
    for id in &pending.relist {
        relist_members(client, directory, id, &mut pending.affected, warnings).await;
        cycle.check_stop()?;
    }
    for user in &changes.marks.user_groups {
        reread_user_groups(client, directory, user, &mut pending, warnings).await;
        cycle.check_stop()?;
    }
    if roles_on {
        read_roles(
            cycle,
            directory,
            admins,
            changes,
            fallback,
            &mut pending,
            warnings,
        )
        .await;
    }
    Ok(pending.affected)
}

/// Applies one group as Okta listed it: profile, stats, and what to read next.
fn take_group(
    directory: &mut Directory,
    group: Group,
    reread_roles: bool,
    relist: bool,
    pending: &mut Pending,
) {
    let id = group.id.clone();
    let stat = group.has_admin_privilege();
    let known = directory
        .group_roles(&id)
        .map(|(stat, roles)| (stat, roles.clone()));
    if directory.upsert_group(group) {
        pending.affected.extend(directory.members_of(&id));
    }
    let roles_unknown = match &known {
        None => true,
        Some((_, roles)) => *roles == GroupRoles::Unknown,
    };
    let stat_moved = known
        .as_ref()
        .is_some_and(|(was, _)| stat.is_some() && *was != stat);
    let may_hold = stat != Some(false);
    if stat_moved || (may_hold && (roles_unknown || reread_roles)) {
        pending.roles.insert(id.clone());
    }
    if relist {
        pending.relist.insert(id);
    }
}

async fn relist_members(
    client: &OktaClient,
    directory: &mut Directory,
    group_id: &str,
    affected: &mut BTreeSet<String>,
    warnings: &Warnings,
) {
    match super::member_ids(client, group_id).await {
        Ok((members, 0)) => affected.extend(directory.replace_members(group_id, members)),
        Ok((_, skipped)) => {
            // An unreadable member record would look like a departure: keep the stored list.
            warnings.add_skipped(skipped);
            warnings.unapplied(
                "group_members",
                format!("members of group {group_id} partly unreadable; keeping the previous list"),
                None,
            );
        }
        Err(error) if roles::is_not_found(&error) => {
            affected.extend(directory.delete_group(group_id));
        }
        Err(error) => warnings.unapplied(
            "group_members",
            format!(
                "cannot read the members of group {group_id}: {error}; keeping the previous list"
            ),
            Some(&error),
        ),
    }
}

async fn reread_user_groups(
    client: &OktaClient,
    directory: &mut Directory,
    user: &str,
    pending: &mut Pending,
    warnings: &Warnings,
) {
    match client.list_user_groups(user).collect_all().await {
        Ok(groups) => {
            let unknown: Vec<String> = groups
                .iter()
                .filter(|g| directory.group_roles(&g.id).is_none())
                .map(|g| g.id.clone())
                .collect();
            if directory.set_user_groups(user, groups) {
                pending.affected.insert(user.to_string());
            }
            // Groups first seen here come without stats: their roles are unknown until read.
            pending.roles.extend(unknown);
        }
        // Gone: the listing of users confirms it and sends the deletion.
        Err(error) if roles::is_not_found(&error) => {
            pending.affected.insert(user.to_string());
        }
        Err(error) => warnings.unapplied(
            "group_members",
            format!("cannot read the groups of user {user}: {error}; keeping the previous list"),
            Some(&error),
        ),
    }
}

/// Roles: the assignee list, the users and groups named by changes (without the feed: every
/// assignee and every role-holding group), and groups whose stats moved.
async fn read_roles(
    cycle: &Cycle<'_>,
    directory: &mut Directory,
    admins: &mut Admins,
    changes: &ChangeSet,
    fallback: bool,
    pending: &mut Pending,
    warnings: &Warnings,
) {
    let client = cycle.client;
    let max_parallel = cycle.options.max_parallel;
    let progress: &Progress = &cycle.progress;
    progress.begin(Phase::Roles);
    let assignees: BTreeSet<String> = admins.assignee_ids().into_iter().collect();
    let mut users: BTreeSet<String> = changes.marks.role_users.clone();
    if fallback {
        // Nothing else would tell that an assignee's role changed status.
        users.extend(assignees);
    } else {
        // A lifecycle change of an admin may change their roles' status.
        users.extend(changes.marks.users.intersection(&assignees).cloned());
    }
    let (changed, named) = admins
        .refresh(client, users, max_parallel, warnings, progress)
        .await;
    pending.affected.extend(changed);
    pending
        .roles
        .extend(changes.marks.role_groups.iter().cloned());
    pending.roles.extend(
        named
            .into_iter()
            .filter(|id| !matches!(directory.group_roles(id), Some((_, GroupRoles::Held(_))))),
    );
    let reads = roles::read_group_roles(
        client,
        std::mem::take(&mut pending.roles),
        max_parallel,
        warnings,
        progress,
    )
    .await;
    for (group_id, read) in reads {
        let change = directory.apply_roles_read(&group_id, read);
        pending
            .affected
            .extend(directory.affected_by(&group_id, change));
    }
    progress.finish(Phase::Roles);
}

/// Users listed now whom the snapshot has never seen in a group (created since the last
/// cycle, or seen first by the `lastUpdated` search before their creation event is visible):
/// their groups are read, one request each, and the roles of groups first seen that way.
pub async fn adopt_users(
    cycle: &Cycle<'_>,
    directory: &mut Directory,
    users: &[crate::okta::model::User],
    warnings: &Warnings,
) -> Result<(), SyncError> {
    let mut pending = Pending::default();
    let unknown: Vec<&str> = users
        .iter()
        .map(|u| u.id.as_str())
        .filter(|id| !directory.knows_user(id))
        .collect();
    for user in unknown {
        reread_user_groups(cycle.client, directory, user, &mut pending, warnings).await;
        cycle.check_stop()?;
    }
    if cycle.options.enrich_roles && !pending.roles.is_empty() {
        let reads = roles::read_group_roles(
            cycle.client,
            pending.roles,
            cycle.options.max_parallel,
            warnings,
            &cycle.progress,
        )
        .await;
        for (group_id, read) in reads {
            directory.apply_roles_read(&group_id, read);
        }
    }
    Ok(())
}
