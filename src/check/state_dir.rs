//! The `state_dir` check: can the state directory be created and written?
//!
//! It creates the directory (and missing parents) as `sync` would, writes a small temporary
//! file, removes it, and removes again the directories it created, so `check` leaves nothing
//! behind. It reads nothing from the state itself.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::verdicts::{self, Ownership, StateDirOutcome};
use super::{Check, Deadline};

pub(super) async fn check(dir: &Path, deadline: &Deadline) -> Check {
    let owned = dir.to_path_buf();
    // Blocking file calls off the async threads; a hung network mount then costs the bound,
    // not the whole run.
    let outcome = match deadline
        .bound(tokio::task::spawn_blocking(move || probe(&owned)))
        .await
    {
        None => StateDirOutcome::TimedOut,
        Some(Ok(outcome)) => outcome,
        Some(Err(error)) => StateDirOutcome::Other(error.to_string()),
    };
    verdicts::state_dir(dir, &outcome)
}

/// Creates what is missing of `dir`, writes and removes a test file, removes what it created.
pub fn probe(dir: &Path) -> StateDirOutcome {
    let created = match create_missing(dir) {
        Ok(created) => created,
        Err(outcome) => return outcome,
    };
    let written = write_test_file(dir);
    remove_created(&created);
    match written {
        Ok(()) if created.is_empty() => trust(dir),
        Ok(()) => StateDirOutcome::Creatable,
        Err(error) => failure(dir, false, &error),
    }
}

/// Whether `sync` will accept the existing directory: the same rules as the state store.
fn trust(dir: &Path) -> StateDirOutcome {
    match crate::private_files::check_dir(dir) {
        Ok(Ok(None)) => StateDirOutcome::Writable,
        Ok(Ok(Some(exposure))) => StateDirOutcome::Exposed(exposure),
        Ok(Err(refusal)) => StateDirOutcome::Refused(refusal),
        Err(error) => failure(dir, false, &error),
    }
}

/// Creates the missing directories of `dir`, outermost first; returns them.
fn create_missing(dir: &Path) -> Result<Vec<PathBuf>, StateDirOutcome> {
    let mut missing = Vec::new();
    let mut at = dir;
    loop {
        match fs::metadata(at) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => return Err(StateDirOutcome::NotADirectory(at.to_path_buf())),
            // Not found, or a parent is a file: look further up for what is in the way.
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                missing.push(at.to_path_buf());
                match at.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                    _ => break,
                }
            }
            Err(error) => return Err(failure(at, false, &error)),
        }
    }
    let mut created = Vec::new();
    for path in missing.iter().rev() {
        if let Err(error) = create_private_dir(path) {
            remove_created(&created);
            return Err(failure(&parent_of(path), true, &error));
        }
        created.push(path.clone());
    }
    Ok(created)
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(unix)]
fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().mode(0o700).create(path)
}

#[cfg(not(unix))]
fn create_private_dir(path: &Path) -> io::Result<()> {
    fs::create_dir(path)
}

/// Innermost first; a directory something else wrote into meanwhile is left alone.
fn remove_created(created: &[PathBuf]) {
    for path in created.iter().rev() {
        let _ = fs::remove_dir(path);
    }
}

fn write_test_file(dir: &Path) -> io::Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let path = dir.join(format!(
        ".okta-asset-connector-check-{}-{nanos}",
        std::process::id()
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    // Written and flushed to disk, so a full file system shows here and not in the first sync.
    let written = file
        .write_all(b"okta-asset-connector check\n")
        .and_then(|()| file.sync_all());
    drop(file);
    let removed = fs::remove_file(&path);
    written.and(removed)
}

fn failure(path: &Path, creating: bool, error: &io::Error) -> StateDirOutcome {
    match error.kind() {
        io::ErrorKind::PermissionDenied => StateDirOutcome::PermissionDenied {
            path: path.to_path_buf(),
            creating,
            owner: ownership(path),
        },
        io::ErrorKind::ReadOnlyFilesystem => StateDirOutcome::ReadOnlyFileSystem,
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StateDirOutcome::NoSpace,
        io::ErrorKind::NotADirectory => StateDirOutcome::NotADirectory(path.to_path_buf()),
        _ => StateDirOutcome::Other(error.to_string()),
    }
}

#[cfg(unix)]
fn ownership(path: &Path) -> Option<Ownership> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).ok()?;
    Some(Ownership {
        uid: meta.uid(),
        mode: meta.mode() & 0o7777,
        process_uid: Some(crate::private_files::Identity::current().uid),
    })
}

#[cfg(not(unix))]
fn ownership(_: &Path) -> Option<Ownership> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_directory_is_writable_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(probe(dir.path()), StateDirOutcome::Writable);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "test file removed"
        );
    }

    #[test]
    fn a_missing_directory_is_created_then_removed_again() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b/state");
        assert_eq!(probe(&dir), StateDirOutcome::Creatable);
        assert!(!root.path().join("a").exists(), "nothing left behind");
    }

    #[test]
    fn a_file_in_the_way_is_not_a_directory() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("state");
        fs::write(&file, "x").unwrap();
        assert_eq!(probe(&file), StateDirOutcome::NotADirectory(file.clone()));
        assert_eq!(
            probe(&file.join("inner")),
            StateDirOutcome::NotADirectory(file.clone())
        );
    }

    #[cfg(unix)]
    #[test]
    fn permission_problems_name_the_path_owner_and_mode() {
        let error = io::Error::from(io::ErrorKind::PermissionDenied);
        let dir = tempfile::tempdir().unwrap();
        let StateDirOutcome::PermissionDenied {
            path,
            creating,
            owner,
        } = failure(dir.path(), true, &error)
        else {
            panic!("not a permission problem");
        };
        assert_eq!((path.as_path(), creating), (dir.path(), true));
        let owner = owner.expect("ownership of an existing path");
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(dir.path()).unwrap();
        assert_eq!((owner.uid, owner.mode), (meta.uid(), meta.mode() & 0o7777));
        assert!(owner.process_uid.is_some());
        // The directory was just made by this process: its owner is the effective uid.
        assert_eq!(owner.process_uid, Some(meta.uid()));
    }
}
