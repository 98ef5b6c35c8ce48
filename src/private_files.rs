//! Files that hold people's data: private to the user that runs the connector.
//!
//! The state database holds every user's login, MFA and admin status and every membership; the
//! full sync's spool holds whole profiles; `--output` holds the events. On a host shared with
//! other users, each must be readable by its owner only, and nobody else may be able to replace
//! it: a state database swapped by another user carries forged cursors (later cycles skip
//! changes) or forged users (sent as deleted).
//!
//! - Directories the connector creates are `0700`, files `0600`, whatever the umask (the umask
//!   can only remove bits from those).
//! - [`check_dir`] decides whether an existing state directory can be trusted: see [`Refusal`]
//!   for what is refused and [`Exposure`] for what is accepted with a warning.
//! - [`prepare_files`] makes the state files private before SQLite opens them: the database is
//!   created `0600` (SQLite gives its `-wal` and `-shm` files the database's mode), files left
//!   group- or world-readable by an older version are narrowed to `0600`, and a file another
//!   user owns, or a symbolic link, is refused.
//!
//! The spool and the `--output` temporary file are made by the `tempfile` crate: random names,
//! `O_EXCL` (no symbolic link followed, no file of someone else reused), mode `0600`.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The superuser: a directory or file it owns is trusted, since it could change any file anyway.
const ROOT: u32 = 0;

/// Creates `dir` and its missing parents with mode `0700`. Existing directories are left as
/// they are (see [`check_dir`]).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Why a directory or file may not hold the state. Each message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Owned by a user other than this process's and root: that user can swap the database.
    OwnedByOther {
        path: PathBuf,
        owner: u32,
        process: u32,
    },
    /// Writable by every user, without the sticky bit: anyone can rename or replace the files.
    WritableByAnyone { path: PathBuf, mode: u32 },
    /// Writable by a group this process is not in: its members are other users.
    WritableByForeignGroup { path: PathBuf, gid: u32, mode: u32 },
    /// A state file that is a symbolic link or not a regular file.
    NotARegularFile { path: PathBuf },
}

impl Refusal {
    /// The directory or file refused.
    pub fn path(&self) -> &Path {
        match self {
            Refusal::OwnedByOther { path, .. }
            | Refusal::WritableByAnyone { path, .. }
            | Refusal::WritableByForeignGroup { path, .. }
            | Refusal::NotARegularFile { path } => path,
        }
    }
}

impl Refusal {
    /// What is wrong and what it risks, without the fix.
    pub fn reason(&self) -> String {
        let path = self.path().display();
        match self {
            Refusal::OwnedByOther { owner, process, .. } => format!(
                "{path} belongs to uid {owner}, not to uid {process} that runs the connector: that user could replace the state (forged cursors skip changes, forged users are sent as deleted)"
            ),
            Refusal::WritableByAnyone { mode, .. } => format!(
                "{path} has mode {mode:04o}: every user of the host may replace the state files in it"
            ),
            Refusal::WritableByForeignGroup { gid, mode, .. } => format!(
                "{path} has mode {mode:04o} and group {gid}, a group the connector's process is not in: its members may replace the state files"
            ),
            Refusal::NotARegularFile { .. } => format!(
                "{path} is a symbolic link or not a regular file: the state must be a plain file of the state directory"
            ),
        }
    }

    /// How to fix it.
    pub fn fix(&self) -> String {
        let path = self.path().display();
        match self {
            Refusal::OwnedByOther { owner, process, .. } => {
                format!("chown -R {process} {path}, or run the connector as uid {owner}")
            }
            Refusal::WritableByAnyone { .. } => format!("chmod 700 {path}"),
            Refusal::WritableByForeignGroup { .. } => {
                format!("chmod 700 {path} (or chgrp it to the connector's own group)")
            }
            Refusal::NotARegularFile { .. } => {
                "move it away (the next cycle is then a full sync)".to_string()
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; fix: {}", self.reason(), self.fix())
    }
}

/// A state directory accepted, although others on the host may write in it. Logged as a
/// warning once when the state is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// Writable by a group this process is in: how Kubernetes mounts a volume for a non-root
    /// pod (`fsGroup`: group-writable, set-group-id). Other processes of that group may write.
    GroupWritable { path: PathBuf, gid: u32, mode: u32 },
    /// Writable by everyone with the sticky bit (like `/tmp`): others cannot rename or remove
    /// the connector's files, and a file they plant is refused by [`prepare_files`].
    StickyWorldWritable { path: PathBuf, mode: u32 },
}

impl Exposure {
    /// Who may write in the directory, and when that is fine.
    pub fn reason(&self) -> String {
        match self {
            Exposure::GroupWritable { path, gid, mode } => format!(
                "state directory {} has mode {mode:04o}: other processes of group {gid} may write in it (a Kubernetes volume with fsGroup looks like this; fine when only this connector uses the volume)",
                path.display()
            ),
            Exposure::StickyWorldWritable { path, mode } => format!(
                "state directory {} has mode {mode:04o}: every user may create files in it (they cannot replace the connector's own)",
                path.display()
            ),
        }
    }

    /// How to make the directory private.
    pub fn fix(&self) -> String {
        match self {
            Exposure::GroupWritable { path, .. } => format!("chmod 700 {}", path.display()),
            Exposure::StickyWorldWritable { path, .. } => {
                format!("chmod 700 {}, or set state_dir elsewhere", path.display())
            }
        }
    }
}

impl fmt::Display for Exposure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lead = match self {
            Exposure::GroupWritable { .. } => "to silence this,",
            Exposure::StickyWorldWritable { .. } => "use a private directory:",
        };
        write!(f, "{}; {lead} {}", self.reason(), self.fix())
    }
}

/// Who this process is: its effective uid and every group it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub groups: Vec<u32>,
}

impl Identity {
    /// The running process.
    #[cfg(unix)]
    pub fn current() -> Identity {
        // SAFETY: geteuid and getegid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let mut groups = vec![gid];
        groups.extend(supplementary_groups());
        Identity { uid, groups }
    }

    fn trusts_owner(&self, owner: u32) -> bool {
        owner == self.uid || owner == ROOT
    }
}

#[cfg(unix)]
fn supplementary_groups() -> Vec<u32> {
    // SAFETY: with a size of 0, getgroups only returns the count; then it writes at most
    // `count` entries into a buffer of that many.
    unsafe {
        let count = libc::getgroups(0, std::ptr::null_mut());
        if count <= 0 {
            return Vec::new();
        }
        let mut groups = vec![0 as libc::gid_t; count as usize];
        let written = libc::getgroups(count, groups.as_mut_ptr());
        groups.truncate(written.max(0) as usize);
        groups
    }
}

/// Decides whether `dir` (which exists) may hold the state, for the running process.
///
/// Refused: a directory owned by another user than this process's and root; writable by
/// everyone without the sticky bit; writable by a group the process is not in. Accepted with
/// an [`Exposure`]: writable by one of the process's groups (Kubernetes `fsGroup`), or by
/// everyone with the sticky bit. A directory owned by root is trusted like one's own.
#[cfg(unix)]
pub fn check_dir(dir: &Path) -> io::Result<Result<Option<Exposure>, Refusal>> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir)?;
    Ok(judge_dir(
        dir,
        meta.uid(),
        meta.gid(),
        meta.mode() & 0o7777,
        &Identity::current(),
    ))
}

#[cfg(not(unix))]
pub fn check_dir(_: &Path) -> io::Result<Result<Option<Exposure>, Refusal>> {
    Ok(Ok(None))
}

/// The decision of [`check_dir`] from the directory's owner, group and mode.
pub fn judge_dir(
    dir: &Path,
    owner: u32,
    gid: u32,
    mode: u32,
    me: &Identity,
) -> Result<Option<Exposure>, Refusal> {
    let path = dir.to_path_buf();
    if !me.trusts_owner(owner) {
        return Err(Refusal::OwnedByOther {
            path,
            owner,
            process: me.uid,
        });
    }
    const STICKY: u32 = 0o1000;
    if mode & 0o002 != 0 {
        return if mode & STICKY != 0 {
            Ok(Some(Exposure::StickyWorldWritable { path, mode }))
        } else {
            Err(Refusal::WritableByAnyone { path, mode })
        };
    }
    if mode & 0o020 != 0 {
        return if me.groups.contains(&gid) {
            Ok(Some(Exposure::GroupWritable { path, gid, mode }))
        } else {
            Err(Refusal::WritableByForeignGroup { path, gid, mode })
        };
    }
    Ok(None)
}

/// Makes the state files `names` of `dir` private before SQLite opens them: the first (the
/// database) is created empty with mode `0600` when missing; existing ones must be regular
/// files owned by this process (or root) and lose any group or other permission.
pub fn prepare_files(dir: &Path, names: &[&str]) -> io::Result<Result<(), Refusal>> {
    for (index, name) in names.iter().enumerate() {
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) => {
                if let Err(refusal) = own_regular_file(&path, &meta) {
                    return Ok(Err(refusal));
                }
                narrow_to_owner(&path, &meta)?;
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if index == 0 {
                    create_private_file(&path)?;
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(Ok(()))
}

#[cfg(unix)]
pub(crate) fn own_regular_file(path: &Path, meta: &fs::Metadata) -> Result<(), Refusal> {
    use std::os::unix::fs::MetadataExt;
    if !meta.file_type().is_file() {
        return Err(Refusal::NotARegularFile {
            path: path.to_path_buf(),
        });
    }
    let me = Identity::current();
    if !me.trusts_owner(meta.uid()) {
        return Err(Refusal::OwnedByOther {
            path: path.to_path_buf(),
            owner: meta.uid(),
            process: me.uid,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn own_regular_file(path: &Path, meta: &fs::Metadata) -> Result<(), Refusal> {
    if meta.file_type().is_file() {
        Ok(())
    } else {
        Err(Refusal::NotARegularFile {
            path: path.to_path_buf(),
        })
    }
}

/// Mode `0600` for a file of ours that has more (as older versions created them). Opened
/// without following a symbolic link, and changed through the open descriptor.
#[cfg(unix)]
fn narrow_to_owner(path: &Path, meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    // SAFETY: geteuid has no preconditions and cannot fail.
    let mine = meta.uid() == unsafe { libc::geteuid() };
    if !mine || meta.mode() & 0o077 == 0 {
        return Ok(());
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    tracing::info!(file = %path.display(), "state file made private (mode 0600)");
    Ok(())
}

#[cfg(not(unix))]
fn narrow_to_owner(_: &Path, _: &fs::Metadata) -> io::Result<()> {
    Ok(())
}

/// Creates an empty file with mode `0600`; fails if anything (a file, a link) is in the way.
fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn me() -> Identity {
        Identity {
            uid: 1000,
            groups: vec![1000, 2000],
        }
    }

    fn judge(owner: u32, gid: u32, mode: u32) -> Result<Option<Exposure>, Refusal> {
        judge_dir(Path::new("/state"), owner, gid, mode, &me())
    }

    #[test]
    fn messages_are_the_reason_then_the_fix() {
        let refusal = judge(1001, 1000, 0o700).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            format!("{}; fix: {}", refusal.reason(), refusal.fix())
        );
        assert!(!refusal.reason().contains("chown"), "{}", refusal.reason());
        let exposure = judge(0, 2000, 0o2775).unwrap().unwrap();
        assert_eq!(
            exposure.to_string(),
            format!("{}; to silence this, {}", exposure.reason(), exposure.fix())
        );
        assert_eq!(exposure.fix(), "chmod 700 /state");
    }

    #[test]
    fn own_or_root_directories_closed_to_others_are_trusted() {
        for (owner, mode) in [(1000, 0o700), (1000, 0o755), (0, 0o755), (1000, 0o2750)] {
            assert_eq!(judge(owner, 1000, mode), Ok(None), "{owner} {mode:o}");
        }
    }

    #[test]
    fn a_directory_of_another_user_is_refused_with_chown() {
        let refusal = judge(1001, 1000, 0o700).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::OwnedByOther {
                owner: 1001,
                process: 1000,
                ..
            }
        ));
        assert!(
            refusal.to_string().contains("chown -R 1000 /state"),
            "{refusal}"
        );
    }

    #[test]
    fn writable_by_anyone_is_refused_unless_sticky() {
        let refusal = judge(1000, 1000, 0o777).unwrap_err();
        assert!(
            refusal.to_string().contains("chmod 700 /state"),
            "{refusal}"
        );
        assert!(matches!(
            judge(0, 0, 0o1777),
            Ok(Some(Exposure::StickyWorldWritable { .. }))
        ));
    }

    #[test]
    fn group_writable_is_warned_for_our_group_and_refused_for_another() {
        // Kubernetes fsGroup: root-owned, group-writable, set-group-id, the pod's group.
        let exposure = judge(0, 2000, 0o2775).unwrap().unwrap();
        assert!(exposure.to_string().contains("fsGroup"), "{exposure}");
        let refusal = judge(1000, 3000, 0o770).unwrap_err();
        assert!(matches!(
            refusal,
            Refusal::WritableByForeignGroup { gid: 3000, .. }
        ));
    }

    #[test]
    fn state_files_are_created_private_and_narrowed_whatever_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["db", "db-wal", "db-shm"];
        prepare_files(dir.path(), &names).unwrap().unwrap();
        let db = fs::metadata(dir.path().join("db")).unwrap();
        assert_eq!(db.mode() & 0o777, 0o600);
        assert!(
            !dir.path().join("db-wal").exists(),
            "only the database is created"
        );
        fs::write(dir.path().join("db-wal"), "x").unwrap();
        fs::set_permissions(dir.path().join("db-wal"), fs::Permissions::from_mode(0o644)).unwrap();
        prepare_files(dir.path(), &names).unwrap().unwrap();
        let wal = fs::metadata(dir.path().join("db-wal")).unwrap();
        assert_eq!(wal.mode() & 0o777, 0o600);
    }

    #[test]
    fn a_symbolic_link_in_place_of_a_state_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::write(&target, "x").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("db-shm")).unwrap();
        let refusal = prepare_files(dir.path(), &["db", "db-shm"])
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(refusal, Refusal::NotARegularFile { .. }),
            "{refusal}"
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "x");
    }

    #[test]
    fn created_directories_are_private_whatever_the_umask() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir(&dir).unwrap();
        for path in [root.path().join("a"), dir] {
            assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o700);
        }
    }
}
