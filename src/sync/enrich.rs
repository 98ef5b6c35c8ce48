//! What a user's event says besides the user record: groups and privileges (from the
//! [`Directory`]), admin rights (with [`Admins`]) and MFA (factors read now, or cached).
//!
//! MFA: one `GET /users/{id}/factors` per user (Okta has no bulk endpoint); a user has MFA when
//! at least one factor is `ACTIVE`. The result is cached in the state with the time it was
//! read. Which users are read is an [`MfaPlan`]: every user on the first full sync, and
//! whenever the change feed cannot vouch for the cache; with the feed, users named by a factor
//! event, users never read, and (full syncs) users whose cached value is older than
//! `mfa_refresh_interval`. A failed read is unknown, never "no MFA": the last known value is
//! kept when there is one, else the field is omitted. If the token may not read factors at
//! all, asking for every user would only burn the org's rate limit: after a few permission
//! errors in a row the reads stop for the rest of the cycle.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::cycle::{run_bounded, Cycle, Warnings};
use super::directory::{Admins, Directory};
use crate::mapping::GroupInfo;
use crate::okta::model::User;
use crate::okta::OktaClient;
use crate::progress::Phase;

/// Permission errors in a row after which factors are no longer asked for.
const PERMISSION_ERRORS_BEFORE_GIVING_UP: u32 = 3;

/// A user's MFA status as the event states it, and when the factors behind it were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mfa {
    pub has_mfa: Option<bool>,
    /// Epoch ms; `None` when never read.
    pub checked_at: Option<i64>,
}

/// Where a user's MFA status comes from this cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaSource {
    /// MFA enrichment is off: unknown.
    Off,
    /// Read the factors (on failure, fall back to this cached value).
    Read(Mfa),
    /// The cached value is current.
    Cached(Mfa),
}

/// Which users' factors to read this cycle.
#[derive(Debug, Clone)]
pub struct MfaPlan {
    enabled: bool,
    /// Users named by factor events since the cache was last brought up to date; `None` when
    /// that is not known (first sync, no change feed): then every cached value is suspect.
    events: Option<BTreeSet<String>>,
    /// Cached values read before this are refreshed (full syncs); `None`: no age limit.
    refresh_before: Option<Timestamp>,
}

impl MfaPlan {
    pub fn new(
        enabled: bool,
        events: Option<BTreeSet<String>>,
        refresh_before: Option<Timestamp>,
    ) -> MfaPlan {
        MfaPlan {
            enabled,
            events,
            refresh_before,
        }
    }

    /// Where `user`'s MFA comes from, given what the state cached (`None`: nothing).
    pub fn source(&self, user: &str, cached: Option<Mfa>) -> MfaSource {
        if !self.enabled {
            return MfaSource::Off;
        }
        let Some(cached) = cached.filter(|c| c.checked_at.is_some() && c.has_mfa.is_some()) else {
            return MfaSource::Read(cached.unwrap_or_default());
        };
        let named = match &self.events {
            None => true,
            Some(events) => events.contains(user),
        };
        let stale = match (self.refresh_before, cached.checked_at) {
            (Some(limit), Some(at)) => at < limit.as_millisecond(),
            _ => false,
        };
        if named || stale {
            MfaSource::Read(cached)
        } else {
            MfaSource::Cached(cached)
        }
    }
}

/// Reads MFA status; clones share the on/off switch.
#[derive(Debug, Clone)]
pub struct MfaReader {
    enabled: Arc<AtomicBool>,
    permission_errors: Arc<AtomicU32>,
}

impl MfaReader {
    pub fn new(enabled: bool) -> MfaReader {
        MfaReader {
            enabled: Arc::new(AtomicBool::new(enabled)),
            permission_errors: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Whether the user has an active factor; `None` when unknown.
    async fn has_mfa(
        &self,
        client: &OktaClient,
        user_id: &str,
        warnings: &Warnings,
    ) -> Option<bool> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        match client.list_user_factors(user_id).await {
            Ok(factors) => {
                self.permission_errors.store(0, Ordering::Relaxed);
                Some(factors.iter().any(|f| f.is_active()))
            }
            Err(error) => {
                if error.is_denied() {
                    let in_a_row = self.permission_errors.fetch_add(1, Ordering::Relaxed) + 1;
                    if in_a_row >= PERMISSION_ERRORS_BEFORE_GIVING_UP
                        && self.enabled.swap(false, Ordering::Relaxed)
                    {
                        warnings.warn(
                            "factors",
                            format!("the token may not read MFA factors ({error}); MFA is unknown for the rest of this cycle"),
                        );
                    }
                }
                warnings.unapplied(
                    "factors",
                    format!("cannot read the factors of user {user_id}: {error}"),
                    Some(&error),
                );
                None
            }
        }
    }

    /// The MFA of each user, reading factors (`max_parallel` at a time) where `sources` say.
    pub async fn resolve(
        &self,
        cycle: &Cycle<'_>,
        users: &[User],
        sources: &[MfaSource],
        warnings: &Warnings,
    ) -> Vec<Mfa> {
        let (client, progress) = (cycle.client, &cycle.progress);
        let now = cycle.clock.now();
        let max_parallel = cycle.options.max_parallel;
        let mut results: Vec<Mfa> = sources
            .iter()
            .map(|source| match *source {
                MfaSource::Off => Mfa::default(),
                MfaSource::Read(cached) | MfaSource::Cached(cached) => cached,
            })
            .collect();
        // Progress counts users whose MFA is settled: cached ones at once, the others as their
        // factors are read.
        let cached = sources
            .iter()
            .filter(|s| matches!(s, MfaSource::Cached(_)))
            .count();
        if cached > 0 {
            progress.begin(Phase::Mfa);
            progress.advance(Phase::Mfa, cached as u64);
        }
        let wanted: Vec<usize> = (0..users.len())
            .filter(|&i| matches!(sources[i], MfaSource::Read(_)))
            .collect();
        if wanted.is_empty() {
            return results;
        }
        progress.begin(Phase::Mfa);
        let answers = run_bounded(wanted.into_iter(), max_parallel, |i| {
            let (client, reader, warnings) = (client.clone(), self.clone(), warnings.clone());
            let progress = progress.clone();
            let user_id = users[i].id.clone();
            async move {
                let answer = reader.has_mfa(&client, &user_id, &warnings).await;
                progress.advance(Phase::Mfa, 1);
                (i, answer)
            }
        })
        .await;
        for (i, answer) in answers {
            if let Some(has_mfa) = answer {
                results[i] = Mfa {
                    has_mfa: Some(has_mfa),
                    checked_at: Some(now.as_millisecond()),
                };
            }
            // A failed read keeps the last known value (or stays unknown).
        }
        results
    }
}

/// Groups and admin rights of users, from the directory and the admins.
pub struct Enricher<'a> {
    pub directory: &'a Directory,
    pub admins: &'a Admins,
}

impl<'a> Enricher<'a> {
    /// The user's groups (`None`: unknown) and admin status (`None`: unknown).
    pub fn lookup(&self, user: &str) -> (Option<Vec<&'a GroupInfo>>, Option<bool>) {
        (
            self.directory.groups_of(user),
            self.directory.is_admin(self.admins, user),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_reads_only_what_the_cache_cannot_vouch_for() {
        let now: Timestamp = "2026-03-10T00:00:00Z".parse().unwrap();
        let fresh = Mfa {
            has_mfa: Some(true),
            checked_at: Some(now.as_millisecond() - 3_600_000),
        };
        let old = Mfa {
            has_mfa: Some(false),
            checked_at: Some(now.as_millisecond() - 8 * 86_400_000),
        };
        let week_ago = Some(now - jiff::SignedDuration::from_hours(7 * 24));
        let events: BTreeSet<String> = ["00u2".to_string()].into();
        let plan = MfaPlan::new(true, Some(events), week_ago);
        assert_eq!(plan.source("00u1", Some(fresh)), MfaSource::Cached(fresh));
        assert_eq!(plan.source("00u2", Some(fresh)), MfaSource::Read(fresh));
        assert_eq!(plan.source("00u1", Some(old)), MfaSource::Read(old));
        assert_eq!(plan.source("00u3", None), MfaSource::Read(Mfa::default()));
        let unknown = Mfa {
            has_mfa: None,
            checked_at: None,
        };
        assert_eq!(plan.source("00u1", Some(unknown)), MfaSource::Read(unknown));
        // No feed: nothing cached is trusted.
        let blind = MfaPlan::new(true, None, None);
        assert_eq!(blind.source("00u1", Some(fresh)), MfaSource::Read(fresh));
        assert_eq!(
            MfaPlan::new(false, None, None).source("00u1", None),
            MfaSource::Off
        );
    }
}
