//! Crash-safe connector state in an embedded SQLite database (`state.sqlite3` in `state_dir`).
//!
//! What it keeps, and why:
//! - cursors (users, groups), the time of the last full sync and the System Log position:
//!   where the next incremental cycle starts;
//! - per user, as last acknowledged by the intake: login, `lastUpdated`, MFA status and when
//!   the factors were last read, admin status, and the delivered event's `metadata.uid` (a
//!   fingerprint of its content): hard-delete detection (a user known here and absent from a
//!   full listing, or answered 404), the MFA cache, and skipping an identical event;
//! - groups (profile, admin stat, privileges) and memberships: the snapshot incremental cycles
//!   diff against and update, since a membership change does not touch the member's own
//!   `lastUpdated`;
//! - role assignees, each with whether it holds an active role directly.
//!
//! Two kinds of writes:
//! - [`StateStore::commit`]: everything a cycle decided (cursors, the System Log position,
//!   snapshot changes, deletions), in one SQLite transaction (WAL, `synchronous=FULL`), and only
//!   after the intake acknowledged every batch of the cycle. A crash at any point leaves the
//!   previous consistent state; the next cycle sends again rather than skipping.
//! - [`AckLog::record`]: the users of one acknowledged batch, written at once in their own
//!   small transaction, whether or not the cycle later commits. A user the intake holds is
//!   thereby always known to deletion detection, even when the cycle that sent it failed or was
//!   killed. These rows are facts about what the intake holds, never a cursor.
//!
//! Nothing secret is stored. [`migrations`] upgrades databases written by older versions.

mod acks;
pub mod migrations;
mod store;

use jiff::Timestamp;

pub use acks::AckLog;
pub use migrations::SCHEMA_VERSION;
pub use store::{adopt_legacy, StateStore};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {message}; hint: state_dir must be a writable local directory (not shared by two connectors)")]
    Database { path: String, message: String },
    #[error("cannot create state directory {path}: {message}; hint: set state_dir (STATE_DIR, --state-dir) to a writable directory")]
    Directory { path: String, message: String },
    #[error("unsafe state directory: {refusal}")]
    Unsafe { refusal: String },
    #[error("state in {path} has schema version {found}, newer than this build knows ({known}); hint: run the newer connector version, or point state_dir elsewhere (a full sync starts over)")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

/// A user as last acknowledged by the intake.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KnownUser {
    pub login: Option<String>,
    /// `lastUpdated` in epoch milliseconds.
    pub last_updated: Option<i64>,
    pub has_mfa: Option<bool>,
    /// When the factors behind `has_mfa` were read (epoch ms); `None` when never read.
    pub mfa_checked_at: Option<i64>,
    pub is_admin: Option<bool>,
    /// `metadata.uid` of the delivered event: a fingerprint of its whole content.
    pub event_uid: Option<String>,
}

/// What a full sync needs of every known user: the login for a deletion event, and the MFA
/// cache. Kept small: it is loaded for the whole org.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CachedUser {
    pub login: Option<Box<str>>,
    pub has_mfa: Option<bool>,
    pub mfa_checked_at: Option<i64>,
}

/// A group as last delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub group_type: String,
    /// Labels of the group's active admin roles; `None` when they could not be read.
    pub privileges: Option<Vec<String>>,
    /// `_embedded.stats.hasAdminPrivlege` as last listed; `None` when Okta sent no stats.
    pub admin_stat: Option<bool>,
}

/// Where the next incremental cycle starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursors {
    pub users: Option<Timestamp>,
    pub groups: Option<Timestamp>,
    pub last_full_sync: Option<Timestamp>,
}

/// Something that can list every (group id, user id) membership without copying them all.
pub trait MembershipSource {
    fn for_each_membership(&self, each: &mut dyn FnMut(&str, &str));
}

/// What a commit does with the System Log position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FeedPosition {
    /// Leave it as it is.
    #[default]
    Keep,
    /// The URL to poll next (a `next` link Okta gave, or the first polling URL).
    Set(String),
    /// Forget it: the change feed was unreadable, so later cycles cannot rely on it until a
    /// full sync records a new position.
    Clear,
}

/// What a commit does with the role assignees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Assignees {
    #[default]
    Keep,
    /// The complete current set, each with whether it holds an active role directly.
    Replace(Vec<(String, bool)>),
    /// The assignees could not be read: nobody's direct roles are known.
    Unknown,
}

/// What a commit does with groups and memberships.
#[derive(Default)]
pub enum Snapshot<'a> {
    /// A full sync: every group and every membership, replacing what was stored.
    Replace {
        groups: Vec<StoredGroup>,
        memberships: &'a dyn MembershipSource,
    },
    /// An incremental cycle: groups added or changed, groups deleted, and the complete
    /// current group list of each user whose memberships changed.
    Update {
        groups: Vec<StoredGroup>,
        deleted_groups: Vec<String>,
        user_groups: Vec<(String, Vec<String>)>,
    },
    /// Leave groups and memberships as they are (they could not be read completely).
    #[default]
    Keep,
}

/// Everything a cycle changes besides the acknowledged users, written in one transaction.
/// The default changes nothing.
#[derive(Default)]
pub struct Commit<'a> {
    /// Cursors set here replace the stored ones; `None` keeps the stored value.
    pub cursors: Cursors,
    pub feed: FeedPosition,
    /// Users sent as hard-deleted: forgotten with their memberships.
    pub deleted_users: Vec<String>,
    pub snapshot: Snapshot<'a>,
    pub assignees: Assignees,
}
