//! Wiring the real connector to the fakes: a validated configuration for a fake tenant and a
//! fake intake, and the arithmetic of the bulk minimum (BRIEF §11).

use std::collections::BTreeMap;

use okta_asset_connector::config::{Config, Needs, RawConfig};
use serde_json::Value;

use super::fake_intake::FakeIntake;
use super::fake_okta::{FakeOkta, Org};

/// The intake key the fakes expect.
pub const INTAKE_KEY: &str = "intake-test-key";

/// A configuration for `okta` (and `intake` when given), plain http allowed on loopback.
pub fn config(
    okta: &FakeOkta,
    intake: Option<&FakeIntake>,
    tweak: impl FnOnce(&mut RawConfig),
) -> Config {
    let mut raw = RawConfig {
        base_url: Some(okta.base_url()),
        apikey: Some(okta.token().to_string().into()),
        allow_insecure_http: Some(true),
        intake_url: intake.map(|i| i.url()),
        sekoia_api_key: intake.map(|_| INTAKE_KEY.to_string().into()),
        state_dir: Some(fresh_state_dir()),
        ..RawConfig::default()
    };
    tweak(&mut raw);
    let needs = if intake.is_some() {
        Needs::OktaAndIntake
    } else {
        Needs::Okta
    };
    raw.validate(needs).expect("valid test configuration")
}

/// A new, empty state directory (kept after the test: a few KiB in the temp dir).
pub fn fresh_state_dir() -> std::path::PathBuf {
    tempfile::Builder::new()
        .prefix("okta-connector-test-state")
        .tempdir()
        .expect("temp dir")
        .keep()
}

/// Okta requests a full sync cannot do without (BRIEF §11): user pages, group pages, member
/// pages of every group, assignee pages, one roles call per assignee and per role-holding
/// group, and (with MFA) one factors call per user.
pub fn bulk_minimum(org: &Org, mfa: bool, roles: bool) -> u64 {
    let pages = |n: usize, size: usize| n.div_ceil(size).max(1) as u64;
    let users = org.users().len();
    let mut minimum = pages(users, 200) + pages(org.groups().len(), 200);
    minimum += org
        .groups()
        .iter()
        .map(|g| pages(g.member_count(), 1000))
        .sum::<u64>();
    if roles {
        let admins = org.admin_user_ids().len();
        let role_groups = org
            .groups()
            .iter()
            .filter(|g| !g.roles.is_empty() && g.member_count() > 0)
            .count();
        minimum += pages(admins, 100) + admins as u64 + role_groups as u64;
    }
    if mfa {
        minimum += users as u64;
    }
    minimum
}

/// What a connector making one call per user for groups, roles and factors (plus one per
/// group held for its roles) would need for the same org: Sekoia's own Okta connector's
/// strategy, counted, not run.
pub fn per_user_requests(org: &Org, mfa: bool) -> u64 {
    let users = org.users().len() as u64;
    let memberships = org.membership_count() as u64;
    let user_pages = (org.users().len().div_ceil(200)).max(1) as u64;
    // groups + roles (+ factors) per user, and the roles of each of the user's groups.
    user_pages + users * if mfa { 3 } else { 2 } + memberships
}

/// What the intake holds now: the latest event per user, without the fields that only say
/// when it was collected (so a full and an incremental cycle can be compared).
pub fn latest_events(intake: &FakeIntake) -> BTreeMap<String, Value> {
    intake
        .items_by_user()
        .into_iter()
        .filter_map(|(id, mut events)| {
            let mut event = events.pop()?;
            let object = event.as_object_mut()?;
            object.remove("time");
            if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("logged_time");
            }
            Some((id, event))
        })
        .collect()
}
