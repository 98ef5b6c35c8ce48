//! The incremental cycle: what the change feed and the searches say changed. Affected users
//! are read again (by id when their record did not change) and sent unless their event is
//! identical to the one the intake holds; users answered 404 are sent once as deleted.

use std::collections::BTreeSet;

use super::changes::{self, FeedMode};
use super::cycle::{Cycle, SyncError, Warnings};
use super::directory::{update, Admins, Directory};
use super::emit::{map_context, Emitter};
use super::enrich::{Enricher, Mfa, MfaPlan, MfaReader, MfaSource};
use super::listing::ChangedUsers;
use super::summary::Summary;
use crate::intake::Sink;
use crate::state::{Assignees, Commit, Cursors, FeedPosition, KnownUser, StateStore};

pub(super) async fn run(
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
        directory.forget_roles();
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
                let mfa_values = mfa.resolve(cycle, &page.users, &sources, warnings).await;
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
    // A change that could not be read is read again next cycle: the cursors and the feed
    // position stay where they were (what was read is committed, and reading it again is
    // harmless).
    let applied = warnings.all_applied();
    if !applied {
        tracing::info!("some changes could not be read; the next cycle reads them again");
    }
    state.commit(&Commit {
        cursors: match applied {
            true => Cursors {
                users: listing.listed_at.or(changes.cursors.users),
                groups: changes.groups_listed_at.or(changes.cursors.groups),
                last_full_sync: None,
            },
            false => Cursors {
                last_full_sync: None,
                ..changes.cursors
            },
        },
        feed: match applied {
            true => changes.position.clone(),
            false => FeedPosition::Keep,
        },
        deleted_users: deleted,
        snapshot: directory.changes(),
        assignees: if options.enrich_roles {
            admins.stored()
        } else {
            Assignees::Keep
        },
    })?;
    Ok(sink)
}
