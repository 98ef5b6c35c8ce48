//! A host shared with other users: they can neither read the people's data the connector keeps
//! on disk nor plant files it would trust.
//!
//! Where the tests run as root they race for real: a second process runs as `nobody` (the test
//! binary itself, re-run with `CommandExt::uid`, see [`snooper`]) while the real connector works,
//! and files are planted owned by `nobody`. As another user they check what can be checked
//! without a second user (modes, refusals of what they own) and say what they skipped.

use crate::support::check_report::named_check;
use crate::support::{binary, connector::INTAKE_KEY};

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use okta_asset_connector::state::StateStore;
use okta_fake::{FakeIntake, FakeOkta, FakeOptions, Org, OrgSpec};

/// The second user.
const NOBODY: u32 = 65_534;

fn running_as_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

/// For a race with a second user, which needs root: an org of `users` and a directory every
/// user may write in. `None`, saying so, when not root.
async fn race_as_root(test: &str, users: usize) -> Option<(FakeOkta, tempfile::TempDir)> {
    if !running_as_root() {
        eprintln!("{test}: not root, so no second user to race with: skipped");
        return None;
    }
    Some((fake_okta(users).await, shared_dir()))
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A directory every user may write in, without the sticky bit (a shared drop folder), under
/// a parent everyone may traverse.
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("okta-connector-shared")
        .tempdir_in("/tmp")
        .unwrap();
    chmod(dir.path(), 0o777);
    dir
}

async fn fake_okta(users: usize) -> FakeOkta {
    FakeOkta::start(
        Org::generate(&OrgSpec::small(users, 6, 77)),
        FakeOptions::default(),
    )
    .await
}

/// An org of `users`, the intake, and a private directory for the state or the output.
async fn org_intake_and_dir(users: usize) -> (FakeOkta, FakeIntake, tempfile::TempDir) {
    let intake = FakeIntake::start(INTAKE_KEY).await;
    (fake_okta(users).await, intake, tempfile::tempdir().unwrap())
}

/// `okta-asset-connector ARGS` against `okta` (MFA off), text logs.
fn connector(okta: &FakeOkta, args: &[&str]) -> Command {
    let mut command = binary::command();
    command
        .args(args)
        .args([
            "--base-url",
            &okta.base_url(),
            "--allow-insecure-http",
            "--no-mfa",
        ])
        .env("OKTA_API_TOKEN", okta.token())
        .env("LOG_FORMAT", "text");
    command
}

/// `sync`, posting to `intake`, with the state in `state_dir`.
fn posting_sync(okta: &FakeOkta, intake: &FakeIntake, state_dir: &Path) -> Command {
    let mut command = connector(okta, &["sync"]);
    command
        .args(["--intake-url", &intake.url()])
        .arg("--state-dir")
        .arg(state_dir)
        .env("INTAKE_API_KEY", INTAKE_KEY);
    command
}

// ------------------------------------------------------------------------------ the second user

/// Not a test of its own: the second user of the race tests. Run by [`Snooper::start`] as
/// `nobody`, it opens every file of `SNOOP_DIR` it can: those there at the start, then each new
/// one the moment the kernel reports its creation (inotify), keeping what it opened open (a
/// file unlinked after it was opened stays readable). When a file named `stop` appears it
/// reads everything it holds and prints what it saw.
#[test]
#[ignore = "run as a second user by the shared-host tests"]
fn snooper() {
    let Some(dir) = std::env::var_os("SNOOP_DIR").map(PathBuf::from) else {
        return;
    };
    let mut seen = BTreeSet::new();
    let mut held: Vec<(String, fs::File)> = Vec::new();
    let mut try_open = |name: String| {
        if let Ok(file) = fs::File::open(dir.join(&name)) {
            held.push((name.clone(), file));
        }
        seen.insert(name);
    };
    let events = inotify::Watch::new(&dir);
    for entry in fs::read_dir(&dir).unwrap().flatten() {
        try_open(entry.file_name().to_string_lossy().into_owned());
    }
    'watch: loop {
        for name in events.next_batch() {
            if name == "stop" {
                break 'watch;
            }
            try_open(name);
        }
    }
    let mut bytes = 0;
    let mut opened = BTreeSet::new();
    for (name, mut file) in held {
        let mut content = Vec::new();
        bytes += file.read_to_end(&mut content).unwrap_or(0);
        opened.insert(name);
    }
    println!("SNOOPED seen={seen:?} opened={opened:?} bytes={bytes}");
}

/// The few inotify calls the snooper needs (no crate for a test helper).
mod inotify {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    pub struct Watch(libc::c_int);

    impl Watch {
        /// Reports files created in `dir`.
        pub fn new(dir: &Path) -> Watch {
            let path = CString::new(dir.as_os_str().as_bytes()).unwrap();
            // SAFETY: plain system calls on a valid C string; results are checked.
            unsafe {
                let fd = libc::inotify_init1(libc::IN_CLOEXEC);
                assert!(fd >= 0, "inotify_init1");
                let wd = libc::inotify_add_watch(fd, path.as_ptr(), libc::IN_CREATE);
                assert!(wd >= 0, "inotify_add_watch");
                Watch(fd)
            }
        }

        /// Waits for creations; returns the names created.
        pub fn next_batch(&self) -> Vec<String> {
            let mut buffer = [0u8; 64 * 1024];
            // SAFETY: reads at most the buffer's length into it.
            let read = unsafe { libc::read(self.0, buffer.as_mut_ptr().cast(), buffer.len()) };
            let mut names = Vec::new();
            let mut at = 0usize;
            while read > 0 && at + 16 <= read as usize {
                let len = u32::from_ne_bytes(buffer[at + 12..at + 16].try_into().unwrap()) as usize;
                let raw = &buffer[at + 16..at + 16 + len];
                let name = raw.split(|&b| b == 0).next().unwrap_or_default();
                names.push(String::from_utf8_lossy(name).into_owned());
                at += 16 + len;
            }
            names
        }
    }
}

/// The snooper, running as `nobody` on `dir`.
struct Snooper {
    child: Child,
    dir: PathBuf,
    /// Where the snooper's binary is, removed with it.
    _binary_dir: tempfile::TempDir,
}

/// What the snooper saw: names created or listed, names it could open, bytes it read.
#[derive(Debug)]
struct Snooped {
    seen: String,
    opened: String,
    bytes: usize,
}

/// This test binary at a path `nobody` can reach: a clean clone under `mktemp -d` is private
/// to its owner, so the binary where cargo built it may not be executable by another user. A
/// hard link in a fresh directory everyone may traverse (a copy when linking is not possible).
fn binary_for_nobody() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("okta-connector-snooper")
        .tempdir_in("/tmp")
        .unwrap();
    chmod(dir.path(), 0o755);
    let exe = std::env::current_exe().unwrap();
    let reachable = dir.path().join("integration");
    if fs::hard_link(&exe, &reachable).is_err() {
        fs::copy(&exe, &reachable).expect("a copy of the test binary");
    }
    chmod(&reachable, 0o755);
    (dir, reachable)
}

impl Snooper {
    fn start(dir: &Path) -> Snooper {
        let (binary_dir, binary) = binary_for_nobody();
        let child = Command::new(&binary)
            .args([
                "--ignored",
                "--exact",
                "shared_host::snooper",
                "--nocapture",
            ])
            .args(["--test-threads", "1"])
            .env("SNOOP_DIR", dir)
            .current_dir("/")
            .uid(NOBODY)
            .gid(NOBODY)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the test binary runs as nobody");
        // Ready once it watches: give it the time to start (it reports files already there too).
        std::thread::sleep(Duration::from_millis(300));
        Snooper {
            child,
            dir: dir.to_path_buf(),
            _binary_dir: binary_dir,
        }
    }

    fn finish(self) -> Snooped {
        let stop = self.dir.join("stop");
        fs::write(&stop, "").unwrap();
        let output = self.child.wait_with_output().unwrap();
        fs::remove_file(&stop).unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text
            .split_once("SNOOPED ")
            .and_then(|(_, rest)| rest.lines().next())
            .unwrap_or_else(|| panic!("the snooper reported nothing: {text}"));
        let field = |name: &str| {
            let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
            let rest = &line[start..];
            let end = rest
                .find(" opened=")
                .or(rest.find(" bytes="))
                .unwrap_or(rest.len());
            rest[..end].to_string()
        };
        Snooped {
            seen: field("seen"),
            opened: field("opened"),
            bytes: field("bytes").parse().unwrap(),
        }
    }
}

// ------------------------------------------------------------------------------ the spool

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_never_reads_the_spool_of_a_full_sync() {
    // Without state (`--output`), the spool goes to TMPDIR: here a directory anyone may write.
    let test = "another_user_never_reads_the_spool_of_a_full_sync";
    let Some((okta, tmp)) = race_as_root(test, 500).await else {
        return;
    };
    // What the snooper can read, to show that it works.
    let canary = tmp.path().join("canary");
    fs::write(&canary, "readable by all\n").unwrap();
    chmod(&canary, 0o644);
    let out = tempfile::tempdir().unwrap();
    let snooper = Snooper::start(tmp.path());
    for run in 0..5 {
        let mut command = connector(&okta, &["sync"]);
        command
            .arg("--output")
            .arg(out.path().join(format!("events-{run}.json")));
        command.env("TMPDIR", tmp.path());
        let output = binary::success(command).await;
        assert!(!String::from_utf8_lossy(&output.stderr).contains("cannot create a temporary file"));
    }
    let snooped = snooper.finish();
    assert_eq!(snooped.opened, r#"{"canary"}"#, "{snooped:?}");
    assert_eq!(snooped.bytes % "readable by all\n".len(), 0, "{snooped:?}");
    assert!(
        !snooped.seen.contains("spool"),
        "the spool had a predictable name: {snooped:?}"
    );
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "nothing left behind"
    );
}

// ------------------------------------------------------------------------------ --output

/// The process id the next process will probably get (Linux hands them out in order).
fn next_pid() -> u32 {
    fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map_or(1, |last: u32| last + 1)
}

/// Plants, as `nobody`, what a hostile user would put at the names `.NAME.PID.tmp` a
/// connector used to write to, for the next 3,000 process ids.
fn plant(dir: &Path, name: &str, what: impl Fn(&Path)) -> Vec<PathBuf> {
    let first = next_pid();
    (first..first + 3_000)
        .map(|pid| {
            let path = dir.join(format!(".{name}.{pid}.tmp"));
            what(&path);
            std::os::unix::fs::lchown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
            path
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_links_and_files_never_catch_the_output() {
    let test = "planted_links_and_files_never_catch_the_output";
    let Some((okta, shared)) = race_as_root(test, 50).await else {
        return;
    };
    let private = tempfile::tempdir().unwrap();
    let victim = private.path().join("victim");
    fs::write(&victim, "root's file\n").unwrap();
    let out = shared.path().join("out.json");

    // Symbolic links to a file of root's: the old connector wrote its events through them.
    let links = plant(shared.path(), "out.json", |path| {
        std::os::unix::fs::symlink(&victim, path).unwrap()
    });
    let mut command = connector(&okta, &["sync"]);
    command.arg("--output").arg(&out);
    binary::success(command).await;
    assert_eq!(fs::read_to_string(&victim).unwrap(), "root's file\n");
    assert_private_output(&out);
    links.iter().for_each(|link| fs::remove_file(link).unwrap());

    // Files of nobody's, writable by them: the old connector filled and renamed one, leaving
    // the output owned and writable by the other user.
    let planted = plant(shared.path(), "out.json", |path| {
        fs::write(path, "").unwrap();
        chmod(path, 0o666);
    });
    let mut command = connector(&okta, &["sync"]);
    command.arg("--output").arg(&out);
    binary::success(command).await;
    assert_private_output(&out);
    for path in &planted {
        assert_eq!(
            fs::metadata(path).unwrap().len(),
            0,
            "{} was written",
            path.display()
        );
    }
}

fn assert_private_output(out: &Path) {
    let meta = fs::symlink_metadata(out).unwrap();
    assert!(
        meta.file_type().is_file(),
        "{} is not a plain file",
        out.display()
    );
    assert_eq!(
        (meta.uid(), meta.mode() & 0o777),
        (0, 0o600),
        "owner and mode"
    );
    assert!(fs::read_to_string(out).unwrap().contains("\"version\":1"));
}

// ------------------------------------------------------------------------------ modes

/// Runs `command` under `umask 000`, the most permissive a caller can set.
fn with_open_umask(command: &Command) -> Command {
    let mut sh = Command::new("/bin/sh");
    sh.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(command.get_program())
        .args(command.get_args())
        .env_clear()
        .stdin(Stdio::null());
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            sh.env(name, value);
        }
    }
    sh
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_s_data_is_private_to_the_connector_whatever_the_umask() {
    let (okta, intake, root) = org_intake_and_dir(40).await;
    let state_dir = root.path().join("new/state");
    binary::success(with_open_umask(&posting_sync(&okta, &intake, &state_dir))).await;
    assert_eq!(mode(&root.path().join("new")), 0o700);
    assert_eq!(mode(&state_dir), 0o700);
    assert_eq!(mode(&state_dir.join("state.sqlite3")), 0o600);

    let out = root.path().join("events.json");
    let mut command = connector(&okta, &["sync"]);
    command.arg("--output").arg(&out);
    binary::success(with_open_umask(&command)).await;
    assert_eq!(mode(&out), 0o600);
}

#[test]
fn the_write_ahead_log_and_shared_memory_are_private_too() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("state");
    // A database an older version left readable by everyone is narrowed as well.
    fs::create_dir(&dir).unwrap();
    drop(StateStore::open(&dir, "https://a.okta.com").unwrap());
    chmod(&dir.join("state.sqlite3"), 0o644);
    let mut store = StateStore::open(&dir, "https://a.okta.com").unwrap();
    store
        .commit(&okta_asset_connector::state::Commit::default())
        .unwrap();
    for name in ["state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"] {
        assert_eq!(
            mode(&dir.join(name)),
            0o600,
            "{name} while the store is open"
        );
    }
    drop(store);
}

// ------------------------------------------------------------------------------ the state directory

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_others_can_replace_is_refused_with_the_fix() {
    let (okta, intake, root) = org_intake_and_dir(10).await;
    // (directory, the fix the refusal names, whether `check` sees it: it judges the directory,
    // not the files in it)
    let mut cases: Vec<(PathBuf, &str, bool)> = Vec::new();
    let anyone = root.path().join("anyone");
    fs::create_dir(&anyone).unwrap();
    chmod(&anyone, 0o777);
    cases.push((anyone, "chmod 700", true));
    if running_as_root() {
        let theirs = root.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).unwrap();
        cases.push((theirs, "chown -R 0", true));
        // A private directory, with a database planted by another user.
        let planted = root.path().join("planted");
        fs::create_dir(&planted).unwrap();
        fs::write(planted.join("state.sqlite3"), "").unwrap();
        std::os::unix::fs::chown(planted.join("state.sqlite3"), Some(NOBODY), None).unwrap();
        cases.push((planted, "belongs to uid 65534", false));
    } else {
        eprintln!("not root: directories of another user not tried");
    }
    for (dir, fix, check_sees_it) in cases {
        let output = binary::output(posting_sync(&okta, &intake, &dir)).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(6), "{}: {stderr}", dir.display());
        assert!(stderr.contains("unsafe state directory"), "{stderr}");
        assert!(stderr.contains(fix), "{}: {stderr}", dir.display());
        if !check_sees_it {
            continue;
        }
        let mut check = connector(&okta, &["check", "--json"]);
        check.arg("--state-dir").arg(&dir);
        let report: serde_json::Value =
            serde_json::from_slice(&binary::output(check).await.stdout).unwrap();
        let state_check = named_check(&report, "state_dir");
        assert_eq!(state_check["status"], "fail", "{state_check}");
        assert!(
            state_check["fix"].as_str().unwrap().contains(fix),
            "{state_check}"
        );
    }
    assert_eq!(
        intake.item_count(),
        0,
        "nothing was sent from a refused state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_writable_volume_of_our_group_is_used_with_a_warning() {
    let (okta, intake, root) = org_intake_and_dir(10).await;
    // What Kubernetes makes of a volume with `fsGroup`: group-writable, set-group-id, and the
    // group is the pod's (here the process's own primary group).
    let volume = root.path().join("volume");
    fs::create_dir(&volume).unwrap();
    chmod(&volume, 0o2770);
    let output = binary::output(posting_sync(&okta, &intake, &volume)).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("WARN") && stderr.contains("fsGroup"),
        "{stderr}"
    );
    assert_eq!(intake.items_by_user().len(), 10);
    assert_eq!(mode(&volume.join("state.sqlite3")), 0o600);
}
