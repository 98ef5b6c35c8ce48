//! What changed since the last cycle: the System Log as change feed, and the `lastUpdated` /
//! `lastMembershipUpdated` searches as a safety net, into a [`ChangeSet`] of what to re-read.
//!
//! The feed is read with *polling* queries (a `since`, no `until`): Okta then bounds events by
//! the time they were persisted, so following the `next` links misses no event persisted
//! late. The position (the next link to poll) is committed only after the intake acknowledged
//! the cycle. A full sync reads the feed up to its own start (factor events tell which cached
//! MFA statuses changed) and records the position there, so the next incremental cycle starts
//! where the full sync's reads began. Only the event types that can change an inventory event
//! are asked for ([`expr::log_events`]): sign-ins, the bulk of a live org's log, cost nothing.
//!
//! Where the log is unreadable (a token without `okta.logs.read`), cycles fall back to the
//! searches alone (every group listed, every assignee's roles re-read), say so once per run,
//! and report `change_feed: "fallback"`.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use url::Url;

use super::cycle::{Cycle, SyncError, Warnings};
use crate::okta::endpoints::expr;
use crate::okta::model::{Group, LogEvent};
use crate::okta::OktaError;
use crate::progress::Phase;
use crate::state::{Cursors, FeedPosition};

/// Incremental searches reach back this far before their cursor: Okta's search is eventually
/// consistent (about a second), and cursors come from Okta's one-second `Date` header. The
/// System Log position of a full sync starts as far back, for the same reasons.
pub const OVERLAP: Duration = Duration::from_secs(120);

/// Pages of the System Log read per cycle at most (1,000 events each); the rest waits for the
/// next cycle, from the position reached (nothing is skipped).
const MAX_FEED_PAGES: usize = 200;

/// Where this cycle's changes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FeedMode {
    /// The System Log, plus the searches as a safety net.
    SystemLog,
    /// The searches alone (the log is unreadable, or has no position yet).
    #[default]
    Fallback,
}

impl FeedMode {
    /// `system_log` or `fallback`, as the summary serialises it.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedMode::SystemLog => "system_log",
            FeedMode::Fallback => "fallback",
        }
    }
}

/// How the change feed went this cycle (for the summary and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeedStatus {
    pub mode: FeedMode,
    /// Events read.
    pub events: u64,
    /// How far behind the end of the log the position is after this cycle, seconds (0 when
    /// the end was reached); `None` without the feed.
    pub lag_s: Option<f64>,
}

/// What the events said to re-read, each id once however many events named it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Marks {
    /// The user record (a 404 confirms a hard delete).
    pub users: BTreeSet<String>,
    /// The groups a user belongs to.
    pub user_groups: BTreeSet<String>,
    /// A group (profile, existence), then its members' events.
    pub groups: BTreeSet<String>,
    pub role_users: BTreeSet<String>,
    pub role_groups: BTreeSet<String>,
    pub factor_users: BTreeSet<String>,
}

impl Marks {
    /// Marks what `event` says to re-read.
    pub fn add(&mut self, event: &LogEvent) {
        let kind = event.event_type.as_deref().unwrap_or_default();
        let users = || {
            event
                .target
                .iter()
                .filter_map(|t| t.user_id())
                .map(str::to_string)
        };
        let groups = || {
            event
                .target
                .iter()
                .filter_map(|t| t.group_id())
                .map(str::to_string)
        };
        if kind.starts_with("group.user_membership.") {
            self.user_groups.extend(users());
        } else if kind.starts_with("group.privilege.") {
            self.role_groups.extend(groups());
        } else if kind.starts_with("user.account.privilege.") {
            self.role_users.extend(users());
        } else if kind.starts_with("user.mfa.factor.") {
            self.factor_users.extend(users());
        } else if kind.starts_with("group.profile.") || kind.starts_with("group.lifecycle.") {
            self.groups.extend(groups());
        } else if kind.starts_with("user.lifecycle.create") {
            // A new user: its record and the groups it starts in (Everyone, group rules).
            self.users.extend(users());
            self.user_groups.extend(users());
        } else {
            // Lifecycle and account events, and any other type naming a user: the record.
            self.users.extend(users());
        }
    }
}

/// The full sync's reading of the feed.
#[derive(Debug)]
pub struct CatchUp {
    /// Users named by factor events since the last cycle; `None` when that is not known (no
    /// position, the feed unreadable or not read to its end): then every factor is read.
    pub factor_users: Option<BTreeSet<String>>,
    pub position: FeedPosition,
    pub status: FeedStatus,
}

/// What an incremental cycle must re-read.
#[derive(Debug)]
pub struct ChangeSet {
    pub marks: Marks,
    pub status: FeedStatus,
    pub position: FeedPosition,
    /// Users changed after this are listed again (the `lastUpdated` safety net).
    pub users_since: Timestamp,
    /// Groups listed: with the feed, those whose profile or membership changed since
    /// `groups_since`; without it, every group (`groups_complete`).
    pub groups: Vec<Group>,
    pub groups_complete: bool,
    pub groups_since: Timestamp,
    /// Okta's clock when the group listing began: the next groups cursor.
    pub groups_listed_at: Option<Timestamp>,
    pub cursors: Cursors,
}

impl CatchUp {
    /// No change feed at all (a sync without state, e.g. `--output`).
    pub fn none() -> CatchUp {
        CatchUp {
            factor_users: None,
            position: FeedPosition::Keep,
            status: FeedStatus::default(),
        }
    }
}

/// The full sync: reads the feed from the stored position to its end and records the
/// position reached; without a position, starts one at `OVERLAP` before now.
pub async fn catch_up(cycle: &Cycle<'_>, stored: Option<String>, warnings: &Warnings) -> CatchUp {
    let mut had_position = stored.is_some();
    let mut read = match stored {
        Some(link) => match stored_link(cycle, &link) {
            Ok(start) => read_feed(cycle, start, warnings).await,
            Err(error) => Err(error),
        },
        None => start_feed(cycle, warnings).await,
    };
    if let Err(error) = &read {
        if position_refused(error) {
            // A full sync reads everything anyway: a new position loses nothing (the factor
            // events since the old one are not known, so every cached MFA answer is re-read).
            tracing::warn!(
                "Okta refused the stored change feed position ({error}); starting a new one"
            );
            had_position = false;
            read = start_feed(cycle, warnings).await;
        }
    }
    match read {
        Ok(read) => CatchUp {
            status: read.status(cycle),
            position: FeedPosition::Set(read.next.to_string()),
            factor_users: (had_position && read.reached_end).then_some(read.marks.factor_users),
        },
        Err(error) => CatchUp {
            factor_users: None,
            position: unreadable(cycle, &error, warnings),
            status: FeedStatus::default(),
        },
    }
}

/// A new position: polling from `OVERLAP` before Okta's clock. Before any answer the client
/// only knows the local clock; should Okta's `Date` then show that clock ran ahead by more
/// than the overlap, the read starts again from Okta's own time, so no event falls between.
async fn start_feed(cycle: &Cycle<'_>, warnings: &Warnings) -> Result<FeedRead, OktaError> {
    let client = cycle.client;
    let since = before(Some(client.server_time()), OVERLAP);
    let read = read_feed(cycle, client.log_polling_url(since), warnings).await?;
    let okta_now = client.server_time();
    if okta_now >= since {
        return Ok(read);
    }
    tracing::warn!(%okta_now, local = %cycle.clock.now(), "the local clock is ahead of Okta's; the change feed starts from Okta's time");
    let since = before(Some(okta_now), OVERLAP);
    read_feed(cycle, client.log_polling_url(since), warnings).await
}

/// An incremental cycle: the feed from the stored position, and the safety-net group listing
/// (the users search runs with the listing of users).
pub async fn collect(
    cycle: &Cycle<'_>,
    cursors: Cursors,
    stored: Option<String>,
    warnings: &Warnings,
) -> Result<ChangeSet, SyncError> {
    let client = cycle.client;
    let (marks, status, position) = match stored {
        None => {
            // Unreadable (already said once this run) or never read yet: a full sync records a
            // position when the log is readable.
            tracing::debug!("the change feed has no position; this cycle uses the searches alone");
            (Marks::default(), FeedStatus::default(), FeedPosition::Keep)
        }
        Some(link) => {
            let read = match stored_link(cycle, &link) {
                Ok(start) => read_feed(cycle, start, warnings).await,
                Err(error) => Err(error),
            };
            match read {
                Ok(read) => {
                    let status = read.status(cycle);
                    (read.marks, status, FeedPosition::Set(read.next.to_string()))
                }
                Err(error) => (
                    Marks::default(),
                    FeedStatus::default(),
                    unreadable(cycle, &error, warnings),
                ),
            }
        }
    };
    cycle.check_stop()?;
    let groups_since = before(cursors.groups, OVERLAP);
    let complete = status.mode == FeedMode::Fallback;
    // Without the feed every group is listed: a deleted group is then noticed by its absence,
    // and a role granted to a group by its `hasAdminPrivlege`.
    let filter = (!complete).then(|| expr::groups_changed_since(groups_since));
    let progress = &cycle.progress;
    progress.begin(Phase::Groups);
    let mut pager = client.list_groups(filter.as_deref());
    let mut groups = Vec::new();
    let mut groups_listed_at = None;
    let mut skipped = 0;
    while let Some(page) = pager.next_page().await? {
        groups_listed_at.get_or_insert_with(|| client.server_time());
        warnings.add_skipped(page.skipped);
        skipped += page.skipped;
        progress.advance(Phase::Groups, page.items.len() as u64);
        groups.extend(page.items);
    }
    progress.finish(Phase::Groups);
    Ok(ChangeSet {
        marks,
        status,
        position,
        users_since: before(cursors.users, OVERLAP),
        // A listing with unreadable records is not complete: an unread group is not gone.
        groups_complete: complete && skipped == 0,
        groups,
        groups_since,
        groups_listed_at,
        cursors,
    })
}

/// The stored position as a URL; one that is not on the configured origin is refused (the
/// token only ever goes there).
fn stored_link(cycle: &Cycle<'_>, link: &str) -> Result<Url, OktaError> {
    let origin = cycle.client.origin();
    let foreign = || OktaError::ForeignLink {
        link: crate::text::remote(link, 200),
        origin: origin.as_str().trim_end_matches('/').to_string(),
    };
    let url = Url::parse(link).map_err(|_| foreign())?;
    if url.origin() == origin.origin() && url.path() == "/api/v1/logs" {
        Ok(url)
    } else {
        Err(foreign())
    }
}

/// The log could not be read: the position to commit and what to say. Without permission
/// (or without a log at all) the position is dropped and the run says so once; on a passing
/// failure it is kept, and the next cycle reads on from it.
fn unreadable(cycle: &Cycle<'_>, error: &OktaError, warnings: &Warnings) -> FeedPosition {
    if is_unavailable(error) {
        if cycle.options.notices.first_feed_unavailable() {
            tracing::warn!(
                "the System Log (change feed) is not readable: {error}; cycles fall back to the lastUpdated searches, which see group deletions, role grants and MFA changes later (hint: give the token okta.logs.read / a Read-Only Administrator; `check` tells)"
            );
        }
        FeedPosition::Clear
    } else if position_refused(error) {
        // Kept, it would be refused every cycle; the next full sync starts a new one.
        warnings.warn(
            "change_feed",
            format!("Okta refused the stored System Log position ({error}); using the searches alone until the next full sync starts a new one"),
        );
        FeedPosition::Clear
    } else {
        warnings.warn(
            "change_feed",
            format!("cannot read the System Log this cycle ({error}); using the searches alone and reading the log again next cycle"),
        );
        FeedPosition::Keep
    }
}

/// Errors that mean the log is not available to this token (rather than a passing failure).
fn is_unavailable(error: &OktaError) -> bool {
    match error {
        OktaError::Api(api) => {
            matches!(api.status, 401 | 403 | 404)
                || matches!(api.code.as_deref(), Some("E0000006" | "E0000015"))
        }
        OktaError::ForeignLink { .. } => true,
        _ => false,
    }
}

/// Okta refused the stored position itself (a 4xx other than a rate limit, the permission
/// answers of [`is_unavailable`] aside): an expired or invalid cursor, which reading it again
/// would not mend. Okta's reference states no lifetime for a polling cursor, so this is not
/// assumed away.
fn position_refused(error: &OktaError) -> bool {
    let client_error = error
        .status()
        .is_some_and(|status| (400..500).contains(&status) && status != 429);
    client_error && !is_unavailable(error)
}

/// What reading the feed gave.
struct FeedRead {
    marks: Marks,
    /// Where to poll next.
    next: Url,
    events: u64,
    reached_end: bool,
    last_published: Option<Timestamp>,
}

impl FeedRead {
    fn status(&self, cycle: &Cycle<'_>) -> FeedStatus {
        let lag_s = if self.reached_end {
            0.0
        } else {
            let now = cycle.client.server_time();
            self.last_published
                .map_or(0.0, |at| now.duration_since(at).as_secs_f64().max(0.0))
        };
        FeedStatus {
            mode: FeedMode::SystemLog,
            events: self.events,
            lag_s: Some(lag_s),
        }
    }
}

/// Follows the polling links from `start` until a page comes back empty (the end, for now)
/// or `MAX_FEED_PAGES` were read.
async fn read_feed(
    cycle: &Cycle<'_>,
    start: Url,
    warnings: &Warnings,
) -> Result<FeedRead, OktaError> {
    let progress = &cycle.progress;
    progress.begin(Phase::Changes);
    let mut pager = cycle.client.log_events(start.clone());
    let mut read = FeedRead {
        marks: Marks::default(),
        next: start,
        events: 0,
        reached_end: false,
        last_published: None,
    };
    let mut pages = 0;
    let mut last_page_full = false;
    while pages < MAX_FEED_PAGES {
        let Some(page) = pager.next_page().await? else {
            break;
        };
        pages += 1;
        last_page_full =
            page.items.len() + page.skipped >= crate::okta::endpoints::LOG_PAGE as usize;
        warnings.add_skipped(page.skipped);
        for event in &page.items {
            read.marks.add(event);
            read.last_published = event.published.or(read.last_published);
        }
        read.events += page.items.len() as u64;
        progress.advance(Phase::Changes, page.items.len() as u64);
    }
    if let Some(resume) = pager.resume_link() {
        // Caught up: poll from the empty page's link next time.
        read.next = resume.clone();
        read.reached_end = true;
    } else if let Some(pending) = pager.pending_link() {
        // Stopped after `MAX_FEED_PAGES`: the rest next cycle, nothing skipped.
        read.next = pending.clone();
    } else if let Some(last) = read.last_published {
        // No next link at all. Okta's reference says polling answers always carry one; should
        // one not, poll again from the last event read. `since` bounds the persistence time,
        // which is never before `published`: every event not read yet was persisted at or
        // after that one, so none is skipped, and the events at that instant are read twice
        // (marks are idempotent). Starting again from `start` would read the same first page
        // for ever once more than a page of events waits.
        read.next = cycle.client.log_polling_url(last);
        read.reached_end = !last_page_full;
    } else {
        // No event and no link: the same query again next time.
        read.reached_end = true;
    }
    progress.finish(Phase::Changes);
    Ok(read)
}

/// `at − overlap`, or the epoch when there is no `at`.
pub fn before(at: Option<Timestamp>, overlap: Duration) -> Timestamp {
    let at = at.unwrap_or(Timestamp::UNIX_EPOCH);
    let overlap = SignedDuration::try_from(overlap).unwrap_or(SignedDuration::ZERO);
    at.checked_sub(overlap).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, targets: &[(&str, &str)]) -> LogEvent {
        let targets: Vec<serde_json::Value> = targets
            .iter()
            .map(|(kind, id)| serde_json::json!({"type": kind, "id": id}))
            .collect();
        serde_json::from_value(serde_json::json!({"eventType": kind, "target": targets})).unwrap()
    }

    #[test]
    fn events_mark_what_to_reread_once_each() {
        let mut marks = Marks::default();
        for e in [
            event("user.lifecycle.suspend", &[("User", "00u1")]),
            event("user.account.update_profile", &[("User", "00u1")]),
            event("user.lifecycle.create", &[("User", "00u2")]),
            event(
                "group.user_membership.add",
                &[("User", "00u3"), ("UserGroup", "00g1")],
            ),
            event(
                "group.user_membership.remove",
                &[("User", "00u3"), ("UserGroup", "00g2")],
            ),
            event("group.profile.update", &[("UserGroup", "00g3")]),
            event("group.lifecycle.delete", &[("UserGroup", "00g4")]),
            event("group.privilege.grant", &[("UserGroup", "00g5")]),
            event("user.account.privilege.revoke", &[("User", "00u4")]),
            event("user.mfa.factor.reset_all", &[("User", "00u5")]),
            event(
                "user.something.new",
                &[("User", "00u6"), ("AppInstance", "0oa1")],
            ),
        ] {
            marks.add(&e);
        }
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(marks.users, set(&["00u1", "00u2", "00u6"]));
        assert_eq!(marks.user_groups, set(&["00u2", "00u3"]));
        assert_eq!(marks.groups, set(&["00g3", "00g4"]));
        assert_eq!(marks.role_groups, set(&["00g5"]));
        assert_eq!(marks.role_users, set(&["00u4"]));
        assert_eq!(marks.factor_users, set(&["00u5"]));
    }
}
