//! `check` (the "Test connector" button) against the fake tenant and the fake intake: one test
//! per verdict, the `--json` contract and exit codes of the real binary, the time bound, and
//! that the run is read-only. docs/check.md describes what is asserted here; the wording of
//! every verdict is unit-tested in `src/check/verdicts`.

use crate::support;

use std::collections::BTreeSet;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use okta_asset_connector::app;
use okta_asset_connector::check::{self, Budget, Check, Report, Status, CHECK_NAMES};
use okta_asset_connector::config::{Config, Needs, RawConfig};
use okta_fake::http::{Reply, Request};
use okta_fake::proxy::Proxy;
use okta_fake::FakeIntake;
use okta_fake::{Bucket, FakeOkta, FakeOptions, Org, OrgSpec};
use serde_json::Value;
use support::binary;
use support::check_report::named_check;
use support::connector::INTAKE_KEY;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const BAD_TOKEN: &str = "00wrong-token-Zq9xK7vB3nM1";
const BAD_INTAKE_KEY: &str = "wrong-intake-key-Hj4kL8pQ";

/// The Okta checks that need a reachable org: skipped together when it is not.
fn after_reachable() -> Vec<&'static str> {
    "token groups roles factors change_feed rate_limit"
        .split(' ')
        .collect()
}

/// The fake tenant behind a proxy that answers the System Log (`GET /api/v1/logs`), which the
/// fake does not serve: an empty page as Okta sends it for a quiet minute, or, once
/// [`Okta::deny_logs`] is called, Okta's 403 for a token without the permission. Everything else
/// reaches the fake, which the tests reach through `Deref`.
struct Okta {
    fake: FakeOkta,
    proxy: Proxy,
    deny_logs: Arc<AtomicBool>,
}

const LOGS_PATH: &str = "/api/v1/logs";
const LOGS_REQUEST_ID: &str = "reqLogs403xyz";

impl Okta {
    async fn start(fake: FakeOkta) -> Okta {
        let proxy = Proxy::start(&fake.base_url()).await;
        let deny_logs = Arc::new(AtomicBool::new(false));
        let deny = deny_logs.clone();
        proxy.intercept(move |request| {
            (request.path == LOGS_PATH).then(|| {
                if deny.load(Ordering::SeqCst) {
                    Reply::json(
                        403,
                        r#"{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorLink":"E0000006","errorId":"oaeLogs403","errorCauses":[]}"#,
                    )
                    .with_header("x-okta-request-id", LOGS_REQUEST_ID)
                } else {
                    Reply::json(200, "[]")
                }
            })
        });
        Okta {
            fake,
            proxy,
            deny_logs,
        }
    }

    /// The proxy's URL: what the connector is configured with.
    fn base_url(&self) -> String {
        self.proxy.url()
    }

    /// The System Log answers 403 E0000006 from now on.
    fn deny_logs(&self) {
        self.deny_logs.store(true, Ordering::SeqCst);
    }

    /// Every request that reached "Okta" (the proxy), the System Log included.
    fn requests(&self) -> Vec<Request> {
        self.proxy.requests()
    }
}

impl Deref for Okta {
    type Target = FakeOkta;
    fn deref(&self) -> &FakeOkta {
        &self.fake
    }
}

async fn fake_okta(options: FakeOptions) -> Okta {
    Okta::start(FakeOkta::start(Org::generate(&OrgSpec::small(20, 5, 7)), options).await).await
}

/// A writable state directory shared by the tests (the probe leaves nothing in it).
fn state_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("check-state");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn fakes() -> (Okta, FakeIntake) {
    (
        fake_okta(FakeOptions::default()).await,
        FakeIntake::start(INTAKE_KEY).await,
    )
}

/// The configuration `check` would build: Okta at `base_url` with `token`, the intake at
/// `intake_url` with `intake_key`, plain http allowed on loopback, a writable state directory.
fn config_for(base_url: &str, token: &str, intake_url: &str, intake_key: &str) -> Config {
    config_with_state(base_url, token, intake_url, intake_key, &state_dir())
}

fn config_with_state(
    base_url: &str,
    token: &str,
    intake_url: &str,
    intake_key: &str,
    state_dir: &Path,
) -> Config {
    RawConfig {
        base_url: Some(base_url.to_string()),
        apikey: Some(token.to_string().into()),
        intake_url: Some(intake_url.to_string()),
        sekoia_api_key: Some(intake_key.to_string().into()),
        allow_insecure_http: Some(true),
        state_dir: Some(state_dir.to_path_buf()),
        ..RawConfig::default()
    }
    .validate(Needs::OktaMaybeIntake)
    .expect("valid test configuration")
}

fn good_config(okta: &Okta, intake: &FakeIntake) -> Config {
    config_for(&okta.base_url(), okta.token(), &intake.url(), INTAKE_KEY)
}

async fn run(config: &Config) -> Report {
    check::run(config, app::system_clock()).await
}

/// `check` against Okta at `base_url` with a token no org knows, and the intake at `intake_url`.
async fn run_against(base_url: &str, intake_url: &str) -> Report {
    run(&config_for(base_url, "test-token", intake_url, INTAKE_KEY)).await
}

/// The same within a budget of `total` and `per_request` milliseconds: the report and how long
/// the run took.
async fn run_bounded(
    base_url: &str,
    intake_url: &str,
    total: u64,
    per_request: u64,
) -> (Report, Duration) {
    let budget = Budget {
        total: Duration::from_millis(total),
        per_request: Duration::from_millis(per_request),
    };
    let config = config_for(base_url, "test-token", intake_url, INTAKE_KEY);
    let started = Instant::now();
    let report = check::run_with_budget(&config, app::system_clock(), budget).await;
    (report, started.elapsed())
}

fn get<'a>(report: &'a Report, name: &str) -> &'a Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no `{name}` check in {report:#?}"))
}

#[track_caller]
fn assert_status(report: &Report, name: &str, status: Status) {
    let check = get(report, name);
    assert_eq!(
        check.status,
        status,
        "{name}: {check:#?}\n{}",
        report.to_text()
    );
}

#[track_caller]
fn assert_statuses(report: &Report, names: &[&str], status: Status) {
    for name in names {
        assert_status(report, name, status);
    }
}

#[track_caller]
fn assert_reason(report: &Report, name: &str, needles: &[&str]) {
    let reason = &get(report, name).reason;
    for needle in needles {
        assert!(
            reason.contains(needle),
            "{name} reason {reason:?} lacks {needle:?}"
        );
    }
}

#[track_caller]
fn assert_fix(report: &Report, name: &str, needles: &[&str]) {
    let fix = &get(report, name).fix;
    for needle in needles {
        assert!(fix.contains(needle), "{name} fix {fix:?} lacks {needle:?}");
    }
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A server answering every request with `status` and an HTML page.
async fn html_server(status: u16) -> MockServer {
    let server = MockServer::start().await;
    let page =
        "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Welcome</body></html>";
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_raw(page, "text/html; charset=utf-8"))
        .mount(&server)
        .await;
    server
}

/// A server that accepts connections and never answers in time.
async fn hanging_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(120)))
        .mount(&server)
        .await;
    server
}

/// Runs the real binary with the given arguments and secrets (and nothing else from the
/// environment), asserts its exit code; returns (stdout, stderr).
async fn binary(
    args: Vec<String>,
    token: Option<&str>,
    intake_key: Option<&str>,
    code: i32,
) -> (String, String) {
    let mut command = binary::command();
    command.args(args).env("LOG_FORMAT", "json");
    if let Some(token) = token {
        command.env("OKTA_API_TOKEN", token);
    }
    if let Some(key) = intake_key {
        command.env("INTAKE_API_KEY", key);
    }
    let output = binary::output(command).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let exit = output.status.code().expect("exit code");
    assert_eq!(exit, code, "stdout: {stdout}\nstderr: {stderr}");
    (stdout, stderr)
}

/// `check --json` of the real binary against the fakes with `token`, exiting with `code`: the
/// checked document, stdout and stderr.
async fn binary_check(
    okta: &Okta,
    intake: &FakeIntake,
    token: &str,
    code: i32,
) -> (Value, String, String) {
    let args = check_args(&okta.base_url(), &intake.url());
    let (stdout, stderr) = binary(args, Some(token), Some(INTAKE_KEY), code).await;
    (parse_report(&stdout), stdout, stderr)
}

fn check_args(base_url: &str, intake_url: &str) -> Vec<String> {
    [
        "check",
        "--json",
        "--allow-insecure-http",
        "--base-url",
        base_url,
        "--intake-url",
        intake_url,
        "--state-dir",
        state_dir().to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// The keys of a JSON object.
fn keys(object: &Value) -> BTreeSet<&str> {
    object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// Parses stdout as the `--json` document and checks its shape: exactly `success`, `error`,
/// `checks`; every check has `name`, `status`, `reason` and maybe `fix`, nothing else; the
/// checks are those of [`CHECK_NAMES`] in order; `error` is the first failure's reason.
#[track_caller]
fn parse_report(stdout: &str) -> Value {
    let doc: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {stdout}"));
    assert_eq!(
        keys(&doc),
        BTreeSet::from(["success", "error", "checks"]),
        "{doc:#}"
    );
    assert!(
        doc["success"].is_boolean() && doc["error"].is_string(),
        "{doc:#}"
    );
    let checks = doc["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, CHECK_NAMES, "{doc:#}");
    for check in checks {
        let keys = keys(check);
        assert!(
            keys.is_superset(&BTreeSet::from(["name", "status", "reason"]))
                && keys.is_subset(&BTreeSet::from(["name", "status", "reason", "fix"])),
            "check keys {keys:?} in {doc:#}"
        );
        let status = check["status"].as_str().unwrap();
        assert!(
            ["ok", "warn", "fail", "skipped"].contains(&status),
            "{doc:#}"
        );
        assert!(!check["reason"].as_str().unwrap().is_empty(), "{doc:#}");
    }
    let first_failure = checks
        .iter()
        .find(|c| c["status"] == "fail")
        .map_or("", |c| c["reason"].as_str().unwrap());
    assert_eq!(doc["error"], first_failure, "{doc:#}");
    assert_eq!(doc["success"], first_failure.is_empty(), "{doc:#}");
    doc
}

fn json_status<'a>(doc: &'a Value, name: &str) -> &'a str {
    named_check(doc, name)["status"].as_str().unwrap()
}

// 1
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_good_every_check_ok() {
    let (okta, intake) = fakes().await;
    let report = run(&good_config(&okta, &intake)).await;
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, CHECK_NAMES);
    assert_statuses(&report, &CHECK_NAMES, Status::Ok);
    assert!(report.success);
    assert_eq!(report.error, "");
    assert_reason(&report, "intake", &["accepted the key", "empty batch"]);
    assert!(report.to_text().ends_with("result: OK\n"));
}

// 2
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_fails_token_and_skips_later_okta_checks() {
    let (okta, intake) = fakes().await;
    let config = config_for(&okta.base_url(), BAD_TOKEN, &intake.url(), INTAKE_KEY);
    let report = run(&config).await;

    assert_status(&report, "config", Status::Ok);
    assert_status(&report, "okta_reachable", Status::Ok);
    assert_status(&report, "token", Status::Fail);
    assert_reason(
        &report,
        "token",
        &["E0000011", "invalid, expired or revoked"],
    );
    assert_fix(&report, "token", &["new API token", "OKTA_API_TOKEN"]);
    assert_statuses(&report, &after_reachable()[1..], Status::Skipped);
    // The intake does not depend on Okta: it is still checked.
    assert_status(&report, "intake", Status::Ok);
    assert!(!report.success);
    assert_eq!(report.error, get(&report, "token").reason);

    let json = serde_json::to_string(&report).unwrap();
    let text = report.to_text();
    for shown in [&json, &text] {
        assert!(!shown.contains(BAD_TOKEN), "token leaked: {shown}");
        assert!(!shown.contains(INTAKE_KEY), "intake key leaked: {shown}");
    }
    assert!(text.contains("[ FAIL] token") && text.contains("fix: create a new API token"));
    assert!(text.ends_with("result: FAILED\n"));
}

// 3, 4: a missing permission, a transient failure or an unreadable System Log shows in its own
// check only, as a failure where `sync` cannot do without it and as a warning where it can.
// A 5xx or a timeout says nothing about permissions: `sync` retries it, so `check` must not call
// it a missing permission or a disabled enrichment.

/// A fault on the Okta side.
#[derive(Clone, Copy)]
enum Fault {
    /// The token lacks the permission of a bucket's endpoints (403 E0000006).
    Forbidden(Bucket),
    /// Every request whose path contains the text answers this 5xx.
    ServerError(&'static str, u16),
    /// The System Log answers 403 E0000006.
    LogsDenied,
}

impl Fault {
    fn apply(self, okta: &Okta) {
        match self {
            Fault::Forbidden(bucket) => okta.set_forbidden(bucket, true),
            Fault::ServerError(path, status) => {
                okta.faults().fail_path_contains(path, status, None)
            }
            Fault::LogsDenied => okta.deny_logs(),
        }
    }
}

/// A fault and the verdict it must give: the check named in `verdict` gets its status, a reason
/// holding every word of `reason` and a fix holding every word of `fix`; every other check stays
/// ok.
struct OktaFault {
    fault: Fault,
    verdict: (&'static str, Status),
    reason: &'static [&'static str],
    fix: &'static [&'static str],
}

const OKTA_FAULTS: [OktaFault; 6] = [
    OktaFault {
        fault: Fault::Forbidden(Bucket::Groups),
        verdict: ("groups", Status::Fail),
        reason: &["E0000006", "may not read groups"],
        fix: &["okta.groups.read", "Read-Only Administrator"],
    },
    OktaFault {
        fault: Fault::Forbidden(Bucket::Iam),
        verdict: ("roles", Status::Warn),
        reason: &["E0000006", "admin detection is disabled"],
        fix: &["okta.roles.read", "Read-Only Administrator"],
    },
    // The MFA permission is also only a warning.
    OktaFault {
        fault: Fault::Forbidden(Bucket::UserById),
        verdict: ("factors", Status::Warn),
        reason: &["E0000006", "MFA enrichment is disabled"],
        fix: &[],
    },
    OktaFault {
        fault: Fault::ServerError("/factors", 500),
        verdict: ("factors", Status::Warn),
        reason: &[
            "Okta failed to answer (transient; sync retries it)",
            "HTTP 500",
        ],
        fix: &[],
    },
    // Groups are needed for every record: unverified, the check still fails, but says why.
    OktaFault {
        fault: Fault::ServerError("/api/v1/groups", 503),
        verdict: ("groups", Status::Fail),
        reason: &[
            "could not check groups",
            "transient; sync retries it",
            "HTTP 503",
        ],
        fix: &["again", "request id"],
    },
    OktaFault {
        fault: Fault::LogsDenied,
        verdict: ("change_feed", Status::Warn),
        reason: &[
            "may not read the System Log",
            "E0000006",
            LOGS_REQUEST_ID,
            "lastUpdated",
            "every group and role is read again each cycle",
            "next full sync",
        ],
        fix: &[
            "Read-Only Administrator or Report Administrator",
            "okta.logs.read",
        ],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_okta_fault_shows_in_its_own_check_only() {
    for case in OKTA_FAULTS {
        let (okta, intake) = fakes().await;
        case.fault.apply(&okta);
        let report = run(&good_config(&okta, &intake)).await;
        let (name, status) = case.verdict;
        assert_status(&report, name, status);
        assert_reason(&report, name, case.reason);
        let check = get(&report, name);
        if let Fault::ServerError(..) = case.fault {
            for permission_words in ["may not", "MFA enrichment is disabled"] {
                assert!(!check.reason.contains(permission_words), "{check:?}");
            }
        }
        assert_fix(&report, name, case.fix);
        let others: Vec<&str> = CHECK_NAMES.into_iter().filter(|n| *n != name).collect();
        assert_statuses(&report, &others, Status::Ok);
        let failed = status == Status::Fail;
        assert_eq!(report.success, !failed, "{}", report.to_text());
        let error = if failed { check.reason.as_str() } else { "" };
        assert_eq!(report.error, error);

        // The binary says the same, and a warning alone exits 0.
        let (doc, _, _) =
            binary_check(&okta, &intake, okta.token(), if failed { 5 } else { 0 }).await;
        assert_eq!(doc["success"], !failed);
        assert_eq!(
            json_status(&doc, name),
            serde_json::to_value(status).unwrap()
        );
        assert!(
            others.iter().all(|n| json_status(&doc, n) == "ok"),
            "{doc:#}"
        );
    }
}

// 5
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_host_fails_okta_reachable_refused() {
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let base_url = format!("http://127.0.0.1:{}", closed_port());
    let report = run_against(&base_url, &intake.url()).await;

    assert_status(&report, "okta_reachable", Status::Fail);
    assert_reason(&report, "okta_reachable", &["refused"]);
    assert_fix(&report, "okta_reachable", &["base_url"]);
    assert_statuses(&report, &after_reachable(), Status::Skipped);
    assert_reason(&report, "groups", &["not reachable"]);
    assert_status(&report, "intake", Status::Ok);
    assert_eq!(report.error, get(&report, "okta_reachable").reason);
}

// 6
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_okta_host_answering_html_is_not_the_okta_api() {
    let intake = FakeIntake::start(INTAKE_KEY).await;
    for status in [200, 404] {
        let server = html_server(status).await;
        let report = run_against(&server.uri(), &intake.url()).await;
        assert_status(&report, "okta_reachable", Status::Fail);
        assert_reason(
            &report,
            "okta_reachable",
            &["not the Okta API", &format!("HTTP {status}")],
        );
        assert_fix(
            &report,
            "okta_reachable",
            &["base_url", "https://acme.okta.com"],
        );
        assert_statuses(&report, &after_reachable(), Status::Skipped);
        assert!(!report.success);
    }
}

// 7
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_rejecting_the_key_fails_intake() {
    let (okta, intake) = fakes().await;
    let config = config_for(
        &okta.base_url(),
        okta.token(),
        &intake.url(),
        BAD_INTAKE_KEY,
    );
    let report = run(&config).await;
    assert_status(&report, "intake", Status::Fail);
    assert_reason(&report, "intake", &["rejected the key", "HTTP 401"]);
    assert_fix(&report, "intake", &["INTAKE_API_KEY"]);
    // Okta is fine: the failure is the intake's alone.
    let others: Vec<&str> = CHECK_NAMES.into_iter().filter(|n| *n != "intake").collect();
    assert_statuses(&report, &others, Status::Ok);
    assert!(!report.success);
    assert_eq!(report.error, get(&report, "intake").reason);
    assert!(!serde_json::to_string(&report)
        .unwrap()
        .contains(BAD_INTAKE_KEY));
    assert_eq!(intake.requests(), 1, "one probe, no retry");

    // An injected 401 with the right key reads the same.
    intake.fail_next(1, 401);
    let report = run(&good_config(&okta, &intake)).await;
    assert_reason(&report, "intake", &["rejected the key"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_down_fails_intake_unreachable() {
    let okta = fake_okta(FakeOptions::default()).await;
    let intake_url = format!(
        "http://127.0.0.1:{}/api/v2/asset-management/asset-connector/x",
        closed_port()
    );
    let report = run(&config_for(
        &okta.base_url(),
        okta.token(),
        &intake_url,
        INTAKE_KEY,
    ))
    .await;
    assert_status(&report, "intake", Status::Fail);
    assert_reason(&report, "intake", &["unreachable"]);
    assert_fix(&report, "intake", &["intake_url"]);
    assert_status(&report, "token", Status::Ok);
    assert!(!report.success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_server_error_is_reported_as_unavailable() {
    let (okta, intake) = fakes().await;
    intake.fail_next(1, 503);
    let report = run(&good_config(&okta, &intake)).await;
    assert_status(&report, "intake", Status::Fail);
    assert_reason(&report, "intake", &["unavailable", "HTTP 503"]);
}

// 8
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_host_hits_the_time_bound() {
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let server = hanging_server().await;
    let (report, took) = run_bounded(&server.uri(), &intake.url(), 1500, 700).await;

    assert!(took < Duration::from_millis(1500 + 1000), "took {took:?}");
    assert_status(&report, "okta_reachable", Status::Fail);
    assert_reason(&report, "okta_reachable", &["did not answer in time"]);
    assert_status(&report, "token", Status::Skipped);
    assert_status(&report, "intake", Status::Ok);
}

/// Both hosts hang: the run still ends within the total bound, with both verdicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_okta_and_intake_still_end_within_the_bound() {
    let okta_host = hanging_server().await;
    let intake_host = hanging_server().await;
    let intake_url = format!("{}/intake", intake_host.uri());
    let (report, took) = run_bounded(&okta_host.uri(), &intake_url, 1200, 1000).await;

    assert!(took < Duration::from_millis(1200 + 600), "took {took:?}");
    assert_reason(&report, "okta_reachable", &["did not answer in time"]);
    assert_status(&report, "intake", Status::Fail);
    assert_reason(
        &report,
        "intake",
        &["unreachable", "did not answer in time"],
    );
}

/// The intake probe runs alongside the Okta checks: a hanging Okta host that uses the whole
/// budget does not leave the (slow but working) intake without time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_okta_host_does_not_starve_the_intake_check() {
    let okta_host = hanging_server().await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    intake.slow(Duration::from_millis(300));
    let (report, _) = run_bounded(&okta_host.uri(), &intake.url(), 1000, 1000).await;
    assert_reason(&report, "okta_reachable", &["did not answer in time"]);
    assert_status(&report, "intake", Status::Ok);
}

// 9
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_headroom_warns_when_others_use_most_of_the_users_bucket() {
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let options = FakeOptions {
        rate_limit: Some(100),
        ..FakeOptions::default()
    };

    // Control: the same low limit with nobody else using it is fine.
    let okta = fake_okta(options.clone()).await;
    let report = run(&good_config(&okta, &intake)).await;
    assert_status(&report, "rate_limit", Status::Ok);
    assert_reason(&report, "rate_limit", &["of 100 requests left", "50/min"]);

    // Ten virtual seconds per real second: a one-minute window passes in six seconds.
    let okta = fake_okta(FakeOptions {
        time_scale: 10.0,
        ..options
    })
    .await;
    okta.faults().external_consumer(Bucket::UsersList, 0.9);
    // The external consumer eats its 90 % evenly over each window. Check between 10 and 40 s
    // into a window: the bucket then still has 40 to 85 requests left, so only the projection
    // of the others' pace over the whole minute can tell that they leave us less than our share.
    while !(10..=40).contains(&okta.virtual_now().as_second().rem_euclid(60)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = run(&good_config(&okta, &intake)).await;
    assert_status(&report, "rate_limit", Status::Warn);
    let projected = ["users bucket", "of 100 requests left"];
    assert_reason(&report, "rate_limit", &projected);
    assert_fix(&report, "rate_limit", &["other integrations"]);
    assert!(report.success, "a warning is not a failure");
}

// 10
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_shape_and_exit_codes_of_the_binary() {
    let (okta, intake) = fakes().await;

    let (doc, _, _) = binary_check(&okta, &intake, okta.token(), 0).await;
    assert_eq!(doc["success"], true);
    assert_eq!(doc["error"], "");
    assert!(
        CHECK_NAMES
            .iter()
            .all(|name| json_status(&doc, name) == "ok"),
        "{doc:#}"
    );
    // `fix` is left out when empty.
    assert!(doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c.get("fix").is_none()));

    let (doc, stdout, stderr) = binary_check(&okta, &intake, BAD_TOKEN, 5).await;
    assert_eq!(doc["success"], false);
    assert_eq!(json_status(&doc, "token"), "fail");
    assert!(
        doc["error"].as_str().unwrap().contains("E0000011"),
        "{doc:#}"
    );
    let token = named_check(&doc, "token");
    assert!(token["fix"].as_str().unwrap().contains("OKTA_API_TOKEN"));
    for output in [&stdout, &stderr] {
        assert!(
            !output.contains(BAD_TOKEN) && !output.contains(INTAKE_KEY),
            "secret printed: {output}"
        );
    }

    // No base_url: still one valid JSON document, with a `config` failure, and the
    // configuration's exit code, as for every command.
    let json = vec!["check".into(), "--json".into()];
    let (stdout, _) = binary(json, Some("t"), None, 2).await;
    let doc = parse_report(&stdout);
    assert_eq!(json_status(&doc, "config"), "fail");
    assert!(
        doc["error"].as_str().unwrap().contains("base_url"),
        "{doc:#}"
    );
    assert!(CHECK_NAMES[1..]
        .iter()
        .all(|name| json_status(&doc, name) == "skipped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_output_without_json() {
    let okta = fake_okta(FakeOptions::default()).await;
    okta.set_forbidden(Bucket::Iam, true);
    let args = [
        "check",
        "--allow-insecure-http",
        "--base-url",
        &okta.base_url(),
        "--state-dir",
        state_dir().to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let (stdout, _) = binary(args, Some(okta.token()), None, 0).await;
    assert!(stdout.contains("[  ok ] token"), "{stdout}");
    assert!(
        stdout.contains("[ warn] roles") && stdout.contains("fix: create the token"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[ warn] intake") && stdout.contains("no intake configured"),
        "{stdout}"
    );
    assert!(stdout.ends_with("result: OK\n"), "{stdout}");
}

// 11
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_is_read_only() {
    let (okta, intake) = fakes().await;
    let report = run(&good_config(&okta, &intake)).await;
    assert!(report.success, "{}", report.to_text());

    let counters = okta.counters();
    assert!(!counters.per_endpoint.is_empty());
    for endpoint in counters.per_endpoint.keys() {
        assert!(
            endpoint.starts_with("GET "),
            "non-GET Okta request: {endpoint}"
        );
    }
    // One cheap read per permission: users, groups, role assignees, one user's factors (the
    // fake's count; the System Log is answered by the stand-in in front of it).
    assert_eq!(counters.total, 4, "{:?}", counters.per_endpoint);
    let seen: Vec<(String, String)> = okta
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.iter().all(|(method, _)| method == "GET"), "{seen:?}");
    let paths: BTreeSet<&str> = seen.iter().map(|(_, path)| path.as_str()).collect();
    assert!(
        paths.contains("/api/v1/users")
            && paths.contains("/api/v1/groups")
            && paths.contains("/api/v1/iam/assignees/users")
            && paths.contains(LOGS_PATH)
            && paths.iter().any(|p| p.ends_with("/factors")),
        "{paths:?}"
    );
    assert_eq!(intake.requests(), 1, "one probe");
    assert!(
        intake.items().is_empty(),
        "the probe created assets: {:?}",
        intake.items()
    );
}

// The change feed: can the token read the System Log?

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readable_system_log_is_ok_and_asked_for_one_recent_event() {
    let (okta, intake) = fakes().await;
    let report = run(&good_config(&okta, &intake)).await;
    assert_status(&report, "change_feed", Status::Ok);
    assert_reason(
        &report,
        "change_feed",
        &["System Log readable", "next cycle"],
    );

    let logs: Vec<Request> = okta
        .requests()
        .into_iter()
        .filter(|r| r.path == LOGS_PATH)
        .collect();
    assert_eq!(logs.len(), 1, "one read of the System Log");
    let query = &logs[0];
    assert_eq!(query.query_param("limit").as_deref(), Some("1"));
    // A polling query (a `since`, no `until`), a quarter of an hour back on Okta's clock.
    assert_eq!(query.query_param("until"), None);
    let since: jiff::Timestamp = query
        .query_param("since")
        .expect("since")
        .parse()
        .expect("an ISO 8601 since");
    let back = okta.virtual_now().duration_since(since);
    assert!(
        back >= jiff::SignedDuration::from_mins(14) && back <= jiff::SignedDuration::from_mins(16),
        "since {since} is {back:?} before Okta's now"
    );
}

// A 5xx or a timeout says nothing about permissions: `sync` retries it, so `check` must not
// call it a missing permission or a disabled enrichment.

// The state directory.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_state_dir_can_be_created_and_is_not_left_behind() {
    let (okta, intake) = fakes().await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("var/lib/okta-asset-connector");
    let config = config_with_state(
        &okta.base_url(),
        okta.token(),
        &intake.url(),
        INTAKE_KEY,
        &dir,
    );
    let report = run(&config).await;
    assert_status(&report, "state_dir", Status::Ok);
    assert_reason(
        &report,
        "state_dir",
        &["does not exist yet", "can be created"],
    );
    assert!(
        !root.path().join("var").exists(),
        "check created nothing that stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_dir_under_a_file_fails_state_dir() {
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("state");
    std::fs::write(&file, "not a directory").unwrap();
    let base_url = format!("http://127.0.0.1:{}", closed_port());
    let config = config_with_state(&base_url, "t", &intake.url(), INTAKE_KEY, &file);
    let report = run(&config).await;
    assert_status(&report, "state_dir", Status::Fail);
    assert_reason(&report, "state_dir", &["is not a directory"]);
    assert_fix(&report, "state_dir", &["STATE_DIR"]);
    // Independent of Okta and the intake.
    assert_status(&report, "intake", Status::Ok);
}

/// A directory the connector's user may not write. Run as root, a mode never stops the
/// process: the test then runs the real binary as `nobody` (with `setpriv`), or, without
/// `setpriv`, skips its assertion and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_dir_not_writable_fails_with_owner_and_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = root.path().join("state");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let owner = std::fs::metadata(&dir).unwrap().uid();
    let base_url = format!("http://127.0.0.1:{}", closed_port());
    let writable_anyway = std::fs::write(dir.join("probe"), "x").is_ok();

    let check = if !writable_anyway {
        let config = config_with_state(&base_url, "t", "http://127.0.0.1:9/x", INTAKE_KEY, &dir);
        let report = run(&config).await;
        let check = get(&report, "state_dir").clone();
        serde_json::to_value(&check).unwrap()
    } else if Path::new("/usr/bin/setpriv").exists() {
        let output = Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_okta-asset-connector"))
            .args([
                "check",
                "--json",
                "--allow-insecure-http",
                "--base-url",
                &base_url,
            ])
            .arg("--state-dir")
            .arg(&dir)
            .env_clear()
            .env("OKTA_API_TOKEN", "t")
            .output()
            .expect("setpriv runs");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(output.status.code(), Some(5), "{stdout}");
        named_check(&parse_report(&stdout), "state_dir").clone()
    } else {
        eprintln!(
            "state_dir_not_writable_fails_with_owner_and_mode: running as root, which may write a mode 0555 directory, and /usr/bin/setpriv is missing: assertion skipped"
        );
        return;
    };
    assert_eq!(check["status"], "fail", "{check:#}");
    let reason = check["reason"].as_str().unwrap();
    for needle in [
        "cannot write in the state directory",
        "permission denied",
        &format!("owned by uid {owner} with mode 0555"),
        "this process runs as uid",
    ] {
        assert!(reason.contains(needle), "{needle:?} not in {reason:?}");
    }
    let fix = check["fix"].as_str().unwrap();
    assert!(
        fix.contains("chmod 700") && fix.contains("STATE_DIR"),
        "{fix}"
    );
}
