//! The one table of configuration keys. Each key is written here once, with its kind of value,
//! environment variables, flag, default, help heading and the commands it applies to; the
//! macro below generates from it [`RawConfig`] (one optional field per key), its `merge`, the
//! per-key readers every source uses, [`KEYS`] and [`KEY_SPECS`] (from which the command line
//! builds its flags and their help, and the tests check the docs and the manifest).

use super::value::{
    Bool, Count, Dpop, IntakeKey, Kind, Number, OktaToken, PathValue, Seconds, Secret, Text,
    UrlText,
};

/// How a key is given on the command line. Flag values arrive as text and go through the
/// key's own parser, as environment values do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// No flag: secrets never go on the command line (process lists, shell history).
    None,
    /// `--long VALUE`.
    Value {
        long: &'static str,
        value_name: &'static str,
    },
    /// `--long` alone, which sets the key to `sets` (e.g. `--no-mfa` sets `enrich_mfa` to false).
    Switch {
        long: &'static str,
        sets: &'static str,
    },
}

impl Flag {
    const fn value(long: &'static str, value_name: &'static str) -> Flag {
        Flag::Value { long, value_name }
    }

    const fn switch(long: &'static str, sets: &'static str) -> Flag {
        Flag::Switch { long, sets }
    }

    /// The long name, without `--`.
    pub fn long(&self) -> Option<&'static str> {
        match self {
            Flag::None => None,
            Flag::Value { long, .. } | Flag::Switch { long, .. } => Some(long),
        }
    }
}

/// The commands whose help shows a key's flag (every command that reads the configuration
/// accepts every flag, so a script that passes one more flag than needed keeps working).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every command that reads the configuration.
    All,
    /// `sync` and `run` (and `config`): what a cycle uses.
    Cycles,
    /// `run` (and `config`) only.
    Run,
}

/// The commands that read the configuration, for [`Scope::shown_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Flags given before the subcommand.
    Top,
    Check,
    Sync,
    Run,
    Config,
}

impl Scope {
    pub fn shown_in(self, command: Cmd) -> bool {
        match (self, command) {
            (_, Cmd::Config | Cmd::Run) | (Scope::All, _) => true,
            (Scope::Cycles, Cmd::Sync) => true,
            (Scope::Cycles | Scope::Run, _) => false,
        }
    }
}

/// Help headings, so that a command's help groups its settings.
pub mod heading {
    pub const OKTA: &str = "Okta";
    pub const OAUTH: &str = "Okta OAuth service app (auth = oauth)";
    pub const INTAKE: &str = "Intake";
    pub const SYNC: &str = "Sync";
    pub const RUNTIME: &str = "Files, logs and network";
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// As spelled in a config file.
    pub name: &'static str,
    /// Environment variables, the first one set (not blank) wins.
    pub env: &'static [&'static str],
    pub flag: Flag,
    /// The default, as the docs, the help and `config` state it.
    pub default: &'static str,
    pub secret: bool,
    pub heading: &'static str,
    pub scope: Scope,
    /// One line of help.
    pub doc: &'static str,
}

impl KeySpec {
    /// The key named `name`.
    pub fn get(name: &str) -> Option<&'static KeySpec> {
        KEY_SPECS.iter().find(|spec| spec.name == name)
    }

    /// The help of its flag: what it does, its default and its environment variables.
    pub fn help(&self) -> String {
        let doc = self.doc.trim().trim_end_matches('.');
        let what = match self.flag {
            Flag::Switch { sets, .. } => format!("{doc}; this flag sets {} = {sets}", self.name),
            _ => doc.to_string(),
        };
        let default = match self.default {
            "none" => String::new(),
            text if text.starts_with("required") || text.starts_with("none") => {
                format!(" [{text}]")
            }
            text => format!(" [default: {text}]"),
        };
        format!("{what}{default} [env: {}]", self.env.join(", "))
    }
}

macro_rules! key_table {
    ($(
        $(#[doc = $doc:literal])+
        $field:ident: $kind:ty {
            env: [$($env:literal),+ $(,)?],
            flag: $flag:expr,
            default: $default:literal,
            heading: $heading:expr,
            scope: $scope:ident $(,)?
        }
    ),+ $(,)?) => {
        /// Settings as the sources gave them, every field optional. Built by the sources
        /// (`config::sources`), merged (later sources win), then validated into a `Config`.
        #[derive(Debug, Default, Clone)]
        pub struct RawConfig {
            $( $(#[doc = $doc])+ pub $field: Option<<$kind as Kind>::Value>, )+
        }

        /// Every configuration key, as spelled in a config file.
        pub const KEYS: &[&str] = &[$(stringify!($field)),+];

        /// Every configuration key with its environment variables, flag, default and help.
        pub const KEY_SPECS: &[KeySpec] = &[$(
            KeySpec {
                name: stringify!($field),
                env: &[$($env),+],
                flag: $flag,
                default: $default,
                secret: <$kind as Kind>::SECRET,
                heading: $heading,
                scope: Scope::$scope,
                doc: concat!($($doc),+),
            },
        )+];

        impl RawConfig {
            /// Overlays `other` on `self`: every value `other` sets wins.
            pub fn merge(self, other: RawConfig) -> RawConfig {
                RawConfig { $( $field: other.$field.or(self.$field), )+ }
            }

            /// Sets `key` from the text of an environment variable or a flag.
            pub(crate) fn set_text(&mut self, key: &str, text: &str) -> Result<Option<&'static str>, String> {
                match key {
                    $( stringify!($field) => {
                        let (value, note) = <$kind as Kind>::from_text(text)?;
                        self.$field = Some(value);
                        Ok(note)
                    } )+
                    _ => Err(format!("unknown key `{key}`")),
                }
            }

            /// Sets `key` from a JSON value (`lenient`: the Sekoia runtime files).
            pub(crate) fn set_json(&mut self, key: &str, value: &serde_json::Value, lenient: bool) -> Result<Option<&'static str>, String> {
                match key {
                    $( stringify!($field) => {
                        let (value, note) = <$kind as Kind>::from_json(value, lenient)?;
                        self.$field = Some(value);
                        Ok(note)
                    } )+
                    _ => Err(format!("unknown key `{key}`")),
                }
            }

            /// Whether a source set `key`.
            pub fn is_set(&self, key: &str) -> bool {
                match key {
                    $( stringify!($field) => self.$field.is_some(), )+
                    _ => false,
                }
            }

            /// The value of `key` as `config` shows it: `None` when unset, `set` for a secret.
            pub fn shown(&self, key: &str) -> Option<String> {
                match key {
                    $( stringify!($field) => self.$field.as_ref().map(<$kind as Kind>::show), )+
                    _ => None,
                }
            }
        }
    };
}

key_table! {
    /// Okta org URL, e.g. https://acme.okta.com (or acme.okta.com).
    base_url: UrlText {
        env: ["OKTA_BASE_URL"], flag: Flag::value("base-url", "URL"),
        default: "required", heading: heading::OKTA, scope: All,
    },
    /// Okta API token, sent as `Authorization: SSWS <token>`.
    apikey: OktaToken {
        env: ["OKTA_API_TOKEN"], flag: Flag::None,
        default: "required unless auth = oauth", heading: heading::OKTA, scope: All,
    },
    /// Where to POST events.
    intake_url: UrlText {
        env: ["INTAKE_URL"], flag: Flag::value("intake-url", "URL"),
        default: "{sekoia_base_url}/api/v2/asset-management/asset-connector/{connector_uuid}",
        heading: heading::INTAKE, scope: All,
    },
    /// Sekoia.io API base URL (to derive the intake URL).
    sekoia_base_url: UrlText {
        env: ["SEKOIA_BASE_URL"], flag: Flag::value("sekoia-base-url", "URL"),
        default: "https://api.sekoia.io", heading: heading::INTAKE, scope: All,
    },
    /// UUID of the Sekoia.io asset connector (to derive the intake URL).
    connector_uuid: Text {
        env: ["CONNECTOR_UUID"], flag: Flag::value("connector-uuid", "UUID"),
        default: "none", heading: heading::INTAKE, scope: All,
    },
    /// Intake API key, sent as `Authorization: Bearer <key>`.
    sekoia_api_key: IntakeKey {
        env: ["INTAKE_API_KEY", "SEKOIA_API_KEY"], flag: Flag::None,
        default: "required to post", heading: heading::INTAKE, scope: All,
    },
    /// Body format: "sekoia" ({"version":1,"items":[...]}) or "ocsf" (NDJSON).
    format: Text {
        env: ["INTAKE_FORMAT"], flag: Flag::value("format", "sekoia|ocsf"),
        default: "sekoia", heading: heading::INTAKE, scope: All,
    },
    /// Seconds between the starts of two cycles of `run` (at least 1).
    frequency: Seconds {
        env: ["FREQUENCY"], flag: Flag::value("frequency", "SECONDS"),
        default: "1200", heading: heading::SYNC, scope: Run,
    },
    /// Events per request to the intake, 1 to 10000.
    batch_size: Count {
        env: ["BATCH_SIZE"], flag: Flag::value("batch-size", "N"),
        default: "100", heading: heading::INTAKE, scope: Cycles,
    },
    /// Seconds between full reconciliations (`run`, and `sync` without --full).
    full_sync_interval: Seconds {
        env: ["FULL_SYNC_INTERVAL"], flag: Flag::value("full-sync-interval", "SECONDS"),
        default: "86400", heading: heading::SYNC, scope: Cycles,
    },
    /// Fraction of each Okta rate-limit bucket this connector may use, in (0, 1].
    rate_limit_share: Number {
        env: ["RATE_LIMIT_SHARE"], flag: Flag::value("rate-limit-share", "FRACTION"),
        default: "0.5", heading: heading::SYNC, scope: All,
    },
    /// Okta requests in flight at once, 1 to 32.
    max_concurrency: Count {
        env: ["MAX_CONCURRENCY"], flag: Flag::value("max-concurrency", "N"),
        default: "8", heading: heading::SYNC, scope: All,
    },
    /// Read MFA factors (one call per user); when false, has_mfa is omitted.
    enrich_mfa: Bool {
        env: ["ENRICH_MFA"], flag: Flag::switch("no-mfa", "false"),
        default: "true", heading: heading::SYNC, scope: All,
    },
    /// Read admin roles; when false, the user type (Admin/User) is omitted.
    enrich_roles: Bool {
        env: ["ENRICH_ROLES"], flag: Flag::switch("no-roles", "false"),
        default: "true", heading: heading::SYNC, scope: All,
    },
    /// Directory of the connector's state.
    state_dir: PathValue {
        env: ["STATE_DIR"], flag: Flag::value("state-dir", "DIR"),
        default: "/symphony_data/okta-asset-connector under the Sekoia runtime, else $STATE_DIRECTORY, $XDG_STATE_HOME/okta-asset-connector or ~/.local/state/okta-asset-connector",
        heading: heading::RUNTIME, scope: All,
    },
    /// Allow plain http, for loopback hosts only (local tests).
    allow_insecure_http: Bool {
        env: ["ALLOW_INSECURE_HTTP"], flag: Flag::switch("allow-insecure-http", "true"),
        default: "false", heading: heading::RUNTIME, scope: All,
    },
    /// Log format on stderr: "text" or "json".
    log_format: Text {
        env: ["LOG_FORMAT"], flag: Flag::value("log-format", "text|json"),
        default: "text on a terminal, else json", heading: heading::RUNTIME, scope: All,
    },
    /// Compress intake request bodies with gzip.
    gzip: Bool {
        env: ["INTAKE_GZIP"], flag: Flag::switch("gzip", "true"),
        default: "false", heading: heading::INTAKE, scope: All,
    },
    /// Okta authentication: "ssws" (API token) or "oauth" (service app).
    auth: Text {
        env: ["OKTA_AUTH"], flag: Flag::value("auth", "ssws|oauth"),
        default: "ssws", heading: heading::OAUTH, scope: All,
    },
    /// Client ID of the Okta OAuth 2.0 service app.
    client_id: Text {
        env: ["OKTA_CLIENT_ID"], flag: Flag::value("client-id", "ID"),
        default: "none; required with auth = oauth", heading: heading::OAUTH, scope: All,
    },
    /// The service app's private key, PEM or JWK.
    private_key: Secret {
        env: ["OKTA_PRIVATE_KEY"], flag: Flag::None,
        default: "none", heading: heading::OAUTH, scope: All,
    },
    /// File holding the service app's private key, PEM or JWK (mode 600).
    private_key_file: PathValue {
        env: ["OKTA_PRIVATE_KEY_FILE"], flag: Flag::value("private-key-file", "FILE"),
        default: "none", heading: heading::OAUTH, scope: All,
    },
    /// Key ID (kid) of the service app's public key, when it has several.
    key_id: Text {
        env: ["OKTA_KEY_ID"], flag: Flag::value("key-id", "KID"),
        default: "none", heading: heading::OAUTH, scope: All,
    },
    /// OAuth scopes to request, space- or comma-separated (add okta.logs.read for the change feed).
    scopes: Text {
        env: ["OKTA_SCOPES"], flag: Flag::value("scopes", "SCOPES"),
        default: "okta.users.read okta.groups.read okta.roles.read", heading: heading::OAUTH, scope: All,
    },
    /// DPoP-bound tokens: "auto" (when Okta asks), "true" or "false".
    dpop: Dpop {
        env: ["OKTA_DPOP"], flag: Flag::value("dpop", "auto|true|false"),
        default: "auto", heading: heading::OAUTH, scope: All,
    },
    /// Seconds after which a user's MFA factors are read again on a full sync.
    mfa_refresh_interval: Seconds {
        env: ["MFA_REFRESH_INTERVAL"], flag: Flag::value("mfa-refresh-interval", "SECONDS"),
        default: "604800", heading: heading::SYNC, scope: Cycles,
    },
    /// Seconds a cycle may take before it is stopped, committing nothing (0 = no limit).
    cycle_timeout: Seconds {
        env: ["CYCLE_TIMEOUT"], flag: Flag::value("cycle-timeout", "SECONDS"),
        default: "259200", heading: heading::SYNC, scope: Cycles,
    },
    /// Address of the /health and /metrics server of `run`, e.g. 0.0.0.0:9090 or 9090.
    metrics_addr: Text {
        env: ["METRICS_ADDR"], flag: Flag::value("metrics-addr", "ADDR"),
        default: "off", heading: heading::RUNTIME, scope: Run,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_no_flag_and_names_are_unique() {
        let mut longs = std::collections::BTreeSet::new();
        let mut vars = std::collections::BTreeSet::new();
        for spec in KEY_SPECS {
            if spec.secret {
                assert_eq!(spec.flag, Flag::None, "{} is a secret", spec.name);
            }
            if let Some(long) = spec.flag.long() {
                assert!(longs.insert(long), "--{long} twice");
            }
            for var in spec.env {
                assert!(vars.insert(*var), "{var} twice");
            }
            assert!(!spec.doc.trim().is_empty());
        }
        assert_eq!(KEYS.len(), KEY_SPECS.len());
    }

    #[test]
    fn secrets_are_the_secret_kinds() {
        let secrets: Vec<&str> = KEY_SPECS
            .iter()
            .filter(|s| s.secret)
            .map(|s| s.name)
            .collect();
        assert_eq!(secrets, ["apikey", "sekoia_api_key", "private_key"]);
    }

    #[test]
    fn the_table_states_the_rust_defaults() {
        use crate::config::*;
        for (key, default) in [
            ("frequency", DEFAULT_FREQUENCY.to_string()),
            ("full_sync_interval", DEFAULT_FULL_SYNC_INTERVAL.to_string()),
            (
                "mfa_refresh_interval",
                DEFAULT_MFA_REFRESH_INTERVAL.to_string(),
            ),
            ("cycle_timeout", DEFAULT_CYCLE_TIMEOUT.to_string()),
            ("rate_limit_share", DEFAULT_RATE_LIMIT_SHARE.to_string()),
            ("max_concurrency", DEFAULT_MAX_CONCURRENCY.to_string()),
            ("batch_size", crate::intake::DEFAULT_BATCH_SIZE.to_string()),
            ("sekoia_base_url", DEFAULT_SEKOIA_BASE_URL.to_string()),
        ] {
            assert_eq!(KeySpec::get(key).unwrap().default, default, "{key}");
        }
    }

    #[test]
    fn values_are_read_by_their_kind() {
        let mut raw = RawConfig::default();
        assert_eq!(raw.set_text("frequency", " 60 "), Ok(None));
        assert_eq!(raw.frequency, Some(60));
        assert!(raw.set_text("enrich_mfa", "maybe").is_err());
        assert!(raw.set_text("apikey", "SSWS tok").unwrap().is_some());
        assert_eq!(raw.shown("apikey").as_deref(), Some("set"));
        assert_eq!(raw.shown("frequency").as_deref(), Some("60"));
        assert_eq!(raw.shown("base_url"), None);
        assert!(raw.is_set("apikey") && !raw.is_set("base_url"));
        assert!(raw.set_text("bogus", "1").is_err());
    }
}
