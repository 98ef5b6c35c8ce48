//! The documentation agrees with the code: every configuration key, environment variable and
//! command-line flag is documented in `docs/configuration.md`; every `okta-asset-connector ...`
//! command line quoted in the README and `docs/` uses only subcommands and flags that exist; the
//! Dockerfile and the Kubernetes examples use the binary's real commands, flags, environment
//! variables and state path; relative links point at files that exist.
//!
//! Flags come from clap (`Cli::command()`), environment variables from the code itself (the
//! names `RawConfig::from_env` and `RawConfig::from_symphony` ask for, and the key table),
//! keys from `config::KEYS`: nothing is copied by hand into this test; the few variables read
//! outside those functions are `config::OTHER_ENV_VARS`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use okta_asset_connector::cli::Cli;
use okta_asset_connector::config::{self, RawConfig};
use okta_asset_connector::intake::DEFAULT_BATCH_SIZE;
use serde::Deserialize;
use serde_norway::Value as Yaml;

const BIN: &str = "okta-asset-connector";

/// Variables read outside `RawConfig::from_env` / `from_symphony`: the config file and its
/// discovery, `default_state_dir`, logging.
const OTHER_ENV: &[&str] = config::OTHER_ENV_VARS;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// README.md and every Markdown file under docs/, with their paths relative to the root.
fn markdown_files() -> Vec<(PathBuf, String)> {
    let mut files = vec![(PathBuf::from("README.md"), read("README.md"))];
    let mut dirs = vec![root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("docs/ exists") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path.strip_prefix(root()).unwrap().to_path_buf(), text));
            }
        }
    }
    files.sort();
    files
}

/// Every environment variable the connector reads.
fn env_vars() -> BTreeSet<String> {
    let asked = RefCell::new(BTreeSet::new());
    let record = |name: &str| {
        asked.borrow_mut().insert(name.to_string());
        None
    };
    RawConfig::from_env(record).expect("no variable set, no error");
    let empty = tempfile::tempdir().unwrap();
    RawConfig::from_symphony(empty.path(), record).expect("nothing to read");
    let mut vars = asked.into_inner();
    // clap reads no variable: every key's variables are in the key table.
    for spec in config::KEY_SPECS {
        vars.extend(spec.env.iter().map(|v| v.to_string()));
    }
    vars.extend(OTHER_ENV.iter().map(|v| v.to_string()));
    vars
}

/// Long flags accepted by each subcommand (global flags included), and by the bare binary.
fn flags() -> BTreeMap<String, BTreeSet<String>> {
    let mut cli = Cli::command();
    cli.build();
    let longs = |command: &clap::Command| -> BTreeSet<String> {
        let mut set: BTreeSet<String> = command
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect();
        set.insert("help".into());
        set
    };
    let globals: BTreeSet<String> = cli
        .get_arguments()
        .filter(|a| a.is_global_set())
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let mut map = BTreeMap::new();
    let mut top = longs(&cli);
    top.insert("version".into());
    map.insert(String::new(), top);
    for sub in cli.get_subcommands() {
        let mut set = longs(sub);
        set.extend(globals.iter().cloned());
        map.insert(sub.get_name().to_string(), set);
    }
    map
}

fn all_flags() -> BTreeSet<String> {
    flags().into_values().flatten().collect()
}

#[test]
fn every_config_key_env_var_and_flag_is_in_configuration_md() {
    let doc = read("docs/configuration.md");
    let mut missing = Vec::new();
    for key in config::KEYS {
        if !doc.contains(&format!("`{key}`")) {
            missing.push(format!("key `{key}`"));
        }
    }
    for var in env_vars() {
        if !doc.contains(&format!("`{var}`")) {
            missing.push(format!("environment variable `{var}`"));
        }
    }
    for flag in all_flags() {
        if flag == "help" || flag == "version" {
            continue;
        }
        if !doc.contains(&format!("--{flag}")) {
            missing.push(format!("flag --{flag}"));
        }
    }
    for file in [
        "module_configuration",
        "connector_configuration",
        "connector_configuration_uuid",
    ] {
        if !doc.contains(file) {
            missing.push(format!("Sekoia runtime file {file}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/configuration.md lacks: {missing:#?}"
    );
}

#[test]
fn configuration_md_states_the_rust_defaults() {
    let doc = read("docs/configuration.md");
    for default in [
        config::DEFAULT_FREQUENCY.to_string(),
        config::DEFAULT_FULL_SYNC_INTERVAL.to_string(),
        config::DEFAULT_RATE_LIMIT_SHARE.to_string(),
        config::DEFAULT_MAX_CONCURRENCY.to_string(),
        DEFAULT_BATCH_SIZE.to_string(),
        config::DEFAULT_SEKOIA_BASE_URL.to_string(),
        config::SYMPHONY_DIR.to_string(),
        config::SYMPHONY_STATE_DIR.to_string(),
    ] {
        assert!(
            doc.contains(&format!("`{default}`")),
            "docs/configuration.md does not state the default `{default}`"
        );
    }
}

/// The `okta-asset-connector ...` command lines of a text: each is the rest of the line after
/// the binary's name, cut at the end of an inline code span, a table cell or a comment. Lines
/// ending with `\` are joined first.
fn command_lines(text: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ").replace("\\|", "|");
    let mut lines = Vec::new();
    for line in joined.lines() {
        let mut rest = line;
        while let Some(at) = rest.find(BIN) {
            let before = &rest[..at];
            let after = &rest[at + BIN.len()..];
            rest = after;
            // A path or a crate name (`/okta-asset-connector`, `okta-asset-connector/0.1.0`,
            // `okta-asset-connector-state`) is not a command.
            if before.ends_with(|c: char| c.is_alphanumeric() || c == '-' || c == '_')
                || !after.starts_with(' ')
            {
                continue;
            }
            let end = after.find(['`', '|', '#', ')', ';']).unwrap_or(after.len());
            lines.push(after[..end].trim().to_string());
        }
    }
    lines
}

/// Checks one command line (after the binary's name); returns what is wrong with it.
fn check_command_line(line: &str, flags: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut subcommand: Option<&str> = None;
    let tokens: Vec<&str> = line
        .split_whitespace()
        .map(|t| t.trim_matches(|c| matches!(c, '[' | ']' | '"' | '\'' | ',' | '.')))
        .collect();
    for token in tokens {
        if let Some(flag) = token.strip_prefix("--") {
            let name = flag.split('=').next().unwrap_or_default();
            let known = &flags[subcommand.unwrap_or("")];
            if !name.is_empty() && !known.contains(name) {
                problems.push(format!(
                    "--{name} is not a flag of `{BIN} {}`",
                    subcommand.unwrap_or("")
                ));
            }
        } else if subcommand.is_none() && flags.contains_key(token) && !token.is_empty() {
            subcommand = Some(flags.get_key_value(token).unwrap().0.as_str());
        }
    }
    problems
}

#[test]
fn quoted_command_lines_use_only_real_flags() {
    let flags = flags();
    let mut problems = Vec::new();
    let mut seen = 0;
    for (path, text) in markdown_files() {
        for line in command_lines(&text) {
            seen += 1;
            for problem in check_command_line(&line, &flags) {
                problems.push(format!("{}: `{BIN} {line}`: {problem}", path.display()));
            }
        }
    }
    assert!(
        seen >= 10,
        "only {seen} command lines found: the scanner is broken"
    );
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_scanner_catches_an_invented_flag() {
    let flags = flags();
    let text = "run `okta-asset-connector sync --full --output x` or\n\
                okta-asset-connector --config f check --json --bogus\n\
                okta-asset-connector run --json";
    let lines = command_lines(text);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(check_command_line(&lines[0], &flags).is_empty());
    assert_eq!(check_command_line(&lines[1], &flags).len(), 1);
    assert_eq!(
        check_command_line(&lines[2], &flags).len(),
        1,
        "--json is check's, not run's"
    );
}

#[test]
fn relative_links_point_at_existing_files() {
    let mut broken = Vec::new();
    for (path, text) in markdown_files() {
        let dir = path.parent().unwrap_or(Path::new(""));
        for (at, _) in text.match_indices("](") {
            let target = &text[at + 2..];
            let Some(end) = target.find(')') else {
                continue;
            };
            let target = target[..end].split('#').next().unwrap_or_default();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            if !root().join(dir).join(target).exists() {
                broken.push(format!("{}: {target}", path.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

/// `ENV NAME=value` lines, `ENTRYPOINT`, `CMD` and `USER` of the runtime stage.
struct Dockerfile {
    env: BTreeMap<String, String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    user: String,
}

fn dockerfile() -> Dockerfile {
    let text = read("Dockerfile");
    // The runtime stage is the last one.
    let runtime = text
        .rsplit_once("\nFROM ")
        .expect("a multi-stage Dockerfile")
        .1;
    assert!(text.matches("\nFROM ").count() + usize::from(text.starts_with("FROM ")) >= 2);
    let mut file = Dockerfile {
        env: BTreeMap::new(),
        entrypoint: Vec::new(),
        cmd: Vec::new(),
        user: String::new(),
    };
    let exec_form = |rest: &str| -> Vec<String> {
        serde_json::from_str(rest.trim()).expect("ENTRYPOINT and CMD in exec form")
    };
    for line in runtime.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                let (name, value) = pair.split_once('=').expect("ENV NAME=value");
                file.env
                    .insert(name.to_string(), value.trim_matches('"').to_string());
            }
        } else if let Some(rest) = line.strip_prefix("ENTRYPOINT ") {
            file.entrypoint = exec_form(rest);
        } else if let Some(rest) = line.strip_prefix("CMD ") {
            file.cmd = exec_form(rest);
        } else if let Some(rest) = line.strip_prefix("USER ") {
            file.user = rest.trim().to_string();
        }
    }
    file
}

#[test]
fn dockerfile_runs_the_binary_as_non_root_with_a_fixed_state_dir() {
    let file = dockerfile();
    let vars = env_vars();
    assert_eq!(file.entrypoint.len(), 1, "ENTRYPOINT is the binary alone");
    assert!(
        file.entrypoint[0].ends_with(&format!("/{BIN}")),
        "{:?}",
        file.entrypoint
    );
    assert_eq!(file.cmd, ["run"], "default command");
    let user = file.user.split(':').next().unwrap_or_default();
    assert!(
        !user.is_empty() && user != "root" && user != "0",
        "USER {}",
        file.user
    );
    for name in file.env.keys() {
        assert!(
            vars.contains(name),
            "Dockerfile sets {name}, which the connector does not read"
        );
    }
    // STATE_DIRECTORY is the fallback of state_dir: the Sekoia runtime's /symphony_data and
    // STATE_DIR still win over it (STATE_DIR set in the image would hide /symphony_data).
    assert!(
        !file.env.contains_key("STATE_DIR"),
        "set STATE_DIRECTORY, not STATE_DIR"
    );
    assert!(file.env.contains_key("STATE_DIRECTORY"));
}

/// Every container of every object in the YAML files of docs/deploy/.
fn deploy_containers() -> Vec<(String, Yaml)> {
    fn walk(value: &Yaml, out: &mut Vec<Yaml>) {
        match value {
            Yaml::Mapping(map) => {
                for (key, child) in map {
                    if key.as_str() == Some("containers") {
                        if let Some(list) = child.as_sequence() {
                            out.extend(list.iter().cloned());
                        }
                    } else {
                        walk(child, out);
                    }
                }
            }
            Yaml::Sequence(list) => list.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut containers = Vec::new();
    for entry in std::fs::read_dir(root().join("docs/deploy")).expect("docs/deploy/") {
        let path = entry.unwrap().path();
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_norway::Deserializer::from_str(&text) {
            let value = Yaml::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", path.display()));
            let mut found = Vec::new();
            walk(&value, &mut found);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            containers.extend(found.into_iter().map(|c| (name.clone(), c)));
        }
    }
    containers
}

fn strings(value: &Yaml) -> Vec<String> {
    value
        .as_sequence()
        .map(|list| {
            list.iter()
                .map(|v| v.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubernetes_examples_use_real_commands_env_vars_and_the_image_state_dir() {
    let flags = flags();
    let vars = env_vars();
    let state_dir = dockerfile().env["STATE_DIRECTORY"].clone();
    let containers = deploy_containers();
    assert!(containers.len() >= 2, "a Deployment and a CronJob");
    let mut subcommands = BTreeSet::new();
    for (file, container) in &containers {
        assert!(
            container.get("command").is_none(),
            "{file}: keep the image's ENTRYPOINT"
        );
        let args = strings(&container["args"]);
        let subcommand = args.first().cloned().unwrap_or_else(|| "run".into());
        assert!(
            flags.contains_key(&subcommand),
            "{file}: unknown subcommand {subcommand}"
        );
        let problems = check_command_line(&args.join(" "), &flags);
        assert!(problems.is_empty(), "{file}: {problems:?}");
        subcommands.insert(subcommand);
        for env in container["env"].as_sequence().into_iter().flatten() {
            let name = env["name"].as_str().unwrap();
            assert!(
                vars.contains(name),
                "{file}: env {name} is not read by the connector"
            );
        }
        let mounts: Vec<String> = container["volumeMounts"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|m| m["mountPath"].as_str().unwrap().to_string())
            .collect();
        assert!(
            mounts.contains(&state_dir),
            "{file}: the state volume must be mounted at {state_dir} (the image's state dir)"
        );
        let security = &container["securityContext"];
        assert_eq!(security["runAsNonRoot"].as_bool(), Some(true), "{file}");
        assert_eq!(
            security["readOnlyRootFilesystem"].as_bool(),
            Some(true),
            "{file}"
        );
    }
    assert!(
        subcommands.contains("run") && subcommands.contains("sync"),
        "{subcommands:?}"
    );

    // The example Secret holds the connector's secret variables and nothing else.
    let secret: Yaml = serde_norway::from_str(&read("docs/deploy/secret.example.yaml")).unwrap();
    let keys: Vec<String> = secret["stringData"]
        .as_mapping()
        .expect("stringData")
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert!(!keys.is_empty());
    for key in keys {
        assert!(
            vars.contains(&key),
            "secret key {key} is not a variable the connector reads"
        );
    }
}
