use super::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn later_sources_win() {
    let file = RawConfig::from_text("base_url = \"file.okta.com\"\nbatch_size = 10\n").unwrap();
    let env = RawConfig::from_env(|name| (name == "BATCH_SIZE").then(|| "20".to_string())).unwrap();
    let merged = file.merge(env);
    assert_eq!(merged.base_url.as_deref(), Some("file.okta.com"));
    assert_eq!(merged.batch_size, Some(20));
}

#[test]
fn file_errors_do_not_echo_secrets() {
    let error = RawConfig::from_text("apikey = \"s3cr3t\"\nbogus = 1\n").unwrap_err();
    assert!(error.contains("bogus"), "{error}");
    assert!(!error.contains("s3cr3t"), "{error}");
    let json = RawConfig::from_text("{\"apikey\": \"s3cr3t\", \"frequency\": \"x\"}").unwrap_err();
    assert!(!json.contains("s3cr3t"), "{json}");
    // A secret typed into the wrong key is not echoed either.
    let json = RawConfig::from_text("{\"frequency\": \"s3\\\"cr3t\"}").unwrap_err();
    assert!(
        !json.contains("cr3t") && json.contains("invalid frequency"),
        "{json}"
    );
    let toml = RawConfig::from_text("batch_size = \"s3cr3t\"\n").unwrap_err();
    assert!(
        !toml.contains("s3cr3t") && toml.contains("invalid batch_size"),
        "{toml}"
    );
    // A syntax error next to a secret: position, no excerpt.
    let toml = RawConfig::from_text("apikey = \"s3cr3t\"\nfrequency = = 1\n").unwrap_err();
    assert!(
        !toml.contains("s3cr3t") && toml.contains("line 2"),
        "{toml}"
    );
}

#[test]
fn each_source_names_itself_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.toml");
    std::fs::write(&file, "frequency = \"abc\"\n").unwrap();
    let request = LoadRequest {
        config_file: Some(file.clone()),
        ..LoadRequest::default()
    };
    let loaded = load(&request, &|_| None);
    let error = loaded.validate(Needs::Okta).unwrap_err().to_string();
    let expected = format!("invalid frequency (config file {}): ", file.display());
    assert!(error.starts_with(&expected), "{error}");

    let env = env_of(&[("FREQUENCY", "abc")]);
    let error = load(&LoadRequest::default(), &env)
        .validate(Needs::Okta)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid frequency (env FREQUENCY): "),
        "{error}"
    );

    let mut flags = FlagValues::default();
    flags.push(KeySpec::get("frequency").unwrap(), "abc");
    let request = LoadRequest {
        flags,
        ..LoadRequest::default()
    };
    let error = load(&request, &|_| None).validate(Needs::Okta).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid frequency (--frequency): "),
        "{error}"
    );

    std::fs::write(
        dir.path().join("connector_configuration"),
        r#"{"frequency":"abc"}"#,
    )
    .unwrap();
    let request = LoadRequest {
        symphony_dir: Some(dir.path().to_path_buf()),
        ..LoadRequest::default()
    };
    let error = load(&request, &|_| None).validate(Needs::Okta).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid frequency (Sekoia runtime file connector_configuration): "),
        "{error}"
    );
}

#[test]
fn validation_errors_name_the_source_of_the_value() {
    let env = env_of(&[
        ("OKTA_BASE_URL", "acme.okta.com"),
        ("OKTA_API_TOKEN", "t"),
        ("BATCH_SIZE", "0"),
    ]);
    let error = load(&LoadRequest::default(), &env)
        .validate(Needs::Okta)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid batch_size (env BATCH_SIZE): 0 is out of range; use a number of events from 1 to 10000"
    );
}

#[test]
fn blank_environment_values_are_unset() {
    let env = env_of(&[
        ("FREQUENCY", ""),
        ("BATCH_SIZE", "  "),
        ("INTAKE_API_KEY", ""),
        ("SEKOIA_API_KEY", "k"),
    ]);
    let raw = RawConfig::from_env(env).unwrap();
    assert_eq!(raw.frequency, None);
    assert_eq!(raw.batch_size, None);
    assert!(
        raw.sekoia_api_key.is_some(),
        "the alias is used when the first is blank"
    );
}

#[test]
fn a_later_source_replaces_an_invalid_value_but_not_a_file_error() {
    let mut flags = FlagValues::default();
    flags.push(KeySpec::get("frequency").unwrap(), "60");
    flags.push(KeySpec::get("log_format").unwrap(), "text");
    let env = env_of(&[
        ("FREQUENCY", "abc"),
        ("ENRICH_MFA", "maybe"),
        ("LOG_FORMAT", "JSON"),
    ]);
    let loaded = load(
        &LoadRequest {
            flags,
            ..LoadRequest::default()
        },
        &env,
    );
    assert_eq!(loaded.raw().frequency, Some(60));
    assert_eq!(loaded.errors().len(), 1, "{:?}", loaded.errors());
    assert_eq!(loaded.errors()[0].key(), Some("enrich_mfa"));
    // The flag wins for the log format, although another key is invalid.
    assert_eq!(loaded.log_format(), Some(LogFormat::Text));
    let loaded = load(&LoadRequest::default(), &env);
    assert_eq!(loaded.log_format(), Some(LogFormat::Json), "any case");
}

#[test]
fn token_prefixes_become_warnings_naming_the_source() {
    let env = env_of(&[
        ("OKTA_API_TOKEN", "SSWS 00abc"),
        ("INTAKE_API_KEY", "Bearer k"),
    ]);
    let loaded = load(&LoadRequest::default(), &env);
    assert!(loaded.errors().is_empty());
    assert_eq!(loaded.warnings().len(), 2, "{:?}", loaded.warnings());
    assert!(
        loaded.warnings()[0].starts_with("apikey (env OKTA_API_TOKEN): it started with \"SSWS \"")
    );
}

#[test]
fn discovery_prefers_the_users_file_then_the_systems() {
    let env = env_of(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/home/u")]);
    assert_eq!(
        discovery_candidates(&env),
        [
            PathBuf::from("/xdg/okta-asset-connector/config.toml"),
            PathBuf::from(SYSTEM_CONFIG_FILE)
        ]
    );
    let env = env_of(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/home/u")]);
    assert_eq!(
        discovery_candidates(&env)[0],
        PathBuf::from("/home/u/.config/okta-asset-connector/config.toml")
    );
    let env = env_of(&[]);
    assert_eq!(
        discovery_candidates(&env),
        [PathBuf::from(SYSTEM_CONFIG_FILE)]
    );

    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("user.toml");
    let system = dir.path().join("system.toml");
    let none = env_of(&[]);
    assert_eq!(
        choose_config_file(None, &none, vec![user.clone(), system.clone()]),
        ConfigFile::None {
            searched: vec![user.clone(), system.clone()]
        }
    );
    std::fs::write(&system, "").unwrap();
    assert_eq!(
        choose_config_file(None, &none, vec![user.clone(), system.clone()]),
        ConfigFile::Discovered(system.clone())
    );
    std::fs::write(&user, "").unwrap();
    assert_eq!(
        choose_config_file(None, &none, vec![user.clone(), system.clone()]),
        ConfigFile::Discovered(user.clone())
    );
    let given = env_of(&[(CONFIG_FILE_ENV, "/given.toml")]);
    assert_eq!(
        choose_config_file(None, &given, vec![user.clone()]),
        ConfigFile::Given {
            path: PathBuf::from("/given.toml"),
            by: Source::Env(CONFIG_FILE_ENV)
        }
    );
    assert_eq!(
        choose_config_file(Some(&system), &given, vec![user]),
        ConfigFile::Given {
            path: system,
            by: Source::Flag("config")
        }
    );
}

#[test]
fn a_missing_runtime_directory_given_by_flag_is_an_error() {
    let request = LoadRequest {
        symphony_dir: Some(PathBuf::from("/nonexistent/symphony")),
        ..LoadRequest::default()
    };
    let error = load(&request, &|_| None)
        .validate(Needs::Okta)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("--symphony-dir") && error.contains("not a directory"),
        "{error}"
    );
}
