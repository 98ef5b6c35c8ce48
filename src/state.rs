//! Crash-safe connector state in an embedded SQLite database (`state.sqlite3` in `state_dir`).
//!
//! What it keeps, and why:
//! - cursors (users, groups) and the time of the last full sync: where the next incremental
//!   cycle starts;
//! - per user: login, `lastUpdated`, MFA and admin status as last delivered: de-duplication of
//!   the incremental overlap window, cached MFA for users re-emitted only because their groups
//!   changed, and hard-delete detection (a user known here and absent from a full sync);
//! - groups (profile, privileges) and memberships: the snapshot that incremental cycles diff
//!   against, since a membership change does not touch the member's own `lastUpdated`;
//! - role assignees and role-holding groups.
//!
//! Every cycle commits in one SQLite transaction (WAL, `synchronous=FULL`), and only after the
//! intake acknowledged every batch of the cycle: a crash at any point leaves the previous
//! consistent state, and the next cycle sends again rather than skipping. Nothing secret is
//! stored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};

use crate::private_files;

/// Version of the database layout. Older layouts are migrated; newer ones are refused.
pub const SCHEMA_VERSION: i64 = 1;
const FILE_NAME: &str = "state.sqlite3";

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

/// A user as last delivered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KnownUser {
    pub login: Option<String>,
    /// `lastUpdated` in epoch milliseconds.
    pub last_updated: Option<i64>,
    pub has_mfa: Option<bool>,
    pub is_admin: Option<bool>,
}

/// A group as last delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub group_type: String,
    /// Labels of the group's admin roles.
    pub privileges: Vec<String>,
}

/// Where the next cycle starts.
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

/// Everything one cycle changes, written in one transaction.
#[derive(Default)]
pub struct Commit<'a> {
    /// A full sync replaces users, groups, memberships and assignees instead of updating them.
    pub full: bool,
    /// With `full`: keep the stored users this commit does not mention instead of dropping
    /// them. Set when some user records of the listing could not be read: an unread user is
    /// not known to be gone, and forgetting it would lose its deletion event later.
    pub keep_unseen_users: bool,
    pub cursors: Cursors,
    pub users: Vec<(String, KnownUser)>,
    pub deleted_users: Vec<String>,
    pub groups: Vec<StoredGroup>,
    /// Complete member lists of the groups whose membership was (re-)read.
    pub memberships: Vec<(String, Vec<String>)>,
    /// Every membership of the org (full sync), replacing what was stored.
    pub all_memberships: Option<&'a dyn MembershipSource>,
    /// The complete current set of role assignees, each with whether it holds an active role,
    /// when it was read.
    pub assignees: Option<Vec<(String, bool)>>,
}

pub struct StateStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.path)
            .finish()
    }
}

impl StateStore {
    /// Opens (creating if needed) the state of the org at `okta_origin`. State written for
    /// another org is discarded, so the next cycle is a full sync of the new one.
    ///
    /// The directory is created `0700` and the database `0600` (its `-wal` and `-shm` files
    /// take the database's mode), whatever the umask; a directory or file other users could
    /// replace is refused (see [`crate::private_files`]).
    pub fn open(dir: &Path, okta_origin: &str) -> Result<StateStore, StateError> {
        make_private(dir)?;
        let path = dir.join(FILE_NAME);
        let conn = Connection::open(&path).map_err(|e| db_error(&path, e))?;
        let mut store = StateStore { conn, path };
        store.prepare(okta_origin)?;
        Ok(store)
    }

    fn err(&self, error: rusqlite::Error) -> StateError {
        db_error(&self.path, error)
    }

    fn prepare(&mut self, okta_origin: &str) -> Result<(), StateError> {
        self.conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;
                 CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
            )
            .map_err(|e| self.err(e))?;
        let version: Option<i64> = self.meta("schema_version")?.and_then(|v| v.parse().ok());
        match version {
            Some(found) if found > SCHEMA_VERSION => {
                return Err(StateError::TooNew {
                    path: self.path.display().to_string(),
                    found,
                    known: SCHEMA_VERSION,
                })
            }
            Some(_) => {}
            None => self.create_schema()?,
        }
        if self.meta("okta_origin")?.as_deref() != Some(okta_origin) {
            // Another org (or a fresh store): start over with a full sync.
            let tx = self
                .conn
                .transaction()
                .map_err(|e| db_error(&self.path, e))?;
            tx.execute_batch("DELETE FROM users; DELETE FROM groups; DELETE FROM members; DELETE FROM assignees; DELETE FROM meta WHERE key <> 'schema_version';")
                .map_err(|e| db_error(&self.path, e))?;
            tx.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('okta_origin', ?1)",
                [okta_origin],
            )
            .map_err(|e| db_error(&self.path, e))?;
            tx.commit().map_err(|e| db_error(&self.path, e))?;
        }
        Ok(())
    }

    fn create_schema(&mut self) -> Result<(), StateError> {
        self.conn
            .execute_batch(&format!(
                "BEGIN;
                 CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, login TEXT, last_updated INTEGER, has_mfa INTEGER, is_admin INTEGER) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS groups (id TEXT PRIMARY KEY, name TEXT, description TEXT, type TEXT NOT NULL, privileges TEXT NOT NULL) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS members (group_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS members_by_user ON members(user_id);
                 CREATE TABLE IF NOT EXISTS assignees (user_id TEXT PRIMARY KEY, active INTEGER NOT NULL) WITHOUT ROWID;
                 INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
                 COMMIT;"
            ))
            .map_err(|e| self.err(e))
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn cursors(&self) -> Result<Cursors, StateError> {
        let time = |key: &str| -> Result<Option<Timestamp>, StateError> {
            Ok(self
                .meta(key)?
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(|ms| Timestamp::from_millisecond(ms).ok()))
        };
        Ok(Cursors {
            users: time("users_cursor")?,
            groups: time("groups_cursor")?,
            last_full_sync: time("last_full_sync")?,
        })
    }

    /// Every known user id with its login (for hard-delete detection).
    pub fn user_logins(&self) -> Result<HashMap<Box<str>, Option<String>>, StateError> {
        let mut statement = self
            .conn
            .prepare("SELECT id, login FROM users")
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?.into_boxed_str(), row.get(1)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn user(&self, id: &str) -> Result<Option<KnownUser>, StateError> {
        self.conn
            .query_row(
                "SELECT login, last_updated, has_mfa, is_admin FROM users WHERE id = ?1",
                [id],
                |row| {
                    Ok(KnownUser {
                        login: row.get(0)?,
                        last_updated: row.get(1)?,
                        has_mfa: row.get(2)?,
                        is_admin: row.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn groups(&self) -> Result<Vec<StoredGroup>, StateError> {
        let mut statement = self
            .conn
            .prepare("SELECT id, name, description, type, privileges FROM groups ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| {
                let privileges: String = row.get(4)?;
                Ok(StoredGroup {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    description: row.get(2)?,
                    group_type: row.get(3)?,
                    privileges: serde_json::from_str(&privileges).unwrap_or_default(),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Calls `each(group_id, user_id)` for every stored membership.
    pub fn for_each_membership(&self, mut each: impl FnMut(&str, &str)) -> Result<(), StateError> {
        let mut statement = self
            .conn
            .prepare("SELECT group_id, user_id FROM members")
            .map_err(|e| self.err(e))?;
        let mut rows = statement.query([]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let group: &str = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(|e| self.err(e))?;
            let user: &str = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_str()?))
                .map_err(|e| self.err(e))?;
            each(group, user);
        }
        Ok(())
    }

    /// Role assignees, each with whether it holds an active role.
    pub fn assignees(&self) -> Result<HashMap<String, bool>, StateError> {
        let mut statement = self
            .conn
            .prepare("SELECT user_id, active FROM assignees")
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Writes a cycle's changes atomically.
    pub fn commit(&mut self, commit: &Commit<'_>) -> Result<(), StateError> {
        let path = self.path.clone();
        let e = |error| db_error(&path, error);
        let tx = self.conn.transaction().map_err(e)?;
        if commit.full {
            if !commit.keep_unseen_users {
                tx.execute_batch("DELETE FROM users;").map_err(e)?;
            }
            tx.execute_batch("DELETE FROM groups; DELETE FROM members; DELETE FROM assignees;")
                .map_err(e)?;
        }
        {
            let mut upsert = tx
                .prepare_cached("INSERT OR REPLACE INTO users(id, login, last_updated, has_mfa, is_admin) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(e)?;
            for (id, user) in &commit.users {
                upsert
                    .execute(params![
                        id,
                        user.login,
                        user.last_updated,
                        user.has_mfa,
                        user.is_admin
                    ])
                    .map_err(e)?;
            }
            let mut delete_user = tx
                .prepare_cached("DELETE FROM users WHERE id = ?1")
                .map_err(e)?;
            let mut delete_memberships = tx
                .prepare_cached("DELETE FROM members WHERE user_id = ?1")
                .map_err(e)?;
            for id in &commit.deleted_users {
                delete_user.execute([id]).map_err(e)?;
                delete_memberships.execute([id]).map_err(e)?;
            }
            let mut upsert_group = tx
                .prepare_cached("INSERT OR REPLACE INTO groups(id, name, description, type, privileges) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(e)?;
            for group in &commit.groups {
                let privileges =
                    serde_json::to_string(&group.privileges).unwrap_or_else(|_| "[]".into());
                upsert_group
                    .execute(params![
                        group.id,
                        group.name,
                        group.description,
                        group.group_type,
                        privileges
                    ])
                    .map_err(e)?;
            }
            let mut clear_group = tx
                .prepare_cached("DELETE FROM members WHERE group_id = ?1")
                .map_err(e)?;
            let mut add_member = tx
                .prepare_cached("INSERT OR IGNORE INTO members(group_id, user_id) VALUES (?1, ?2)")
                .map_err(e)?;
            for (group, members) in &commit.memberships {
                if !commit.full {
                    clear_group.execute([group]).map_err(e)?;
                }
                for user in members {
                    add_member.execute([group, user]).map_err(e)?;
                }
            }
            if let Some(source) = commit.all_memberships {
                tx.execute("DELETE FROM members", []).map_err(e)?;
                let mut failure = None;
                source.for_each_membership(&mut |group, user| {
                    if failure.is_none() {
                        failure = add_member.execute([group, user]).err();
                    }
                });
                if let Some(error) = failure {
                    return Err(e(error));
                }
            }
            if let Some(assignees) = &commit.assignees {
                tx.execute("DELETE FROM assignees", []).map_err(e)?;
                let mut add = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO assignees(user_id, active) VALUES (?1, ?2)",
                    )
                    .map_err(e)?;
                for (id, active) in assignees {
                    add.execute(params![id, active]).map_err(e)?;
                }
            }
            let mut set_meta = tx
                .prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")
                .map_err(e)?;
            for (key, value) in [
                ("users_cursor", commit.cursors.users),
                ("groups_cursor", commit.cursors.groups),
                ("last_full_sync", commit.cursors.last_full_sync),
            ] {
                if let Some(at) = value {
                    set_meta
                        .execute([key, &at.as_millisecond().to_string()])
                        .map_err(e)?;
                }
            }
        }
        tx.commit().map_err(e)
    }
}

/// Creates `dir` private, refuses it when other users could replace the state in it (or warns,
/// see [`private_files::Exposure`]), and makes the state files private before SQLite opens them.
fn make_private(dir: &Path) -> Result<(), StateError> {
    let io_error = |e: std::io::Error| StateError::Directory {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    let refused = |refusal: private_files::Refusal| StateError::Unsafe {
        refusal: refusal.to_string(),
    };
    private_files::create_dir(dir).map_err(io_error)?;
    if let Some(exposure) = private_files::check_dir(dir)
        .map_err(io_error)?
        .map_err(refused)?
    {
        tracing::warn!("{exposure}");
    }
    // The journal too: SQLite replays a leftover `-journal` into the database on open.
    let files = [
        FILE_NAME,
        "state.sqlite3-wal",
        "state.sqlite3-shm",
        "state.sqlite3-journal",
    ];
    private_files::prepare_files(dir, &files)
        .map_err(io_error)?
        .map_err(refused)
}

fn db_error(path: &Path, error: rusqlite::Error) -> StateError {
    StateError::Database {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str) -> StoredGroup {
        StoredGroup {
            id: id.into(),
            name: Some(format!("name {id}")),
            description: None,
            group_type: "OKTA_GROUP".into(),
            privileges: vec!["Super Administrator".into()],
        }
    }

    #[test]
    fn commits_survive_reopening_and_incremental_commits_update_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let at = Timestamp::from_millisecond(1_700_000_000_000).unwrap();
        {
            let mut store = StateStore::open(dir.path(), "https://a.okta.com").unwrap();
            assert_eq!(store.cursors().unwrap(), Cursors::default());
            store
                .commit(&Commit {
                    full: true,
                    cursors: Cursors {
                        users: Some(at),
                        groups: Some(at),
                        last_full_sync: Some(at),
                    },
                    users: vec![(
                        "00u1".into(),
                        KnownUser {
                            login: Some("a@b.c".into()),
                            last_updated: Some(1),
                            has_mfa: Some(true),
                            is_admin: Some(false),
                        },
                    )],
                    groups: vec![group("00g1")],
                    memberships: vec![("00g1".into(), vec!["00u1".into(), "00u2".into()])],
                    assignees: Some(vec![("00u2".into(), true)]),
                    ..Commit::default()
                })
                .unwrap();
        }
        let mut store = StateStore::open(dir.path(), "https://a.okta.com").unwrap();
        assert_eq!(store.cursors().unwrap().users, Some(at));
        assert_eq!(store.user("00u1").unwrap().unwrap().has_mfa, Some(true));
        assert_eq!(store.groups().unwrap(), vec![group("00g1")]);
        assert_eq!(store.assignees().unwrap().get("00u2"), Some(&true));
        store
            .commit(&Commit {
                memberships: vec![("00g1".into(), vec!["00u2".into()])],
                deleted_users: vec!["00u1".into()],
                ..Commit::default()
            })
            .unwrap();
        let mut rows = Vec::new();
        store
            .for_each_membership(|g, u| rows.push((g.to_string(), u.to_string())))
            .unwrap();
        assert_eq!(rows, vec![("00g1".to_string(), "00u2".to_string())]);
        assert_eq!(store.user("00u1").unwrap(), None);
        // Cursors not set by a commit keep their value.
        assert_eq!(store.cursors().unwrap().users, Some(at));
    }

    #[test]
    fn another_org_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let at = Timestamp::from_millisecond(1_700_000_000_000).unwrap();
        let mut store = StateStore::open(dir.path(), "https://a.okta.com").unwrap();
        store
            .commit(&Commit {
                cursors: Cursors {
                    users: Some(at),
                    ..Cursors::default()
                },
                users: vec![("00u1".into(), KnownUser::default())],
                ..Commit::default()
            })
            .unwrap();
        drop(store);
        let store = StateStore::open(dir.path(), "https://b.okta.com").unwrap();
        assert_eq!(store.cursors().unwrap(), Cursors::default());
        assert!(store.user_logins().unwrap().is_empty());
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(StateStore::open(dir.path(), "https://a.okta.com").unwrap());
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        drop(conn);
        let error = StateStore::open(dir.path(), "https://a.okta.com").unwrap_err();
        assert!(
            matches!(error, StateError::TooNew { found: 99, .. }),
            "{error}"
        );
    }
}
