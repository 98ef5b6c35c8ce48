//! The state database: opening (creating or upgrading the layout), reads, and the one
//! transaction a cycle commits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::private_files;

use super::{
    migrations, AckLog, Assignees, CachedUser, Commit, Cursors, FeedPosition, KnownUser, Snapshot,
    StateError, StoredGroup, SCHEMA_VERSION,
};

pub(super) const FILE_NAME: &str = "state.sqlite3";

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
                 PRAGMA busy_timeout=10000;
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
            Some(found) if found < SCHEMA_VERSION => {
                migrations::upgrade(&self.conn, found).map_err(|e| self.err(e))?
            }
            Some(_) => {}
            None => migrations::create(&self.conn).map_err(|e| self.err(e))?,
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

    fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    #[cfg(test)]
    pub(super) fn connection(&self) -> &Connection {
        &self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second connection to the same database, for writing acknowledged users while the
    /// cycle goes on (see [`AckLog`]).
    pub fn ack_log(&self) -> Result<AckLog, StateError> {
        AckLog::open(&self.path)
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

    /// Where the System Log is read next; `None` when the change feed has no position (never
    /// readable, or a gap since the last full sync).
    pub fn feed_position(&self) -> Result<Option<String>, StateError> {
        self.meta("feed_position")
    }

    /// Every known user with what a full sync needs of it (login, MFA cache).
    pub fn user_cache(&self) -> Result<HashMap<Box<str>, CachedUser>, StateError> {
        let mut statement = self
            .conn
            .prepare("SELECT id, login, has_mfa, mfa_checked_at FROM users")
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?.into_boxed_str(),
                    CachedUser {
                        login: row.get::<_, Option<String>>(1)?.map(String::into_boxed_str),
                        has_mfa: row.get(2)?,
                        mfa_checked_at: row.get(3)?,
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn user(&self, id: &str) -> Result<Option<KnownUser>, StateError> {
        self.conn
            .query_row(
                "SELECT login, last_updated, has_mfa, mfa_checked_at, is_admin, event_uid FROM users WHERE id = ?1",
                [id],
                |row| {
                    Ok(KnownUser {
                        login: row.get(0)?,
                        last_updated: row.get(1)?,
                        has_mfa: row.get(2)?,
                        mfa_checked_at: row.get(3)?,
                        is_admin: row.get(4)?,
                        event_uid: row.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn groups(&self) -> Result<Vec<StoredGroup>, StateError> {
        let mut statement = self
            .conn
            .prepare("SELECT id, name, description, type, privileges, admin_stat FROM groups ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| {
                let privileges: String = row.get(4)?;
                Ok(StoredGroup {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    description: row.get(2)?,
                    group_type: row.get(3)?,
                    // Unreadable JSON is "unknown", never "no privileges".
                    privileges: serde_json::from_str(&privileges).unwrap_or(None),
                    admin_stat: row.get(5)?,
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

    /// Role assignees, each with whether it holds an active role directly; `None` when the
    /// last cycle could not read them.
    pub fn assignees(&self) -> Result<Option<HashMap<String, bool>>, StateError> {
        if self.meta("assignees_known")?.as_deref() != Some("1") {
            return Ok(None);
        }
        let mut statement = self
            .conn
            .prepare("SELECT user_id, active FROM assignees")
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>()
            .map(Some)
            .map_err(|e| self.err(e))
    }

    /// Writes a cycle's decisions atomically.
    pub fn commit(&mut self, commit: &Commit<'_>) -> Result<(), StateError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| db_error(&path, e))?;
        write(&tx, commit).map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))
    }
}

fn write(tx: &Transaction<'_>, commit: &Commit<'_>) -> rusqlite::Result<()> {
    let mut delete_user = tx.prepare_cached("DELETE FROM users WHERE id = ?1")?;
    let mut delete_memberships = tx.prepare_cached("DELETE FROM members WHERE user_id = ?1")?;
    for id in &commit.deleted_users {
        delete_user.execute([id])?;
        delete_memberships.execute([id])?;
    }
    write_snapshot(tx, &commit.snapshot)?;
    write_assignees(tx, &commit.assignees)?;
    let mut set_meta =
        tx.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?;
    for (key, value) in [
        ("users_cursor", commit.cursors.users),
        ("groups_cursor", commit.cursors.groups),
        ("last_full_sync", commit.cursors.last_full_sync),
    ] {
        if let Some(at) = value {
            set_meta.execute([key, &at.as_millisecond().to_string()])?;
        }
    }
    match &commit.feed {
        FeedPosition::Keep => {}
        FeedPosition::Set(url) => {
            set_meta.execute(["feed_position", url.as_str()])?;
        }
        FeedPosition::Clear => {
            tx.execute("DELETE FROM meta WHERE key = 'feed_position'", [])?;
        }
    }
    Ok(())
}

fn write_snapshot(tx: &Transaction<'_>, snapshot: &Snapshot<'_>) -> rusqlite::Result<()> {
    let mut upsert_group = tx.prepare_cached(
        "INSERT OR REPLACE INTO groups(id, name, description, type, privileges, admin_stat) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut add_member =
        tx.prepare_cached("INSERT OR IGNORE INTO members(group_id, user_id) VALUES (?1, ?2)")?;
    let groups = match snapshot {
        Snapshot::Keep => return Ok(()),
        Snapshot::Replace {
            groups,
            memberships,
        } => {
            // Rebuilt from scratch: the per-user index is dropped and created once the rows
            // are in (one sort instead of a B-tree update per membership), and the rows come
            // in primary-key order (appends rather than seeks).
            tx.execute_batch(
                "DELETE FROM groups; DELETE FROM members; DROP INDEX IF EXISTS members_by_user;",
            )?;
            let mut failure = None;
            memberships.for_each_membership(&mut |group, user| {
                if failure.is_none() {
                    failure = add_member.execute([group, user]).err();
                }
            });
            if let Some(error) = failure {
                return Err(error);
            }
            tx.execute_batch("CREATE INDEX members_by_user ON members(user_id);")?;
            groups
        }
        Snapshot::Update {
            groups,
            deleted_groups,
            user_groups,
        } => {
            let mut delete_group = tx.prepare_cached("DELETE FROM groups WHERE id = ?1")?;
            let mut clear_group = tx.prepare_cached("DELETE FROM members WHERE group_id = ?1")?;
            for id in deleted_groups {
                delete_group.execute([id])?;
                clear_group.execute([id])?;
            }
            let mut clear_user = tx.prepare_cached("DELETE FROM members WHERE user_id = ?1")?;
            for (user, groups) in user_groups {
                clear_user.execute([user])?;
                for group in groups {
                    add_member.execute([group, user])?;
                }
            }
            groups
        }
    };
    for group in groups {
        let privileges = serde_json::to_string(&group.privileges).unwrap_or_else(|_| "null".into());
        upsert_group.execute(params![
            group.id,
            group.name,
            group.description,
            group.group_type,
            privileges,
            group.admin_stat
        ])?;
    }
    Ok(())
}

fn write_assignees(tx: &Transaction<'_>, assignees: &Assignees) -> rusqlite::Result<()> {
    let rows = match assignees {
        Assignees::Keep => return Ok(()),
        Assignees::Unknown => None,
        Assignees::Replace(rows) => Some(rows),
    };
    tx.execute("DELETE FROM assignees", [])?;
    let mut add =
        tx.prepare_cached("INSERT OR REPLACE INTO assignees(user_id, active) VALUES (?1, ?2)")?;
    for (id, direct) in rows.into_iter().flatten() {
        add.execute(params![id, direct])?;
    }
    let known = if rows.is_some() { "1" } else { "0" };
    tx.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('assignees_known', ?1)",
        [known],
    )?;
    Ok(())
}

/// Creates `dir` private, refuses it when other users could replace the state in it (or warns,
/// see [`private_files::Exposure`]), and makes the state files private before SQLite opens them.
/// The state files SQLite keeps beside each other: the database, its WAL, its shared memory and
/// a rollback journal (replayed on open when left over).
const STATE_FILES: [&str; 4] = [
    FILE_NAME,
    "state.sqlite3-wal",
    "state.sqlite3-shm",
    "state.sqlite3-journal",
];

/// Moves the state an older version kept directly in `legacy_dir` into `dir`, when `dir` holds
/// none yet, so that an upgrade keeps what the intake already holds (a user deleted while the
/// connector was being upgraded is then still sent as deleted). A legacy database that is not
/// a regular file of this user is left where it is, with a warning: it could have been planted.
/// Returns whether a database was moved.
pub fn adopt_legacy(legacy_dir: &Path, dir: &Path) -> Result<bool, StateError> {
    let legacy = legacy_dir.join(FILE_NAME);
    let Ok(meta) = std::fs::symlink_metadata(&legacy) else {
        return Ok(false);
    };
    if dir.join(FILE_NAME).exists() {
        return Ok(false);
    }
    if let Err(refusal) = private_files::own_regular_file(&legacy, &meta) {
        tracing::warn!("the state left by an older version is not used: {refusal}");
        return Ok(false);
    }
    let io_error = |e: std::io::Error| StateError::Directory {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    private_files::create_dir(dir).map_err(io_error)?;
    for name in STATE_FILES {
        match std::fs::rename(legacy_dir.join(name), dir.join(name)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(error)),
        }
    }
    tracing::info!(
        from = %legacy.display(),
        to = %dir.display(),
        "moved the state an older version kept in the runtime's data volume into the connector's own directory"
    );
    Ok(true)
}

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
    private_files::prepare_files(dir, &STATE_FILES)
        .map_err(io_error)?
        .map_err(refused)
}

pub(super) fn db_error(path: &Path, error: rusqlite::Error) -> StateError {
    StateError::Database {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MembershipSource;

    fn group(id: &str) -> StoredGroup {
        StoredGroup {
            id: id.into(),
            name: Some(format!("name {id}")),
            description: None,
            group_type: "OKTA_GROUP".into(),
            privileges: Some(vec!["Super Administrator".into()]),
            admin_stat: Some(true),
        }
    }

    struct Pairs(Vec<(&'static str, &'static str)>);

    impl MembershipSource for Pairs {
        fn for_each_membership(&self, each: &mut dyn FnMut(&str, &str)) {
            for (g, u) in &self.0 {
                each(g, u);
            }
        }
    }

    fn memberships(store: &StateStore) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        store
            .for_each_membership(|g, u| rows.push((g.to_string(), u.to_string())))
            .unwrap();
        rows.sort();
        rows
    }

    #[test]
    fn commits_survive_reopening_and_incremental_commits_update_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let at = Timestamp::from_millisecond(1_700_000_000_000).unwrap();
        {
            let mut store = StateStore::open(dir.path(), "https://a.okta.com").unwrap();
            assert_eq!(store.cursors().unwrap(), Cursors::default());
            store
                .ack_log()
                .unwrap()
                .record(&[(
                    "00u1".to_string(),
                    KnownUser {
                        login: Some("a@b.c".into()),
                        has_mfa: Some(true),
                        ..KnownUser::default()
                    },
                )])
                .unwrap();
            let source = Pairs(vec![("00g1", "00u1"), ("00g1", "00u2")]);
            store
                .commit(&Commit {
                    cursors: Cursors {
                        users: Some(at),
                        groups: Some(at),
                        last_full_sync: Some(at),
                    },
                    feed: FeedPosition::Set("https://a.okta.com/api/v1/logs?after=1".into()),
                    deleted_users: Vec::new(),
                    snapshot: Snapshot::Replace {
                        groups: vec![group("00g1")],
                        memberships: &source,
                    },
                    assignees: Assignees::Replace(vec![("00u2".into(), true)]),
                })
                .unwrap();
        }
        let mut store = StateStore::open(dir.path(), "https://a.okta.com").unwrap();
        assert_eq!(store.cursors().unwrap().users, Some(at));
        assert_eq!(store.user("00u1").unwrap().unwrap().has_mfa, Some(true));
        assert_eq!(store.groups().unwrap(), vec![group("00g1")]);
        assert_eq!(store.assignees().unwrap().unwrap().get("00u2"), Some(&true));
        assert_eq!(
            store.feed_position().unwrap().as_deref(),
            Some("https://a.okta.com/api/v1/logs?after=1")
        );
        let mut unknown_roles = group("00g2");
        unknown_roles.privileges = None;
        store
            .commit(&Commit {
                cursors: Cursors::default(),
                feed: FeedPosition::Clear,
                deleted_users: vec!["00u1".into()],
                snapshot: Snapshot::Update {
                    groups: vec![unknown_roles.clone()],
                    deleted_groups: Vec::new(),
                    user_groups: vec![("00u2".into(), vec!["00g2".into()])],
                },
                assignees: Assignees::Keep,
            })
            .unwrap();
        assert_eq!(
            memberships(&store),
            vec![("00g2".to_string(), "00u2".to_string())]
        );
        assert_eq!(store.user("00u1").unwrap(), None);
        assert_eq!(store.groups().unwrap()[1], unknown_roles);
        assert_eq!(store.feed_position().unwrap(), None);
        // Cursors not set by a commit keep their value.
        assert_eq!(store.cursors().unwrap().users, Some(at));
        store
            .commit(&Commit {
                cursors: Cursors::default(),
                feed: FeedPosition::Keep,
                deleted_users: Vec::new(),
                snapshot: Snapshot::Update {
                    groups: Vec::new(),
                    deleted_groups: vec!["00g2".into()],
                    user_groups: Vec::new(),
                },
                assignees: Assignees::Unknown,
            })
            .unwrap();
        assert!(memberships(&store).is_empty());
        assert_eq!(store.groups().unwrap(), vec![group("00g1")]);
        assert_eq!(store.assignees().unwrap(), None);
    }

    #[test]
    fn another_org_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let at = Timestamp::from_millisecond(1_700_000_000_000).unwrap();
        let mut store = StateStore::open(dir.path(), "https://a.okta.com").unwrap();
        store
            .ack_log()
            .unwrap()
            .record(&[("00u1".into(), KnownUser::default())])
            .unwrap();
        store
            .commit(&Commit {
                cursors: Cursors {
                    users: Some(at),
                    ..Cursors::default()
                },
                feed: FeedPosition::Keep,
                deleted_users: Vec::new(),
                snapshot: Snapshot::Keep,
                assignees: Assignees::Keep,
            })
            .unwrap();
        drop(store);
        let store = StateStore::open(dir.path(), "https://b.okta.com").unwrap();
        assert_eq!(store.cursors().unwrap(), Cursors::default());
        assert!(store.user_cache().unwrap().is_empty());
    }

    #[test]
    fn state_left_in_the_data_volume_is_adopted_once_and_keeps_its_users() {
        let volume = tempfile::tempdir().unwrap();
        let own = volume.path().join("okta-asset-connector");
        let store = StateStore::open(volume.path(), "https://a.okta.com").unwrap();
        store
            .ack_log()
            .unwrap()
            .record(&[("00u1".into(), KnownUser::default())])
            .unwrap();
        drop(store);
        assert!(adopt_legacy(volume.path(), &own).unwrap());
        assert!(!volume.path().join(FILE_NAME).exists());
        let store = StateStore::open(&own, "https://a.okta.com").unwrap();
        assert!(store.user_cache().unwrap().contains_key("00u1"));
        drop(store);
        // Nothing left to adopt, and an existing state is never replaced.
        assert!(!adopt_legacy(volume.path(), &own).unwrap());
        drop(StateStore::open(volume.path(), "https://a.okta.com").unwrap());
        assert!(!adopt_legacy(volume.path(), &own).unwrap());
        assert!(volume.path().join(FILE_NAME).exists());
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
