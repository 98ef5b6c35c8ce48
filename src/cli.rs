//! The command line. The setting flags are generated from the configuration's key table
//! (`config::keys`): each flag's help names its environment variable, and its value arrives as
//! text, to be read by the key's own parser like any other source, so that a bad value is a
//! configuration error naming the key and the flag. clap itself reads no environment variable.
//!
//! Every command that reads the configuration accepts every setting flag, after the command or
//! before it (`okta-asset-connector --base-url X check` = `okta-asset-connector check --base-url
//! X`). Its help lists only the settings that apply to it, grouped by heading. At the top
//! level, `-h` lists the commands and `--help` every setting.

use std::marker::PhantomData;
use std::path::PathBuf;

use clap::builder::ValueParser;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueHint};
use clap_complete::Shell;

use crate::app::Exit;
use crate::config::keys::{Cmd, Flag, KEY_SPECS};
use crate::config::{FlagValues, LoadRequest, Needs, CONFIG_FILE_ENV};
use crate::runtime::sekoia::Role;

/// Keeps a security platform's asset inventory of people in step with an Okta org.
///
/// Reads users (every status, DEPROVISIONED included), groups, group members, admin roles and
/// MFA factors from the Okta Management API with a read-only API token, and sends each user as
/// an OCSF 1.8.0 "User Inventory Info" event to an intake (Sekoia.io by default).
///
/// Configuration comes from, later winning: the Sekoia runtime settings (/symphony), the config
/// file (--config FILE, else $XDG_CONFIG_HOME/okta-asset-connector/config.toml, else
/// /etc/okta-asset-connector/config.toml), environment variables, then flags. Secrets come from
/// the environment or the config file only: OKTA_API_TOKEN (Okta API token) or, with --auth
/// oauth, OKTA_PRIVATE_KEY, and INTAKE_API_KEY (intake key). Each command's --help lists the
/// settings that apply to it; every key: docs/configuration.md.
#[derive(Debug, Parser)]
#[command(
    name = "okta-asset-connector",
    version,
    verbatim_doc_comment,
    after_help = top_help()
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings<ForTop>,

    /// More logging: -v debug, -vv trace (RUST_LOG, when set, wins).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Less logging: -q warnings and errors, -qq errors only (RUST_LOG, when set, wins).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub quiet: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// Examples and every exit code, from the one table of codes ([`Exit::ALL`]), so that a new code
/// cannot be missing here.
fn top_help() -> String {
    let mut text = String::from("Examples:\n");
    for example in TOP_EXAMPLES {
        text.push_str(&format!("  {example}\n"));
    }
    text.push_str("\nExit codes:\n");
    for exit in Exit::ALL {
        text.push_str(&format!("  {:<3}  {}\n", exit as u8, exit.meaning()));
    }
    text.push_str(
        "  (each command's --help says which apply to it; docs/operations.md explains them)",
    );
    text
}

const TOP_EXAMPLES: [&str; 4] = [
    "OKTA_API_TOKEN=... okta-asset-connector check --base-url acme.okta.com",
    "OKTA_API_TOKEN=... okta-asset-connector sync --base-url acme.okta.com --output events.json",
    "okta-asset-connector --config /etc/okta-asset-connector/config.toml run",
    "okta-asset-connector config",
];

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Test the connection: configuration, Okta URL and token, permissions (users, groups,
    /// roles, factors), rate-limit headroom, intake key. Read-only. Exit 0 when nothing failed.
    #[command(after_help = command_help(Cmd::Check))]
    Check {
        /// Print {"success": bool, "error": "...", "checks": [...]} on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        settings: Settings<ForCheck>,
    },
    /// Run one cycle, then exit: incremental when the state allows it, full on the first run,
    /// with --full, or when the last full sync is older than full_sync_interval.
    #[command(after_help = command_help(Cmd::Sync))]
    Sync {
        /// Force a full reconciliation (all users, groups, roles; hard-delete detection).
        #[arg(long)]
        full: bool,
        /// Write the bodies that would be posted to FILE ("-" for stdout) instead of posting;
        /// no intake settings are needed then. Always a full sync; the state is neither read
        /// nor written.
        #[arg(long, value_name = "FILE|-", value_hint = ValueHint::FilePath)]
        output: Option<String>,
        #[command(flatten)]
        settings: Settings<ForSync>,
    },
    /// Run cycles every `frequency` seconds until SIGTERM or SIGINT.
    #[command(after_help = command_help(Cmd::Run))]
    Run {
        #[command(flatten)]
        settings: Settings<ForRun>,
    },
    /// The Sekoia.io runtime's "Test connector" for the module's account (Okta URL, token or
    /// OAuth app, permissions): reports to the runtime's url_callback, as the platform runs it.
    /// Needs the runtime's files (/symphony or --symphony-dir): token, url_callback,
    /// module_configuration. Exit 0 once the result was reported, whatever it is.
    #[command(name = "validate_module_configuration", after_help = VALIDATE_HELP)]
    ValidateModuleConfiguration {
        #[command(flatten)]
        settings: Settings<ForCheck>,
    },
    /// Print the effective configuration: every key with its value (secrets only as set or
    /// unset) and the source that won, the config file read, and whether it is valid.
    #[command(after_help = command_help(Cmd::Config))]
    Config {
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        settings: Settings<ForConfig>,
    },
    /// Print a shell completion script on stdout.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

const VALIDATE_HELP: &str = "Examples:
  okta-asset-connector validate_module_configuration   (in the image, under the runtime)
  okta-asset-connector validate_module_configuration --symphony-dir ./symphony

Exit codes:
  0  the result (success or failure) was reported to the platform
  1  the platform could not be reached to report it
  2  the runtime's token or url_callback is missing or invalid";

const COMPLETIONS_HELP: &str = "Examples:
  okta-asset-connector completions bash > /etc/bash_completion.d/okta-asset-connector
  okta-asset-connector completions zsh > \"${fpath[1]}/_okta-asset-connector\"
  okta-asset-connector completions fish > ~/.config/fish/completions/okta-asset-connector.fish

Exit codes:
  0    the script was printed
  2    unknown shell (usage error)
  141  standard output was closed by its reader
  (one table for every command: docs/operations.md)";

impl Cli {
    /// Where the configuration comes from: flags before the command, then after it (which
    /// win). `None` for commands that read no configuration.
    pub fn load_request(&self) -> Option<LoadRequest> {
        let top = self.settings.request();
        let command = match &self.command {
            Command::Check { settings, .. } => settings.request(),
            Command::Sync { settings, .. } => settings.request(),
            Command::Run { settings } => settings.request(),
            Command::ValidateModuleConfiguration { settings } => settings.request(),
            Command::Config { settings, .. } => settings.request(),
            Command::Completions { .. } => return None,
        };
        Some(LoadRequest {
            config_file: command.config_file.or(top.config_file),
            symphony_dir: command.symphony_dir.or(top.symphony_dir),
            flags: top.flags.then(command.flags),
        })
    }

    /// Logging verbosity: positive for more (-v), negative for less (-q).
    pub fn verbosity(&self) -> i8 {
        i8::try_from(i16::from(self.verbose) - i16::from(self.quiet)).unwrap_or(0)
    }
}

impl Command {
    /// `sync --output -`: the events go to stdout.
    pub fn writes_output_to_stdout(&self) -> bool {
        matches!(self, Command::Sync { output: Some(target), .. } if target == "-")
    }

    /// What the command needs from the configuration.
    pub fn needs(&self) -> Needs {
        match self {
            Command::Check { .. } | Command::Config { .. } | Command::Completions { .. } => {
                Needs::OktaMaybeIntake
            }
            Command::Sync {
                output: Some(_), ..
            }
            | Command::ValidateModuleConfiguration { .. } => Needs::Okta,
            Command::Sync { output: None, .. } | Command::Run { .. } => Needs::OktaAndIntake,
        }
    }
}

impl Command {
    /// What the command is under the Sekoia.io runtime, if it concerns it.
    pub fn sekoia_role(&self) -> Option<Role> {
        match self {
            Command::Run { .. } => Some(Role::Connector),
            Command::ValidateModuleConfiguration { .. } => Some(Role::Validator),
            _ => None,
        }
    }
}

/// Examples and exit codes of a command's help: the codes the command words its own way, and
/// those with their usual meaning, listed together in code order.
fn command_help(command: Cmd) -> String {
    let (worded, usual) = exit_codes(command);
    let mut exits = worded.to_vec();
    exits.extend(usual.iter().map(|&exit| (exit, exit.meaning())));
    exits.sort_by_key(|&(exit, _)| exit as u8);
    let mut text = String::from("Examples:\n");
    for example in examples(command) {
        text.push_str(&format!("  {example}\n"));
    }
    text.push_str("\nExit codes:\n");
    for (exit, meaning) in exits {
        text.push_str(&format!("  {:<3}  {meaning}\n", exit as u8));
    }
    text.push_str("  (one table for every command: docs/operations.md)");
    text
}

fn examples(command: Cmd) -> &'static [&'static str] {
    match command {
        Cmd::Check => &[
            "OKTA_API_TOKEN=... okta-asset-connector check --base-url acme.okta.com",
            "okta-asset-connector check --json | jq '.checks[] | select(.status != \"ok\")'",
        ],
        Cmd::Sync => &[
            "okta-asset-connector sync                        (post to the intake; incremental after the first run)",
            "okta-asset-connector sync --full",
            "okta-asset-connector sync --output events.json   (write instead of posting; no intake settings needed)",
            "okta-asset-connector sync --output - | jq -c '.items[]'",
        ],
        Cmd::Run => &[
            "okta-asset-connector --config /etc/okta-asset-connector/config.toml run",
            "okta-asset-connector run --frequency 600 --metrics-addr 0.0.0.0:9090",
        ],
        Cmd::Config | Cmd::Top => &[
            "okta-asset-connector config",
            "okta-asset-connector config --json | jq .keys.frequency",
        ],
    }
}

/// The exit codes of a command: those it words its own way, and those with their usual meaning.
fn exit_codes(command: Cmd) -> (&'static [(Exit, &'static str)], &'static [Exit]) {
    match command {
        Cmd::Check => (
            &[
                (Exit::Ok, "no check failed (warnings allowed)"),
                (
                    Exit::Config,
                    "the configuration is invalid (the report says why)",
                ),
                (Exit::CheckFailed, "a check failed"),
            ],
            &[Exit::OutputClosed],
        ),
        Cmd::Sync => (
            &[
                (
                    Exit::Ok,
                    "the cycle finished and the intake took every event (or they were written)",
                ),
                (
                    Exit::OutputClosed,
                    "--output -: standard output was closed by its reader",
                ),
            ],
            &[
                Exit::Failure,
                Exit::Config,
                Exit::Okta,
                Exit::Intake,
                Exit::State,
                Exit::Output,
                Exit::TimedOut,
            ],
        ),
        Cmd::Run => (
            &[
                (
                    Exit::Ok,
                    "stopped by SIGTERM or SIGINT (the batch in flight is finished first)",
                ),
                (
                    Exit::Okta,
                    "Okta settings that cannot work (a failed cycle is retried, not an exit)",
                ),
                (
                    Exit::Intake,
                    "intake settings that cannot work (a failed cycle is retried, not an exit)",
                ),
            ],
            &[Exit::Failure, Exit::Config, Exit::State, Exit::Stopped],
        ),
        Cmd::Config | Cmd::Top => (
            &[
                (
                    Exit::Ok,
                    "printed; the configuration is valid for sync and run",
                ),
                (
                    Exit::Config,
                    "printed; the configuration is not valid (the reason is shown)",
                ),
            ],
            &[Exit::OutputClosed],
        ),
    }
}

/// A command whose help lists settings, for [`Settings`].
pub trait Scoped {
    const COMMAND: Cmd;
}

macro_rules! scope_markers {
    ($($marker:ident => $cmd:ident),+) => {$(
        #[derive(Debug, Clone, Default)]
        pub struct $marker;
        impl Scoped for $marker {
            const COMMAND: Cmd = Cmd::$cmd;
        }
    )+};
}
scope_markers!(ForTop => Top, ForCheck => Check, ForSync => Sync, ForRun => Run, ForConfig => Config);

/// The setting flags of one command, as text; `S` decides which of them its help shows.
#[derive(Debug, Clone, Default)]
pub struct Settings<S> {
    pub config: Option<PathBuf>,
    pub symphony_dir: Option<PathBuf>,
    pub flags: FlagValues,
    scope: PhantomData<S>,
}

impl<S> Settings<S> {
    pub fn request(&self) -> LoadRequest {
        LoadRequest {
            config_file: self.config.clone(),
            symphony_dir: self.symphony_dir.clone(),
            flags: self.flags.clone(),
        }
    }
}

const FILES: &str = crate::config::keys::heading::RUNTIME;

/// A flag `--long VALUE` naming a file (`FILE`) or a directory, under the files heading.
fn file_arg(id: &'static str, long: &'static str, value_name: &'static str) -> Arg {
    Arg::new(id)
        .long(long)
        .value_name(value_name)
        .value_parser(ValueParser::path_buf())
        .value_hint(hint(value_name))
        .help_heading(FILES)
}

impl<S: Scoped> Args for Settings<S> {
    fn augment_args(command: clap::Command) -> clap::Command {
        let config_help = format!(
            "Config file, TOML (JSON accepted) [default: $XDG_CONFIG_HOME/okta-asset-connector/config.toml or ~/.config/okta-asset-connector/config.toml, else /etc/okta-asset-connector/config.toml, if present] [env: {CONFIG_FILE_ENV}]"
        );
        let mut command = command;
        for spec in KEY_SPECS {
            let top = S::COMMAND == Cmd::Top;
            let hidden = !top && !spec.scope.shown_in(S::COMMAND);
            let arg = match spec.flag {
                Flag::None => continue,
                Flag::Value { long, value_name } => Arg::new(spec.name)
                    .long(long)
                    .value_name(value_name)
                    .value_parser(ValueParser::string())
                    .action(ArgAction::Set)
                    .value_hint(hint(value_name)),
                Flag::Switch { long, .. } => {
                    Arg::new(spec.name).long(long).action(ArgAction::SetTrue)
                }
            };
            let arg = arg.help(spec.help()).help_heading(spec.heading);
            command = command.arg(arg.hide(hidden).hide_short_help(top));
        }
        let runtime_help = "Sekoia connector runtime directory [default: /symphony when it exists]";
        command
            .arg(file_arg("config", "config", "FILE").help(config_help))
            .arg(file_arg("symphony_dir", "symphony-dir", "DIR").help(runtime_help))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

fn hint(value_name: &str) -> ValueHint {
    match value_name {
        "FILE" => ValueHint::FilePath,
        "DIR" => ValueHint::DirPath,
        "URL" => ValueHint::Url,
        _ => ValueHint::Other,
    }
}

impl<S> FromArgMatches for Settings<S> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = FlagValues::default();
        for spec in KEY_SPECS {
            match spec.flag {
                Flag::None => {}
                Flag::Value { .. } => {
                    if let Some(text) = matches.get_one::<String>(spec.name) {
                        flags.push(spec, text.clone());
                    }
                }
                Flag::Switch { sets, .. } => {
                    if matches.get_flag(spec.name) {
                        flags.push(spec, sets);
                    }
                }
            }
        }
        Ok(Settings {
            config: matches.get_one::<PathBuf>("config").cloned(),
            symphony_dir: matches.get_one::<PathBuf>("symphony_dir").cloned(),
            flags,
            scope: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// Whether to colour a terminal's output: only on a terminal, and never when `NO_COLOR` is
/// set to anything but the empty string (no-color.org).
pub fn use_color(is_terminal: bool, no_color: Option<&str>) -> bool {
    is_terminal && no_color.is_none_or(str::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_before_and_after_the_command_are_merged() {
        let cli = Cli::try_parse_from([
            "okta-asset-connector",
            "--frequency",
            "5",
            "--config",
            "a.toml",
            "run",
            "--frequency",
            "7",
            "--no-mfa",
        ])
        .unwrap();
        let request = cli.load_request().unwrap();
        assert_eq!(request.config_file, Some(PathBuf::from("a.toml")));
        let loaded = crate::config::load(&request, &|_| None);
        assert_eq!(loaded.raw().frequency, Some(7));
        assert_eq!(loaded.raw().enrich_mfa, Some(false));
        assert_eq!(
            loaded.origin("frequency").unwrap().to_string(),
            "--frequency"
        );
    }

    #[test]
    fn a_bad_flag_value_is_a_configuration_error_not_a_usage_error() {
        let cli =
            Cli::try_parse_from(["okta-asset-connector", "check", "--frequency", "abc"]).unwrap();
        let loaded = crate::config::load(&cli.load_request().unwrap(), &|_| None);
        let error = loaded
            .validate(cli.command.needs())
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid frequency (--frequency): "),
            "{error}"
        );
    }

    #[test]
    fn help_shows_what_applies_with_the_environment_variable() {
        let mut cli = Cli::command();
        let render = |cli: &mut clap::Command, name: &str| {
            cli.find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string()
        };
        let check = render(&mut cli, "check");
        assert!(
            check.contains("--base-url") && check.contains("[env: OKTA_BASE_URL]"),
            "{check}"
        );
        assert!(!check.contains("--frequency"), "frequency is run's");
        assert!(check.contains("Exit codes:") && check.contains("Examples:"));
        assert!(
            check.contains("  2    the configuration is invalid")
                && check.contains("  5    a check failed"),
            "{check}"
        );
        let sync = render(&mut cli, "sync");
        for code in [
            "  3    Okta",
            "  4    the intake",
            "  7    the --output file",
            "  141  --output -",
        ] {
            assert!(sync.contains(code), "{code}: {sync}");
        }
        let run = render(&mut cli, "run");
        assert!(run.contains("--frequency") && run.contains("--metrics-addr"));
        // The top level: the commands in -h, every setting in --help.
        let short = cli.render_help().to_string();
        assert!(!short.contains("--base-url <URL>"), "{short}");
        assert!(short.contains("completions") && short.contains("--config"));
        let long = cli.render_long_help().to_string();
        assert!(long.contains("--base-url <URL>") && long.contains("--frequency"));
    }

    #[test]
    fn the_top_level_help_lists_every_exit_code() {
        let long = Cli::command().render_long_help().to_string();
        for exit in Exit::ALL {
            let line = format!("  {:<3}  {}", exit as u8, exit.meaning());
            assert!(long.contains(&line), "{line:?} in:\n{long}");
        }
    }

    #[test]
    fn no_color_is_honoured() {
        assert!(use_color(true, None));
        assert!(use_color(true, Some("")));
        assert!(!use_color(true, Some("1")));
        assert!(!use_color(false, None));
    }
}
