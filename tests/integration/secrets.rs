//! The secret canary (secrets never leave their own header): the real binary runs `check`, `sync` (posting,
//! `--output FILE` and `--output -`) and `run` with a unique Okta token and intake key, at
//! `RUST_LOG=trace`, through the failures of the reliability matrix (bad token 401, intake 401,
//! intake 500, Okta 500, a foreign `next` link, configuration errors). The canaries must appear
//! nowhere except in their own `Authorization` header, sent to their own host: not on stdout or
//! stderr, not in the state directory (SQLite file, WAL), not in `--output` files, not in
//! `--help`, not in any `Debug` a panic could print. The Okta token must reach only the fake Okta
//! and the intake key only the fake intake (both are behind recording proxies).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use okta_asset_connector::config::{Needs, RawConfig};
use okta_fake::http::Request;
use okta_fake::proxy::Proxy;
use okta_fake::FakeIntake;
use okta_fake::{FakeOkta, FakeOptions, Org, OrgSpec};
use support::binary;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Unique per run, so a match can only come from this test.
struct Canaries {
    token: String,
    key: String,
    bad_token: String,
    bad_key: String,
    url_password: String,
}

impl Canaries {
    fn new() -> Canaries {
        let salt = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        Canaries {
            token: format!("00CanaryOktaToken{salt}"),
            key: format!("CanaryIntakeKey{salt}"),
            bad_token: format!("00CanaryRevokedToken{salt}"),
            bad_key: format!("CanaryWrongIntakeKey{salt}"),
            url_password: format!("CanaryUrlPassword{salt}"),
        }
    }

    fn all(&self) -> [&str; 5] {
        [
            &self.token,
            &self.key,
            &self.bad_token,
            &self.bad_key,
            &self.url_password,
        ]
    }

    /// Panics if any canary is in `bytes`.
    fn assert_absent(&self, what: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for canary in self.all() {
            assert!(
                !text.contains(canary),
                "secret canary {canary} leaked into {what}:\n{}",
                excerpt(&text, canary)
            );
        }
    }
}

fn excerpt(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(300)
        .map_or(0, |(i, _)| i);
    text[start..(at + needle.len() + 300).min(text.len())].to_string()
}

struct World {
    canaries: Canaries,
    okta: FakeOkta,
    intake: FakeIntake,
    okta_proxy: Proxy,
    intake_proxy: Proxy,
    state_dir: PathBuf,
    scratch: tempfile::TempDir,
    outputs: Vec<(String, Vec<u8>)>,
}

impl World {
    async fn start() -> World {
        let canaries = Canaries::new();
        let okta = FakeOkta::start(
            Org::generate(&OrgSpec::small(60, 4, 31)),
            FakeOptions {
                token: canaries.token.clone(),
                ..FakeOptions::default()
            },
        )
        .await;
        let intake = FakeIntake::start(&canaries.key).await;
        let okta_proxy = Proxy::start(&okta.base_url()).await;
        let intake_proxy = Proxy::start(&intake.base_url()).await;
        World {
            canaries,
            okta,
            intake,
            okta_proxy,
            intake_proxy,
            state_dir: support::connector::fresh_state_dir(),
            scratch: tempfile::tempdir().unwrap(),
            outputs: Vec::new(),
        }
    }

    fn intake_url(&self) -> String {
        format!(
            "{}{}",
            self.intake_proxy.url(),
            okta_fake::intake::CONNECTOR_PATH
        )
    }

    /// The connector command with every setting for the proxied fakes and the given secrets.
    fn command(&self, args: &[&str], token: &str, key: &str, json_logs: bool) -> Command {
        let (base, intake) = (self.okta_proxy.url(), self.intake_url());
        self.command_at(args, token, key, json_logs, &base, &intake, &self.state_dir)
    }

    #[allow(clippy::too_many_arguments)]
    fn command_at(
        &self,
        args: &[&str],
        token: &str,
        key: &str,
        json_logs: bool,
        base_url: &str,
        intake_url: &str,
        state_dir: &Path,
    ) -> Command {
        let mut command = binary::command();
        command
            .args(args)
            .args(["--base-url", base_url])
            .args(["--intake-url", intake_url])
            .arg("--allow-insecure-http")
            .arg("--state-dir")
            .arg(state_dir)
            .env("OKTA_API_TOKEN", token)
            .env("INTAKE_API_KEY", key)
            .env("RUST_LOG", "trace")
            .env("RUST_BACKTRACE", "1")
            .env("LOG_FORMAT", if json_logs { "json" } else { "text" });
        command
    }

    /// Runs the binary to completion and keeps its stdout and stderr.
    async fn run(&mut self, label: &str, command: Command) -> Output {
        let output = binary::output(command).await;
        self.keep(label, &output);
        output
    }

    fn keep(&mut self, label: &str, output: &Output) {
        self.outputs
            .push((format!("{label} stdout"), output.stdout.clone()));
        self.outputs
            .push((format!("{label} stderr"), output.stderr.clone()));
    }

    async fn sync(&mut self, label: &str, extra: &[&str], token: &str, key: &str) -> Output {
        let mut args = vec!["sync"];
        args.extend_from_slice(extra);
        let json = self.outputs.len().is_multiple_of(4);
        let command = self.command(&args, token, key, json);
        self.run(label, command).await
    }
}

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every file under `dir`, with its bytes (SQLite database, WAL, shared memory, ...).
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

/// Checks what each proxy saw: a secret only in its own `Authorization` header, only on its
/// own host; the other host never sees it anywhere (headers, path, query, body).
fn assert_sent_only_to_their_hosts(
    canaries: &Canaries,
    okta: &[Request],
    intake: &[Request],
    okta_tokens: &[&str],
    intake_keys: &[&str],
) {
    assert!(!okta.is_empty() && !intake.is_empty());
    for request in okta {
        let auth = request.header("authorization").unwrap_or_default();
        assert!(
            okta_tokens
                .iter()
                .any(|t| auth == format!("SSWS {t}").as_str()),
            "Okta request {} without the token header",
            request.path
        );
        let mut rest = format!("{} {} {}", request.path, request.query, request.method);
        for (name, value) in &request.headers {
            if name.as_str() != "authorization" {
                rest.push_str(&format!(
                    " {name}: {}",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
        }
        rest.push_str(&String::from_utf8_lossy(&request.body));
        canaries.assert_absent(
            "a request to Okta (outside its Authorization header)",
            rest.as_bytes(),
        );
        for key in intake_keys {
            assert!(!auth.contains(key), "intake key sent to Okta");
        }
    }
    for request in intake {
        let auth = request.header("authorization").unwrap_or_default();
        assert!(
            intake_keys
                .iter()
                .any(|k| auth == format!("Bearer {k}").as_str()),
            "intake request without the key header"
        );
        for token in okta_tokens {
            assert!(!auth.contains(token), "Okta token sent to the intake");
        }
        let mut rest = format!("{} {}", request.path, request.query);
        for (name, value) in &request.headers {
            if name.as_str() != "authorization" {
                rest.push_str(&format!(
                    " {name}: {}",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
        }
        rest.push_str(&String::from_utf8_lossy(&request.body));
        canaries.assert_absent(
            "a request to the intake (outside its Authorization header)",
            rest.as_bytes(),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_stay_in_their_own_headers_through_every_command_and_failure() {
    let mut w = World::start().await;
    let (token, key) = (w.canaries.token.clone(), w.canaries.key.clone());
    let (bad_token, bad_key) = (w.canaries.bad_token.clone(), w.canaries.bad_key.clone());

    // --help of every command, with the secrets in the environment.
    for args in [
        vec!["--help"],
        vec!["check", "--help"],
        vec!["sync", "--help"],
        vec!["run", "--help"],
    ] {
        let command = w.command(&args, &token, &key, false);
        let output = w.run(&format!("{args:?}"), command).await;
        assert_eq!(code(&output), Some(0), "{args:?}");
    }

    // check: good, then a revoked token (Okta 401), then a wrong intake key (intake 401).
    let command = w.command(&["check", "--json"], &token, &key, true);
    let output = w.run("check ok", command).await;
    assert_eq!(code(&output), Some(0), "check passes: {}", stderr(&output));
    let command = w.command(&["check"], &bad_token, &key, false);
    let output = w.run("check bad token", command).await;
    assert_ne!(code(&output), Some(0));
    let command = w.command(&["check", "--json"], &token, &bad_key, true);
    let output = w.run("check bad key", command).await;
    assert_ne!(code(&output), Some(0));

    // sync: good; Okta 500s (retried); intake 500s (retried); revoked token; wrong key.
    let output = w.sync("sync ok", &["--full"], &token, &key).await;
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert!(!w.intake.items().is_empty());
    w.okta.faults().fail_next(2, 500);
    let output = w.sync("sync okta 500", &["--full"], &token, &key).await;
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    w.intake.fail_next(2, 500);
    let output = w.sync("sync intake 500", &[], &token, &key).await;
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let output = w.sync("sync bad token", &[], &bad_token, &key).await;
    assert_eq!(code(&output), Some(3), "{}", stderr(&output));
    let output = w.sync("sync bad key", &["--full"], &token, &bad_key).await;
    assert_eq!(code(&output), Some(4), "{}", stderr(&output));

    // A foreign next link: refused, and the foreign host never sees a request.
    let foreign = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw("[]", "application/json"))
        .mount(&foreign)
        .await;
    w.okta.faults().foreign_next_link(&foreign.uri());
    // 60 users fit in one page: a small page size is not configurable, so use a bigger org
    // behind a second fake for this row.
    let big = FakeOkta::start(
        Org::generate(&OrgSpec::small(450, 4, 32)),
        FakeOptions {
            token: token.clone(),
            ..FakeOptions::default()
        },
    )
    .await;
    big.faults().foreign_next_link(&foreign.uri());
    let big_proxy = Proxy::start(&big.base_url()).await;
    let foreign_state = support::connector::fresh_state_dir();
    let command = w.command_at(
        &["sync", "--full"],
        &token,
        &key,
        false,
        &big_proxy.url(),
        &w.intake_url(),
        &foreign_state,
    );
    let output = w.run("sync foreign next", command).await;
    assert_eq!(code(&output), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("leaves the configured Okta origin"));
    let seen = foreign.received_requests().await;
    assert!(
        seen.expect("recorded").is_empty(),
        "nothing sent to the foreign host"
    );
    w.okta.faults().clear();

    // --output FILE and --output -.
    let file = w.scratch.path().join("events.json");
    let file_arg = file.to_string_lossy().into_owned();
    let output = w
        .sync("sync --output FILE", &["--output", &file_arg], &token, &key)
        .await;
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    let written = std::fs::read(&file).unwrap();
    assert!(written.len() > 1000);
    w.canaries.assert_absent("the --output file", &written);
    let output = w
        .sync("sync --output -", &["--output", "-"], &token, &key)
        .await;
    assert_eq!(code(&output), Some(0), "{}", stderr(&output));
    assert!(output.stdout.len() > 1000, "events on stdout");
    let command = w.command(&["sync", "--output", "-"], &bad_token, &key, true);
    let output = w.run("sync --output - bad token", command).await;
    assert_eq!(code(&output), Some(3));

    // Configuration errors: a file with an unknown key next to the secrets, a mistyped value,
    // credentials in the URL, a key that cannot be a header.
    let toml = w.scratch.path().join("bad.toml");
    std::fs::write(
        &toml,
        format!("apikey = \"{token}\"\nsekoia_api_key = \"{key}\"\nbogus = 1\n"),
    )
    .unwrap();
    let json = w.scratch.path().join("bad.json");
    std::fs::write(
        &json,
        format!("{{\"apikey\": \"{token}\", \"sekoia_api_key\": \"{key}\", \"frequency\": \"{token}\"}}"),
    )
    .unwrap();
    for (label, config) in [("toml", &toml), ("json", &json)] {
        for cmd in ["sync", "check", "run"] {
            let mut command = w.command(&[cmd], &token, &key, false);
            command.arg("--config").arg(config);
            let output = w.run(&format!("{cmd} bad {label} config"), command).await;
            assert_ne!(code(&output), Some(0), "{cmd} {label}");
        }
    }
    let password_url = format!("https://admin:{}@acme.okta.com", w.canaries.url_password);
    for cmd in ["sync", "check"] {
        let command = w.command_at(
            &[cmd],
            &token,
            &key,
            false,
            &password_url,
            &w.intake_url(),
            &w.state_dir,
        );
        let output = w.run(&format!("{cmd} password in base_url"), command).await;
        assert_ne!(code(&output), Some(0));
        assert!(stderr(&output).contains("credentials") || !output.stdout.is_empty());
        let command = w.command_at(
            &[cmd],
            &token,
            &key,
            false,
            &w.okta_proxy.url(),
            &format!("https://k:{}@intake.example/x", w.canaries.url_password),
            &w.state_dir,
        );
        let output = w
            .run(&format!("{cmd} password in intake_url"), command)
            .await;
        assert_ne!(code(&output), Some(0));
    }
    let command = w.command(&["sync"], &token, &format!("{key}\n\u{7f}"), false);
    let output = w.run("sync key with control characters", command).await;
    assert_ne!(code(&output), Some(0));
    // (A trailing line break alone is trimmed, as surrounding whitespace is: one inside.)
    let command = w.command(&["check"], &format!("{token}\r\n\u{7f}"), &key, false);
    let output = w.run("check token with control characters", command).await;
    assert_ne!(code(&output), Some(0));

    // run: two cycles, the first hit by an Okta 500 and an intake 401, then SIGTERM.
    w.okta.with_org(|org| {
        let id = org.users()[0].id.clone();
        org.update_user_profile(&id, "title", "Canary Keeper");
    });
    w.okta.faults().fail_next(1, 500);
    w.intake.fail_next(1, 401);
    let stdout_path = w.scratch.path().join("run.stdout");
    let stderr_path = w.scratch.path().join("run.stderr");
    let mut command = w.command(&["run", "--frequency", "1"], &token, &key, true);
    command
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut child = command.spawn().unwrap();
    let batches = w.intake.accepted_batches();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&stderr_path)
        .unwrap_or_default()
        .matches("cycle finished")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "run did not complete two cycles");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(w.intake.accepted_batches() > batches);
    binary::sigterm(&child);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "run exits 0 on SIGTERM: {status:?}");
    let run_output = Output {
        status,
        stdout: std::fs::read(&stdout_path).unwrap(),
        stderr: std::fs::read(&stderr_path).unwrap(),
    };
    w.keep("run", &run_output);

    // Verdicts. The logs really were at trace level (else the canary proves little).
    let all_stderr: String = w
        .outputs
        .iter()
        .filter(|(label, _)| label.ends_with("stderr"))
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .collect();
    assert!(
        all_stderr.contains("TRACE") || all_stderr.contains("\"level\":\"TRACE\""),
        "trace logs were on"
    );
    for (label, bytes) in &w.outputs {
        w.canaries.assert_absent(label, bytes);
    }
    let state_files = files_under(&w.state_dir);
    assert!(
        state_files
            .iter()
            .any(|(path, bytes)| path.ends_with("state.sqlite3") && !bytes.is_empty()),
        "the state database exists"
    );
    for (path, bytes) in state_files.iter().chain(&files_under(&foreign_state)) {
        w.canaries
            .assert_absent(&format!("state file {}", path.display()), bytes);
    }
    for (path, bytes) in files_under(w.scratch.path()) {
        if path.extension().is_some_and(|e| e == "toml" || e == "json") && path != file {
            continue; // the config files hold the secrets on purpose
        }
        w.canaries
            .assert_absent(&format!("file {}", path.display()), &bytes);
    }
    let okta_requests: Vec<Request> = w
        .okta_proxy
        .requests()
        .into_iter()
        .chain(big_proxy.requests())
        .collect();
    assert_sent_only_to_their_hosts(
        &w.canaries,
        &okta_requests,
        &w.intake_proxy.requests(),
        &[&token, &bad_token],
        &[&key, &bad_key],
    );
}

/// What a panic message could print: the `Debug` of every type holding a secret.
#[test]
fn debug_of_every_secret_holder_is_redacted() {
    let canaries = Canaries::new();
    let raw = RawConfig {
        base_url: Some("https://acme.okta.com".into()),
        apikey: Some(canaries.token.clone().into()),
        intake_url: Some("https://intake.example/x".into()),
        sekoia_api_key: Some(canaries.key.clone().into()),
        ..RawConfig::default()
    };
    canaries.assert_absent("RawConfig Debug", format!("{raw:?}").as_bytes());
    let config = raw.validate(Needs::OktaAndIntake).unwrap();
    canaries.assert_absent("Config Debug", format!("{config:?}").as_bytes());
    canaries.assert_absent(
        "OktaSettings Debug",
        format!("{:?}", config.okta_settings()).as_bytes(),
    );
    let clock = okta_asset_connector::app::system_clock();
    let client = okta_asset_connector::app::okta_client(&config, clock.clone()).unwrap();
    canaries.assert_absent("OktaClient Debug", format!("{client:?}").as_bytes());
    let sink = okta_asset_connector::app::sink(&config, None, clock).unwrap();
    canaries.assert_absent("Sink Debug", format!("{sink:?}").as_bytes());
    canaries.assert_absent(
        "IntakeSettings Debug",
        format!("{:?}", config.intake).as_bytes(),
    );
}
