//! The full sync: the change feed caught up and its position recorded, every group, member,
//! admin and user (DEPROVISIONED included) read, every user sent, and users known to the state
//! but absent from Okta sent once as deleted. Users and their factors are listed into a disk
//! spool while groups and roles are read (other Okta buckets), then emitted once the directory
//! is complete.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::SignedDuration;

use super::changes::{self, CatchUp};
use super::cycle::{Cycle, SyncError, Warnings};
use super::directory::{Admins, Directory};
use super::emit::{map_context, Emitter};
use super::enrich::{Enricher, Mfa, MfaPlan, MfaReader, MfaSource};
use super::listing::AllUsers;
use super::spool::{Listing, Spool};
use super::summary::Summary;
use crate::intake::Sink;
use crate::okta::model::User;
use crate::progress::Phase;
use crate::state::{AckLog, CachedUser, Commit, Cursors, Snapshot, StateStore};

/// What a full sync read, for its commit.
struct FullRead {
    directory: Directory,
    admins: Admins,
    listing: Listing,
    deleted: Vec<String>,
}

pub(super) async fn run(
    cycle: &Cycle<'_>,
    sink: Sink,
    mut state: Option<&mut StateStore>,
    warnings: &Warnings,
    summary: &mut Summary,
) -> Result<Sink, SyncError> {
    let started_at = cycle.clock.now();
    let options = cycle.options;
    let (known, acks, feed) = match state.as_deref_mut() {
        Some(state) => {
            let stored = state.feed_position()?;
            let (known, acks) = (state.user_cache()?, state.ack_log()?);
            let feed = changes::catch_up(cycle, stored, warnings).await;
            (known, Some(acks), feed)
        }
        None => (HashMap::new(), None, CatchUp::none()),
    };
    summary.set_feed(feed.status);
    let refresh_before = started_at
        .checked_sub(
            SignedDuration::try_from(options.mfa_refresh_interval).unwrap_or(SignedDuration::MAX),
        )
        .ok();
    let plan = MfaPlan::new(
        options.enrich_mfa,
        feed.factor_users.clone(),
        refresh_before,
    );
    let source = |id: &str| plan.source(id, known.get(id).map(cached_mfa));
    let mfa = MfaReader::new(options.enrich_mfa);

    // Users (and their factors) are listed into the spool while groups and roles are read:
    // different Okta buckets, worked at the same time (see `spool`). In the state directory
    // when there is one: private to this user.
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
            let mut users = AllUsers::new(cycle);
            let outcome = async {
                while let Some(page) = users.next(cycle, &mfa, &source, warnings, &stop).await? {
                    spool.push(&page)?;
                }
                Ok(users.finish())
            };
            spool.finish(outcome.await);
        }
    };
    let rest = async {
        let read = full_read_and_emit(
            cycle,
            sink,
            &known,
            acks,
            warnings,
            summary,
            &mfa,
            &source,
            spool.as_ref(),
            &stop,
        )
        .await;
        // Whatever happened, the listing has nothing more to do.
        stop.store(true, Ordering::Relaxed);
        read
    };
    let ((), read) = tokio::join!(listing, rest);
    let (sink, read) = read?;
    let Some(state) = state else {
        return Ok(sink);
    };
    if !read.directory.is_complete() {
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
    state.commit(&Commit {
        cursors: Cursors {
            users: read.listing.listed_at,
            groups: read.directory.listed_at(),
            last_full_sync: Some(started_at),
        },
        feed: feed.position,
        deleted_users: read.deleted,
        snapshot: Snapshot::Replace {
            groups: read.directory.stored_groups(),
            memberships: &read.directory,
        },
        assignees: read.admins.stored(),
    })?;
    Ok(sink)
}

fn cached_mfa(user: &CachedUser) -> Mfa {
    Mfa {
        has_mfa: user.has_mfa,
        checked_at: user.mfa_checked_at,
    }
}

/// The directory, then every user (from the spool, or listed now), then the hard deletes.
#[allow(clippy::too_many_arguments)]
async fn full_read_and_emit(
    cycle: &Cycle<'_>,
    sink: Sink,
    known: &HashMap<Box<str>, CachedUser>,
    acks: Option<AckLog>,
    warnings: &Warnings,
    summary: &mut Summary,
    mfa: &MfaReader,
    source: &(dyn Fn(&str) -> MfaSource + Sync),
    spool: Option<&Spool>,
    stop: &AtomicBool,
) -> Result<(Sink, FullRead), SyncError> {
    let options = cycle.options;
    let totals: &[Phase] = if options.enrich_mfa {
        &[Phase::Users, Phase::Mfa, Phase::Delivery]
    } else {
        &[Phase::Users, Phase::Delivery]
    };
    let (directory, admins) = Directory::collect(
        cycle.client,
        options.max_parallel,
        options.enrich_roles,
        warnings,
        &cycle.progress,
        totals,
    )
    .await?;
    summary.groups = directory.group_count() as u64;
    summary.memberships = directory.membership_count();
    cycle.check_stop()?;

    let context = map_context(&options.tenant_uid, cycle.clock.now(), sink.format());
    let mut out = Emitter::new(
        sink,
        options,
        context,
        acks,
        false,
        summary,
        cycle.progress.clone(),
    );
    let enrich = Enricher {
        directory: &directory,
        admins: &admins,
    };
    let mut unseen: HashSet<&str> = known.keys().map(|id| &**id).collect();
    let streamed = async {
        let listing = match spool {
            Some(spool) => {
                while let Some(page) = spool.next().await? {
                    cycle.check_stop()?;
                    emit_page(&enrich, &mut out, page.users, page.mfa, &mut unseen, warnings)
                        .await?;
                }
                spool.outcome().unwrap_or_else(|| {
                    Err(SyncError::Spool("the listing ended without a result".into()))
                })?
            }
            None => {
                let mut users = AllUsers::new(cycle);
                while let Some(page) = users.next(cycle, mfa, source, warnings, stop).await? {
                    emit_page(&enrich, &mut out, page.users, page.mfa, &mut unseen, warnings)
                        .await?;
                }
                users.finish()
            }
        };
        if listing.skipped > 0 {
            // An unreadable record is a user we did not see: it must not be called deleted.
            if !unseen.is_empty() {
                warnings.warn(
                    "deletions",
                    "some user records could not be read: hard-delete detection is skipped this cycle".into(),
                );
            }
        } else {
            // Known to the state (delivered and acknowledged once) and absent now: hard-deleted
            // in Okta. Sent once as deleted, then forgotten by the commit.
            let mut gone: Vec<&str> = unseen.iter().copied().collect();
            gone.sort_unstable();
            for id in gone {
                let login = known.get(id).and_then(|k| k.login.as_deref());
                out.deleted(id, login).await?;
            }
        }
        Ok::<_, SyncError>(listing)
    }
    .await;
    let (listing, streamed) = match streamed {
        Ok(listing) => (Some(listing), Ok(())),
        Err(error) => (None, Err(error)),
    };
    let (sink, deleted) = out.finish(streamed).await?;
    Ok((
        sink,
        FullRead {
            directory,
            admins,
            listing: listing.expect("a delivered cycle read its users"),
            deleted,
        },
    ))
}

/// Emits a page of a full sync; `unseen` loses every user listed.
async fn emit_page(
    enrich: &Enricher<'_>,
    out: &mut Emitter<'_>,
    users: Vec<User>,
    mfa: Vec<Mfa>,
    unseen: &mut HashSet<&str>,
    warnings: &Warnings,
) -> Result<(), SyncError> {
    for (user, mfa) in users.iter().zip(mfa) {
        unseen.remove(user.id.as_str());
        if !crate::mapping::is_mappable(user) {
            // No id to key an asset on: counted like any unreadable record.
            warnings.add_skipped(1);
            continue;
        }
        let (groups, is_admin) = enrich.lookup(&user.id);
        out.user(user, groups.as_deref(), is_admin, mfa, None)
            .await?;
    }
    Ok(())
}
