//! The full sync (BRIEF §5): every group and member, the admin roles, every user with
//! `search=status pr` (DEPROVISIONED included), MFA per user, and hard-delete detection against
//! the previous full sync.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use super::{
    map_context, stream_users, Admins, Cycle, Directory, Emitter, Enricher, MfaReader, Summary,
    SyncError, Warnings,
};
use crate::intake::Sink;
use crate::okta::endpoints::expr;
use crate::state::{Commit, Cursors, StateStore};

pub(crate) async fn run(
    cycle: &Cycle<'_>,
    sink: Sink,
    state: Option<&mut StateStore>,
    warnings: &Warnings,
    summary: &mut Summary,
) -> Result<Sink, SyncError> {
    let started_at = cycle.clock.now();
    let options = cycle.options;
    let client = cycle.client;
    let (directory, admins) = tokio::join!(
        Directory::collect(client, options.max_parallel, warnings),
        async {
            if options.enrich_roles {
                Admins::collect(client, options.max_parallel, warnings).await
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
    let mfa = MfaReader::new(options.enrich_mfa);
    let enrich = Enricher {
        client,
        directory: &directory,
        admins: &admins,
        mfa: &mfa,
        warnings,
        context: &context,
        max_parallel: options.max_parallel,
    };
    let known = match &state {
        Some(state) => Some(state.user_logins()?),
        None => None,
    };
    let mut out = Emitter::new(sink, options, summary);
    let outcome = read_users(cycle, &enrich, &mut out, known.as_ref(), warnings).await;
    let (users_listed_at, streamed) = match outcome {
        Ok(at) => (at, Ok(())),
        Err(error) => (None, Err(error)),
    };
    let (sink, record) = out.finish(streamed).await?;
    if let Some(state) = state {
        for id in &record.deleted {
            directory.remove_user(id);
        }
        state.commit(&Commit {
            full: true,
            cursors: Cursors {
                users: users_listed_at,
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

/// Streams every user, then (with state) the hard deletes. Returns Okta's time when the
/// listing began: the next incremental cycle's cursor.
async fn read_users(
    cycle: &Cycle<'_>,
    enrich: &Enricher<'_>,
    out: &mut Emitter<'_>,
    known: Option<&HashMap<Box<str>, Option<String>>>,
    warnings: &Warnings,
) -> Result<Option<Timestamp>, SyncError> {
    let skipped_before = skipped_records(warnings);
    let listed_at = stream_users(cycle, enrich, out, expr::ALL_USERS, |_| true, |_| None).await?;
    if let Some(known) = known {
        if skipped_records(warnings) > skipped_before {
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
    Ok(listed_at)
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
