//! The command line (BRIEF §2). Flags are the last configuration layer; secrets have no flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::RawConfig;

/// Keeps a security platform's asset inventory of people in step with an Okta org.
///
/// Reads users (every status, DEPROVISIONED included), groups, group members, admin roles and
/// MFA factors from the Okta Management API with a read-only API token, and sends each user as
/// an OCSF 1.8.0 "User Inventory Info" event to an intake (Sekoia.io by default).
///
/// Configuration comes from, later winning: the Sekoia runtime files (/symphony), --config FILE
/// (TOML or JSON), environment variables, then flags. Secrets are read from the environment or
/// the config file only: OKTA_API_TOKEN (Okta API token) or, with --auth oauth, OKTA_PRIVATE_KEY
/// (the OAuth service app's private key), and INTAKE_API_KEY (intake key).
///
/// Examples:
///   OKTA_API_TOKEN=... okta-asset-connector check --base-url acme.okta.com
///   OKTA_API_TOKEN=... okta-asset-connector sync --base-url acme.okta.com --output events.json
///   okta-asset-connector --config /etc/okta-asset-connector.toml run
#[derive(Debug, Parser)]
#[command(name = "okta-asset-connector", version, verbatim_doc_comment)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Test the connection: configuration, Okta URL and token, permissions (users, groups,
    /// roles, factors), rate-limit headroom, intake key. Read-only. Exit 0 when nothing failed.
    Check {
        /// Print {"success": bool, "error": "...", "checks": [...]} on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run one cycle, then exit: incremental when the state allows it, full on the first run,
    /// with --full, or when the last full sync is older than full_sync_interval.
    Sync {
        /// Force a full reconciliation (all users, groups, roles; hard-delete detection).
        #[arg(long)]
        full: bool,
        /// Write the bodies that would be posted to FILE ("-" for stdout) instead of posting;
        /// no intake settings are needed then. Always a full sync; the state is neither read
        /// nor written.
        #[arg(long, value_name = "FILE|-")]
        output: Option<String>,
    },
    /// Run cycles every `frequency` seconds until SIGTERM or SIGINT.
    Run,
}

/// Settings that may be given as flags (each also as an environment variable).
#[derive(Debug, Args, Default)]
pub struct SettingsArgs {
    /// Configuration file (TOML; JSON accepted).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "OKTA_CONNECTOR_CONFIG",
        hide_env_values = true
    )]
    pub config: Option<PathBuf>,

    /// Okta org URL, e.g. https://acme.okta.com (or acme.okta.com).
    #[arg(long, global = true, env = "OKTA_BASE_URL", hide_env_values = true)]
    pub base_url: Option<String>,

    /// Where to POST events; default: {sekoia_base_url}/api/v2/asset-management/asset-connector/{connector_uuid}.
    #[arg(long, global = true, env = "INTAKE_URL", hide_env_values = true)]
    pub intake_url: Option<String>,

    /// Sekoia.io API base URL [default: https://api.sekoia.io].
    #[arg(long, global = true, env = "SEKOIA_BASE_URL", hide_env_values = true)]
    pub sekoia_base_url: Option<String>,

    /// UUID of the Sekoia.io asset connector (used to derive the intake URL).
    #[arg(long, global = true, env = "CONNECTOR_UUID", hide_env_values = true)]
    pub connector_uuid: Option<String>,

    /// Output format: "sekoia" ({"version":1,"items":[...]}) or "ocsf" (NDJSON) [default: sekoia].
    #[arg(long, global = true, env = "INTAKE_FORMAT", hide_env_values = true)]
    pub format: Option<String>,

    /// Seconds between cycles of `run` [default: 1200, minimum 1].
    #[arg(long, global = true, env = "FREQUENCY", hide_env_values = true)]
    pub frequency: Option<u64>,

    /// Events per batch posted to the intake [default: 100].
    #[arg(long, global = true, env = "BATCH_SIZE", hide_env_values = true)]
    pub batch_size: Option<usize>,

    /// Seconds between full reconciliations (`run`, and `sync` without --full) [default: 86400].
    #[arg(
        long,
        global = true,
        env = "FULL_SYNC_INTERVAL",
        hide_env_values = true
    )]
    pub full_sync_interval: Option<u64>,

    /// Fraction of each Okta rate-limit bucket this connector may use, in (0, 1] [default: 0.5].
    #[arg(long, global = true, env = "RATE_LIMIT_SHARE", hide_env_values = true)]
    pub rate_limit_share: Option<f64>,

    /// Okta requests in flight at once, shared by every bucket [default: 8].
    #[arg(long, global = true, env = "MAX_CONCURRENCY", hide_env_values = true)]
    pub max_concurrency: Option<usize>,

    /// Do not read MFA factors (one call per user); has_mfa is then omitted.
    #[arg(long, global = true)]
    pub no_mfa: bool,

    /// Do not read admin roles; the user type (Admin/User) is then omitted.
    #[arg(long, global = true)]
    pub no_roles: bool,

    /// Directory for the connector's state.
    #[arg(long, global = true, env = "STATE_DIR", hide_env_values = true)]
    pub state_dir: Option<PathBuf>,

    /// Allow plain http, for loopback hosts only (local tests).
    #[arg(long, global = true)]
    pub allow_insecure_http: bool,

    /// Log format on stderr: "text" or "json" [default: text on a terminal, else json].
    #[arg(long, global = true, env = "LOG_FORMAT", hide_env_values = true)]
    pub log_format: Option<String>,

    /// Compress intake request bodies with gzip.
    #[arg(long, global = true)]
    pub gzip: bool,

    /// Okta authentication: "ssws" (API token in OKTA_API_TOKEN) or "oauth" (service app with
    /// a private key in OKTA_PRIVATE_KEY or --private-key-file) [default: ssws].
    #[arg(long, global = true, env = "OKTA_AUTH", hide_env_values = true)]
    pub auth: Option<String>,

    /// Client ID of the Okta OAuth 2.0 service app (auth = oauth).
    #[arg(long, global = true, env = "OKTA_CLIENT_ID", hide_env_values = true)]
    pub client_id: Option<String>,

    /// File holding the service app's private key, PEM or JWK (auth = oauth).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "OKTA_PRIVATE_KEY_FILE",
        hide_env_values = true
    )]
    pub private_key_file: Option<PathBuf>,

    /// Key ID (kid) of the service app's public key, when it has several (auth = oauth).
    #[arg(long, global = true, env = "OKTA_KEY_ID", hide_env_values = true)]
    pub key_id: Option<String>,

    /// OAuth scopes to request [default: "okta.users.read okta.groups.read okta.roles.read"].
    #[arg(long, global = true, env = "OKTA_SCOPES", hide_env_values = true)]
    pub scopes: Option<String>,

    /// DPoP-bound tokens: "auto" (when Okta asks), "true" or "false" [default: auto].
    #[arg(long, global = true, env = "OKTA_DPOP", hide_env_values = true)]
    pub dpop: Option<String>,

    /// Sekoia connector runtime directory [default: /symphony when it exists].
    #[arg(long, global = true, value_name = "DIR")]
    pub symphony_dir: Option<PathBuf>,
}

impl SettingsArgs {
    /// The flag layer of the configuration (flags set to false are "not given").
    pub fn raw(&self) -> RawConfig {
        RawConfig {
            base_url: self.base_url.clone(),
            intake_url: self.intake_url.clone(),
            sekoia_base_url: self.sekoia_base_url.clone(),
            connector_uuid: self.connector_uuid.clone(),
            format: self.format.clone(),
            frequency: self.frequency,
            batch_size: self.batch_size,
            full_sync_interval: self.full_sync_interval,
            rate_limit_share: self.rate_limit_share,
            max_concurrency: self.max_concurrency,
            enrich_mfa: self.no_mfa.then_some(false),
            enrich_roles: self.no_roles.then_some(false),
            state_dir: self.state_dir.clone(),
            allow_insecure_http: self.allow_insecure_http.then_some(true),
            log_format: self.log_format.clone(),
            gzip: self.gzip.then_some(true),
            auth: self.auth.clone(),
            client_id: self.client_id.clone(),
            private_key_file: self.private_key_file.clone(),
            key_id: self.key_id.clone(),
            scopes: self.scopes.clone(),
            dpop: self.dpop.clone().map(crate::config::DpopSetting::Text),
            ..RawConfig::default()
        }
    }
}
