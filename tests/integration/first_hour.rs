//! A new user's first hour, with the real binary: the live progress on a terminal, summaries
//! that tell the truth, errors that lead with their cause, a closed stdout that ends the program
//! quietly, one exit-code table, and `run`'s one short line per cycle.
//!
//! Terminal tests run the binary on a pseudo-terminal (see `support::terminal`) because what it
//! shows depends on `isatty(stderr)`.

use crate::support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use okta_asset_connector::app;
use okta_asset_connector::clock::{ManualClock, ScaledClock, SharedClock};
use okta_fake::{Bucket, FakeIntake, FakeOkta, FakeOptions, Org, OrgSpec};
use serde_json::Value;
use support::binary;
use support::connector::{config, INTAKE_KEY};
use support::terminal::Terminal;

async fn fake_okta(users: usize, options: FakeOptions) -> FakeOkta {
    FakeOkta::start(Org::generate(&OrgSpec::small(users, 10, 17)), options).await
}

/// The binary set up for `okta` (plain http on loopback), with a fresh state directory.
fn connector(okta: &FakeOkta, token: &str, args: &[&str]) -> Command {
    let mut command = binary::command();
    command
        .args(args)
        .env("OKTA_BASE_URL", okta.base_url())
        .env("OKTA_API_TOKEN", token)
        .env("ALLOW_INSECURE_HTTP", "true")
        .env("STATE_DIR", support::connector::fresh_state_dir());
    command
}

/// 600 users with factor reads limited to 100 a minute (half of 200): a six-minute sync.
async fn paced_org() -> FakeOkta {
    let options = FakeOptions {
        rate_limits: HashMap::from([(Bucket::UserById, 200)]),
        ..FakeOptions::default()
    };
    fake_okta(600, options).await
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn out_file(dir: &Path) -> String {
    dir.join("events.json").display().to_string()
}

// ------------------------------------------------------------------ the live display

/// On a paced org (600 users, factor reads limited to 100 a minute: a six-minute sync), the
/// display is on the terminal within a second of the start, then holds the user total and an
/// ETA from the rate-limit budget of the busiest bucket. `NO_COLOR` is set: nothing on the
/// terminal is coloured, the display included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_display_appears_within_a_second_with_a_total_and_an_eta() {
    let okta = paced_org().await;
    let dir = scratch();
    let mut command = connector(
        &okta,
        okta.token(),
        &["sync", "--output", &out_file(dir.path())],
    );
    command.env("NO_COLOR", "1").stdout(Stdio::null());
    let mut terminal = Terminal::spawn(command);

    let first = terminal
        .wait_for(Duration::from_secs(10), |screen| screen.contains("Syncing"))
        .await;
    let first_output = terminal.first_output().expect("something was shown");
    assert!(first.is_some(), "no progress display: {}", terminal.raw());
    assert!(
        first_output <= Duration::from_secs(1),
        "the first line came after {first_output:?}"
    );

    let with_eta = terminal
        .wait_for(Duration::from_secs(30), |screen| {
            screen.contains("of 600 users listed") && screen.contains(" left (user_by_id: ")
        })
        .await;
    let screen = with_eta.unwrap_or_else(|| panic!("no total and ETA: {}", terminal.screen()));
    terminal.kill();

    let lines: Vec<&str> = screen.lines().collect();
    let title = lines.iter().find(|l| l.starts_with("Syncing ")).unwrap();
    assert!(title.contains("elapsed · about "), "{screen}");
    // 100 factor reads a minute allowed: 50 % of the 200 Okta advertises.
    assert!(title.contains("requests at 100/min)"), "{screen}");
    assert!(
        screen.contains("of 600 users' factors read"),
        "the factor reads count against the same total: {screen}"
    );
    assert!(
        screen.contains("user_by_id 100/min allowed") || screen.contains("(100 allowed)"),
        "the pace Okta lets us go: {screen}"
    );
    // Redrawn in place: the title is on the screen once, though drawn many times.
    assert_eq!(screen.matches("Syncing ").count(), 1, "{screen}");
    assert!(terminal.raw().matches("Syncing ").count() > 1);
    assert!(
        !has_colour(&terminal.raw()),
        "NO_COLOR: {:?}",
        terminal.raw()
    );
}

/// `ESC [ ... m`: a colour or style sequence.
fn has_colour(raw: &str) -> bool {
    raw.split('\x1b').skip(1).any(|seq| {
        let Some(rest) = seq.strip_prefix('[') else {
            return false;
        };
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ';'));
        end.is_some_and(|i| rest[i..].starts_with('m'))
    })
}

// ------------------------------------------------------------------ failures

/// A wrong token: the output starts with the token error (no unrelated warning before it), then
/// says what was done, never "finished". On a terminal the progress display is erased first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sync_starts_with_the_error_then_what_was_done() {
    let okta = fake_okta(50, FakeOptions::default()).await;
    let dir = scratch();
    let args = ["sync", "--output", &out_file(dir.path())];

    let mut command = connector(&okta, "revoked-token", &args);
    command.env("LOG_FORMAT", "text");
    let output = binary::output(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].contains("ERROR") && lines[0].contains("E0000011"),
        "the error comes first: {stderr}"
    );
    assert!(lines[0].contains("create a new token"), "{stderr}");
    assert!(
        lines[1].starts_with("full sync failed after "),
        "then what was done: {stderr}"
    );
    assert!(
        !stderr.contains("finished") && !stderr.contains("WARN"),
        "{stderr}"
    );
    assert!(!stderr.contains("()"), "{stderr}");
    assert!(
        !Path::new(&out_file(dir.path())).exists(),
        "no partial output"
    );

    let mut command = connector(&okta, "revoked-token", &args);
    command.stdout(Stdio::null());
    let mut terminal = Terminal::spawn(command);
    let status = terminal.wait(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(3));
    let screen = terminal.screen();
    let first = screen.lines().next().unwrap_or_default();
    assert!(
        first.contains("ERROR") && first.contains("E0000011"),
        "what remains on the terminal starts with the error: {screen}"
    );
    assert!(
        !screen.contains("Syncing"),
        "the display was erased: {screen}"
    );
}

/// A cycle that runs past `cycle_timeout` is stopped where it stands: its own exit code, the
/// limit and the fix in the error, and nothing written. The org is paced to a six-minute sync;
/// the limit is two seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_past_its_timeout_stops_with_its_own_code_and_writes_nothing() {
    let okta = paced_org().await;
    let dir = scratch();
    let target = out_file(dir.path());
    let mut command = connector(&okta, okta.token(), &["sync", "--output", &target]);
    command.env("CYCLE_TIMEOUT", "2").env("LOG_FORMAT", "text");
    let started = std::time::Instant::now();
    let output = binary::output(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains("did not finish within cycle_timeout (2 s)")
            && stderr.contains("raise cycle_timeout (CYCLE_TIMEOUT, 0 = no limit)"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "stopped at the limit, not at the end of the sync: {:?}",
        started.elapsed()
    );
    assert!(!Path::new(&target).exists(), "nothing written");
    assert!(okta.counters().total > 0, "the sync had started");
}

/// `--output` into a directory that does not exist: its own exit code, the directory named, and
/// not one request sent to Okta.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_to_a_missing_directory_is_its_own_error_before_any_request() {
    let okta = fake_okta(20, FakeOptions::default()).await;
    let dir = scratch();
    let target = dir.path().join("no/such/dir/events.json");
    let mut command = connector(&okta, okta.token(), &["sync", "--output"]);
    command.arg(&target).env("LOG_FORMAT", "text");
    let output = binary::output(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the directory {} does not exist",
            dir.path().join("no/such/dir").display()
        )),
        "{stderr}"
    );
    assert_eq!(okta.counters().total, 0, "nothing was read from Okta");
}

/// Each token mistake is a configuration error in every command, with the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_mistakes_are_exit_2_with_the_fix_in_every_command() {
    let okta = fake_okta(5, FakeOptions::default()).await;
    let mistakes = [
        ("\"c4n4ry-t0ken\"", "is wrapped in quotes"),
        ("c4n4ry t0ken", "contains a space"),
        ("c4n4ry\nt0ken", "spans several lines"),
    ];
    for (token, fix) in mistakes {
        for args in [
            &["sync", "--output", "-"][..],
            &["check"],
            &["config"],
            &["run"],
        ] {
            let mut command = connector(&okta, token, args);
            command.env("LOG_FORMAT", "text").env("INTAKE_API_KEY", "k");
            let output = binary::output(command).await;
            let shown = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(output.status.code(), Some(2), "{args:?} {token:?}: {shown}");
            assert!(
                shown.contains("apikey (env OKTA_API_TOKEN)") && shown.contains(fix),
                "{args:?} {token:?}: {shown}"
            );
            assert!(!shown.contains("c4n4ry"), "{shown}");
        }
    }
    // A pasted `SSWS ` prefix is removed with a warning, and the token works.
    let mut command = connector(&okta, &format!("SSWS {}", okta.token()), &["check"]);
    command.env("LOG_FORMAT", "text");
    let output = binary::output(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("it started with \"SSWS \", which was removed"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("API token valid"),
        "{stderr}"
    );
}

// ------------------------------------------------------------------ a closed stdout

/// `check | true`, `check --json | head -c1`, `sync --output - | head -1`: the reader goes
/// away; the program ends quietly with 0 or 141 (128 + SIGPIPE), never a panic, never the
/// intake's code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_the_program_quietly() {
    let okta = fake_okta(450, FakeOptions::default()).await;
    let cases: [(&[&str], usize); 3] = [
        (&["check"], 0),
        (&["check", "--json"], 1),
        (&["sync", "--output", "-"], usize::MAX),
    ];
    for (args, read) in cases {
        let mut command = connector(&okta, okta.token(), args);
        command
            .env("LOG_FORMAT", "text")
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().unwrap();
            let stdout = child.stdout.take().unwrap();
            match read {
                // `| true`: never read.
                0 => drop(stdout),
                // `| head -c1`: one byte.
                1 => {
                    let mut byte = [0u8; 1];
                    let mut stdout = stdout;
                    stdout.read_exact(&mut byte).unwrap();
                }
                // `| head -1`: one line.
                _ => {
                    let mut line = String::new();
                    BufReader::new(stdout).read_line(&mut line).unwrap();
                    assert!(line.starts_with("{\"version\":1,\"items\":["), "{line}");
                }
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code();
        assert!(
            matches!(code, Some(0 | 141)),
            "{args:?}: exit {code:?}: {stderr}"
        );
        // Quietly: no panic, no failed print, no error logged.
        for sign in ["panicked", "failed printing", "ERROR"] {
            assert!(!stderr.contains(sign), "{args:?}: {sign}: {stderr}");
        }
    }
}

// ------------------------------------------------------------------ run

/// `run` logs one short line per cycle, its numbers as JSON fields (no JSON document inside a
/// string), and the time of the next cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_logs_one_short_structured_line_per_cycle_with_the_next_cycle() {
    let okta = fake_okta(120, FakeOptions::default()).await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let dir = scratch();
    let log = dir.path().join("run.log");
    let mut command = connector(&okta, okta.token(), &["run", "--frequency", "3600"]);
    command
        .env("INTAKE_URL", intake.url())
        .env("INTAKE_API_KEY", INTAKE_KEY)
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let child = command.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let line = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("cycle finished")) {
            break line.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no cycle line: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    binary::sigterm(&child);
    let _ = tokio::task::spawn_blocking(move || child.wait_with_output()).await;

    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["kind"], "full", "{line}");
    assert_eq!(event["users"], 120, "{line}");
    assert_eq!(event["events"], 120, "{line}");
    assert!(event["okta_requests"].as_u64().unwrap() > 0, "{line}");
    assert!(
        event.get("summary").is_none(),
        "no summary in a string: {line}"
    );
    let next: jiff::Timestamp = event["next_cycle_at"].as_str().unwrap().parse().unwrap();
    let logged: jiff::Timestamp = event["timestamp"].as_str().unwrap().parse().unwrap();
    let ahead = next.duration_since(logged).as_secs();
    assert!(
        (3500..=3600).contains(&ahead),
        "next cycle {ahead} s ahead: {line}"
    );
    let message = event["message"].as_str().unwrap();
    assert!(message.contains("next cycle at"), "{message}");
    assert!(line.len() < 600, "{} characters: {line}", line.len());
}

// ------------------------------------------------------------------ summaries

/// A paced run that never saw a 429 still counts the time rate limits held it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_run_counts_its_rate_limit_waits() {
    const SCALE: f64 = 50.0;
    let okta = FakeOkta::start(
        Org::generate(&OrgSpec::small(300, 5, 3)),
        FakeOptions {
            rate_limits: HashMap::from([(Bucket::UserById, 120)]),
            time_scale: SCALE,
            ..FakeOptions::default()
        },
    )
    .await;
    let clock: SharedClock = Arc::new(ScaledClock::new(okta.virtual_now(), SCALE));
    let dir = scratch();
    let output = out_file(dir.path());
    let settings = config(&okta, None, |_| {});
    let (summary, result) = app::sync_once(&settings, Some(&output), true, clock).await;
    result.unwrap();
    let summary = summary.unwrap();
    assert_eq!(summary.okta_429_quota, 0, "{summary:?}");
    // 300 factor reads at 60 a minute: about four virtual minutes of pacing.
    let waited = summary.okta_rate_limit_wait_s;
    assert!(waited > 120.0, "{waited}");
    assert!(waited <= summary.duration_s * SCALE + 1.0);
    let text = summary.to_string();
    assert!(text.contains("for rate limits (user_by_id "), "{text}");
    assert!(
        text.contains(&format!("  written      300 events to {output}")),
        "{text}"
    );
    assert!(!text.contains("delivered"), "{text}");
}

/// An intake that never accepts: every retry is counted in the summary, which says the cycle
/// failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_counts_every_intake_retry() {
    let okta = fake_okta(30, FakeOptions::default()).await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    intake.fail_next(1000, 503);
    let clock: SharedClock = Arc::new(ManualClock::new(okta.virtual_now()));
    let settings = config(&okta, Some(&intake), |raw| raw.enrich_mfa = Some(false));
    let (summary, result) = app::sync_once(&settings, None, true, clock).await;
    let error = result.unwrap_err();
    assert_eq!(error.exit() as u8, 4, "{error}");
    let summary = summary.unwrap();
    let attempts = intake.requests();
    assert!(attempts > 1, "{attempts}");
    assert_eq!(summary.intake_retries, attempts - 1, "{summary:?}");
    assert!(summary.failed);
    let text = summary.to_string();
    assert!(text.starts_with("full sync failed after"), "{text}");
    assert!(
        text.contains(&format!("{} intake retries", attempts - 1)),
        "{text}"
    );
}
