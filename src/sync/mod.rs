//! One sync cycle: Okta → OCSF events → intake → state.
//!
//! A user record flows one way: [`listing`] (Okta pages) → [`enrich`] (groups and admin rights
//! from the [`directory`], MFA) → [`emit`] (map, batch, deliver, record what the intake
//! acknowledged) → the state commit. What to read comes first: [`changes`] (the System Log and
//! the `lastUpdated` searches) for incremental cycles, [`directory`] (groups, members, roles)
//! for both. This module decides the kind of cycle and wires the steps; it does nothing else.
//!
//! - **Full** (first run, `--full`, or every `full_sync_interval`): the feed is read up to now
//!   (factor events) and its position recorded; every group, member, admin and user
//!   (DEPROVISIONED included) is read, users and their factors into a disk spool while groups
//!   and roles are read (other Okta buckets); every user is sent; users known to the state
//!   and absent now are sent once as deleted.
//! - **Incremental**: only what the change feed and the searches say changed: affected users
//!   are read again (by id when their record did not change), and sent unless their event is
//!   identical to the one the intake holds.
//!
//! Cursors, the feed position and the directory snapshot are committed only after the intake
//! acknowledged every batch of the cycle: a failed or interrupted cycle commits nothing of
//! them and is redone, so data is sent again rather than skipped. Acknowledged users are
//! recorded as they are acknowledged (see [`crate::state`]). Enrichment that fails becomes
//! "unknown" (fields omitted) plus a counted warning, never a false statement.

pub mod changes;
mod cycle;
pub mod directory;
mod emit;
pub mod enrich;
mod listing;
mod spool;
pub mod summary;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use jiff::SignedDuration;

use crate::intake::Sink;
use crate::okta::model::User;
use crate::state::{
    AckLog, Assignees, CachedUser, Commit, Cursors, KnownUser, Snapshot, StateError, StateStore,
};
use changes::{CatchUp, FeedMode};
use directory::update;
use emit::{map_context, Emitter};
use enrich::{Enricher, Mfa, MfaPlan, MfaReader, MfaSource};
use listing::{AllUsers, ChangedUsers};
use spool::{Listing, Spool};

pub use changes::OVERLAP;
pub use cycle::{
    Cycle, CycleKind, Notices, Shutdown, SyncError, SyncOptions, Warnings,
    DEFAULT_MFA_REFRESH_INTERVAL,
};
pub use directory::{Admins, Directory};
pub use summary::Summary;

/// Runs one cycle into `sink`: full when asked, when there is no state, or when the last full
/// sync is older than `full_sync_interval`; otherwise incremental. With a state store the
/// cycle's results are committed after every batch was acknowledged. The summary is returned
/// even when the cycle failed.
pub async fn run_cycle(
    cycle: &Cycle<'_>,
    sink: Sink,
    state: Option<&mut StateStore>,
    force_full: bool,
) -> (Summary, Result<Sink, SyncError>) {
    let started = Instant::now();
    let stats_before = cycle.client.stats();
    let warnings = Warnings::default();
    let kind = match &state {
        Some(state) => match choose_kind(state, cycle, force_full) {
            Ok(kind) => kind,
            Err(error) => return (Summary::new("full"), Err(error.into())),
        },
        None => CycleKind::Full,
    };
    let mut summary = Summary::new(match kind {
        CycleKind::Full => "full",
        CycleKind::Incremental => "incremental",
    });
    let result = match (kind, state) {
        (CycleKind::Incremental, Some(state)) => {
            incremental_sync(cycle, sink, state, &warnings, &mut summary).await
        }
        (_, state) => full_sync(cycle, sink, state, &warnings, &mut summary).await,
    };
    summary.finish(
        cycle.client.stats().since(&stats_before),
        &warnings,
        started.elapsed(),
    );
    (summary, result)
}

fn choose_kind(
    state: &StateStore,
    cycle: &Cycle<'_>,
    force_full: bool,
) -> Result<CycleKind, StateError> {
    if force_full {
        return Ok(CycleKind::Full);
    }
    let cursors = state.cursors()?;
    let (Some(_), Some(_), Some(last_full)) =
        (cursors.users, cursors.groups, cursors.last_full_sync)
    else {
        return Ok(CycleKind::Full);
    };
    let age = cycle.clock.now().duration_since(last_full);
    let interval =
        SignedDuration::try_from(cycle.options.full_sync_interval).unwrap_or(SignedDuration::MAX);
    Ok(if age >= interval {
        CycleKind::Full
    } else {
        CycleKind::Incremental
    })
}

/// What a full sync read, for its commit.
struct FullRead {
    directory: Directory,
    admins: Admins,
    listing: Listing,
    deleted: Vec<String>,
}

async fn full_sync(
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
    // different Okta buckets, worked at the same time (see `spool`).
    let spool = match Spool::create() {
        Ok(spool) => Some(spool),
        Err(error) => {
            warnings.warn(
                "spool",
                format!(
                    "cannot create a temporary file in {} ({error}): users are listed after the groups, which makes the full sync slower",
                    std::env::temp_dir().display()
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
    let (directory, admins) = Directory::collect(
        cycle.client,
        options.max_parallel,
        options.enrich_roles,
        warnings,
        &cycle.progress,
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

async fn incremental_sync(
    cycle: &Cycle<'_>,
    sink: Sink,
    state: &mut StateStore,
    warnings: &Warnings,
    summary: &mut Summary,
) -> Result<Sink, SyncError> {
    let options = cycle.options;
    let (cursors, position) = (state.cursors()?, state.feed_position()?);
    let changes = changes::collect(cycle, cursors, position, warnings).await?;
    summary.set_feed(changes.status);
    let fallback = changes.status.mode == FeedMode::Fallback;
    let mut directory = Directory::from_state(state)?;
    let mut admins = if options.enrich_roles {
        Admins::from_stored(state.assignees()?)
    } else {
        Admins::unknown()
    };
    let affected = update::apply(cycle, &mut directory, &mut admins, &changes, warnings).await?;
    summary.groups = directory.group_count() as u64;
    summary.memberships = directory.membership_count();

    let mut ids: BTreeSet<String> = affected;
    ids.extend(changes.marks.users.iter().cloned());
    ids.extend(changes.marks.factor_users.iter().cloned());
    // MFA: re-read where a factor event said so, or never read. Without the feed, also for
    // users whose record changed (factor changes that do not touch the record wait for the
    // next full sync then).
    let plan = MfaPlan::new(
        options.enrich_mfa,
        Some(changes.marks.factor_users.clone()),
        None,
    );
    let mfa = MfaReader::new(options.enrich_mfa);
    let context = map_context(&options.tenant_uid, cycle.clock.now(), sink.format());
    let mut out = Emitter::new(
        sink,
        options,
        context,
        Some(state.ack_log()?),
        true,
        summary,
        cycle.progress.clone(),
    );
    let mut listing = ChangedUsers::new(cycle, changes.users_since, ids);
    let streamed = {
        // Mutable borrows only, so the cycle's future stays `Send` (the store is not `Sync`).
        let (state, directory, out, listing) =
            (&mut *state, &mut directory, &mut out, &mut listing);
        let (admins, plan, mfa) = (&admins, &plan, &mfa);
        async move {
            while let Some(page) = listing.next(cycle, warnings).await? {
                update::adopt_users(cycle, directory, &page.users, warnings).await?;
                let known: Vec<Option<KnownUser>> = page
                    .users
                    .iter()
                    .map(|u| state.user(&u.id))
                    .collect::<Result<_, _>>()?;
                let sources: Vec<MfaSource> = page
                    .users
                    .iter()
                    .zip(&known)
                    .map(|(user, known)| {
                        let cached = known.as_ref().map(|k| Mfa {
                            has_mfa: k.has_mfa,
                            checked_at: k.mfa_checked_at,
                        });
                        match plan.source(&user.id, cached) {
                            MfaSource::Cached(cached) if fallback && page.changed => {
                                MfaSource::Read(cached)
                            }
                            source => source,
                        }
                    })
                    .collect();
                let mfa_values = mfa
                    .resolve(
                        cycle.client,
                        &page.users,
                        &sources,
                        cycle.clock.now(),
                        options.max_parallel,
                        warnings,
                        &cycle.progress,
                    )
                    .await;
                let enrich = Enricher { directory, admins };
                for ((user, known), mfa) in page.users.iter().zip(&known).zip(mfa_values) {
                    if !crate::mapping::is_mappable(user) {
                        warnings.add_skipped(1);
                        continue;
                    }
                    let (groups, is_admin) = enrich.lookup(&user.id);
                    let delivered = known.as_ref().and_then(|k| k.event_uid.as_deref());
                    out.user(user, groups.as_deref(), is_admin, mfa, delivered)
                        .await?;
                }
                for id in &page.gone {
                    // Only a user the intake holds needs a deletion event.
                    if let Some(known) = state.user(id)? {
                        out.deleted(id, known.login.as_deref()).await?;
                    }
                }
            }
            Ok::<_, SyncError>(())
        }
        .await
    };
    let (sink, deleted) = out.finish(streamed).await?;
    for id in &deleted {
        directory.remove_user(id);
    }
    let (groups, deleted_groups, user_groups) = directory.journal();
    state.commit(&Commit {
        cursors: Cursors {
            users: listing.listed_at.or(changes.cursors.users),
            groups: changes.groups_listed_at.or(changes.cursors.groups),
            last_full_sync: None,
        },
        feed: changes.position.clone(),
        deleted_users: deleted,
        snapshot: Snapshot::Update {
            groups,
            deleted_groups,
            user_groups,
        },
        assignees: if options.enrich_roles {
            admins.stored()
        } else {
            Assignees::Keep
        },
    })?;
    Ok(sink)
}
