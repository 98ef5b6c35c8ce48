//! The incremental cycle: only what changed since the cursors.
//!
//! 1. Groups whose profile or membership changed (`lastUpdated` or `lastMembershipUpdated`
//!    after the cursor): their members are listed again and diffed with the stored snapshot;
//!    every user who joined or left, and every member of a renamed group, is affected.
//! 2. Roles: the assignee list is read again (cheap); only new assignees' roles are read,
//!    plus the roles of the role-holding groups. Changed admin status or group privileges
//!    make users affected.
//! 3. Users changed since the cursor (`lastUpdated gt cursor − overlap`), de-duplicated by
//!    `(id, lastUpdated)` against what was delivered, are sent with fresh MFA.
//! 4. Affected users not in that listing are read by id (`id eq … or …`, 50 per request) and
//!    sent with their cached MFA; a known user Okta no longer has (confirmed by a 404) is sent
//!    once as deleted.
//!
//! The result equals what a full sync would send for those users, except MFA changes that
//! did not touch the user (Okta does not bump `lastUpdated` for them): those are refreshed by
//! the next full sync.

use std::collections::{BTreeSet, HashSet};

use jiff::{SignedDuration, Timestamp};

use super::{
    map_context, stream_users, Admins, Cycle, Directory, Emitter, Enricher, MfaReader, Summary,
    SyncError, Warnings, OVERLAP,
};
use crate::intake::Sink;
use crate::okta::endpoints::expr;
use crate::okta::OktaError;
use crate::state::{Commit, Cursors, StateStore};

/// Ids per `id eq … or …` search: keeps the URL well under common 8 KiB limits.
const IDS_PER_SEARCH: usize = 50;

pub(crate) async fn run(
    cycle: &Cycle<'_>,
    sink: Sink,
    state: &mut StateStore,
    warnings: &Warnings,
    summary: &mut Summary,
) -> Result<Sink, SyncError> {
    let client = cycle.client;
    let options = cycle.options;
    let cursors = state.cursors()?;
    let users_since = before(cursors.users, OVERLAP);
    let groups_since = before(cursors.groups, OVERLAP);

    let mut directory = Directory::from_state(state)?;
    let mut affected: BTreeSet<String> = BTreeSet::new();
    let mut touched_groups: BTreeSet<String> = BTreeSet::new();
    let changes = read_group_changes(cycle, &mut directory, groups_since, warnings).await?;
    affected.extend(changes.affected);
    touched_groups.extend(changes.memberships.iter().map(|(id, _)| id.clone()));

    let previous_assignees = state.assignees()?;
    let admins = if options.enrich_roles {
        let role_groups = directory
            .privileged_groups()
            .map(|g| g.uid.clone())
            .collect();
        let admins = Admins::refresh(
            client,
            &previous_assignees,
            role_groups,
            options.max_parallel,
            warnings,
        )
        .await;
        for (group_id, labels) in admins.group_privileges() {
            if directory.set_privileges(group_id, labels.iter().cloned().collect()) {
                affected.extend(directory.members_of(group_id));
                touched_groups.insert(group_id.clone());
            }
        }
        affected.extend(admins.assignee_changes(&previous_assignees));
        admins
    } else {
        Admins::unknown()
    };
    summary.groups = directory.group_count() as u64;
    summary.memberships = directory.membership_count();

    let context = map_context(cycle, sink.format());
    let mfa = MfaReader::new(options.enrich_mfa).reporting_to(&cycle.progress);
    let enrich = Enricher {
        client,
        directory: &directory,
        admins: &admins,
        mfa: &mfa,
        warnings,
        context: &context,
        max_parallel: options.max_parallel,
    };
    let mut out = Emitter::new(sink, options, summary, &cycle.progress);
    let outcome = send_users(cycle, &enrich, &mut out, state, &affected, users_since).await;
    let (users_listed_at, streamed) = match outcome {
        Ok(at) => (at, Ok(())),
        Err(error) => (None, Err(error)),
    };
    let (sink, record) = out.finish(streamed).await?;

    for id in &record.deleted {
        directory.remove_user(id);
    }
    let groups = directory
        .stored_groups()
        .into_iter()
        .filter(|g| touched_groups.contains(&g.id))
        .collect();
    state.commit(&Commit {
        full: false,
        keep_unseen_users: false,
        cursors: Cursors {
            users: users_listed_at.or(cursors.users),
            groups: changes.listed_at.or(cursors.groups),
            last_full_sync: None,
        },
        users: record.users,
        deleted_users: record.deleted,
        groups,
        memberships: changes.memberships,
        all_memberships: None,
        assignees: options.enrich_roles.then(|| admins.assignee_rows()),
    })?;
    Ok(sink)
}

fn before(at: Option<Timestamp>, overlap: std::time::Duration) -> Timestamp {
    let at = at.unwrap_or(Timestamp::UNIX_EPOCH);
    let overlap = SignedDuration::try_from(overlap).unwrap_or(SignedDuration::ZERO);
    at.checked_sub(overlap).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// What changed in groups since the cursor.
struct GroupChanges {
    affected: BTreeSet<String>,
    /// New complete member lists of the changed groups.
    memberships: Vec<(String, Vec<String>)>,
    listed_at: Option<Timestamp>,
}

async fn read_group_changes(
    cycle: &Cycle<'_>,
    directory: &mut Directory,
    since: Timestamp,
    warnings: &Warnings,
) -> Result<GroupChanges, SyncError> {
    let client = cycle.client;
    let mut changes = GroupChanges {
        affected: BTreeSet::new(),
        memberships: Vec::new(),
        listed_at: None,
    };
    let filter = expr::groups_changed_since(since);
    let mut pager = client.list_groups(Some(&filter));
    while let Some(page) = pager.next_page().await? {
        changes
            .listed_at
            .get_or_insert_with(|| client.server_time());
        warnings.add_skipped(page.skipped);
        for group in page.items {
            if cycle.shutdown.requested() {
                return Err(SyncError::Interrupted);
            }
            let id = group.id.clone();
            let (members, skipped) = super::directory::member_ids(client, &id).await?;
            if skipped > 0 {
                // An unreadable member record would look like a departure: keep the stored list.
                warnings.add_skipped(skipped);
                warnings.warn(
                    "group_members",
                    format!("members of group {id} partly unreadable; keeping the previous list"),
                );
                continue;
            }
            let renamed = directory.upsert_group(group);
            if renamed {
                changes.affected.extend(directory.members_of(&id));
            }
            let (joined, left) = directory.replace_members(&id, members.clone());
            changes.affected.extend(joined);
            changes.affected.extend(left);
            if renamed {
                changes.affected.extend(directory.members_of(&id));
            }
            changes.memberships.push((id, members));
        }
    }
    Ok(changes)
}

/// Sends changed users, then affected users read by id, then deletions. Returns Okta's time
/// when the changed-users listing began: the next users cursor.
async fn send_users(
    cycle: &Cycle<'_>,
    enrich: &Enricher<'_>,
    out: &mut Emitter<'_>,
    state: &StateStore,
    affected: &BTreeSet<String>,
    since: Timestamp,
) -> Result<Option<Timestamp>, SyncError> {
    let search = expr::users_updated_since(since);
    // De-duplicate the overlap window: a user already delivered with this very `lastUpdated`
    // is sent again only when something else about it changed.
    let unchanged = |user: &crate::okta::model::User| {
        let delivered = state
            .user(&user.id)
            .ok()
            .flatten()
            .and_then(|known| known.last_updated);
        delivered.is_some() && delivered == user.last_updated.map(Timestamp::as_millisecond)
    };
    let listed_at = stream_users(
        cycle,
        enrich,
        out,
        &search,
        |user| !unchanged(user) || affected.contains(&user.id),
        |_| None,
    )
    .await?;

    let sent: HashSet<String> = out.record.users.iter().map(|(id, _)| id.clone()).collect();
    let remaining: Vec<&str> = affected
        .iter()
        .map(String::as_str)
        .filter(|id| !sent.contains(*id))
        .collect();
    for chunk in remaining.chunks(IDS_PER_SEARCH) {
        let before = out.record.users.len();
        // Their record did not change: reuse the MFA status delivered last time.
        let cached = |user: &crate::okta::model::User| {
            state
                .user(&user.id)
                .ok()
                .flatten()
                .map(|known| known.has_mfa)
        };
        stream_users(
            cycle,
            enrich,
            out,
            &expr::ids(chunk),
            |user| chunk.contains(&user.id.as_str()),
            cached,
        )
        .await?;
        let found: HashSet<String> = out.record.users[before..]
            .iter()
            .map(|(id, _)| id.clone())
            .collect();
        for id in chunk.iter().filter(|id| !found.contains(**id)) {
            send_if_deleted(cycle, enrich, out, state, id).await?;
        }
    }
    Ok(listed_at)
}

/// An affected user the search did not return (deleted, or not yet visible to search, which
/// is eventually consistent): read by id. A 404 for a user delivered before means a hard
/// delete, sent once as deleted; a user Okta still has is sent from that read.
async fn send_if_deleted(
    cycle: &Cycle<'_>,
    enrich: &Enricher<'_>,
    out: &mut Emitter<'_>,
    state: &StateStore,
    id: &str,
) -> Result<(), SyncError> {
    let known = state.user(id)?;
    match cycle.client.get_user(id).await {
        Err(OktaError::Api(api)) if api.status == 404 => match known {
            Some(known) => {
                out.push_deleted(id, known.login.as_deref(), enrich.context)
                    .await
            }
            None => Ok(()),
        },
        Ok(user) => {
            let cached = known.map(|k| k.has_mfa);
            let mfa = match cached {
                Some(has_mfa) => vec![has_mfa],
                None => enrich.factors(std::slice::from_ref(&user), |_| true).await,
            };
            enrich
                .emit_page(std::slice::from_ref(&user), mfa, out)
                .await
        }
        Err(error) => Err(error.into()),
    }
}
