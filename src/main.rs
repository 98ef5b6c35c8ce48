//! Entry point: parse the command line, read the configuration, set up logging, run the
//! command, map the outcome to an exit code. The logic lives in the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use okta_asset_connector::app::{self, AppError, Exit};
use okta_asset_connector::check;
use okta_asset_connector::cli::{self, Cli, Command};
use okta_asset_connector::config::report::EffectiveConfig;
use okta_asset_connector::config::{self, Loaded, LogFormat};
use okta_asset_connector::render::{self, TerminalUse, View};
use okta_asset_connector::runtime;
use okta_asset_connector::runtime::sekoia;
use okta_asset_connector::sync::Shutdown;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = |name: &str| std::env::var(name).ok();
    let Some(request) = cli.load_request() else {
        let Command::Completions { shell } = cli.command else {
            unreachable!("only completions reads no configuration")
        };
        return print_completions(shell);
    };
    let loaded = config::load(&request, &env);
    // Under the Sekoia.io runtime, `run` also sends its logs to the platform.
    let role = cli.command.sekoia_role();
    let mut sekoia = sekoia::Runtime::prepare(role, loaded.runtime().0, &env, app::system_clock());
    // Known even when another key is invalid, so that the error is logged as asked.
    let log_format = loaded
        .log_format()
        .unwrap_or(if std::io::stderr().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        });
    init_logging(log_format, cli.verbosity(), &env, sekoia.log_layer());
    let terminal = TerminalUse::of(
        std::io::stderr().is_terminal(),
        cli.command.writes_output_to_stdout() && std::io::stdout().is_terminal(),
    );
    View::choose(
        terminal,
        env("TERM").as_deref(),
        log_format,
        cli.verbosity(),
    )
    .install();
    if !sekoia.logs_configuration_warnings() {
        for warning in loaded.warnings() {
            tracing::warn!("{warning}");
        }
    }
    if let Command::Config { json, .. } = &cli.command {
        return print_config(&loaded, *json);
    }
    if sekoia.takes_over() {
        return block_on(async {
            let (stop, shutdown) = Shutdown::channel();
            tokio::spawn(forward_stop_signals(stop));
            let exit = sekoia.take_over(&request, &env, app::system_clock(), shutdown);
            exit_code(exit.await)
        });
    }
    let config = match (loaded.validate(cli.command.needs()), &cli.command) {
        (Ok(config), _) => config,
        (Err(error), Command::Check { json, .. }) => {
            // The report says what is wrong; the exit code is the configuration's, as for
            // every other command.
            let report = check::Report::config_error(error.to_string());
            return print_check(&report, *json).unwrap_or(exit_code(Exit::Config));
        }
        (Err(error), _) => return fail(&AppError::Config(error)),
    };
    block_on(async {
        match &cli.command {
            Command::Sync { output, full, .. } => {
                let (summary, result) =
                    app::sync_once(&config, output.as_deref(), *full, app::system_clock()).await;
                render::report_sync(summary.as_ref(), result.as_ref().map(|_| ()), log_format);
                match result {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => exit_code(error.exit()),
                }
            }
            Command::Check { json, .. } => {
                let report = check::run(&config, app::system_clock()).await;
                let passed = if report.success {
                    Exit::Ok
                } else {
                    Exit::CheckFailed
                };
                print_check(&report, *json).unwrap_or(exit_code(passed))
            }
            Command::Run { .. } => {
                let (stop, shutdown) = Shutdown::channel();
                tokio::spawn(forward_stop_signals(stop));
                match runtime::run(&config, app::system_clock(), shutdown).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => fail(&error),
                }
            }
            Command::Config { .. }
            | Command::Completions { .. }
            | Command::ValidateModuleConfiguration { .. } => ExitCode::SUCCESS,
        }
    })
}

/// Runs `work` on the async runtime.
fn block_on(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(work),
        Err(error) => fail(&AppError::Other(format!(
            "cannot start the async runtime: {error}"
        ))),
    }
}

/// SIGTERM or SIGINT asks the runtime to stop; a second one exits at once.
async fn forward_stop_signals(stop: tokio::sync::watch::Sender<bool>) {
    wait_for_signal().await;
    tracing::info!("stop requested; finishing the batch in flight");
    let _ = stop.send(true);
    wait_for_signal().await;
    tracing::warn!("second stop request: exiting now");
    std::process::exit(Exit::Stopped as i32);
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// The log filter: `RUST_LOG` when set, else the level `-v`/`-q` ask for.
fn log_filter(verbosity: i8, rust_log: Option<String>) -> tracing_subscriber::EnvFilter {
    const QUIET_DEPENDENCIES: &str = "hyper=warn,reqwest=warn,rustls=warn,h2=warn";
    let directives = match verbosity {
        ..=-2 => "error".to_string(),
        -1 => "warn".to_string(),
        0 => format!("info,{QUIET_DEPENDENCIES}"),
        1 => format!("debug,{QUIET_DEPENDENCIES}"),
        2.. => "trace".to_string(),
    };
    rust_log
        .filter(|value| !value.trim().is_empty())
        .and_then(|value| tracing_subscriber::EnvFilter::try_new(value).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(directives))
}

/// Logs on stderr (above the live progress display when there is one), and to the Sekoia.io
/// platform through `platform` when given.
fn init_logging(
    format: LogFormat,
    verbosity: i8,
    env: &dyn Fn(&str) -> Option<String>,
    platform: Option<sekoia::logs::PlatformLogLayer>,
) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let builder = tracing_subscriber::fmt().with_env_filter(log_filter(verbosity, env("RUST_LOG")));
    match format {
        LogFormat::Json => builder
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .finish()
            .with(platform)
            .init(),
        LogFormat::Text => {
            let color = cli::use_color(std::io::stderr().is_terminal(), env("NO_COLOR").as_deref());
            builder
                .with_writer(render::LogWriter)
                .with_ansi(color)
                .finish()
                .with(platform)
                .init()
        }
    }
}

/// Writes `text` on stdout. `Some(exit code)` when stdout was closed by its reader (`| head`):
/// the program then ends quietly with 128 + SIGPIPE, as if SIGPIPE had ended it (Rust ignores
/// SIGPIPE, so a closed pipe arrives here as an error instead).
fn print_stdout(text: &[u8]) -> Option<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Ok(()) => None,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            Some(exit_code(Exit::OutputClosed))
        }
        Err(error) => {
            tracing::error!("cannot write to standard output: {error}");
            Some(exit_code(Exit::Failure))
        }
    }
}

/// `config`: exit 0 when the configuration is valid for `sync` and `run`, 2 when not.
fn print_config(loaded: &Loaded, json: bool) -> ExitCode {
    let report = EffectiveConfig::of(loaded);
    let text = if json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        report.to_text()
    };
    if let Some(closed) = print_stdout(text.as_bytes()) {
        return closed;
    }
    if report.valid {
        ExitCode::SUCCESS
    } else {
        exit_code(Exit::Config)
    }
}

fn print_completions(shell: clap_complete::Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "okta-asset-connector",
        &mut script,
    );
    print_stdout(&script).unwrap_or(ExitCode::SUCCESS)
}

/// Prints the check report on stdout; `Some` only when stdout could not take it.
fn print_check(report: &check::Report, json: bool) -> Option<ExitCode> {
    let text = if json {
        serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
    } else {
        report.to_text()
    };
    print_stdout(text.as_bytes())
}

fn fail(error: &AppError) -> ExitCode {
    tracing::error!("{error}");
    exit_code(error.exit())
}

fn exit_code(exit: Exit) -> ExitCode {
    ExitCode::from(exit as u8)
}
