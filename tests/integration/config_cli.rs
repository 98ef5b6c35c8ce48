//! Configuration and command line, end to end: the key table agrees with the docs and the
//! command line; every source's bad value is an error naming the key and the source and never
//! a secret; the real binary reads the environment once (clap reads none), honours
//! `--log-format`, `NO_COLOR`, config file discovery, the Sekoia runtime settings, token
//! hygiene, and prints the effective configuration and shell completions.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use okta_asset_connector::app::Exit;
use okta_asset_connector::config::keys::{Flag, KeySpec};
use okta_asset_connector::config::{self, FlagValues, LoadRequest, Needs, KEY_SPECS};
use serde_json::Value;

use crate::support::binary;

/// Stands for a secret pasted where it does not belong: must never appear in any output.
const CANARY: &str = "c4n4ry-s3cr3t-9f8e7d";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with exactly `env` (nothing inherited) and `args`.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    binary::command()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

/// An environment holding exactly `pairs`.
fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let env: std::collections::BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| env.get(name).cloned()
}

/// A valid Okta and intake configuration in the environment, without anything else.
const VALID: [(&str, &str); 4] = [
    ("OKTA_BASE_URL", "acme.okta.com"),
    ("OKTA_API_TOKEN", "00tokenvalue"),
    ("CONNECTOR_UUID", "6f3b0a6e-2a8e-4f5b-9d3c-0e7a1c2b4d5f"),
    ("INTAKE_API_KEY", "intakekeyvalue"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env: Vec<_> = VALID.to_vec();
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend_from_slice(extra);
    env
}

// ---------------------------------------------------------------------- help

#[test]
fn every_exit_code_is_in_the_top_level_help() {
    let help = run(&["--help"], &[]);
    assert!(help.status.success());
    let help = stdout(&help);
    let codes = help
        .split_once("Exit codes:")
        .map(|(_, codes)| codes)
        .unwrap_or_else(|| panic!("no exit-code table in:\n{help}"));
    for exit in Exit::ALL {
        let line = format!("  {:<3}  {}", exit as u8, exit.meaning());
        assert!(codes.contains(&line), "{line:?} in:\n{help}");
    }
}

// ---------------------------------------------------------------------- the key table

#[test]
fn every_key_has_its_env_var_its_flag_unless_secret_and_its_docs() {
    let doc = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let help = run(&["config", "--help"], &[]);
    let help = stdout(&help);
    for spec in KEY_SPECS {
        assert!(
            !spec.env.is_empty(),
            "{} has an environment variable",
            spec.name
        );
        assert_eq!(
            spec.secret,
            spec.flag == Flag::None,
            "{}: a flag unless secret",
            spec.name
        );
        assert!(
            doc.contains(&format!("| `{}`", spec.name)),
            "{} in the table of docs/configuration.md",
            spec.name
        );
        // The README's table folds the OAuth keys into the `auth` row.
        assert!(
            readme.contains(&format!("| `{}`", spec.name))
                || spec.heading == config::keys::heading::OAUTH,
            "{} in the README's configuration table",
            spec.name
        );
        for var in spec.env {
            assert!(doc.contains(&format!("`{var}`")), "{var} documented");
        }
        if let Some(long) = spec.flag.long() {
            assert!(doc.contains(&format!("`--{long}`")), "--{long} documented");
            // The help names the flag's environment variable (clap no longer reads it).
            let line = help
                .lines()
                .find(|line| line.trim_start().starts_with(&format!("--{long}")))
                .unwrap_or_else(|| panic!("--{long} in `config --help`: {help}"));
            assert!(line.contains(&format!("[env: {}", spec.env[0])), "{line}");
        }
    }
}

// ---------------------------------------------------------------------- sources and errors

/// Keys whose kind refuses free text when read (numbers, booleans).
fn typed_keys() -> Vec<&'static KeySpec> {
    KEY_SPECS
        .iter()
        .filter(|spec| {
            let text = serde_json::json!({ spec.name: CANARY }).to_string();
            config::RawConfig::from_text(&text).is_err()
        })
        .collect()
}

#[test]
fn every_source_names_the_key_and_itself_and_never_the_value() {
    let keys = typed_keys();
    assert!(
        keys.len() >= 10,
        "{:?}",
        keys.iter().map(|k| k.name).collect::<Vec<_>>()
    );
    let dir = tempfile::tempdir().unwrap();
    for spec in keys {
        // Environment.
        let env = env_of(&[(spec.env[0], CANARY)]);
        let source = format!("{} (env {})", spec.name, spec.env[0]);
        assert_first_error(&LoadRequest::default(), &env, &source, CANARY);
        // Flag.
        if let Some(long) = spec.flag.long() {
            if let Flag::Value { .. } = spec.flag {
                let mut flags = FlagValues::default();
                flags.push(spec, CANARY);
                let request = LoadRequest {
                    flags,
                    ..LoadRequest::default()
                };
                let source = format!("{} (--{long})", spec.name);
                assert_first_error(&request, &|_| None, &source, CANARY);
            }
        }
        // Config file, TOML and JSON.
        for (name, text) in [
            ("c.toml", format!("{} = \"{CANARY}\"\n", spec.name)),
            ("c.json", format!("{{\"{}\": \"{CANARY}\"}}", spec.name)),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let request = LoadRequest {
                config_file: Some(path.clone()),
                ..LoadRequest::default()
            };
            let source = format!("{} (config file {})", spec.name, path.display());
            assert_first_error(&request, &|_| None, &source, CANARY);
        }
    }
    // Sekoia runtime settings, as a file and as a variable.
    let runtime = dir.path().join("symphony");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::write(
        runtime.join("connector_configuration"),
        format!("{{\"batch_size\": \"{CANARY}\"}}"),
    )
    .unwrap();
    let request = LoadRequest {
        symphony_dir: Some(runtime.clone()),
        ..LoadRequest::default()
    };
    let source = "batch_size (Sekoia runtime file connector_configuration)";
    assert_first_error(&request, &|_| None, source, CANARY);
    let env = env_of(&[("MODULE_CONFIGURATION", "{\"apikey\": 1234567890123}")]);
    let source = "apikey (env MODULE_CONFIGURATION)";
    assert_first_error(&LoadRequest::default(), &env, source, "1234567890123");
}

/// Asserts that the first configuration error is about `key (source)` and does not quote
/// `value`.
fn assert_first_error(
    request: &LoadRequest,
    env: &dyn Fn(&str) -> Option<String>,
    key_and_source: &str,
    value: &str,
) {
    let loaded = config::load(request, env);
    let message = loaded.validate(Needs::Okta).unwrap_err().to_string();
    let head = message
        .strip_prefix("invalid ")
        .and_then(|rest| rest.split_once("): "))
        .map(|(head, _)| format!("{head})"))
        .unwrap_or_else(|| panic!("not an invalid-value error: {message}"));
    assert_eq!(head, key_and_source);
    assert!(!message.contains(value), "{message}");
}

#[test]
fn choices_refused_at_validation_never_echo_the_value_either() {
    for var in [
        "INTAKE_FORMAT",
        "LOG_FORMAT",
        "OKTA_AUTH",
        "CONNECTOR_UUID",
        "METRICS_ADDR",
    ] {
        let loaded = config::load(&LoadRequest::default(), &env_of(&with(&[(var, CANARY)])));
        let error = loaded
            .validate(Needs::OktaAndIntake)
            .unwrap_err()
            .to_string();
        assert!(error.contains(&format!("(env {var}): ")), "{var}: {error}");
        assert!(!error.contains(CANARY), "{var}: {error}");
    }
}

// ---------------------------------------------------------------------- the three bugs

#[test]
fn a_bad_number_in_the_environment_gives_checks_json_report() {
    let output = run(&["check", "--json"], &[("FREQUENCY", "abc")]);
    let report = json(&output);
    assert_eq!(report["success"], false);
    let error = report["error"].as_str().unwrap();
    assert!(
        error.starts_with("invalid frequency (env FREQUENCY): "),
        "{error}"
    );
    assert_eq!(report["checks"][0]["name"], "config");
    assert_eq!(
        output.status.code(),
        Some(2),
        "the configuration's exit code"
    );
}

#[test]
fn an_empty_variable_counts_as_unset() {
    let output = run(
        &["check", "--json"],
        &[("FREQUENCY", ""), ("BATCH_SIZE", ""), ("ENRICH_MFA", "")],
    );
    let report = json(&output);
    let error = report["error"].as_str().unwrap();
    assert!(error.starts_with("missing base_url"), "{error}");
    // And with the rest valid, the configuration is valid.
    let output = run(
        &["config", "--json"],
        &with(&[("FREQUENCY", ""), ("MAX_CONCURRENCY", " ")]),
    );
    let report = json(&output);
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["keys"]["frequency"]["source"], Value::Null);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn log_format_in_any_case_gives_json_logs() {
    let output = run(&["sync", "--output", "-"], &[("LOG_FORMAT", "JSON")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr(&output);
    let line = stderr.lines().next().expect("an error line");
    let log: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(log["level"], "ERROR");
    assert!(
        log["message"]
            .as_str()
            .unwrap()
            .contains("missing base_url"),
        "{log}"
    );
}

// ---------------------------------------------------------------------- log format, colour

#[test]
fn the_log_format_flag_wins_even_when_another_key_is_invalid() {
    for env in [
        vec![("ENRICH_MFA", "maybe")],
        vec![("ENRICH_MFA", "maybe"), ("LOG_FORMAT", "json")],
    ] {
        let output = run(&["sync", "--output", "-", "--log-format", "text"], &env);
        assert_eq!(output.status.code(), Some(2));
        let stderr = stderr(&output);
        assert!(
            !stderr.trim_start().starts_with('{'),
            "text asked: {stderr}"
        );
        assert!(
            stderr.contains("invalid enrich_mfa (env ENRICH_MFA): expected true or false"),
            "{stderr}"
        );
    }
    // Before the command too, and json wins over a text variable.
    let output = run(
        &["--log-format", "json", "sync", "--output", "-"],
        &[("LOG_FORMAT", "text"), ("ENRICH_MFA", "maybe")],
    );
    let line = stderr(&output);
    let log: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert!(log["message"].as_str().unwrap().contains("enrich_mfa"));
}

#[test]
fn quiet_hides_warnings_and_rust_log_wins() {
    let env = with(&[
        ("OKTA_API_TOKEN", "SSWS 00tokenvalue"),
        ("LOG_FORMAT", "text"),
    ]);
    let output = run(&["config"], &env);
    assert!(stderr(&output).contains("WARN"), "{}", stderr(&output));
    let output = run(&["-qq", "config"], &env);
    assert!(!stderr(&output).contains("WARN"), "{}", stderr(&output));
    let mut loud = env.clone();
    loud.push(("RUST_LOG", "warn"));
    let output = run(&["-qq", "config"], &loud);
    assert!(
        stderr(&output).contains("WARN"),
        "RUST_LOG wins: {}",
        stderr(&output)
    );
}

/// Runs the binary with its stderr on a pseudo-terminal; returns what the terminal showed.
#[cfg(unix)]
fn stderr_on_a_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    let (master, slave) = crate::support::terminal::open_pty();
    let mut child = binary::command()
        .envs(env.iter().copied())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2));
    let mut shown = Vec::new();
    let mut master = std::fs::File::from(master);
    // Reading after the child exited: EIO once the buffer is drained.
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = master.read(&mut chunk) {
        shown.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&shown).into_owned()
}

#[cfg(unix)]
#[test]
fn no_color_is_honoured_on_a_terminal() {
    let coloured = stderr_on_a_terminal(&["sync", "--output", "-"], &[]);
    assert!(coloured.contains("missing base_url"), "{coloured}");
    assert!(
        coloured.contains("\u{1b}["),
        "text logs are coloured on a terminal: {coloured:?}"
    );
    let plain = stderr_on_a_terminal(&["sync", "--output", "-"], &[("NO_COLOR", "1")]);
    assert!(plain.contains("missing base_url"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
}

// ---------------------------------------------------------------------- token hygiene

/// Tokens pasted wrongly, and what the error says about each.
const TOKEN_MISTAKES: [(&str, &str); 5] = [
    ("\"c4n4ry-s3cr3t-9f8e7d\"", "is wrapped in quotes"),
    ("'c4n4ry-s3cr3t-9f8e7d'", "is wrapped in quotes"),
    ("c4n4ry-s3cr3t\n-9f8e7d", "spans several lines"),
    ("c4n4ry-s3cr3t -9f8e7d", "contains a space"),
    ("SSWS c4n4ry-s3cr3t 9f8e7d", "contains a space"),
];

#[test]
fn token_mistakes_are_configuration_errors_with_the_fix() {
    for (token, needle) in TOKEN_MISTAKES {
        let output = run(
            &["sync", "--output", "-"],
            &with(&[("OKTA_API_TOKEN", token)]),
        );
        let stderr = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{token:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "invalid apikey (env OKTA_API_TOKEN): the Okta API token {needle}"
            )),
            "{token:?}: {stderr}"
        );
        assert!(
            !stderr.contains("c4n4ry") && !stderr.contains("9f8e7d"),
            "{stderr}"
        );
        // The same mistakes in the intake key.
        let output = run(&["check", "--json"], &with(&[("INTAKE_API_KEY", token)]));
        let report = json(&output);
        let error = report["error"].as_str().unwrap();
        assert!(
            error.contains("invalid sekoia_api_key (env INTAKE_API_KEY)") && error.contains(needle),
            "{error}"
        );
        assert!(!stdout(&output).contains("c4n4ry"));
    }
}

#[test]
fn a_pasted_scheme_prefix_is_removed_with_a_warning() {
    let env = with(&[
        ("OKTA_API_TOKEN", "SSWS c4n4ry-s3cr3t-9f8e7d"),
        ("INTAKE_API_KEY", "Bearer c4n4ry-s3cr3t-9f8e7d"),
        ("LOG_FORMAT", "json"),
    ]);
    let output = run(&["config", "--json"], &env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let warnings: Vec<Value> = stderr(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_eq!(warnings[0]["level"], "WARN");
    assert!(warnings[0]["message"]
        .as_str()
        .unwrap()
        .contains("apikey (env OKTA_API_TOKEN): it started with \"SSWS \""));
    assert!(warnings[1]["message"]
        .as_str()
        .unwrap()
        .contains("\"Bearer \""));
    assert!(!stderr(&output).contains("c4n4ry") && !stdout(&output).contains("c4n4ry"));
}

// ---------------------------------------------------------------------- config, completions

#[test]
fn config_shows_every_key_its_source_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        format!("frequency = 600\nbatch_size = 50\nsekoia_api_key = \"{CANARY}-file\"\n"),
    )
    .unwrap();
    let env = [
        ("OKTA_BASE_URL", "https://acme.okta.com"),
        ("OKTA_API_TOKEN", CANARY),
        ("BATCH_SIZE", "70"),
        ("INTAKE_URL", "https://intake.example/x?token=c4n4ry"),
    ];
    let file_arg = file.display().to_string();
    let output = run(
        &[
            "config",
            "--json",
            "--config",
            &file_arg,
            "--batch-size",
            "80",
            "--no-mfa",
        ],
        &env,
    );
    let report = json(&output);
    let keys = report["keys"].as_object().unwrap();
    assert_eq!(keys.len(), KEY_SPECS.len(), "every key");
    assert_eq!(report["config_file"], file_arg.as_str());
    assert_eq!(report["config_file_from"], "--config");
    let source = |key: &str| keys[key]["source"].as_str().map(str::to_string);
    assert_eq!(source("base_url").as_deref(), Some("env OKTA_BASE_URL"));
    assert_eq!(source("frequency"), Some(format!("config file {file_arg}")));
    assert_eq!(source("batch_size").as_deref(), Some("--batch-size"));
    assert_eq!(keys["batch_size"]["value"], "80");
    assert_eq!(keys["intake_url"]["value"], "https://intake.example/x?…");
    assert_eq!(source("enrich_mfa").as_deref(), Some("--no-mfa"));
    assert_eq!(keys["apikey"]["value"], "set");
    assert_eq!(keys["sekoia_api_key"]["value"], "set");
    assert_eq!(keys["private_key"]["value"], "unset");
    assert_eq!(keys["max_concurrency"]["source"], Value::Null);
    assert_eq!(keys["max_concurrency"]["default"], "8");
    assert!(report["valid"].as_bool().unwrap(), "{report}");
    assert_eq!(output.status.code(), Some(0));
    for text in [stdout(&output), stderr(&output)] {
        assert!(!text.contains("c4n4ry"), "{text}");
    }
    // The text form too.
    let output = run(&["config", "--config", &file_arg], &env);
    let text = stdout(&output);
    assert!(
        text.contains(&format!("config file: {file_arg} (--config)")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("frequency") && l.contains("600") && l.contains("config file")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("apikey")
            && l.contains("set")
            && l.ends_with("env OKTA_API_TOKEN")),
        "{text}"
    );
    assert!(text.contains("valid for sync and run"), "{text}");
    assert!(
        !text.contains("c4n4ry") && !stderr(&output).contains("c4n4ry"),
        "{text}"
    );
    // Invalid: printed with the reason, exit 2; credentials in a URL are not shown.
    let output = run(
        &["config"],
        &[
            ("INTAKE_URL", "https://user:c4n4ry@intake.example/x"),
            ("FREQUENCY", "0"),
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    assert!(
        text.contains("not valid for sync and run: missing base_url"),
        "{text}"
    );
    assert!(
        text.contains("https://[redacted]@intake.example/x"),
        "{text}"
    );
    assert!(!text.contains("c4n4ry"), "{text}");
}

#[test]
fn completions_produce_a_script_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef okta-asset-connector"),
        ("fish", "complete -c okta-asset-connector"),
        ("powershell", "Register-ArgumentCompleter"),
        (
            "elvish",
            "set edit:completion:arg-completer[okta-asset-connector]",
        ),
    ] {
        let output = run(&["completions", shell], &[]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("base-url") && script.contains("completions"),
            "{shell}"
        );
    }
    let output = run(&["completions", "tcsh"], &[]);
    assert_eq!(output.status.code(), Some(2), "clap's usage error");
}

#[test]
fn config_files_are_discovered_user_first_then_given_files_win() {
    let dir = tempfile::tempdir().unwrap();
    let xdg = dir.path().join("xdg");
    let home = dir.path().join("home");
    let xdg_file = xdg.join("okta-asset-connector/config.toml");
    let home_file = home.join(".config/okta-asset-connector/config.toml");
    for (path, frequency) in [(&xdg_file, 11), (&home_file, 22)] {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("frequency = {frequency}\n")).unwrap();
    }
    let given = dir.path().join("given.toml");
    std::fs::write(&given, "frequency = 33\n").unwrap();
    let (xdg_s, home_s, given_s) = (
        xdg.display().to_string(),
        home.display().to_string(),
        given.display().to_string(),
    );
    let frequency_and_file = |args: &[&str], env: &[(&str, &str)]| -> (Value, Value, Value) {
        let report = json(&run(args, env));
        (
            report["keys"]["frequency"]["value"].clone(),
            report["config_file"].clone(),
            report["config_file_from"].clone(),
        )
    };
    let config = ["config", "--json"];
    let (frequency, file, from) =
        frequency_and_file(&config, &[("XDG_CONFIG_HOME", &xdg_s), ("HOME", &home_s)]);
    assert_eq!(
        (frequency, file, from),
        (
            "11".into(),
            xdg_file.display().to_string().into(),
            "discovered".into()
        )
    );
    let (frequency, file, _) = frequency_and_file(&config, &[("HOME", &home_s)]);
    assert_eq!(
        (frequency, file),
        ("22".into(), home_file.display().to_string().into())
    );
    let (frequency, _, from) = frequency_and_file(
        &config,
        &[("HOME", &home_s), ("OKTA_CONNECTOR_CONFIG", &given_s)],
    );
    assert_eq!(
        (frequency, from),
        ("33".into(), "env OKTA_CONNECTOR_CONFIG".into())
    );
    let (frequency, _, from) = frequency_and_file(
        &[
            "config",
            "--json",
            "--config",
            &xdg_file.display().to_string(),
        ],
        &[("OKTA_CONNECTOR_CONFIG", &given_s)],
    );
    assert_eq!((frequency, from), ("11".into(), "--config".into()));
    // Nothing found: says where it looked (the system file comes last).
    let report = json(&run(
        &config,
        &[("HOME", &dir.path().join("nobody").display().to_string())],
    ));
    let searched = report["config_file_searched"].as_array().unwrap();
    if !Path::new("/etc/okta-asset-connector/config.toml").exists() {
        assert_eq!(report["config_file"], Value::Null);
        assert_eq!(
            searched.last().unwrap(),
            "/etc/okta-asset-connector/config.toml"
        );
        assert_eq!(searched.len(), 2);
    }
}

// ---------------------------------------------------------------------- Sekoia runtime

#[test]
fn runtime_settings_come_from_files_then_variables_with_the_sdks_precedence() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let symphony = dir.path().join("symphony");
    std::fs::create_dir(&symphony).unwrap();
    std::fs::write(
        symphony.join("module_configuration"),
        r#"{"base_url": "file.okta.com", "apikey": "00tokenvalue"}"#,
    )
    .unwrap();
    std::fs::write(
        symphony.join("connector_configuration_uuid"),
        "6f3b0a6e-2a8e-4f5b-9d3c-0e7a1c2b4d5f\n",
    )
    .unwrap();
    let connector = base64::engine::general_purpose::STANDARD
        .encode(r#"{"sekoia_api_key": "k3y", "frequency": 60, "batch_size": 10}"#);
    let symphony_arg = symphony.display().to_string();
    let env = [
        ("MODULE_CONFIGURATION", r#"{"base_url": "env.okta.com"}"#),
        ("CONNECTOR_CONFIGURATION", connector.as_str()),
        ("ASSET_CONNECTOR_FREQUENCY", "30"),
        (
            "ASSET_CONNECTOR_PRODUCTION_BASE_URL",
            "https://app.eu2.sekoia.io",
        ),
    ];
    let output = run(&["config", "--json", "--symphony-dir", &symphony_arg], &env);
    let report = json(&output);
    let keys = &report["keys"];
    let pair = |key: &str| (keys[key]["value"].clone(), keys[key]["source"].clone());
    assert_eq!(
        pair("base_url"),
        (
            "file.okta.com".into(),
            "Sekoia runtime file module_configuration".into()
        ),
        "the file wins"
    );
    assert_eq!(
        pair("sekoia_api_key"),
        ("set".into(), "env CONNECTOR_CONFIGURATION".into()),
        "base64 JSON"
    );
    assert_eq!(
        pair("frequency"),
        ("30".into(), "env ASSET_CONNECTOR_FREQUENCY".into())
    );
    assert_eq!(
        pair("batch_size"),
        ("10".into(), "env CONNECTOR_CONFIGURATION".into())
    );
    assert_eq!(
        pair("sekoia_base_url"),
        (
            "https://app.eu2.sekoia.io".into(),
            "env ASSET_CONNECTOR_PRODUCTION_BASE_URL".into()
        )
    );
    assert_eq!(
        pair("state_dir"),
        (
            "/symphony_data/okta-asset-connector".into(),
            "Sekoia runtime default".into()
        )
    );
    assert_eq!(report["runtime_settings_found"], true);
    assert_eq!(
        report["effective"]["intake_url"],
        "https://app.eu2.sekoia.io/api/v2/asset-management/asset-connector/6f3b0a6e-2a8e-4f5b-9d3c-0e7a1c2b4d5f"
    );
    // Without any runtime directory the variables are still read; the connector's own
    // variables win over the runtime's.
    let env = [
        ("CONNECTOR_CONFIGURATION", r#"{"frequency": 60}"#),
        ("FREQUENCY", "90"),
    ];
    let report = json(&run(
        &[
            "config",
            "--json",
            "--symphony-dir",
            dir.path().to_str().unwrap(),
        ],
        &env,
    ));
    assert_eq!(report["keys"]["frequency"]["value"], "90");
    assert_eq!(report["keys"]["frequency"]["source"], "env FREQUENCY");
}

#[test]
fn runtime_file_errors_never_quote_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("module_configuration"),
        r#"{"base_url": "acme.okta.com", "apikey": 1234567890}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("connector_configuration"),
        format!(r#"{{"frequency": "{CANARY}"}}"#),
    )
    .unwrap();
    let dir_arg = dir.path().display().to_string();
    let output = run(&["check", "--json", "--symphony-dir", &dir_arg], &[]);
    let report = json(&output);
    let error = report["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "invalid apikey (Sekoia runtime file module_configuration): expected a string"
        ),
        "{error}"
    );
    for text in [stdout(&output), stderr(&output)] {
        assert!(
            !text.contains("1234567890") && !text.contains(CANARY),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------- private key file

#[cfg(unix)]
#[test]
fn a_private_key_file_readable_by_others_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key: PathBuf = dir.path().join("key.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nc4n4ry\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let key_arg = key.display().to_string();
    let env = [
        ("OKTA_BASE_URL", "acme.okta.com"),
        ("OKTA_AUTH", "oauth"),
        ("OKTA_CLIENT_ID", "0oa1"),
    ];
    let output = run(
        &["sync", "--output", "-", "--private-key-file", &key_arg],
        &env,
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = stderr(&output);
    assert!(
        stderr.contains(&format!(
            "invalid private_key_file (--private-key-file): {key_arg} has mode 0644"
        )) && stderr.contains(&format!("run chmod 600 {key_arg}")),
        "{stderr}"
    );
    assert!(!stderr.contains("c4n4ry"));
}
