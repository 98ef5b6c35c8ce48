//! `state_dir`: what the state directory probe found.

use std::path::Path;

use super::STATE_DIR_KEYS;
use crate::check::{Check, CheckName, Status};
use crate::private_files::{Exposure, Refusal};

/// Who owns a path, for explaining a permission problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    pub uid: u32,
    /// Permission bits (`0o755`).
    pub mode: u32,
    /// The effective uid of this process, when known.
    pub process_uid: Option<u32>,
}

/// How the state directory probe ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateDirOutcome {
    /// It exists, and a file could be created, written and removed in it.
    Writable,
    /// It did not exist; it could be created and written (and was removed again).
    Creatable,
    /// This path (the directory or one of its parents) exists and is not a directory.
    NotADirectory(std::path::PathBuf),
    /// Permission denied on this path; `creating` when the directory itself does not exist yet
    /// and had to be created in it.
    PermissionDenied {
        path: std::path::PathBuf,
        creating: bool,
        owner: Option<Ownership>,
    },
    /// Writable, but other users may replace the state in it: `sync` refuses it.
    Refused(Refusal),
    /// Writable and accepted, though others may write in it: `sync` warns.
    Exposed(Exposure),
    ReadOnlyFileSystem,
    NoSpace,
    TimedOut,
    Other(String),
}

pub fn state_dir(dir: &Path, outcome: &StateDirOutcome) -> Check {
    let shown = dir.display();
    let fail =
        |reason: String, fix: String| Check::new(CheckName::StateDir, Status::Fail, reason, fix);
    match outcome {
        StateDirOutcome::Writable => Check::new(
            CheckName::StateDir,
            Status::Ok,
            format!("state directory {shown} is writable"),
            "",
        ),
        StateDirOutcome::Creatable => Check::new(
            CheckName::StateDir,
            Status::Ok,
            format!("state directory {shown} does not exist yet and can be created (sync creates it on its first run)"),
            "",
        ),
        StateDirOutcome::NotADirectory(path) if path == dir => fail(
            format!("state directory {shown} exists but is not a directory"),
            format!("move that file away, or set {STATE_DIR_KEYS} to a directory"),
        ),
        StateDirOutcome::NotADirectory(path) => fail(
            format!("state directory {shown} cannot be created: {} is not a directory", path.display()),
            format!("set {STATE_DIR_KEYS} to a path under a directory"),
        ),
        StateDirOutcome::PermissionDenied { path, creating, owner } => {
            let mut reason = if *creating {
                format!("state directory {shown} does not exist and cannot be created: permission denied in {}", path.display())
            } else {
                format!("cannot write in the state directory {shown}: permission denied")
            };
            let user = match owner.and_then(|o| o.process_uid) {
                Some(uid) => format!("uid {uid}"),
                None => "the user that runs the connector".to_string(),
            };
            if let Some(owner) = owner {
                reason.push_str(&format!(
                    " ({} is owned by uid {} with mode {:04o}",
                    path.display(),
                    owner.uid,
                    owner.mode & 0o7777
                ));
                if let Some(uid) = owner.process_uid {
                    reason.push_str(&format!("; this process runs as uid {uid}"));
                }
                reason.push(')');
            }
            let fix = if *creating {
                format!("create {shown} for {user} (mkdir -p {shown}, chown it to {user}, chmod 700), or set {STATE_DIR_KEYS} to a directory it owns")
            } else {
                format!("give {shown} to {user} (chown it, chmod 700), or set {STATE_DIR_KEYS} to a directory it owns")
            };
            fail(reason, fix)
        }
        StateDirOutcome::Refused(refusal) => fail(
            format!("sync would refuse the state directory: {}", refusal.reason()),
            refusal.fix(),
        ),
        StateDirOutcome::Exposed(exposure) => Check::new(
            CheckName::StateDir,
            Status::Warn,
            exposure.reason(),
            exposure.fix(),
        ),
        StateDirOutcome::ReadOnlyFileSystem => fail(
            format!("state directory {shown} is on a read-only file system"),
            format!("mount a writable volume at {shown} (containers with a read-only root file system need one), or set {STATE_DIR_KEYS} to a writable path"),
        ),
        StateDirOutcome::NoSpace => fail(
            format!("no space left to write in the state directory {shown}"),
            format!("free space (or quota) on its file system, or set {STATE_DIR_KEYS} elsewhere"),
        ),
        StateDirOutcome::TimedOut => fail(
            format!("writing a test file in the state directory {shown} did not finish in time"),
            "check the file system that holds it (a hung network mount?)".to_string(),
        ),
        StateDirOutcome::Other(message) => fail(
            format!("cannot write in the state directory {shown}: {message}"),
            format!("check the path, its owner and mode, or set {STATE_DIR_KEYS}"),
        ),
    }
}
