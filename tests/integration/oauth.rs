//! OAuth 2.0 service-app authentication against the fake tenant's org authorization
//! server: client credentials with RS256 and ES256 keys, DPoP with the nonce challenge, token
//! expiry and renewal mid-sync, a revoked token, a missing scope, and a full sync identical to
//! the SSWS one. No key material or token in any error, `Debug` or log output.

use crate::support;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use okta_asset_connector::check::{self, Status};
use okta_asset_connector::clock::{ScaledClock, SystemClock};
use okta_asset_connector::config::{ConfigError, Needs, RawConfig};
use okta_fake::FakeIntake;
use okta_fake::{FakeOkta, FakeOptions, OAuthClient, Org, OrgSpec};
use support::binary;
use support::connector::{config, latest_events, INTAKE_KEY};
use support::keys::{self, Key};

const CLIENT_ID: &str = "0oa1serviceapp0000ab";

/// The committed test-only RSA key, PKCS#8 PEM.
fn rsa_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(keys::rsa_pkcs8)
}

/// A P-256 key generated for this run, PKCS#8 PEM.
fn ec_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(keys::ec_generated)
}

/// `auth = "oauth"` with `key`, and no API token at all.
fn use_oauth(raw: &mut RawConfig, key: &Key) {
    raw.apikey = None;
    raw.auth = Some("oauth".into());
    raw.client_id = Some(CLIENT_ID.into());
    raw.private_key = Some(key.text.clone().into());
}

async fn fake(users: usize, groups: usize, options: FakeOptions, client: OAuthClient) -> FakeOkta {
    let okta = FakeOkta::start(Org::generate(&OrgSpec::small(users, groups, 17)), options).await;
    okta.oauth().register(client);
    okta
}

/// The lines of a PEM's body: none may ever appear in output.
fn pem_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_string)
        .collect()
}

fn assert_no_secret(text: &str, okta: &FakeOkta, key: &Key) {
    for line in pem_lines(&key.text) {
        assert!(!text.contains(&line), "key material in: {text}");
    }
    for token in okta.oauth().issued_tokens() {
        assert!(!text.contains(&token), "access token in: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_with_rs256_and_es256_keys() {
    for (alg, key) in [("RS256", rsa_key()), ("ES256", ec_key())] {
        let mut client = OAuthClient::new(CLIENT_ID, key.public.clone());
        client.key_id = Some("kid-1".into());
        let okta = fake(300, 10, FakeOptions::default(), client).await;
        let intake = FakeIntake::start(INTAKE_KEY).await;
        let config = config(&okta, Some(&intake), |raw| {
            use_oauth(raw, key);
            raw.key_id = Some("kid-1".into());
        });
        let debug = format!("{config:?}");
        assert!(
            debug.contains(&format!("PrivateKey({alg}, [redacted])")),
            "{debug}"
        );
        assert_no_secret(&debug, &okta, key);

        let (summary, result) =
            okta_asset_connector::app::sync_once(&config, None, true, Arc::new(SystemClock)).await;
        result.unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(intake.items_by_user().len(), 300, "{alg}");
        let stats = okta.oauth().stats();
        assert_eq!(
            stats.token_requests, 1,
            "{alg}: one token for the whole sync: {stats:?}"
        );
        assert_eq!(stats.tokens_issued, 1, "{alg}");
        assert_eq!(stats.api_401, 0, "{alg}");
        assert_eq!(
            stats.api_bearer,
            okta.counters().total,
            "{alg}: every API call had the token"
        );
        assert_no_secret(&format!("{summary:?}"), &okta, key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_errors_are_clear_and_secret_free() {
    // The app holds the EC key; the connector signs with the RSA one.
    let okta = fake(
        20,
        2,
        FakeOptions::default(),
        OAuthClient::new(CLIENT_ID, ec_key().public.clone()),
    )
    .await;
    let wrong_key = config(&okta, None, |raw| use_oauth(raw, rsa_key()));
    let (_, result) =
        okta_asset_connector::app::sync_once(&wrong_key, Some("-"), true, Arc::new(SystemClock))
            .await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("invalid_client") && error.contains("Public key / Private key"),
        "{error}"
    );
    assert_no_secret(&error, &okta, rsa_key());
    assert_eq!(okta.counters().total, 0, "no API call without a token");

    // An unknown client, seen by `check`.
    let unknown = config(&okta, None, |raw| {
        use_oauth(raw, ec_key());
        raw.client_id = Some("0oa-unknown".into());
    });
    let report = check::run(&unknown, Arc::new(SystemClock)).await;
    let token = report.checks.iter().find(|c| c.name == "token").unwrap();
    assert_eq!(token.status, Status::Fail, "{token:?}");
    assert!(token.reason.contains("invalid_client"), "{token:?}");
    assert_no_secret(&format!("{report:?}"), &okta, ec_key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_with_the_nonce_challenge() {
    let mut client = OAuthClient::new(CLIENT_ID, ec_key().public.clone());
    client.require_dpop = true;
    let okta = fake(400, 12, FakeOptions::default(), client).await;
    let intake = FakeIntake::start(INTAKE_KEY).await;

    // dpop = auto: the first request has no proof; Okta asks for one, then for a nonce.
    let config_auto = config(&okta, Some(&intake), |raw| use_oauth(raw, ec_key()));
    let (_, result) =
        okta_asset_connector::app::sync_once(&config_auto, None, true, Arc::new(SystemClock)).await;
    result.unwrap();
    assert_eq!(intake.items_by_user().len(), 400);
    let stats = okta.oauth().stats();
    assert_eq!(
        stats.refused,
        ["invalid_dpop_proof", "use_dpop_nonce"],
        "{stats:?}"
    );
    assert_eq!(stats.nonce_challenges, 1);
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(stats.api_bearer, 0);
    assert_eq!(
        stats.api_dpop,
        okta.counters().total,
        "every API call carried a DPoP proof"
    );
    assert_eq!(stats.api_401, 0);

    // dpop = true: straight to the nonce challenge (a new client; the nonce is per process
    // state of the client, so a second client meets the challenge again).
    let config_on = config(&okta, None, |raw| {
        use_oauth(raw, ec_key());
        raw.dpop = Some(okta_asset_connector::config::DpopSetting::Bool(true));
    });
    let report = check::run(&config_on, Arc::new(SystemClock)).await;
    let token = report.checks.iter().find(|c| c.name == "token").unwrap();
    assert_eq!(token.status, Status::Ok, "{token:?}");
    assert!(token.reason.contains("DPoP-bound"), "{token:?}");
    assert_eq!(
        okta.oauth().stats().refused.len(),
        3,
        "only one more challenge (use_dpop_nonce)"
    );

    // dpop = false while the app requires it: a clear error.
    let config_off = config(&okta, None, |raw| {
        use_oauth(raw, ec_key());
        raw.dpop = Some(okta_asset_connector::config::DpopSetting::Text(
            "false".into(),
        ));
    });
    let (_, result) =
        okta_asset_connector::app::sync_once(&config_off, Some("-"), true, Arc::new(SystemClock))
            .await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("invalid_dpop_proof") && error.contains("dpop"),
        "{error}"
    );
    assert_no_secret(&error, &okta, ec_key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_is_renewed_before_it_happens_mid_sync() {
    // Virtual time runs 50× faster on both sides: a 40 s token lasts 800 real milliseconds, and
    // is renewed at half its life, leaving 400 ms for a request delayed by a busy machine (at
    // 200× the 100 ms left were not enough on a loaded 2-core machine). The rate limit paces the
    // 1,000 factor calls to at least 100 virtual seconds whatever the machine's speed, so the
    // sync outlives several tokens.
    let scale = 50.0;
    let options = FakeOptions {
        time_scale: scale,
        rate_limit: Some(1200),
        ..FakeOptions::default()
    };
    let okta = fake(
        1000,
        30,
        options,
        OAuthClient::new(CLIENT_ID, rsa_key().public.clone()),
    )
    .await;
    okta.oauth().set_token_lifetime(40);
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let config = config(&okta, Some(&intake), |raw| use_oauth(raw, rsa_key()));
    let clock = Arc::new(ScaledClock::new(okta.virtual_now(), scale));
    let started = okta.virtual_now();
    let (_, result) = okta_asset_connector::app::sync_once(&config, None, true, clock).await;
    result.unwrap();
    let lasted = okta.virtual_now().duration_since(started).as_secs();
    assert_eq!(intake.items_by_user().len(), 1000);
    let stats = okta.oauth().stats();
    assert!(
        lasted > 40,
        "the sync outlived one token ({lasted} virtual s)"
    );
    assert!(
        stats.tokens_issued >= 2,
        "renewed mid-sync: {stats:?} over {lasted} s"
    );
    // Renewed ahead of expiry (at half the lifetime for such short tokens): never refused.
    assert_eq!(stats.api_401, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_renewed_once_and_a_second_401_fails_clearly() {
    let okta = fake(
        800,
        20,
        FakeOptions::default(),
        OAuthClient::new(CLIENT_ID, ec_key().public.clone()),
    )
    .await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    okta.oauth().revoke_after_api_requests(30);
    let config = config(&okta, Some(&intake), |raw| use_oauth(raw, ec_key()));
    let (_, result) =
        okta_asset_connector::app::sync_once(&config, None, true, Arc::new(SystemClock)).await;
    result.unwrap();
    assert_eq!(intake.items_by_user().len(), 800);
    let stats = okta.oauth().stats();
    assert_eq!(
        stats.tokens_issued, 2,
        "one renewal after the revocation: {stats:?}"
    );
    assert!(stats.api_401 >= 1, "{stats:?}");

    // Every token refused: renewed once, then a clear error.
    okta.oauth().reject_all_tokens(true);
    let before = okta.oauth().stats().tokens_issued;
    let (_, result) =
        okta_asset_connector::app::sync_once(&config, Some("-"), true, Arc::new(SystemClock)).await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("HTTP 401") && error.contains("freshly issued OAuth access token"),
        "{error}"
    );
    assert!(
        okta.oauth().stats().tokens_issued >= before + 2,
        "renewed once before failing"
    );
    assert_no_secret(&error, &okta, ec_key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_scope_is_reported_by_check_and_sync() {
    let mut client = OAuthClient::new(CLIENT_ID, rsa_key().public.clone());
    client.scopes = vec!["okta.users.read".into(), "okta.roles.read".into()];
    let okta = fake(100, 5, FakeOptions::default(), client).await;
    let no_groups = config(&okta, None, |raw| use_oauth(raw, rsa_key()));

    let report = check::run(&no_groups, Arc::new(SystemClock)).await;
    let by_name = |name: &str| {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .clone()
    };
    let token = by_name("token");
    assert_eq!(token.status, Status::Warn, "{token:?}");
    assert!(
        token.reason.contains("missing: okta.groups.read"),
        "{token:?}"
    );
    assert!(
        token.fix.contains("grant okta.groups.read")
            && token.fix.contains("Read-Only Administrator"),
        "{token:?}"
    );
    let groups = by_name("groups");
    assert_eq!(groups.status, Status::Fail, "{groups:?}");
    assert!(groups.fix.contains("grant okta.groups.read"), "{groups:?}");
    assert_eq!(by_name("roles").status, Status::Ok);
    assert!(!report.success);
    assert!(okta
        .oauth()
        .stats()
        .refused
        .contains(&"invalid_scope".to_string()));

    let (_, result) =
        okta_asset_connector::app::sync_once(&no_groups, Some("-"), true, Arc::new(SystemClock))
            .await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("E0000006") && error.contains("okta.groups.read"),
        "{error}"
    );
    assert!(okta.oauth().stats().api_403_scope >= 1);

    // Only the roles scope missing: the sync completes, admin detection is off.
    let mut client = OAuthClient::new(CLIENT_ID, rsa_key().public.clone());
    client.scopes = vec!["okta.users.read".into(), "okta.groups.read".into()];
    let okta = fake(100, 5, FakeOptions::default(), client).await;
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let no_roles = config(&okta, Some(&intake), |raw| use_oauth(raw, rsa_key()));
    let (summary, result) =
        okta_asset_connector::app::sync_once(&no_roles, None, true, Arc::new(SystemClock)).await;
    result.unwrap();
    let summary = summary.unwrap();
    assert_eq!(summary.admin_unknown, summary.users, "{summary:?}");
    assert_eq!(intake.items_by_user().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_with_oauth_and_dpop_delivers_what_the_ssws_sync_delivers() {
    let mut client = OAuthClient::new(CLIENT_ID, ec_key().public.clone());
    client.require_dpop = true;
    let okta = fake(3000, 60, FakeOptions::default(), client).await;

    let ssws_intake = FakeIntake::start(INTAKE_KEY).await;
    let ssws = config(&okta, Some(&ssws_intake), |_| {});
    let (_, result) =
        okta_asset_connector::app::sync_once(&ssws, None, true, Arc::new(SystemClock)).await;
    result.unwrap();

    let oauth_intake = FakeIntake::start(INTAKE_KEY).await;
    let oauth = config(&okta, Some(&oauth_intake), |raw| use_oauth(raw, ec_key()));
    let (summary, result) =
        okta_asset_connector::app::sync_once(&oauth, None, true, Arc::new(SystemClock)).await;
    result.unwrap();
    let summary = summary.unwrap();

    let events = oauth_intake.items_by_user();
    okta.with_org(|org| {
        let expected: BTreeSet<&str> = org.users().iter().map(|u| u.id.as_str()).collect();
        let got: BTreeSet<&str> = events.keys().map(String::as_str).collect();
        assert_eq!(got, expected, "every user, DEPROVISIONED included");
        assert_eq!(summary.users, org.users().len() as u64);
    });
    for (id, items) in &events {
        assert_eq!(items.len(), 1, "user {id} delivered {} times", items.len());
        if let Err(errors) = support::ocsf::validate_event(&items[0]) {
            panic!("event of {id} does not validate: {errors:#?}");
        }
    }
    // The same events as the SSWS sync (tests/full_sync.rs checks those against the org).
    assert_eq!(latest_events(&oauth_intake), latest_events(&ssws_intake));
    assert!(summary.admins > 0);
    assert_eq!(summary.admin_unknown, 0);
    assert_eq!(summary.mfa_unknown, 0);
    assert_eq!(okta.oauth().stats().api_401, 0);
}

fn service_app(
    credential: &okta_asset_connector::okta::OktaCredential,
) -> &okta_asset_connector::okta::auth::OAuthSettings {
    match credential {
        okta_asset_connector::okta::OktaCredential::ServiceApp(app) => app,
        other => panic!("expected the service app, got {other:?}"),
    }
}

#[test]
fn configuration_errors_are_clear_and_never_quote_the_key() {
    let base = || RawConfig {
        base_url: Some("acme.okta.com".into()),
        auth: Some("oauth".into()),
        client_id: Some(CLIENT_ID.into()),
        private_key: Some(ec_key().text.clone().into()),
        ..RawConfig::default()
    };
    // Valid, and no API token needed.
    let config = base().validate(Needs::Okta).unwrap();
    let oauth = service_app(&config.okta_credential);
    assert_eq!(
        oauth.scopes,
        ["okta.users.read", "okta.groups.read", "okta.roles.read"]
    );
    for line in pem_lines(&ec_key().text) {
        assert!(!format!("{config:?}").contains(&line));
    }
    let missing = |raw: RawConfig| match raw.validate(Needs::Okta) {
        Err(ConfigError::Missing { key, .. }) => key,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        missing(RawConfig {
            client_id: None,
            ..base()
        }),
        "client_id"
    );
    assert_eq!(
        missing(RawConfig {
            private_key: None,
            ..base()
        }),
        "private_key"
    );
    assert_eq!(
        missing(RawConfig {
            auth: None,
            ..base()
        }),
        "apikey"
    );

    let invalid = |raw: RawConfig| raw.validate(Needs::Okta).unwrap_err().to_string();
    let dir = tempfile::tempdir().unwrap();
    let error = invalid(RawConfig {
        private_key: None,
        private_key_file: Some(dir.path().join("nope.pem")),
        ..base()
    });
    assert!(
        error.contains("private_key_file") && error.contains("cannot read"),
        "{error}"
    );
    // An unsupported key type (P-384), a public key, garbage: no key material echoed.
    let p384 = "-----BEGIN PRIVATE KEY-----\nMIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBcanarycanarycanary\n-----END PRIVATE KEY-----\n";
    for (text, needle) in [
        (p384, "unsupported or invalid"),
        (
            "-----BEGIN PUBLIC KEY-----\nMFkwcanarycanary\n-----END PUBLIC KEY-----",
            "public key",
        ),
        ("canarycanary", "not a PEM private key"),
    ] {
        let error = invalid(RawConfig {
            private_key: Some(text.to_string().into()),
            ..base()
        });
        assert!(
            error.contains(needle) && error.contains("private_key"),
            "{error}"
        );
        assert!(
            !error.contains("canary") && !error.contains("MIG2"),
            "{error}"
        );
    }
    let error = invalid(RawConfig {
        dpop: Some(okta_asset_connector::config::DpopSetting::Text(
            "sometimes".into(),
        )),
        ..base()
    });
    assert!(error.contains("dpop"), "{error}");
    let error = invalid(RawConfig {
        auth: Some("saml".into()),
        ..base()
    });
    assert!(error.contains("auth") && error.contains("oauth"), "{error}");

    // Files and environment.
    let file = RawConfig::from_text("auth = \"oauth\"\nclient_id = \"x\"\ndpop = true\nscopes = \"okta.users.read,okta.groups.read\"\n").unwrap();
    assert_eq!(
        file.dpop,
        Some(okta_asset_connector::config::DpopSetting::Bool(true))
    );
    let env = RawConfig::from_env(|name| match name {
        "OKTA_AUTH" => Some("oauth".into()),
        "OKTA_CLIENT_ID" => Some("y".into()),
        "OKTA_SCOPES" => Some("okta.users.read".into()),
        "OKTA_KEY_ID" => Some("k".into()),
        _ => None,
    })
    .unwrap();
    let merged = file.merge(env);
    assert_eq!(merged.client_id.as_deref(), Some("y"));
    let config = RawConfig {
        base_url: Some("acme.okta.com".into()),
        private_key: Some(rsa_key().text.clone().into()),
        ..merged
    }
    .validate(Needs::Okta)
    .unwrap();
    let oauth = service_app(&config.okta_credential);
    assert_eq!(oauth.scopes, ["okta.users.read"]);
    assert_eq!(oauth.key_id.as_deref(), Some("k"));
    assert_eq!(oauth.key.alg(), "RS256");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_never_prints_the_key_or_the_token() {
    let mut client = OAuthClient::new(CLIENT_ID, rsa_key().public.clone());
    client.require_dpop = true;
    let okta = fake(150, 6, FakeOptions::default(), client).await;
    okta.oauth().revoke_after_api_requests(5);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.json");
    let mut command = binary::command();
    command
        .args([
            "sync",
            "--allow-insecure-http",
            "--auth",
            "oauth",
            "--client-id",
            CLIENT_ID,
            "--base-url",
        ])
        .arg(okta.base_url())
        .arg("--output")
        .arg(&out)
        .env("OKTA_PRIVATE_KEY", &rsa_key().text)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "trace");
    let output = binary::output(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        okta.oauth().stats().tokens_issued >= 2,
        "renewed after the revocation"
    );
    let events = std::fs::read_to_string(&out).unwrap();
    assert!(events.contains("\"version\":1"));
    assert_no_secret(&stderr, &okta, rsa_key());
    assert_no_secret(&events, &okta, rsa_key());
    assert_no_secret(&String::from_utf8_lossy(&output.stdout), &okta, rsa_key());
    // --help shows the new flags, and no env value.
    let mut help = binary::command();
    help.env("OKTA_PRIVATE_KEY_FILE", "/secret/path/canary.pem")
        .arg("--help");
    let help = binary::output(help).await;
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--client-id")
            && help.contains("--private-key-file")
            && help.contains("--dpop"),
        "{help}"
    );
    assert!(!help.contains("canary"), "{help}");
}
