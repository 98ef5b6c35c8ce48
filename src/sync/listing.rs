//! Users out of Okta, page by page: every user (full sync, into the spool with their MFA), or
//! the users an incremental cycle must look at (changed since the cursor, or named by a change).
//!
//! Every listing is a `search`, so DEPROVISIONED users are included (a plain list omits them).

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::Timestamp;

use super::cycle::{Cycle, SyncError, Warnings};
use super::directory::roles::is_not_found;
use super::enrich::{MfaReader, MfaSource};
use super::spool::{Listing, SpooledPage};
use crate::okta::endpoints::expr;
use crate::okta::model::User;
use crate::okta::{Page, Pager};
use crate::progress::Phase;

/// Ids per `id eq … or …` search: keeps the URL well under common 8 KiB limits.
const IDS_PER_SEARCH: usize = 50;

/// Every user (`search=status pr`), page by page, each page with its users' MFA: the factors
/// `source` asks for are read while the next page is fetched.
pub struct AllUsers {
    pager: Pager<User>,
    /// The page fetched ahead.
    ahead: Option<Page<User>>,
    started: bool,
    listed_at: Option<Timestamp>,
    skipped: usize,
}

impl AllUsers {
    pub fn new(cycle: &Cycle<'_>) -> AllUsers {
        cycle.progress.begin(Phase::Users);
        AllUsers {
            pager: cycle.client.search_users(expr::ALL_USERS),
            ahead: None,
            started: false,
            listed_at: None,
            skipped: 0,
        }
    }

    /// The next page, or `None` after the last one. Stops (interrupted) once `stop` is set.
    pub async fn next(
        &mut self,
        cycle: &Cycle<'_>,
        mfa: &MfaReader,
        source: &(dyn Fn(&str) -> MfaSource + Sync),
        warnings: &Warnings,
        stop: &AtomicBool,
    ) -> Result<Option<SpooledPage>, SyncError> {
        if !self.started {
            self.started = true;
            self.ahead = self.pager.next_page().await?;
            // Okta's clock when the listing began: the next cursor.
            self.listed_at = self.ahead.as_ref().map(|_| cycle.client.server_time());
        }
        let Some(current) = self.ahead.take() else {
            finish_listing(cycle);
            return Ok(None);
        };
        if stop.load(Ordering::Relaxed) {
            return Err(SyncError::Interrupted);
        }
        cycle.check_stop()?;
        self.skipped += current.skipped;
        warnings.add_skipped(current.skipped);
        cycle
            .progress
            .advance(Phase::Users, current.items.len() as u64);
        let users = current.items;
        let sources: Vec<MfaSource> = users.iter().map(|u| source(&u.id)).collect();
        let (next, answers) = tokio::join!(
            self.pager.next_page(),
            mfa.resolve(cycle, &users, &sources, warnings)
        );
        self.ahead = next?;
        Ok(Some(SpooledPage {
            users,
            mfa: answers,
        }))
    }

    /// How the listing ended (after `next` returned `None`).
    pub fn finish(&self) -> Listing {
        Listing {
            listed_at: self.listed_at,
            skipped: self.skipped,
        }
    }
}

/// The users phase is over, and with it the factor reads done for its pages.
fn finish_listing(cycle: &Cycle<'_>) {
    cycle.progress.finish(Phase::Users);
    if cycle.progress.snapshot().get(Phase::Mfa).is_some() {
        cycle.progress.finish(Phase::Mfa);
    }
}

/// One page of an incremental listing.
#[derive(Debug, Default)]
pub struct ListedPage {
    pub users: Vec<User>,
    /// From the `lastUpdated` search (their record changed) rather than read by id.
    pub changed: bool,
    /// Ids answered 404: hard-deleted in Okta.
    pub gone: Vec<String>,
}

/// The users an incremental cycle looks at: first those changed since `since` (the safety
/// net; eventually consistent), then the ids named by changes that search did not return,
/// `IDS_PER_SEARCH` per search, then one by one those still missing (search lags behind
/// writes by about a second; a 404 there is a confirmed hard delete).
pub struct ChangedUsers {
    search: Option<Pager<User>>,
    ids: Vec<String>,
    seen: HashSet<String>,
    /// Okta's clock when the `lastUpdated` search began: the next users cursor.
    pub listed_at: Option<Timestamp>,
}

impl ChangedUsers {
    pub fn new(cycle: &Cycle<'_>, since: Timestamp, ids: BTreeSet<String>) -> ChangedUsers {
        cycle.progress.begin(Phase::Users);
        ChangedUsers {
            search: Some(cycle.client.search_users(&expr::users_updated_since(since))),
            ids: ids.into_iter().rev().collect(),
            seen: HashSet::new(),
            listed_at: None,
        }
    }

    /// The next page, or `None` when every user was listed.
    pub async fn next(
        &mut self,
        cycle: &Cycle<'_>,
        warnings: &Warnings,
    ) -> Result<Option<ListedPage>, SyncError> {
        cycle.check_stop()?;
        let client = cycle.client;
        if let Some(search) = self.search.as_mut() {
            match search.next_page().await? {
                Some(page) => {
                    self.listed_at.get_or_insert_with(|| client.server_time());
                    warnings.add_skipped(page.skipped);
                    let users = self.fresh(page.items);
                    cycle.progress.advance(Phase::Users, users.len() as u64);
                    return Ok(Some(ListedPage {
                        users,
                        changed: true,
                        gone: Vec::new(),
                    }));
                }
                None => self.search = None,
            }
        }
        while !self.ids.is_empty() {
            let take = self.ids.len().min(IDS_PER_SEARCH);
            let chunk: Vec<String> = self
                .ids
                .split_off(self.ids.len() - take)
                .into_iter()
                .filter(|id| !self.seen.contains(id))
                .collect();
            if chunk.is_empty() {
                continue;
            }
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let mut found = Vec::new();
            let mut pager = client.search_users(&expr::ids(&refs));
            while let Some(page) = pager.next_page().await? {
                warnings.add_skipped(page.skipped);
                found.extend(
                    page.items
                        .into_iter()
                        .filter(|u| refs.contains(&u.id.as_str())),
                );
            }
            let mut page = ListedPage {
                users: self.fresh(found),
                ..ListedPage::default()
            };
            let missing: Vec<&String> =
                chunk.iter().filter(|id| !self.seen.contains(*id)).collect();
            for id in missing {
                match client.get_user(id).await {
                    Ok(user) => {
                        self.seen.insert(user.id.clone());
                        page.users.push(user);
                    }
                    Err(error) if is_not_found(&error) => page.gone.push(id.clone()),
                    Err(error) => return Err(error.into()),
                }
            }
            cycle
                .progress
                .advance(Phase::Users, page.users.len() as u64);
            return Ok(Some(page));
        }
        finish_listing(cycle);
        Ok(None)
    }

    /// Keeps the users not listed yet, and remembers them.
    fn fresh(&mut self, users: Vec<User>) -> Vec<User> {
        users
            .into_iter()
            .filter(|u| self.seen.insert(u.id.clone()))
            .collect()
    }
}
