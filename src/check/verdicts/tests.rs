//! Every verdict from its typed inputs: status, reason and fix.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::okta::auth::Grant;
use crate::okta::TokenError;

const HOST: &str = "acme.okta.com";

fn api(status: u16, code: Option<&str>) -> ApiError {
    ApiError {
        status,
        code: code.map(str::to_string),
        summary: code.map(|_| "Okta says so".to_string()),
        request_id: Some("req-42".into()),
        url: "https://acme.okta.com/api/v1/x".into(),
        oauth: false,
    }
}

/// The verdict of a read with an API token.
fn read_ssws(permission: &Permission, outcome: ReadOutcome) -> Check {
    read(permission, &outcome, HOST, None)
}

#[track_caller]
fn assert_check(check: &Check, name: CheckName, status: Status, reason: &[&str], fix: &[&str]) {
    assert_eq!((check.name, check.status), (name, status), "{check:#?}");
    for needle in reason {
        assert!(
            check.reason.contains(needle),
            "reason lacks {needle:?}: {check:#?}"
        );
    }
    for needle in fix {
        assert!(
            check.fix.contains(needle),
            "fix lacks {needle:?}: {check:#?}"
        );
    }
    assert!(
        !check.reason.contains('\n') && !check.fix.contains('\n'),
        "one line each"
    );
}

/// No words of a permission problem or of a lost enrichment.
#[track_caller]
fn assert_not_called_a_permission_problem(check: &Check) {
    let text = format!("{} {}", check.reason, check.fix).to_lowercase();
    for word in [
        "may not",
        "permission",
        "disabled",
        "grant",
        "falls back",
        "administrator",
    ] {
        assert!(
            !text.contains(word),
            "{word:?} in a transient verdict: {check:#?}"
        );
    }
}

// ---------------------------------------------------------------- config and skips

#[test]
fn config_verdicts() {
    assert_check(&config_ok(), CheckName::Config, Status::Ok, &["valid"], &[]);
    let invalid = config_invalid("missing base_url".into());
    assert_check(
        &invalid,
        CheckName::Config,
        Status::Fail,
        &["missing base_url"],
        &["docs/configuration.md"],
    );
    let late = out_of_time(CheckName::Groups, Duration::from_millis(1500));
    assert_check(
        &late,
        CheckName::Groups,
        Status::Skipped,
        &["1.5 s time budget"],
        &[],
    );
}

// ---------------------------------------------------------------- transport

#[test]
fn transport_failures_are_classified_from_their_words() {
    let kind = |text: &str| TransportFailure::from_detail(text).kind;
    assert_eq!(
        kind("dns error: failed to lookup address"),
        TransportKind::Dns
    );
    assert_eq!(
        kind("invalid peer certificate: UnknownIssuer"),
        TransportKind::Tls
    );
    assert_eq!(kind("operation timed out"), TransportKind::TimedOut);
    assert_eq!(
        kind("tcp connect error: Connection refused (os error 111)"),
        TransportKind::Refused
    );
    assert_eq!(kind("connection reset by peer"), TransportKind::Other);
    assert_eq!(
        kind("dns error: failed to lookup address information: Name or service not known"),
        TransportKind::UnknownHost
    );
    assert_eq!(
        kind(
            "dns error: failed to lookup address information: Temporary failure in name resolution"
        ),
        TransportKind::Dns
    );
}

#[test]
fn a_temporary_resolver_failure_is_transient_not_a_wrong_url() {
    let detail =
        "dns error: failed to lookup address information: Temporary failure in name resolution";
    let (reachable, _) = users(
        HOST,
        &UsersOutcome::Unreachable(TransportFailure::from_detail(detail)),
    );
    assert_check(
        &reachable,
        CheckName::OktaReachable,
        Status::Fail,
        &["could not be resolved right now", "transient"],
        &["again", "resolver"],
    );
    assert!(!reachable.reason.contains("does not resolve"));
}

// ---------------------------------------------------------------- users call

#[test]
fn users_listed_means_reachable_and_token_ok() {
    let (reachable, token) = users(HOST, &UsersOutcome::Listed);
    assert_check(
        &reachable,
        CheckName::OktaReachable,
        Status::Ok,
        &["acme.okta.com answers as an Okta org"],
        &[],
    );
    assert_check(
        &token,
        CheckName::Token,
        Status::Ok,
        &["users are readable"],
        &[],
    );
}

#[test]
fn a_host_that_is_not_okta_fails_reachable_and_skips_the_token() {
    let (reachable, token) = users(
        HOST,
        &UsersOutcome::NotOkta("HTTP 200 with an HTML page".into()),
    );
    assert_check(
        &reachable,
        CheckName::OktaReachable,
        Status::Fail,
        &["HTTP 200 with an HTML page", "not the Okta API"],
        &["base_url", "https://acme.okta.com"],
    );
    assert_check(
        &token,
        CheckName::Token,
        Status::Skipped,
        &["not reachable"],
        &[],
    );
}

#[test]
fn a_gateway_error_or_rate_limit_without_okta_body_is_transient_not_a_wrong_url() {
    for (status, words) in [
        (503, ["HTTP 503", "unavailable right now", "transient"]),
        (429, ["HTTP 429", "rate-limiting", "transient"]),
    ] {
        let (reachable, token) = users(HOST, &UsersOutcome::Unavailable(status));
        assert_check(
            &reachable,
            CheckName::OktaReachable,
            Status::Fail,
            &words,
            &["again"],
        );
        assert!(!reachable.reason.contains("not the Okta API"));
        assert_eq!(token.status, Status::Skipped);
    }
}

#[test]
fn unreachable_hosts_say_why() {
    let cases = [
        (
            "dns error: failed to lookup address information: Name or service not known",
            "does not resolve (DNS)",
            "DNS",
        ),
        (
            "invalid peer certificate: UnknownIssuer",
            "TLS with acme.okta.com failed",
            "CA certificate",
        ),
        ("operation timed out", "did not answer in time", "firewall"),
        ("Connection refused", "refused the connection", "base_url"),
        (
            "connection reset",
            "cannot reach acme.okta.com: connection reset",
            "base_url",
        ),
    ];
    for (detail, reason, fix) in cases {
        let (reachable, token) = users(
            HOST,
            &UsersOutcome::Unreachable(TransportFailure::from_detail(detail)),
        );
        assert_check(
            &reachable,
            CheckName::OktaReachable,
            Status::Fail,
            &[reason],
            &[fix],
        );
        assert_eq!(token.status, Status::Skipped);
    }
}

#[test]
fn a_token_that_cannot_be_a_header_fails_the_token() {
    let (reachable, token) = users(
        HOST,
        &UsersOutcome::BadTokenHeader("the token holds a line break".into()),
    );
    assert_eq!(reachable.status, Status::Skipped);
    assert_check(
        &token,
        CheckName::Token,
        Status::Fail,
        &["line break"],
        &["without quotes", "OKTA_API_TOKEN"],
    );
}

#[test]
fn token_refusals() {
    let refused = |status, code| users(HOST, &UsersOutcome::Refused(api(status, code)));

    let (reachable, token) = refused(401, Some("E0000011"));
    assert_eq!(reachable.status, Status::Ok, "Okta answered as Okta");
    assert_check(
        &token,
        CheckName::Token,
        Status::Fail,
        &[
            "invalid, expired or revoked",
            "E0000011",
            "request id req-42",
        ],
        &["new API token", "OKTA_API_TOKEN"],
    );

    let (_, token) = refused(403, Some("E0000006"));
    assert_check(
        &token,
        CheckName::Token,
        Status::Fail,
        &["may not read users", "E0000006"],
        &["Read-Only Administrator", "okta.users.read"],
    );

    let (_, token) = refused(429, Some("E0000047"));
    assert_check(
        &token,
        CheckName::Token,
        Status::Fail,
        &["could not check the token", "rate-limited", "E0000047"],
        &["retry in a minute"],
    );

    let (_, token) = refused(500, Some("E0000009"));
    assert_check(
        &token,
        CheckName::Token,
        Status::Fail,
        &[
            "could not check the token",
            "failed to answer (transient; sync retries it)",
            "HTTP 500 E0000009",
        ],
        &["again"],
    );
    assert!(!token.reason.contains("invalid"), "{token:?}");

    let (_, token) = refused(404, Some("E0000007"));
    assert_check(
        &token,
        CheckName::Token,
        Status::Fail,
        &["HTTP 404 E0000007"],
        &["base_url"],
    );

    let mut oauth = api(401, Some("E0000011"));
    oauth.oauth = true;
    let (_, token) = users(HOST, &UsersOutcome::Refused(oauth));
    assert_check(
        &token,
        CheckName::Token,
        Status::Fail,
        &["HTTP 401 E0000011"],
        &["service app"],
    );
}

#[test]
fn client_setup_failure_fails_reachable() {
    let check = client_setup_failed("bad url".into());
    assert_check(
        &check,
        CheckName::OktaReachable,
        Status::Fail,
        &["cannot set up the Okta client: bad url"],
        &["base_url"],
    );
}

// ---------------------------------------------------------------- OAuth

fn grant(granted: &[&str], requested: &[&str]) -> Grant {
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Grant {
        client_id: "0oa-app".into(),
        requested: strings(requested),
        granted: strings(granted),
        missing: requested
            .iter()
            .filter(|s| !granted.contains(s))
            .map(|s| s.to_string())
            .collect(),
        dpop: true,
    }
}

const ALL_SCOPES: [&str; 4] = [
    "okta.users.read",
    "okta.groups.read",
    "okta.roles.read",
    "okta.logs.read",
];

#[test]
fn oauth_token_lists_granted_and_missing_scopes_including_the_logs_scope() {
    let ok = users(HOST, &UsersOutcome::Listed).1;
    let full = oauth_token(ok.clone(), &grant(&ALL_SCOPES, &ALL_SCOPES));
    assert_check(
        &full,
        CheckName::Token,
        Status::Ok,
        &[
            "0oa-app",
            "DPoP-bound",
            "okta.logs.read",
            "users are readable",
        ],
        &[],
    );

    let partial = oauth_token(ok, &grant(&ALL_SCOPES[..3], &ALL_SCOPES));
    assert_check(
        &partial,
        CheckName::Token,
        Status::Warn,
        &["missing: okta.logs.read"],
        &["grant okta.logs.read", "Read-Only Administrator"],
    );

    let failed = users(HOST, &UsersOutcome::Refused(api(403, Some("E0000006")))).1;
    let failed = oauth_token(failed, &grant(&ALL_SCOPES[..1], &ALL_SCOPES[..1]));
    assert_check(
        &failed,
        CheckName::Token,
        Status::Fail,
        &["access token issued", "but the token may not read users"],
        &[],
    );
}

#[test]
fn oauth_grant_failures() {
    let refused = TokenError::invalid_client("no such client", "req-7");
    let (reachable, token) = grant_failed(HOST, &GrantFailure::Refused(refused));
    assert_eq!(reachable.status, Status::Ok);
    assert_check(
        &token,
        CheckName::Token,
        Status::Fail,
        &["invalid_client", "no such client", "request id req-7"],
        &["Public key / Private key"],
    );

    let (reachable, token) = grant_failed(
        HOST,
        &GrantFailure::Unreachable(TransportFailure::timed_out()),
    );
    assert_check(
        &reachable,
        CheckName::OktaReachable,
        Status::Fail,
        &["did not answer in time"],
        &[],
    );
    assert_eq!(token.status, Status::Skipped);

    let (reachable, _) = grant_failed(HOST, &GrantFailure::Other("odd answer".into()));
    assert_check(
        &reachable,
        CheckName::OktaReachable,
        Status::Fail,
        &["OAuth token request failed: odd answer"],
        &["base_url"],
    );
}

#[test]
fn scope_state_from_the_grant() {
    let g = grant(&ALL_SCOPES[..2], &ALL_SCOPES[..3]);
    assert_eq!(ScopeState::of(&g, "okta.users.read"), ScopeState::Granted);
    assert_eq!(
        ScopeState::of(&g, "okta.roles.read"),
        ScopeState::NotGranted
    );
    assert_eq!(ScopeState::of(&g, LOGS_SCOPE), ScopeState::NotRequested);
}

// ---------------------------------------------------------------- permission reads

#[test]
fn readable_permissions_are_ok() {
    for (permission, needle) in [
        (&GROUPS, "groups readable"),
        (&ROLES, "admin roles readable"),
        (&FACTORS, "MFA factors readable"),
        (&CHANGE_FEED, "arrive in the next cycle"),
    ] {
        let check = read(permission, &ReadOutcome::Readable, HOST, None);
        assert_check(&check, permission.name, Status::Ok, &[needle], &[]);
    }
    let oauth = read(
        &CHANGE_FEED,
        &ReadOutcome::Readable,
        HOST,
        Some(ScopeState::Granted),
    );
    assert_check(
        &oauth,
        CheckName::ChangeFeed,
        Status::Ok,
        &["okta.logs.read granted"],
        &[],
    );
}

#[test]
fn denied_groups_fail_and_denied_enrichments_warn_with_their_cost() {
    let denied = ReadOutcome::Denied(api(403, Some("E0000006")));
    let groups = read(&GROUPS, &denied, HOST, None);
    assert_check(
        &groups,
        CheckName::Groups,
        Status::Fail,
        &["the token may not read groups (E0000006, request id req-42)"],
        &[
            "create the token from an admin holding the Read-Only Administrator role",
            "okta.groups.read",
        ],
    );
    let roles = read(&ROLES, &denied, HOST, None);
    assert_check(
        &roles,
        CheckName::Roles,
        Status::Warn,
        &["E0000006", "admin detection is disabled"],
        &["okta.roles.read", "Read-Only Administrator"],
    );
    let factors = read(&FACTORS, &denied, HOST, None);
    assert_check(
        &factors,
        CheckName::Factors,
        Status::Warn,
        &["E0000006", "MFA enrichment is disabled"],
        &["okta.users.read"],
    );
}

#[test]
fn a_denied_system_log_warns_with_the_role_and_the_fallback() {
    for outcome in [
        ReadOutcome::Denied(api(403, Some("E0000006"))),
        ReadOutcome::Denied(api(401, Some("E0000011"))),
    ] {
        let check = read(&CHANGE_FEED, &outcome, HOST, None);
        assert_check(
            &check,
            CheckName::ChangeFeed,
            Status::Warn,
            &[
                "the token may not read the System Log",
                "lastUpdated",
                "every group and role is read again each cycle",
                "MFA changes that leave the user record alone",
                "next full sync",
            ],
            &[
                "Read-Only Administrator or Report Administrator",
                "okta.logs.read",
            ],
        );
    }
}

#[test]
fn a_denied_read_with_oauth_says_what_the_service_app_lacks() {
    let denied = ReadOutcome::Denied(api(403, Some("E0000006")));
    let not_requested = read(&CHANGE_FEED, &denied, HOST, Some(ScopeState::NotRequested));
    assert_check(
        &not_requested,
        CheckName::ChangeFeed,
        Status::Warn,
        &[
            "the service app may not read the System Log",
            "okta.logs.read is not among the requested scopes",
            "lastUpdated",
        ],
        &["add okta.logs.read to scopes (OKTA_SCOPES", "grant it"],
    );
    let not_granted = read(&CHANGE_FEED, &denied, HOST, Some(ScopeState::NotGranted));
    assert_check(
        &not_granted,
        CheckName::ChangeFeed,
        Status::Warn,
        &["okta.logs.read was not granted"],
        &[
            "grant okta.logs.read to the service app",
            "Report Administrator",
        ],
    );
    let granted = read(&GROUPS, &denied, HOST, Some(ScopeState::Granted));
    assert_check(
        &granted,
        CheckName::Groups,
        Status::Fail,
        &["the service app may not read groups"],
        &["okta.groups.read is granted: assign the service app the Read-Only Administrator role"],
    );
}

#[test]
fn server_errors_and_timeouts_are_transient_not_permission_problems() {
    let outcomes = [
        ReadOutcome::ServerError(api(500, Some("E0000009"))),
        ReadOutcome::ServerError(api(503, None)),
        ReadOutcome::NoAnswer(TransportFailure::timed_out()),
        ReadOutcome::NoAnswer(TransportFailure::from_detail("connection reset")),
    ];
    for outcome in &outcomes {
        for permission in [&GROUPS, &ROLES, &FACTORS, &CHANGE_FEED] {
            let check = read(permission, outcome, HOST, None);
            let status = if permission.required {
                Status::Fail
            } else {
                Status::Warn
            };
            assert_check(
                &check,
                permission.name,
                status,
                &[
                    "could not check",
                    "Okta failed to answer",
                    "transient; sync retries it",
                ],
                &["again", "request id"],
            );
            assert_not_called_a_permission_problem(&check);
        }
    }
    let factors = read(&FACTORS, &outcomes[0], HOST, None);
    assert_eq!(factors.reason, "could not check MFA factors: Okta failed to answer (transient; sync retries it): HTTP 500 E0000009 (Okta says so), request id req-42");
}

#[test]
fn rate_limited_reads_could_not_be_checked() {
    let limited = ReadOutcome::RateLimited(api(429, Some("E0000047")));
    for permission in [&GROUPS, &ROLES, &FACTORS, &CHANGE_FEED] {
        let check = read(permission, &limited, HOST, None);
        assert_check(
            &check,
            permission.name,
            if permission.required {
                Status::Fail
            } else {
                Status::Warn
            },
            &["could not check", "rate-limited", "E0000047", "transient"],
            &["in a minute"],
        );
        assert_not_called_a_permission_problem(&check);
    }
}

#[test]
fn a_feature_that_is_off_costs_the_enrichment() {
    let off = read_ssws(&ROLES, ReadOutcome::FeatureOff(api(400, Some("E0000015"))));
    assert_check(
        &off,
        CheckName::Roles,
        Status::Warn,
        &[
            "feature is not enabled",
            "E0000015",
            "admin detection is disabled",
        ],
        &["--no-roles"],
    );
}

#[test]
fn other_answers_are_reported_as_they_came() {
    let other = read_ssws(&GROUPS, ReadOutcome::Other(api(404, Some("E0000007"))));
    assert_check(
        &other,
        CheckName::Groups,
        Status::Fail,
        &["cannot read groups", "HTTP 404 E0000007"],
        &["base_url"],
    );
    let odd = read_ssws(&FACTORS, ReadOutcome::Unexpected("not JSON".into()));
    assert_check(
        &odd,
        CheckName::Factors,
        Status::Warn,
        &["cannot read MFA factors: not JSON"],
        &["troubleshooting"],
    );
}

#[test]
fn a_failed_read_that_is_no_refusal_claims_no_lost_enrichment() {
    // `sync` gives up MFA only on 401/403 or E0000015: a 404, a 409 or an answer that is not
    // JSON leaves the enrichment on, so the check must not say it is disabled.
    let outcomes = [
        ReadOutcome::Other(api(404, Some("E0000007"))),
        ReadOutcome::Other(api(409, None)),
        ReadOutcome::Unexpected("not JSON".into()),
    ];
    for outcome in outcomes {
        let check = read_ssws(&FACTORS, outcome);
        assert_eq!(check.status, Status::Warn);
        assert!(check.reason.contains("unverified"), "{}", check.reason);
        assert!(!check.reason.contains("disabled"), "{}", check.reason);
        assert!(
            !check.reason.contains("has_mfa omitted"),
            "{}",
            check.reason
        );
    }
}

#[test]
fn turned_off_enrichments_warn() {
    assert_check(
        &roles_turned_off(),
        CheckName::Roles,
        Status::Warn,
        &["enrich_roles = false", "admin detection is disabled"],
        &[],
    );
    assert_check(
        &factors_turned_off(),
        CheckName::Factors,
        Status::Warn,
        &["enrich_mfa = false"],
        &[],
    );
    assert_check(
        &no_user_for_factors(),
        CheckName::Factors,
        Status::Warn,
        &["no user"],
        &[],
    );
}

// ---------------------------------------------------------------- rate limit

fn bucket(limit: u64, remaining: u64, seconds_into_window: Option<u64>) -> Option<UsersBucket> {
    Some(UsersBucket {
        limit,
        remaining,
        seconds_into_window,
    })
}

#[test]
fn rate_limit_headroom() {
    assert_check(
        &rate_limit(None, 0.5),
        CheckName::RateLimit,
        Status::Warn,
        &["no rate-limit headers"],
        &[],
    );

    let quiet = rate_limit(bucket(600, 579, Some(30)), 0.5);
    assert_check(
        &quiet,
        CheckName::RateLimit,
        Status::Ok,
        &[
            "579 of 600 requests left",
            "about 40/min",
            "300/min (rate_limit_share 0.5)",
        ],
        &[],
    );

    // 20 s in, others used 300: 900/min projected, capped at the limit: nothing left for us.
    let busy = rate_limit(bucket(600, 299, Some(20)), 0.5);
    assert_check(
        &busy,
        CheckName::RateLimit,
        Status::Warn,
        &["about 600/min"],
        &["other integrations"],
    );

    // Too early in the window to project: what was used so far counts as is.
    let early = rate_limit(bucket(600, 500, Some(2)), 0.5);
    assert_check(
        &early,
        CheckName::RateLimit,
        Status::Ok,
        &["about 99/min"],
        &[],
    );

    // Nearly spent right now.
    let spent = rate_limit(bucket(100, 10, None), 0.1);
    assert_eq!(spent.status, Status::Warn);
}

#[test]
fn hostile_rate_limit_headers_do_not_overflow() {
    // Others used nearly u64::MAX, 30 s in: the projection saturates and is capped at the limit.
    let huge = rate_limit(bucket(u64::MAX, 0, Some(30)), 0.5);
    assert_eq!(huge.status, Status::Warn);
    assert!(
        huge.reason.contains(&format!("about {}/min", u64::MAX)),
        "{}",
        huge.reason
    );
    // Everything left: remaining × 5 saturates instead of wrapping.
    let untouched = rate_limit(bucket(u64::MAX, u64::MAX, Some(30)), 0.5);
    assert_eq!(untouched.status, Status::Ok, "{}", untouched.reason);
}

// ---------------------------------------------------------------- intake

#[test]
fn intake_verdicts() {
    const URL: &str = "https://intake.example/x";
    let cases = [
        (
            IntakeOutcome::NotConfigured,
            Status::Warn,
            "no intake configured",
            "CONNECTOR_UUID",
        ),
        (
            IntakeOutcome::SetupFailed("bad key".into()),
            Status::Fail,
            "bad key",
            "INTAKE_API_KEY",
        ),
        (
            IntakeOutcome::Accepted(200),
            Status::Ok,
            "accepted the key (HTTP 200 for an empty batch)",
            "",
        ),
        (
            IntakeOutcome::TimedOut,
            Status::Fail,
            "unreachable: it did not answer in time",
            "intake_url",
        ),
        (
            IntakeOutcome::KeyRejected(401),
            Status::Fail,
            "rejected the key (HTTP 401)",
            "INTAKE_API_KEY",
        ),
        (
            IntakeOutcome::NotFound,
            Status::Fail,
            "answered 404",
            "connector_uuid",
        ),
        (
            IntakeOutcome::Unavailable(503),
            Status::Fail,
            "unavailable right now (HTTP 503; transient",
            "retry",
        ),
        (
            IntakeOutcome::Unreachable("connection refused".into()),
            Status::Fail,
            "unreachable: connection refused",
            "intake_url",
        ),
        (
            IntakeOutcome::Refused("HTTP 400".into()),
            Status::Fail,
            "refused the empty test batch: HTTP 400",
            "format",
        ),
    ];
    for (outcome, status, reason, fix) in cases {
        assert_check(
            &intake(&outcome, URL),
            CheckName::Intake,
            status,
            &[reason],
            &[fix],
        );
    }
}

// ---------------------------------------------------------------- state directory

#[test]
fn state_dir_verdicts() {
    let dir = PathBuf::from("/var/lib/okta-asset-connector");
    let check = |outcome| state_dir(&dir, &outcome);

    assert_check(
        &check(StateDirOutcome::Writable),
        CheckName::StateDir,
        Status::Ok,
        &["/var/lib/okta-asset-connector is writable"],
        &[],
    );
    assert_check(
        &check(StateDirOutcome::Creatable),
        CheckName::StateDir,
        Status::Ok,
        &["does not exist yet and can be created"],
        &[],
    );
    assert_check(
        &check(StateDirOutcome::NotADirectory(dir.clone())),
        CheckName::StateDir,
        Status::Fail,
        &["exists but is not a directory"],
        &["STATE_DIR"],
    );
    assert_check(
        &check(StateDirOutcome::NotADirectory("/var/lib".into())),
        CheckName::StateDir,
        Status::Fail,
        &["cannot be created: /var/lib is not a directory"],
        &["--state-dir"],
    );
    assert_check(
        &check(StateDirOutcome::ReadOnlyFileSystem),
        CheckName::StateDir,
        Status::Fail,
        &["read-only file system"],
        &["writable volume"],
    );
    assert_check(
        &check(StateDirOutcome::NoSpace),
        CheckName::StateDir,
        Status::Fail,
        &["no space left"],
        &["free space"],
    );
    assert_check(
        &check(StateDirOutcome::TimedOut),
        CheckName::StateDir,
        Status::Fail,
        &["did not finish in time"],
        &["network mount"],
    );
    // The refusals and warnings of `private_files`, split into a reason and a fix.
    let theirs = crate::private_files::Refusal::OwnedByOther {
        path: dir.clone(),
        owner: 1001,
        process: 65532,
    };
    assert_check(
        &check(StateDirOutcome::Refused(theirs)),
        CheckName::StateDir,
        Status::Fail,
        &[
            "sync would refuse the state directory",
            "belongs to uid 1001",
        ],
        &["chown -R 65532 /var/lib/okta-asset-connector"],
    );
    let volume = crate::private_files::Exposure::GroupWritable {
        path: dir.clone(),
        gid: 65532,
        mode: 0o2775,
    };
    assert_check(
        &check(StateDirOutcome::Exposed(volume)),
        CheckName::StateDir,
        Status::Warn,
        &["mode 2775", "fsGroup"],
        &["chmod 700 /var/lib/okta-asset-connector"],
    );
    // The fix is not repeated in the reason.
    let sticky = check(StateDirOutcome::Exposed(
        crate::private_files::Exposure::StickyWorldWritable {
            path: dir.clone(),
            mode: 0o1777,
        },
    ));
    assert_eq!(sticky.status, Status::Warn);
    assert!(!sticky.reason.contains("chmod"), "{}", sticky.reason);
    assert!(sticky.fix.starts_with("chmod 700"), "{}", sticky.fix);
    assert_check(
        &check(StateDirOutcome::Other("odd".into())),
        CheckName::StateDir,
        Status::Fail,
        &["cannot write in the state directory /var/lib/okta-asset-connector: odd"],
        &["owner and mode"],
    );
}

#[test]
fn state_dir_permission_problems_explain_owner_and_mode() {
    let dir = PathBuf::from("/var/lib/okta-asset-connector");
    let owner = Ownership {
        uid: 0,
        mode: 0o755,
        process_uid: Some(1000),
    };
    let existing = state_dir(
        &dir,
        &StateDirOutcome::PermissionDenied {
            path: dir.clone(),
            creating: false,
            owner: Some(owner),
        },
    );
    assert_check(
        &existing,
        CheckName::StateDir,
        Status::Fail,
        &[
            "cannot write in the state directory /var/lib/okta-asset-connector: permission denied",
            "owned by uid 0 with mode 0755",
            "this process runs as uid 1000",
        ],
        &[
            "give /var/lib/okta-asset-connector to uid 1000",
            "chmod 700",
            "STATE_DIR",
        ],
    );

    let creating = state_dir(
        &dir,
        &StateDirOutcome::PermissionDenied {
            path: "/var/lib".into(),
            creating: true,
            owner: Some(owner),
        },
    );
    assert_check(
        &creating,
        CheckName::StateDir,
        Status::Fail,
        &[
            "does not exist and cannot be created: permission denied in /var/lib",
            "/var/lib is owned by uid 0",
        ],
        &["mkdir -p /var/lib/okta-asset-connector", "uid 1000"],
    );

    let unknown = state_dir(
        &dir,
        &StateDirOutcome::PermissionDenied {
            path: dir.clone(),
            creating: false,
            owner: None,
        },
    );
    assert_check(
        &unknown,
        CheckName::StateDir,
        Status::Fail,
        &["permission denied"],
        &["the user that runs the connector"],
    );
    assert!(!unknown.reason.contains("owned by"));
}
