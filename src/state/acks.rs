//! Users acknowledged by the intake, recorded the moment the intake acknowledged them.
//!
//! Why not at the cycle's commit: a cycle that fails after some batches went through (an
//! intake 500 later on, a kill) commits nothing, yet the intake holds those users. Were one of
//! them hard-deleted in Okta before the next good cycle, nothing would remember it existed and
//! its deletion would never be sent. Each acknowledged batch is therefore written at once, in
//! its own small transaction, on a connection of its own (the delivery task writes while the
//! cycle reads Okta). These rows describe what the intake holds; they move no cursor and mark
//! nothing as done.

use std::path::Path;

use rusqlite::{params, Connection};

use super::store::db_error;
use super::{KnownUser, StateError};

/// Writes acknowledged users to the state database.
pub struct AckLog {
    conn: Connection,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for AckLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckLog").field("path", &self.path).finish()
    }
}

impl AckLog {
    pub(super) fn open(path: &Path) -> Result<AckLog, StateError> {
        let conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        // WAL with `synchronous=NORMAL`: a killed process loses nothing that was written; only
        // an OS crash can drop the last few rows, which then means a deletion reported by
        // the next full sync instead of this cycle's records (the state stays consistent).
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;")
            .map_err(|e| db_error(path, e))?;
        Ok(AckLog {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Records the users of one acknowledged batch (replacing what was known of them).
    pub fn record(&mut self, users: &[(String, KnownUser)]) -> Result<(), StateError> {
        if users.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let e = |error| db_error(&path, error);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO users(id, login, last_updated, has_mfa, is_admin, mfa_checked_at, event_uid)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(e)?;
            for (id, user) in users {
                upsert
                    .execute(params![
                        id,
                        user.login,
                        user.last_updated,
                        user.has_mfa,
                        user.is_admin,
                        user.mfa_checked_at,
                        user.event_uid
                    ])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }
}
