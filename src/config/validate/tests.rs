use super::*;
use crate::config::{Source, SYMPHONY_STATE_DIR};
use secrecy::ExposeSecret;

fn raw() -> RawConfig {
    RawConfig {
        base_url: Some("acme.okta.com".into()),
        apikey: Some("token".to_string().into()),
        ..RawConfig::default()
    }
}

#[test]
fn intake_url_is_derived_from_connector_uuid() {
    let config = RawConfig {
        connector_uuid: Some("0e2b7bc2-0a67-4f0d-9b4a-3f4b3c9d2e11".into()),
        sekoia_api_key: Some("key".to_string().into()),
        ..raw()
    }
    .validate(Needs::OktaAndIntake)
    .unwrap();
    let intake = config.intake.unwrap();
    assert_eq!(
        intake.url.as_str(),
        "https://api.sekoia.io/api/v2/asset-management/asset-connector/0e2b7bc2-0a67-4f0d-9b4a-3f4b3c9d2e11"
    );
    assert_eq!(intake.api_key.expose_secret(), "key");
}

#[test]
fn output_mode_needs_no_intake() {
    let config = raw().validate(Needs::Okta).unwrap();
    assert!(config.intake.is_none());
    let error = raw().validate(Needs::OktaAndIntake).unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::Missing {
                key: "intake_url",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn the_credential_is_the_token_without_placeholder() {
    let config = raw().validate(Needs::Okta).unwrap();
    match config.okta_credential {
        OktaCredential::ApiToken(token) => assert_eq!(token.expose_secret(), "token"),
        OktaCredential::ServiceApp(_) => panic!("ssws is the default"),
    }
    let error = RawConfig {
        apikey: Some("\"00abc\"".to_string().into()),
        ..raw()
    }
    .validate(Needs::Okta)
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("invalid apikey") && error.contains("quotes"),
        "{error}"
    );
    assert!(!error.contains("00abc"), "{error}");
}

#[test]
fn ranges_are_checked() {
    for (raw, key) in [
        (
            RawConfig {
                rate_limit_share: Some(0.0),
                ..raw()
            },
            "rate_limit_share",
        ),
        (
            RawConfig {
                rate_limit_share: Some(1.5),
                ..raw()
            },
            "rate_limit_share",
        ),
        (
            RawConfig {
                rate_limit_share: Some(f64::NAN),
                ..raw()
            },
            "rate_limit_share",
        ),
        (
            RawConfig {
                frequency: Some(0),
                ..raw()
            },
            "frequency",
        ),
        (
            RawConfig {
                full_sync_interval: Some(0),
                ..raw()
            },
            "full_sync_interval",
        ),
        (
            RawConfig {
                batch_size: Some(0),
                ..raw()
            },
            "batch_size",
        ),
        (
            RawConfig {
                max_concurrency: Some(500),
                ..raw()
            },
            "max_concurrency",
        ),
        (
            RawConfig {
                format: Some("xml".into()),
                ..raw()
            },
            "format",
        ),
        (
            RawConfig {
                log_format: Some("xml".into()),
                ..raw()
            },
            "log_format",
        ),
        (
            RawConfig {
                metrics_addr: Some("somewhere".into()),
                ..raw()
            },
            "metrics_addr",
        ),
    ] {
        let error = raw.validate(Needs::Okta).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Invalid { key: k, .. } if *k == key),
            "{error}"
        );
    }
}

#[test]
fn new_keys_have_their_defaults_and_forms() {
    let config = raw().validate(Needs::Okta).unwrap();
    assert_eq!(config.mfa_refresh_interval, Duration::from_secs(604_800));
    assert_eq!(config.metrics_addr, None);
    for (text, expected) in [
        ("9090", Some("0.0.0.0:9090")),
        (":9090", Some("0.0.0.0:9090")),
        ("127.0.0.1:9100", Some("127.0.0.1:9100")),
        ("[::]:9100", Some("[::]:9100")),
        ("off", None),
    ] {
        let config = RawConfig {
            metrics_addr: Some(text.into()),
            ..raw()
        }
        .validate(Needs::Okta)
        .unwrap();
        assert_eq!(
            config.metrics_addr.map(|a| a.to_string()).as_deref(),
            expected,
            "{text}"
        );
    }
    let config = RawConfig {
        mfa_refresh_interval: Some(0),
        ..raw()
    }
    .validate(Needs::Okta)
    .unwrap();
    assert_eq!(config.mfa_refresh_interval, Duration::ZERO);
}

#[test]
fn symphony_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("module_configuration"),
        r#"{"base_url":"acme.okta.com","apikey":"t"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("connector_configuration"),
        r#"{"sekoia_base_url":"https://app.sekoia.io","sekoia_api_key":"k","frequency":60,"batch_size":50}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("connector_configuration_uuid"),
        "0e2b7bc2-0a67\n",
    )
    .unwrap();
    let raw = RawConfig::from_symphony(dir.path(), |_| None)
        .unwrap()
        .unwrap();
    let config = raw.validate(Needs::OktaAndIntake).unwrap();
    assert_eq!(config.frequency, Duration::from_secs(60));
    assert_eq!(config.batch_size, 50);
    assert_eq!(config.state_dir, PathBuf::from(SYMPHONY_STATE_DIR));
    assert_eq!(
        config.intake.unwrap().url.as_str(),
        "https://app.sekoia.io/api/v2/asset-management/asset-connector/0e2b7bc2-0a67"
    );
}

#[cfg(unix)]
#[test]
fn a_private_key_file_others_may_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    std::fs::write(&path, "not a key").unwrap();
    let oauth = || RawConfig {
        base_url: Some("acme.okta.com".into()),
        auth: Some("oauth".into()),
        client_id: Some("0oa1".into()),
        private_key_file: Some(path.clone()),
        ..RawConfig::default()
    };
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let error = oauth().validate(Needs::Okta).unwrap_err().to_string();
        assert!(
            error.contains(&format!("mode {mode:04o}"))
                && error.contains(&format!("chmod 600 {}", path.display())),
            "{mode:o}: {error}"
        );
    }
    // Owner-only: the file is read (and refused only because it is not a key).
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let error = oauth().validate(Needs::Okta).unwrap_err().to_string();
    assert!(
        !error.contains("chmod") && error.contains("private_key_file"),
        "{error}"
    );
    let _ = Source::RuntimeDefault;
}
