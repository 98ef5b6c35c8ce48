//! The full sync (the reconciliation): every group and member, the admin roles, every user with
//! `search=status pr` (DEPROVISIONED included), MFA per user, and hard-delete detection against
//! the previous full sync. Users and their factors are listed into a disk spool while groups
//! and roles are read (other Okta buckets), then emitted once the directory is complete.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use super::spool::{Listing, Spool, SpooledPage};
use super::{
    map_context, read_factors, stream_users, Admins, Cycle, Directory, Emitter, Enricher,
    MfaReader, Summary, SyncError, Warnings,
};
use crate::intake::Sink;
use crate::okta::endpoints::expr;
use crate::progress::Phase;
use crate::state::{Commit, Cursors, StateStore};

pub(crate) async fn run(
    cycle: &Cycle<'_>,
    sink: Sink,
    state: Option<&mut StateStore>,
    warnings: &Warnings,
    summary: &mut Summary,
) -> Result<Sink, SyncError> {
    let mfa = MfaReader::new(cycle.options.enrich_mfa).reporting_to(&cycle.progress);
    // Users (and their factors) are listed into the spool while groups and roles are read:
    // different Okta buckets, worked at the same time (see `spool`).
    // In the state directory when there is one: private to this user (see `spool`).
    let spool_dir = state.as_deref().and_then(|state| state.path().parent());
    let spool = match Spool::create(spool_dir) {
        Ok(spool) => Some(spool),
        Err(error) => {
            warnings.warn(
                "spool",
                format!(
                    "cannot create a temporary file in {} ({error}): users are listed after the groups, which makes the full sync slower",
                    spool_dir.map_or_else(std::env::temp_dir, Into::into).display()
                ),
            );
            None
        }
    };
    let stop = AtomicBool::new(false);
    let listing = async {
        if let Some(spool) = &spool {
            spool.finish(list_users_into(cycle, &mfa, warnings, spool, &stop).await);
        }
    };
    let rest = async {
        let result =
            emit_and_commit(cycle, sink, state, warnings, summary, &mfa, spool.as_ref()).await;
        // Whatever happened, the listing has nothing more to do.
        stop.store(true, Ordering::Relaxed);
        result
    };
    let ((), result) = tokio::join!(listing, rest);
    result
}

/// Phase 1 (groups, members, roles), then every user (from the spool, or listed now), the
/// hard deletes, delivery and the state commit.
async fn emit_and_commit(
    cycle: &Cycle<'_>,
    sink: Sink,
    state: Option<&mut StateStore>,
    warnings: &Warnings,
    summary: &mut Summary,
    mfa: &MfaReader,
    spool: Option<&Spool>,
) -> Result<Sink, SyncError> {
    let started_at = cycle.clock.now();
    let options = cycle.options;
    let client = cycle.client;
    let progress = &cycle.progress;
    progress.begin(Phase::Groups);
    if options.enrich_roles {
        progress.begin(Phase::Roles);
    }
    let (directory, admins) = tokio::join!(
        async {
            let directory = Directory::collect(client, options.max_parallel, warnings).await;
            if let Ok(directory) = &directory {
                report_directory(cycle, directory);
            }
            directory
        },
        async {
            if options.enrich_roles {
                let admins = Admins::collect(client, options.max_parallel, warnings).await;
                progress.finish(Phase::Roles);
                admins
            } else {
                Admins::unknown()
            }
        }
    );
    let mut directory = directory?;
    for (group_id, labels) in admins.group_privileges() {
        directory.set_privileges(group_id, labels.iter().cloned().collect());
    }
    summary.groups = directory.group_count() as u64;
    summary.memberships = directory.membership_count();
    if cycle.shutdown.requested() {
        return Err(SyncError::Interrupted);
    }

    let context = map_context(cycle, sink.format());
    let enrich = Enricher {
        client,
        directory: &directory,
        admins: &admins,
        mfa,
        warnings,
        context: &context,
        max_parallel: options.max_parallel,
    };
    let known = match &state {
        Some(state) => Some(state.user_logins()?),
        None => None,
    };
    let mut out = Emitter::new(sink, options, summary, &cycle.progress);
    let outcome = read_users(cycle, &enrich, &mut out, known.as_ref(), warnings, spool).await;
    let (listing, streamed) = match outcome {
        Ok(listing) => (Some(listing), Ok(())),
        Err(error) => (None, Err(error)),
    };
    let (sink, record) = out.finish(streamed).await?;
    cycle.progress.finish(Phase::Delivery);
    let listing = listing.expect("a delivered cycle read its users");
    if !directory.is_complete() {
        // The membership snapshot would be missing a group, and incremental cycles diff
        // against it as if it were whole: keep the previous (consistent) state instead. The
        // events went out without `groups` (unknown, not empty); the next cycle starts from
        // the old cursors, so nothing is skipped.
        warnings.warn(
            "state",
            "group memberships were incomplete: the state is not updated by this cycle".into(),
        );
        return Ok(sink);
    }
    if let Some(state) = state {
        for id in &record.deleted {
            directory.remove_user(id);
        }
        state.commit(&Commit {
            full: true,
            // An unreadable user record is a user we did not see: the state keeps what it
            // knew of it.
            keep_unseen_users: listing.skipped > 0,
            cursors: Cursors {
                users: listing.listed_at,
                groups: directory.listed_at(),
                last_full_sync: Some(started_at),
            },
            users: record.users,
            deleted_users: record.deleted,
            groups: directory.stored_groups(),
            memberships: Vec::new(),
            all_memberships: Some(&directory),
            assignees: admins.is_known().then(|| admins.assignee_rows()),
        })?;
    }
    Ok(sink)
}

/// Lists every user (`search=status pr`) into `spool`, reading each page's factors while the
/// next page is fetched. Stops at the next page when `stop` is set.
async fn list_users_into(
    cycle: &Cycle<'_>,
    mfa: &MfaReader,
    warnings: &Warnings,
    spool: &Spool,
    stop: &AtomicBool,
) -> Result<Listing, SyncError> {
    let client = cycle.client;
    cycle.progress.begin(Phase::Users);
    if mfa.is_enabled() {
        cycle.progress.begin(Phase::Mfa);
    }
    let mut pager = client.search_users(expr::ALL_USERS);
    let mut page = pager.next_page().await?;
    // Okta's clock when the listing began: the next cursor.
    let listed_at = page.as_ref().map(|_| client.server_time());
    let mut skipped = 0;
    while let Some(current) = page.take() {
        if stop.load(Ordering::Relaxed) || cycle.shutdown.requested() {
            return Err(SyncError::Interrupted);
        }
        skipped += current.skipped;
        warnings.add_skipped(current.skipped);
        let users = current.items;
        cycle.progress.advance(Phase::Users, users.len() as u64);
        let max_parallel = cycle.options.max_parallel;
        let (next, answers) = tokio::join!(
            pager.next_page(),
            read_factors(client, mfa, warnings, max_parallel, &users, |_| true)
        );
        spool.push(&SpooledPage {
            users,
            mfa: answers,
        })?;
        page = next?;
    }
    cycle.progress.finish(Phase::Users);
    cycle.progress.finish(Phase::Mfa);
    Ok(Listing { listed_at, skipped })
}

/// Progress once the directory is read: groups and members done, and the user total from the
/// `Everyone` group (every user is a member), which gives the listing and the factor reads a
/// total to count against.
// Interim: the group listing's `expand=stats` (`usersCount`) gives the total from its first
// page; until the sync reads it, the member count of `Everyone` stands in for it.
fn report_directory(cycle: &Cycle<'_>, directory: &Directory) {
    let progress = &cycle.progress;
    let groups = directory.group_count() as u64;
    for phase in [Phase::Groups, Phase::Members] {
        progress.set_total(phase, groups);
        progress.advance(phase, groups);
        progress.finish(phase);
    }
    let everyone = directory
        .stored_groups()
        .into_iter()
        .find(|group| group.group_type == "BUILT_IN")
        .map(|group| directory.members_of(&group.id).len() as u64);
    if let Some(users) = everyone {
        let known = progress.snapshot();
        for phase in [Phase::Users, Phase::Mfa, Phase::Delivery] {
            let wanted = phase != Phase::Mfa || cycle.options.enrich_mfa;
            if wanted && known.get(phase).is_none_or(|p| p.total.is_none()) {
                progress.set_total(phase, users);
            }
        }
    }
}

/// Emits every user (from the spool when there is one), then (with state) the hard deletes.
async fn read_users(
    cycle: &Cycle<'_>,
    enrich: &Enricher<'_>,
    out: &mut Emitter<'_>,
    known: Option<&HashMap<Box<str>, Option<String>>>,
    warnings: &Warnings,
    spool: Option<&Spool>,
) -> Result<Listing, SyncError> {
    let listing = match spool {
        Some(spool) => {
            while let Some(page) = spool.next().await? {
                if cycle.shutdown.requested() {
                    return Err(SyncError::Interrupted);
                }
                enrich.emit_page(&page.users, page.mfa, out).await?;
            }
            spool.outcome().unwrap_or_else(|| {
                Err(SyncError::Spool(
                    "the listing ended without a result".into(),
                ))
            })?
        }
        None => {
            let skipped_before = skipped_records(warnings);
            let listed_at =
                stream_users(cycle, enrich, out, expr::ALL_USERS, |_| true, |_| None).await?;
            Listing {
                listed_at,
                skipped: (skipped_records(warnings) - skipped_before) as usize,
            }
        }
    };
    if let Some(known) = known {
        if listing.skipped > 0 {
            // An unreadable record is a user we did not see: it must not be called deleted.
            warnings.warn(
                "deletions",
                "some user records could not be read: hard-delete detection is skipped this cycle"
                    .into(),
            );
        } else {
            emit_hard_deletes(out, known, enrich.context).await?;
        }
    }
    Ok(listing)
}

fn skipped_records(warnings: &Warnings) -> u64 {
    warnings
        .counts()
        .get("skipped_records")
        .copied()
        .unwrap_or(0)
}

/// Users known from the previous full sync and absent now were hard-deleted in Okta: each is
/// sent once as deleted, then forgotten (the commit drops them).
async fn emit_hard_deletes(
    out: &mut Emitter<'_>,
    known: &HashMap<Box<str>, Option<String>>,
    context: &crate::mapping::MapContext,
) -> Result<(), SyncError> {
    let seen: HashSet<&str> = out.record.users.iter().map(|(id, _)| id.as_str()).collect();
    let gone: Vec<(String, Option<String>)> = known
        .iter()
        .filter(|(id, _)| !seen.contains(&***id))
        .map(|(id, login)| (id.to_string(), login.clone()))
        .collect();
    for (id, login) in gone {
        out.push_deleted(&id, login.as_deref(), context).await?;
    }
    Ok(())
}
