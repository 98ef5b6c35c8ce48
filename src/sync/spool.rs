//! A disk-backed queue of user pages, so the full sync can list users (and read their factors)
//! while the groups are still being read, without holding user records in memory.
//!
//! Why: a full sync needs every group's members before it can map a user, and those member
//! listings are metered in a different Okta bucket (`/groups`) than the user listing and the
//! factor calls. Reading the groups first and the users after leaves the user buckets idle
//! for the whole group phase; listing users into this spool during that phase lets the
//! buckets work in parallel (Okta meters each bucket apart), so the cycle ends close to the floor of its busiest
//! bucket. Once the directory is complete, pages are read back in order and emitted.
//!
//! The file holds whole profiles and MFA status, so no other user may ever open it. It lives in
//! the state directory (private to this user) when there is one, else in the temp directory,
//! and it never has a name there: it is made with `O_TMPFILE` where the file system offers it,
//! else under a random name with `O_EXCL` and mode `0600`, unlinked before any data is written
//! (`tempfile::tempfile_in`). It disappears with the process, whatever happens. The writer and
//! the reader share the one descriptor, each at its own offset. Records are `u32` length + JSON
//! of `(users, has_mfa)`. Nothing is committed from it: it only reorders work inside one cycle.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::cycle::SyncError;
use super::enrich::Mfa;
use crate::okta::model::User;

/// One page as listed: users and, per user, their MFA status (read now or cached).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SpooledPage {
    pub users: Vec<User>,
    pub mfa: Vec<Mfa>,
}

/// How the listing ended.
#[derive(Debug)]
pub(crate) struct Listing {
    /// Okta's clock when the listing began (the next cursor); `None` when there were no pages.
    pub listed_at: Option<Timestamp>,
    /// Records Okta sent that could not be read.
    pub skipped: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    pages: u64,
    finished: bool,
}

/// The writing side (the listing task) and the reading side (the emitting task) share this.
pub(crate) struct Spool {
    /// The one descriptor; each side seeks to its own offset under the lock.
    file: Mutex<File>,
    /// The reader's offset and the number of pages it has read.
    reader: Mutex<(u64, u64)>,
    progress: watch::Sender<Progress>,
    outcome: Mutex<Option<Result<Listing, SyncError>>>,
}

impl Spool {
    /// An empty spool in `dir` (the state directory), or in the temp directory without one.
    pub fn create(dir: Option<&Path>) -> std::io::Result<Spool> {
        let dir = dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let file = tempfile::tempfile_in(dir)?;
        // An `O_TMPFILE` file gets the umask's mode; it has no name, but keep it owner-only.
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        Ok(Spool {
            file: Mutex::new(file),
            reader: Mutex::new((0, 0)),
            progress: watch::channel(Progress::default()).0,
            outcome: Mutex::new(None),
        })
    }

    /// Appends a page.
    pub fn push(&self, page: &SpooledPage) -> Result<(), SyncError> {
        let bytes = serde_json::to_vec(page).expect("a page serialises");
        let len = u32::try_from(bytes.len()).map_err(|_| spool_error("page too large"))?;
        let mut file = self.file.lock().expect("spool lock");
        file.seek(SeekFrom::End(0))
            .and_then(|_| file.write_all(&len.to_le_bytes()))
            .and_then(|()| file.write_all(&bytes))
            .map_err(|e| spool_error(&e.to_string()))?;
        drop(file);
        self.progress.send_modify(|p| p.pages += 1);
        Ok(())
    }

    /// Ends the listing: `Ok` after the last page, or the error that stopped it.
    pub fn finish(&self, outcome: Result<Listing, SyncError>) {
        *self.outcome.lock().expect("spool lock") = Some(outcome);
        self.progress.send_modify(|p| p.finished = true);
    }

    /// The next page, waiting for the listing when it is behind; `None` after the last one.
    pub async fn next(&self) -> Result<Option<SpooledPage>, SyncError> {
        let read = self.reader.lock().expect("spool lock").1;
        let mut progress = self.progress.subscribe();
        let now = *progress
            .wait_for(|p| p.pages > read || p.finished)
            .await
            .expect("the spool owns its sender");
        if now.pages <= read {
            return Ok(None);
        }
        let mut reader = self.reader.lock().expect("spool lock");
        let (offset, count) = &mut *reader;
        let bytes = self
            .read_record(*offset)
            .map_err(|e| spool_error(&e.to_string()))?;
        *offset += 4 + bytes.len() as u64;
        *count += 1;
        let page = serde_json::from_slice(&bytes).map_err(|e| spool_error(&e.to_string()))?;
        Ok(Some(page))
    }

    /// The record at `offset`.
    fn read_record(&self, offset: u64) -> std::io::Result<Vec<u8>> {
        let mut file = self.file.lock().expect("spool lock");
        file.seek(SeekFrom::Start(offset))?;
        let mut len = [0u8; 4];
        file.read_exact(&mut len)?;
        let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
        file.read_exact(&mut bytes)?;
        Ok(bytes)
    }

    /// How the listing ended (once `next` returned `None`, or to collect its error).
    pub fn outcome(&self) -> Option<Result<Listing, SyncError>> {
        self.outcome.lock().expect("spool lock").take()
    }
}

fn spool_error(detail: &str) -> SyncError {
    SyncError::Spool(detail.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> User {
        serde_json::from_str(&format!(
            r#"{{"id":"{id}","status":"ACTIVATING","created":"2026-01-02T03:04:05.123Z","lastLogin":null,
            "profile":{{"login":"ü@x.io","firstName":"A","title":"  ","employeeNumber":42,"custom":"x"}}}}"#
        ))
        .unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn the_spool_has_no_name_and_is_private_to_its_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::create(Some(dir.path())).unwrap();
        spool
            .push(&SpooledPage {
                users: vec![user("00u1")],
                mfa: vec![Mfa::default()],
            })
            .unwrap();
        let meta = spool.file.lock().unwrap().metadata().unwrap();
        assert_eq!(
            meta.nlink(),
            0,
            "unlinked: no other process can open it by name"
        );
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert!(meta.len() > 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn pages_come_back_in_order_and_equal() {
        let spool = Spool::create(None).unwrap();
        let first = SpooledPage {
            users: vec![user("00u1"), user("00u2")],
            mfa: vec![
                Mfa {
                    has_mfa: Some(true),
                    checked_at: Some(1),
                },
                Mfa::default(),
            ],
        };
        spool.push(&first).unwrap();
        let got = spool.next().await.unwrap().unwrap();
        assert_eq!(got.users, first.users);
        assert_eq!(got.mfa, first.mfa);
        let reading = async { spool.next().await.unwrap().map(|p| p.users[0].id.clone()) };
        let writing = async {
            tokio::task::yield_now().await;
            spool
                .push(&SpooledPage {
                    users: vec![user("00u3")],
                    mfa: vec![Mfa::default()],
                })
                .unwrap();
            spool.finish(Ok(Listing {
                listed_at: None,
                skipped: 0,
            }));
        };
        let (read, ()) = tokio::join!(reading, writing);
        assert_eq!(read.as_deref(), Some("00u3"));
        assert!(spool.next().await.unwrap().is_none());
        assert!(spool.outcome().unwrap().is_ok());
    }
}
