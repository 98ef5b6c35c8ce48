//! Strings a hostile server chooses cannot steer the terminal or forge log lines: the real
//! binary runs against a server posing as Okta (and as the intake, and as Okta's token
//! endpoint) whose answers carry terminal escape sequences (window title, screen clear,
//! colours, the one-byte C1 CSI), a bidirectional override, CR/LF followed by text shaped like
//! a log line, and a 10 kB error summary. Whatever the connector prints, on stderr (text logs,
//! the sync summary) or on stdout (the `check` report, text and JSON), must hold none of those
//! characters raw, no forged line, and no run of the 10 kB summary longer than its cap.

use crate::support::binary;
use crate::support::keys;

use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Everything hostile at once: OSC window title, screen clear and home, red, C1 CSI, RLO, and
/// CR/LF with the start of a forged text log line and of a forged logfmt line.
const HOSTILE: &str = "bad\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{1b}[H\u{1b}[31mred\u{9b}2J\u{202e}gnp.exe\r\n2026-01-01T00:00:00.000000Z ERROR okta_asset_connector: FORGED\nlevel=ERROR msg=FORGED";
/// A forged-line marker that must never start a line of output.
const FORGED_STARTS: [&str; 2] = ["2026-01-01T00:00:00.000000Z", "level=ERROR"];

fn long_summary() -> String {
    format!("{HOSTILE} {}", "A".repeat(10_000))
}

fn okta_error(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        json!({
            "errorCode": format!("E0000006{HOSTILE}"),
            "errorSummary": long_summary(),
            "errorId": "oae1",
        })
        .to_string(),
        "application/json",
    )
}

fn json_body(value: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(value.to_string(), "application/json")
}

/// Asserts that `text` (what the binary printed on `stream`) is inert.
fn assert_inert(stream: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for (c, name) in [
        ('\u{1b}', "ESC"),
        ('\u{7}', "BEL"),
        ('\r', "CR"),
        ('\u{9b}', "C1 CSI"),
        ('\u{202e}', "RIGHT-TO-LEFT OVERRIDE"),
    ] {
        assert!(!text.contains(c), "{stream}: raw {name} printed:\n{text}");
    }
    for line in text.lines() {
        for forged in FORGED_STARTS {
            assert!(
                !line.trim_start().starts_with(forged),
                "{stream}: forged log line printed:\n{line}"
            );
        }
    }
    assert!(
        !text.contains(&"A".repeat(600)),
        "{stream}: the 10 kB summary was printed whole"
    );
}

/// A hostile Okta: groups with a hostile id, role assignees refused with a hostile error, one
/// user with a hostile status; anything else an empty list.
async fn hostile_okta() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/groups"))
        .respond_with(json_body(json!([
            {"id": "00gSAFE1", "type": "OKTA_GROUP", "profile": {"name": "fine"}},
            {"id": format!("00g{HOSTILE}"), "type": "OKTA_GROUP", "profile": {"name": HOSTILE}},
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/groups/00gSAFE1/users"))
        .respond_with(json_body(json!([{"id": "00u1"}])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/iam/assignees/users"))
        .respond_with(okta_error(403))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(json_body(json!([{
            "id": "00u1",
            "status": HOSTILE,
            "lastUpdated": "2026-01-02T03:04:05.000Z",
            "profile": {"login": "a@example.com", "firstName": HOSTILE},
        }])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/"))
        .respond_with(json_body(json!([])))
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

fn connector(server: &MockServer, args: &[&str]) -> std::process::Command {
    let mut command = binary::command();
    command
        .args(args)
        .args([
            "--base-url",
            &server.uri(),
            "--allow-insecure-http",
            "--no-mfa",
        ])
        .env("OKTA_API_TOKEN", "hostile-text-test-token")
        .env("LOG_FORMAT", "text");
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ids_statuses_and_summaries_reach_no_terminal_raw() {
    let server = hostile_okta().await;
    let output = binary::output(connector(&server, &["sync", "--output", "-"])).await;
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(stderr.contains("sync finished"), "{stderr}");
    // What the hostile strings became: visible escapes, in the warnings and the summary.
    assert!(stderr.contains("\\x1b]0;PWNED\\x07"), "{stderr}");
    assert!(
        stderr.contains("cannot list admin role assignees"),
        "{stderr}"
    );
    assert_inert("stderr of sync", &output.stderr);
    // stdout holds the events: JSON, which escapes control characters itself, values intact.
    let events: Value = serde_json::from_slice(&output.stdout).expect("one envelope");
    assert_eq!(events["items"][0]["enrichments"][0]["value"], HOSTILE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_error_that_stops_the_sync_is_printed_escaped_and_capped() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users"))
        .respond_with(okta_error(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/iam/assignees/users"))
        .respond_with(json_body(json!({"value": []})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_body(json!([])))
        .with_priority(10)
        .mount(&server)
        .await;
    let output = binary::output(connector(&server, &["sync", "--output", "-"])).await;
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("Okta answered HTTP 401"), "{stderr}");
    assert!(stderr.contains('…'), "the summary is cut: {stderr}");
    assert_inert("stderr of a failed sync", &output.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_report_prints_only_sanitised_text() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v1/"))
        .respond_with(okta_error(403))
        .mount(&server)
        .await;
    for json in [false, true] {
        let mut args = vec!["check"];
        if json {
            args.push("--json");
        }
        let output = binary::output(connector(&server, &args)).await;
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(stdout.contains("PWNED"), "json={json}: {stdout}");
        assert_inert(&format!("check (json={json}) stdout"), &output.stdout);
        assert_inert(&format!("check (json={json}) stderr"), &output.stderr);
        if json {
            // The JSON report carries the escapes as text, not JSON-escaped control characters.
            let report: Value = serde_json::from_str(&stdout).unwrap();
            let reasons = report["checks"].to_string();
            assert!(!reasons.contains("\\u001b"), "{reasons}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_token_endpoint_error_is_printed_escaped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/v1/token"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            json!({"error": format!("invalid_client{HOSTILE}"), "error_description": long_summary()})
                .to_string(),
            "application/json",
        ))
        .mount(&server)
        .await;
    let mut command = connector(&server, &["sync", "--output", "-"]);
    command
        .args(["--auth", "oauth", "--client-id", "0oa1hostile0000000ab"])
        .env("OKTA_PRIVATE_KEY", keys::rsa_pkcs8().text);
    let output = binary::output(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("refused the service app's token request"),
        "{stderr}"
    );
    assert_inert("stderr of an OAuth failure", &output.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_intake_message_is_printed_escaped() {
    let server = hostile_okta().await;
    Mock::given(method("POST"))
        .and(path("/intake"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            json!({"message": long_summary()}).to_string(),
            "application/json",
        ))
        .mount(&server)
        .await;
    let state = tempfile::tempdir().unwrap();
    let mut command = connector(&server, &["sync"]);
    command
        .args(["--intake-url", &format!("{}/intake", server.uri())])
        .arg("--state-dir")
        .arg(state.path())
        .env("INTAKE_API_KEY", "hostile-text-test-key");
    let output = binary::output(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("intake rejected the batch"), "{stderr}");
    assert_inert("stderr of an intake refusal", &output.stderr);
}
