//! The connector under the Sekoia.io runtime, as the real binary: a runtime directory laid out
//! as the SDK expects it (placeholder secrets in `module_configuration`, `token`, `url_callback`
//! only, `liveness_port`, `metrics_port`, `connector_configuration`,
//! `connector_configuration_uuid`), a fake platform (secrets, logs, callback), the fake intake as
//! the asset API and the fake Okta, both behind recording proxies.
//!
//! The command line is the connector file's `docker_parameters` plus `--symphony-dir DIR`: what
//! the image's entrypoint receives under the runtime, with the directory moved.

use crate::support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use okta_asset_connector::app::Exit;
use okta_asset_connector::clock::{ManualClock, SharedClock, SystemClock};
use okta_asset_connector::config::LoadRequest;
use okta_asset_connector::runtime::sekoia::client::{PlatformClient, PLATFORM_BACKOFF};
use okta_asset_connector::runtime::sekoia::{secrets, Platform, PlatformError, Role, Runtime};
use okta_asset_connector::runtime::status::STALL_THRESHOLD;
use okta_asset_connector::sync::Shutdown;
use okta_fake::http::Request;
use okta_fake::proxy::Proxy;
use okta_fake::{FakeIntake, FakeOkta, FakeOptions, FakePlatform, Org, OrgSpec};
use serde_json::{json, Value};
use support::binary;
use support::canary::{self, canary, files_under, request_text};

const CONNECTOR_UUID: &str = "6f3b0a6e-2a8e-4f5b-9d3c-0e7a1c2b4d5f";
/// What the runtime writes in place of the module's secrets.
const PLACEHOLDER: &str = "placeholder-of-the-platform";

/// Unique per run, so that a match can only come from this test.
struct Canaries {
    okta_token: String,
    revoked_token: String,
    intake_key: String,
    platform_token: String,
}

impl Canaries {
    fn new() -> Canaries {
        Canaries {
            okta_token: canary("00RuntimeOktaToken"),
            revoked_token: canary("00RuntimeRevokedToken"),
            intake_key: canary("RuntimeIntakeKey"),
            platform_token: canary("RuntimePlatformToken"),
        }
    }

    fn all(&self) -> [&str; 4] {
        [
            &self.okta_token,
            &self.revoked_token,
            &self.intake_key,
            &self.platform_token,
        ]
    }

    /// Panics if any canary but `allowed` is in `text`.
    fn assert_absent(&self, what: &str, text: &str, allowed: &[&str]) {
        let forbidden: Vec<&str> = self
            .all()
            .into_iter()
            .filter(|c| !allowed.contains(c))
            .collect();
        canary::assert_absent(&forbidden, what, text);
    }
}

struct World {
    canaries: Canaries,
    okta: FakeOkta,
    intake: FakeIntake,
    platform: FakePlatform,
    okta_proxy: Proxy,
    intake_proxy: Proxy,
    dir: tempfile::TempDir,
    state_dir: PathBuf,
    liveness_port: u16,
    metrics_port: u16,
}

impl World {
    /// Waits (30 s at most) until the platform has received a `critical` log.
    async fn critical_logged(&self) {
        wait_until("the critical log", Duration::from_secs(30), || {
            self.platform
                .logs()
                .iter()
                .any(|l| l["level"] == "critical")
        })
        .await;
    }

    /// The fakes, and a runtime directory with the module configuration only (as for
    /// `validate_module_configuration`); `with_connector` adds the connector's files.
    async fn start(users: usize) -> World {
        let canaries = Canaries::new();
        let okta = FakeOkta::start(
            Org::generate(&OrgSpec::small(users, 4, 5)),
            FakeOptions {
                token: canaries.okta_token.clone(),
                ..FakeOptions::default()
            },
        )
        .await;
        let intake = FakeIntake::start(&canaries.intake_key).await;
        let platform = FakePlatform::start(
            &canaries.platform_token,
            json!({ "apikey": canaries.okta_token }),
        )
        .await;
        let okta_proxy = Proxy::start(&okta.base_url()).await;
        let intake_proxy = Proxy::start(&intake.base_url()).await;
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "module_configuration",
            &json!({"base_url": okta_proxy.url(), "apikey": PLACEHOLDER}).to_string(),
        );
        write("token", &canaries.platform_token);
        write("url_callback", &platform.callback_url());
        let (liveness_port, metrics_port) = (free_port(), free_port());
        write("liveness_port", &liveness_port.to_string());
        write("metrics_port", &metrics_port.to_string());
        World {
            canaries,
            okta,
            intake,
            platform,
            okta_proxy,
            intake_proxy,
            dir,
            state_dir: support::connector::fresh_state_dir(),
            liveness_port,
            metrics_port,
        }
    }

    fn with_connector(&self, arguments: Value) {
        let write =
            |name: &str, text: &str| std::fs::write(self.dir.path().join(name), text).unwrap();
        write("connector_configuration", &arguments.to_string());
        write("connector_configuration_uuid", CONNECTOR_UUID);
    }

    fn connector_arguments(&self) -> Value {
        json!({
            "sekoia_base_url": self.intake_proxy.url(),
            "sekoia_api_key": self.canaries.intake_key,
            "frequency": 1,
            "batch_size": 10,
        })
    }

    /// The binary with the runtime directory, as the image would run it; stderr to a file.
    /// Killed when dropped, so that a failing test leaves no process behind.
    fn spawn(&self, args: &[&str], stderr: &Path) -> Running {
        self.spawn_with_env(args, stderr, &[])
    }

    /// [`World::spawn`] with more environment variables.
    fn spawn_with_env(&self, args: &[&str], stderr: &Path, env: &[(&str, &str)]) -> Running {
        let child = binary::command()
            .args(args)
            .envs(env.iter().copied())
            .arg("--symphony-dir")
            .arg(self.dir.path())
            // Loopback fakes speak plain http; the state goes to a scratch directory instead of
            // /symphony_data.
            .env("ALLOW_INSECURE_HTTP", "true")
            .env("STATE_DIR", &self.state_dir)
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(stderr).unwrap())
            .spawn()
            .expect("the connector binary starts");
        Running(child)
    }

    fn get(&self, port: u16, path: &str) -> (u16, String) {
        http_get(port, path)
    }
}

/// A child process killed on drop (a no-op once it exited).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain GET on loopback; (status, body).
fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The connector file's `docker_parameters`: the image's arguments under the runtime.
fn docker_parameters() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("connector_okta_users.json");
    let connector: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    connector["docker_parameters"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGTERM; the exit status within 15 s.
async fn terminate(child: &mut Child) -> std::process::ExitStatus {
    binary::sigterm(child);
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still running 15 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_runtime_users_arrive_health_and_metrics_answer_logs_reach_the_platform() {
    let world = World::start(40).await;
    world.with_connector(world.connector_arguments());
    // The Okta token comes from OKTA_API_TOKEN, which wins over the module's secret: the
    // logs sent to the platform must hide it too, not only what the secrets endpoint served.
    world
        .platform
        .set_secrets(json!({"apikey": world.canaries.revoked_token}));
    let stderr = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let args = docker_parameters();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = world.spawn_with_env(
        &args,
        &stderr,
        &[("OKTA_API_TOKEN", &world.canaries.okta_token)],
    );

    let users = world.okta.with_org(|org| org.users().len());
    wait_until(
        "every user at the asset API",
        Duration::from_secs(60),
        || world.intake.items_by_user().len() >= users,
    )
    .await;
    wait_until(
        "the first cycle in /metrics",
        Duration::from_secs(30),
        || {
            let (_, metrics) = world.get(world.metrics_port, "/metrics");
            metrics.contains("okta_connector_cycles_total{kind=\"full\",outcome=\"success\"}")
        },
    )
    .await;

    // The users went to the connector's own asset API URL, with the SDK's User-Agent.
    let expected_path = format!("/api/v2/asset-management/asset-connector/{CONNECTOR_UUID}");
    let intake_requests = world.intake_proxy.requests();
    assert!(!intake_requests.is_empty());
    for request in &intake_requests {
        assert_eq!(request.path, expected_path);
        assert_eq!(
            request.header("user-agent"),
            Some(format!("sekoiaio-asset-connector-{CONNECTOR_UUID}").as_str())
        );
    }

    // /health on liveness_port, /metrics on metrics_port.
    let (status, health) = world.get(world.liveness_port, "/health");
    assert_eq!(status, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    for field in ["last_events_time", "last_heartbeat", "error_count"] {
        assert!(health.get(field).is_some(), "{field} in {health}");
    }
    assert_eq!(health["error_count"], 0);
    let (status, metrics) = world.get(world.metrics_port, "/metrics");
    assert_eq!(status, 200);
    let delivered = metrics
        .lines()
        .find_map(|l| l.strip_prefix("okta_connector_events_delivered_total "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("events delivered");
    assert!(delivered >= users as f64, "{metrics}");
    assert!(
        metrics.contains("okta_connector_okta_requests_total{bucket=\"users_list\"}"),
        "{metrics}"
    );
    assert_eq!(world.get(world.liveness_port, "/nope").0, 404);

    let status = terminate(&mut child.0).await;
    assert!(status.success(), "exit status {status:?} after SIGTERM");

    // The secrets were fetched once, with the runtime's token, from url_callback's /secrets.
    let requests = world.platform.requests();
    let secrets_requests: Vec<&Request> = requests.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(secrets_requests.len(), 1);
    assert!(secrets_requests[0].path.ends_with("/secrets"));
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {}", world.canaries.platform_token).as_str())
        );
    }
    // Logs arrived (the last batch at SIGTERM at the latest), none above info for a good run.
    let logs = world.platform.logs();
    let messages: Vec<&str> = logs.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(
        messages.iter().any(|m| m.starts_with("connector started")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("cycle finished")),
        "{messages:#?}"
    );
    assert!(
        logs.iter().all(|l| l["level"] == "info"),
        "a good run logs no warning: {logs:#?}"
    );

    // Neither the placeholder nor the module's secret reached Okta: every request carried
    // OKTA_API_TOKEN.
    let okta_requests = world.okta_proxy.requests();
    assert!(!okta_requests.is_empty());
    for request in &okta_requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("SSWS {}", world.canaries.okta_token).as_str())
        );
    }

    // The canary scan: each secret only in its own Authorization header, on its own host.
    let c = &world.canaries;
    for request in &requests {
        c.assert_absent("a platform request", &request_text(request, true), &[]);
        c.assert_absent(
            "a platform request's headers",
            &request_text(request, false),
            &[&c.platform_token],
        );
    }
    // No request to the platform carries an Okta token (the secrets endpoint served one).
    for request in &intake_requests {
        c.assert_absent("an intake request", &request_text(request, true), &[]);
    }
    for request in &okta_requests {
        c.assert_absent("an Okta request", &request_text(request, true), &[]);
    }
    for entry in &logs {
        c.assert_absent("a platform log line", &entry.to_string(), &[]);
    }
    let stderr_text = std::fs::read_to_string(&stderr).unwrap();
    assert!(stderr_text.contains("cycle finished"), "{stderr_text}");
    c.assert_absent("stderr", &stderr_text, &[]);
    for (path, text) in files_under(&world.state_dir) {
        c.assert_absent(&path.display().to_string(), &text, &[]);
    }
    for (path, text) in files_under(world.dir.path()) {
        // The runtime's own files hold what the runtime gave; nothing else may appear there.
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let allowed: &[&str] = match name.as_str() {
            "token" => &[&c.platform_token],
            "connector_configuration" => &[&c.intake_key],
            _ => &[],
        };
        c.assert_absent(&path.display().to_string(), &text, allowed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_error_is_one_critical_log_then_a_wait_for_sigterm() {
    let world = World::start(5).await;
    // No intake key: the connector cannot post, whatever it does.
    world.with_connector(json!({"frequency": 1}));
    let stderr = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    // A token pasted with its scheme: a configuration warning, to be logged once.
    let pasted = format!("SSWS {}", world.canaries.okta_token);
    let mut child = world.spawn_with_env(&["run"], &stderr, &[("OKTA_API_TOKEN", &pasted)]);
    world.critical_logged().await;
    // It waits instead of exiting (a restart would fail the same way), still answering /health.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "exited on a configuration error"
    );
    assert_eq!(world.get(world.liveness_port, "/health").0, 200);
    let status = terminate(&mut child.0).await;
    assert!(status.success(), "{status:?}");

    let logs = world.platform.logs();
    let critical: Vec<&Value> = logs.iter().filter(|l| l["level"] == "critical").collect();
    assert_eq!(critical.len(), 1, "{logs:#?}");
    let message = critical[0]["message"].as_str().unwrap();
    assert!(
        message.contains("sekoia_api_key"),
        "the critical log names the key: {message}"
    );
    assert!(world.intake_proxy.requests().is_empty());

    let stderr = std::fs::read_to_string(&stderr).unwrap();
    let warnings = stderr
        .lines()
        .filter(|line| line.contains("it started with") && line.contains("OKTA_API_TOKEN"))
        .count();
    assert_eq!(warnings, 1, "the configuration warning once:\n{stderr}");
    world.canaries.assert_absent("stderr", &stderr, &[]);
}

/// `run` under the runtime in this process, as `main` runs it, on `clock` and with its logs
/// sent to the platform: the runtime directory `dir`, the state in `state_dir`, stopped by
/// `shutdown`. Runs on the test's thread (its logging is installed for this thread only), so
/// the test must use the current-thread runtime and make blocking calls off it.
async fn connector_in_process(
    dir: &Path,
    state_dir: &Path,
    clock: SharedClock,
    shutdown: Shutdown,
) -> Exit {
    use tracing_subscriber::layer::SubscriberExt;
    let state_dir = state_dir.display().to_string();
    let env = move |name: &str| match name {
        "ALLOW_INSECURE_HTTP" => Some("true".to_string()),
        "STATE_DIR" => Some(state_dir.clone()),
        _ => None,
    };
    let request = LoadRequest {
        config_file: None,
        symphony_dir: Some(dir.to_path_buf()),
        flags: Default::default(),
    };
    let mut runtime = Runtime::prepare(Some(Role::Connector), Some(dir), &env, clock.clone());
    let subscriber = tracing_subscriber::registry().with(runtime.log_layer());
    let _logging = tracing::subscriber::set_default(subscriber);
    runtime.take_over(&request, &env, clock, shutdown).await
}

/// `/health` off the test's thread (the connector runs on it).
async fn health_in_background(port: u16) -> (u16, String) {
    tokio::task::spawn_blocking(move || http_get(port, "/health"))
        .await
        .unwrap()
}

/// The wait after a configuration error is a sign of life however long it lasts: `/health`
/// answers 200 hours later on the connector's clock, with no task of the loop running.
#[tokio::test]
async fn health_stays_alive_long_after_a_configuration_error() {
    let world = World::start(5).await;
    world.with_connector(json!({"frequency": 1}));
    let clock = Arc::new(ManualClock::new("2026-03-01T12:00:00Z".parse().unwrap()));
    let (stop, shutdown) = Shutdown::channel();
    let connector =
        connector_in_process(world.dir.path(), &world.state_dir, clock.clone(), shutdown);
    let probe = async {
        world.critical_logged().await;
        let mut answers = Vec::new();
        for _ in 0..3 {
            clock.advance(STALL_THRESHOLD * 2);
            answers.push(health_in_background(world.liveness_port).await);
        }
        stop.send(true).unwrap();
        answers
    };
    let (exit, answers) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(connector, probe)
    })
    .await
    .expect("the connector stops on request");
    assert_eq!(exit, Exit::Ok);
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        let health: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            health["last_heartbeat_threshold"],
            STALL_THRESHOLD.as_secs()
        );
    }
    assert!(world.intake_proxy.requests().is_empty());
}

/// `validate_module_configuration` with the token the platform serves; the PATCH bodies.
async fn validate(world: &World) -> (std::process::ExitStatus, Vec<Value>, String) {
    let stderr = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let mut child = world.spawn(&["validate_module_configuration"], &stderr);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "validation hangs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stderr = std::fs::read_to_string(&stderr).unwrap();
    (status, world.platform.patches(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_reports_success_with_a_good_token_and_the_reason_with_a_revoked_one() {
    let world = World::start(5).await;
    // No connector exists when the account is validated: no connector configuration, no
    // intake.
    let (status, patches, stderr) = validate(&world).await;
    assert!(status.success(), "{status:?}\n{stderr}");
    assert_eq!(
        patches,
        [
            json!({"status": "running"}),
            json!({"status": "finished", "results": {"success": true}}),
        ],
        "{stderr}"
    );
    assert!(world.intake_proxy.requests().is_empty());

    // The platform now serves a token Okta no longer accepts.
    world
        .platform
        .set_secrets(json!({"apikey": world.canaries.revoked_token}));
    let (status, patches, stderr) = validate(&world).await;
    assert!(
        status.success(),
        "the result was reported: {status:?}\n{stderr}"
    );
    let finished = &patches[3];
    assert_eq!(finished["status"], "finished");
    assert_eq!(finished["results"]["success"], false);
    let error = finished["error"].as_str().expect("an error");
    assert!(error.starts_with("token: "), "{error}");
    assert!(
        error.contains("E0000011") && error.contains("; fix: "),
        "{error}"
    );

    let c = &world.canaries;
    for patch in &patches {
        c.assert_absent("a PATCH body", &patch.to_string(), &[]);
    }
    c.assert_absent("stderr", &stderr, &[]);
    for request in world.okta_proxy.requests() {
        let auth = request.header("authorization").unwrap_or_default();
        assert!(
            auth == format!("SSWS {}", c.okta_token) || auth == format!("SSWS {}", c.revoked_token),
            "Okta got {auth:?}: never the placeholder"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_without_the_runtime_files_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = binary::output({
        let mut command = binary::command();
        command
            .args(["validate_module_configuration", "--symphony-dir"])
            .arg(dir.path());
        command
    })
    .await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("url_callback"), "{stderr}");
}

/// The secrets request through the shared retry loop, on an injected clock: transient answers
/// are retried, a refusal is final, and no error quotes the answer.
#[tokio::test]
async fn secrets_are_retried_on_5xx_and_a_refusal_is_final() {
    let platform = FakePlatform::start("platform-token", json!({"apikey": "s3cr3t-okta"})).await;
    let env_pairs = [
        ("TOKEN", "platform-token".to_string()),
        ("URL_CALLBACK", platform.callback_url()),
    ];
    let env = move |name: &str| {
        env_pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let runtime = Platform::discover(None, &env).unwrap().unwrap();
    let clock = Arc::new(ManualClock::new("2026-03-01T12:00:00Z".parse().unwrap()));
    let client = PlatformClient::new(runtime.token(), clock.clone(), PLATFORM_BACKOFF).unwrap();

    platform.fail_next(3, 503);
    let fetched = secrets::fetch(&client, &runtime).await.unwrap();
    assert_eq!(fetched["apikey"], "s3cr3t-okta");
    assert_eq!(platform.requests().len(), 4);
    assert_eq!(
        clock.sleeps().len(),
        3,
        "three waits, on the injected clock"
    );
    assert!(clock.sleeps().iter().all(|d| *d <= Duration::from_secs(10)));

    platform.fail_next(1, 403);
    let error = secrets::fetch(&client, &runtime).await.unwrap_err();
    assert!(
        matches!(error, PlatformError::Refused { status: 403, .. }),
        "{error}"
    );
    assert_eq!(platform.requests().len(), 5, "a refusal is not retried");

    // The connector exits non-zero on a refused token, without retrying: a critical log could
    // not reach the platform (same token), and only the runtime's restart can give another.
    // On the system clock, so that its logs wait their 5 s batch delay as they do in production
    // and the secrets request is the one refused (nothing here waits for that delay).
    for refusal in [401, 403] {
        platform.fail_next(1, refusal);
        let before = platform.requests().len();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("token", "platform-token");
        write("url_callback", &platform.callback_url());
        write("liveness_port", &free_port().to_string());
        write("metrics_port", &free_port().to_string());
        let state_dir = tempfile::tempdir().unwrap();
        let (_stop, shutdown) = Shutdown::channel();
        let exit = tokio::time::timeout(
            Duration::from_secs(30),
            connector_in_process(
                dir.path(),
                state_dir.path(),
                Arc::new(SystemClock),
                shutdown,
            ),
        )
        .await
        .expect("a refused token ends the connector instead of a wait");
        assert_eq!(exit, Exit::Failure, "HTTP {refusal}");
        let gets: Vec<Request> = platform.requests()[before..]
            .iter()
            .filter(|r| r.method == "GET")
            .cloned()
            .collect();
        assert_eq!(gets.len(), 1, "HTTP {refusal} is not retried");
    }

    platform.fail_next(20, 500);
    let error = secrets::fetch(&client, &runtime).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("10 attempts"), "{error}");
    assert!(!error.to_string().contains("s3cr3t"));
}

/// Outside the runtime, `run --metrics-addr` serves the same endpoints (for Kubernetes probes
/// and Prometheus), with Okta's counters by bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_runtime_metrics_addr_serves_health_and_metrics() {
    let world = World::start(20).await;
    let port = free_port();
    let stderr = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let child = binary::command()
        .args(["run", "--allow-insecure-http", "--frequency", "1"])
        .args(["--base-url", &world.okta.base_url()])
        .args(["--intake-url", &world.intake.url()])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .arg("--state-dir")
        .arg(&world.state_dir)
        .env("OKTA_API_TOKEN", &world.canaries.okta_token)
        .env("INTAKE_API_KEY", &world.canaries.intake_key)
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("the connector binary starts");
    let mut child = Running(child);
    wait_until(
        "a successful cycle in /metrics",
        Duration::from_secs(60),
        || {
            http_get(port, "/metrics")
                .1
                .contains("okta_connector_cycles_total{kind=\"full\",outcome=\"success\"} 1")
        },
    )
    .await;
    let (status, health) = http_get(port, "/health");
    assert_eq!(status, 200, "{health}");
    let (_, metrics) = http_get(port, "/metrics");
    for family in [
        "okta_connector_events_delivered_total 20",
        "okta_connector_okta_rate_limited_total{bucket=\"users_list\",kind=\"quota\"} 0",
        "okta_connector_consecutive_failures 0",
    ] {
        assert!(metrics.lines().any(|l| l == family), "{family}:\n{metrics}");
    }
    assert!(metrics.contains("okta_connector_last_success_timestamp_seconds "));
    // Nothing is sent to a platform: there is none.
    assert!(world.platform.requests().is_empty());
    let status = terminate(&mut child.0).await;
    assert!(status.success(), "{status:?}");
}
