//! Every encoding of a private key an operator may hold (PKCS#8, PKCS#1 and JWK for RSA, SEC1 and
//! PKCS#8 for P-256) signs client assertions the fake authorization server accepts, on a full
//! sync. The keys are the committed test-only fixtures (`tests/fixtures/keys`).

use std::sync::Arc;

use okta_asset_connector::app;
use okta_asset_connector::clock::SystemClock;
use okta_fake::{FakeIntake, FakeOkta, FakeOptions, OAuthClient, Org, OrgSpec};

use crate::support::connector::{config, INTAKE_KEY};
use crate::support::keys::{self, Key};

const CLIENT_ID: &str = "0oa1keyformsapp000ab";

async fn sync_with(form: &str, key: &Key) {
    let users = 20;
    let okta = FakeOkta::start(
        Org::generate(&OrgSpec::small(users, 3, 5)),
        FakeOptions::default(),
    )
    .await;
    okta.oauth()
        .register(OAuthClient::new(CLIENT_ID, key.public.clone()));
    let intake = FakeIntake::start(INTAKE_KEY).await;
    let config = config(&okta, Some(&intake), |raw| {
        raw.apikey = None;
        raw.auth = Some("oauth".into());
        raw.client_id = Some(CLIENT_ID.into());
        raw.private_key = Some(key.text.clone().into());
    });
    let (_, result) = app::sync_once(&config, None, true, Arc::new(SystemClock)).await;
    result.unwrap_or_else(|e| panic!("{form}: {e}"));
    assert_eq!(intake.items_by_user().len(), users, "{form}");
    let stats = okta.oauth().stats();
    assert_eq!(stats.tokens_issued, 1, "{form}: {stats:?}");
    assert!(stats.refused.is_empty(), "{form}: {stats:?}");
    assert_eq!(stats.api_bearer, okta.counters().total, "{form}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_encoding_signs_assertions_okta_accepts() {
    for (form, key) in [
        ("RSA PKCS#8 PEM", keys::rsa_pkcs8()),
        ("RSA PKCS#1 PEM", keys::rsa_pkcs1()),
        ("RSA private JWK", keys::rsa_jwk()),
        ("P-256 SEC1 PEM", keys::ec_sec1()),
        ("P-256 PKCS#8 PEM", keys::ec_generated()),
    ] {
        sync_with(form, &key).await;
    }
}
