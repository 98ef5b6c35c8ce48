//! The database layout and how older layouts are upgraded.
//!
//! Version 2 (this one) adds, per user, when the factors were last read and the delivered
//! event's fingerprint uid; per group, the `hasAdminPrivlege` stat and a way to say "roles
//! unknown"; and changes what an assignee row means (an active role held *directly*, where
//! version 1 mixed in roles inherited from groups). A version 1 database keeps its users (so a
//! user hard-deleted during the upgrade is still reported) and its snapshot; its assignees are
//! dropped and the next cycle is made a full sync, which rebuilds everything version 1 did not
//! record.

use rusqlite::Connection;

/// Version of the database layout. Older layouts are migrated; newer ones are refused.
pub const SCHEMA_VERSION: i64 = 2;

/// Creates the current layout in an empty database.
pub(super) fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "BEGIN;
         CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, login TEXT, last_updated INTEGER,
             has_mfa INTEGER, is_admin INTEGER, mfa_checked_at INTEGER, event_uid TEXT) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS groups (id TEXT PRIMARY KEY, name TEXT, description TEXT,
             type TEXT NOT NULL, privileges TEXT NOT NULL, admin_stat INTEGER) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS members (group_id TEXT NOT NULL, user_id TEXT NOT NULL,
             PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS members_by_user ON members(user_id);
         CREATE TABLE IF NOT EXISTS assignees (user_id TEXT PRIMARY KEY, active INTEGER NOT NULL) WITHOUT ROWID;
         INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
         COMMIT;"
    ))
}

/// Upgrades a database of layout `from` (older than [`SCHEMA_VERSION`]) in one transaction.
pub(super) fn upgrade(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    if from < 2 {
        conn.execute_batch(&format!(
            "BEGIN;
             ALTER TABLE users ADD COLUMN mfa_checked_at INTEGER;
             ALTER TABLE users ADD COLUMN event_uid TEXT;
             ALTER TABLE groups ADD COLUMN admin_stat INTEGER;
             DELETE FROM assignees;
             DELETE FROM meta WHERE key IN ('last_full_sync', 'assignees_known', 'feed_position');
             INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
             COMMIT;"
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Cursors, StateStore};
    use rusqlite::Connection;

    /// The layout version 1 wrote, with a user, a group and a membership.
    fn version_1_database(dir: &std::path::Path) {
        let conn = Connection::open(dir.join("state.sqlite3")).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE users (id TEXT PRIMARY KEY, login TEXT, last_updated INTEGER, has_mfa INTEGER, is_admin INTEGER) WITHOUT ROWID;
             CREATE TABLE groups (id TEXT PRIMARY KEY, name TEXT, description TEXT, type TEXT NOT NULL, privileges TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE members (group_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (group_id, user_id)) WITHOUT ROWID;
             CREATE INDEX members_by_user ON members(user_id);
             CREATE TABLE assignees (user_id TEXT PRIMARY KEY, active INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO meta VALUES ('schema_version', '1'), ('okta_origin', 'https://a.okta.com'),
                 ('users_cursor', '1700000000000'), ('groups_cursor', '1700000000000'),
                 ('last_full_sync', '1700000000000');
             INSERT INTO users VALUES ('00u1', 'a@b.c', 1699999999000, 1, 0);
             INSERT INTO groups VALUES ('00g1', 'Admins', NULL, 'OKTA_GROUP', '[\"Super Administrator\"]');
             INSERT INTO members VALUES ('00g1', '00u1');
             INSERT INTO assignees VALUES ('00u1', 1);",
        )
        .unwrap();
    }

    #[test]
    fn a_version_1_database_keeps_its_users_and_snapshot_and_asks_for_a_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        version_1_database(dir.path());
        let store = StateStore::open(dir.path(), "https://a.okta.com").unwrap();
        let version: String = store
            .connection()
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(version, super::SCHEMA_VERSION.to_string());
        // The user is still known to deletion detection, with what version 1 recorded.
        let user = store.user("00u1").unwrap().unwrap();
        assert_eq!(user.login.as_deref(), Some("a@b.c"));
        assert_eq!(user.has_mfa, Some(true));
        assert_eq!((user.mfa_checked_at, user.event_uid), (None, None));
        assert!(store.user_cache().unwrap().contains_key("00u1"));
        // The snapshot is readable in the new layout.
        let groups = store.groups().unwrap();
        assert_eq!(
            groups[0].privileges.as_deref(),
            Some(&["Super Administrator".to_string()][..])
        );
        assert_eq!(groups[0].admin_stat, None);
        let mut rows = Vec::new();
        store
            .for_each_membership(|g, u| rows.push((g.to_string(), u.to_string())))
            .unwrap();
        assert_eq!(rows, vec![("00g1".to_string(), "00u1".to_string())]);
        // Assignee rows meant something else: dropped; and the next cycle is a full sync.
        assert_eq!(store.assignees().unwrap(), None);
        let cursors = store.cursors().unwrap();
        assert_eq!(cursors.last_full_sync, None);
        assert_ne!(cursors, Cursors::default());
        assert_eq!(store.feed_position().unwrap(), None);
        drop(store);
        // Opening again does not migrate twice.
        StateStore::open(dir.path(), "https://a.okta.com").unwrap();
    }
}
