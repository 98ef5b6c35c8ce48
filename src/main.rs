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
use okta_asset_connector::runtime;
use okta_asset_connector::sync::Shutdown;
use okta_asset_connector::sync::Summary;

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
    // Known even when another key is invalid, so that the error is logged as asked.
    let log_format = loaded
        .log_format()
        .unwrap_or(if std::io::stderr().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        });
    init_logging(log_format, cli.verbosity(), &env);
    for warning in loaded.warnings() {
        tracing::warn!("{warning}");
    }
    if let Command::Config { json, .. } = &cli.command {
        return print_config(&loaded, *json);
    }
    let config = match (loaded.validate(cli.command.needs()), &cli.command) {
        (Ok(config), _) => config,
        (Err(error), Command::Check { json, .. }) => {
            return print_check(&check::Report::config_error(error.to_string()), *json);
        }
        (Err(error), _) => return fail(&AppError::Config(error)),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(&AppError::Other(format!(
                "cannot start the async runtime: {error}"
            )))
        }
    };
    runtime.block_on(async {
        match &cli.command {
            Command::Sync { output, full, .. } => {
                let (summary, result) =
                    app::sync_once(&config, output.as_deref(), *full, app::system_clock()).await;
                if let Some(summary) = summary {
                    report(&summary, log_format);
                }
                match result {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => fail(&error),
                }
            }
            Command::Check { json, .. } => {
                let report = check::run(&config, app::system_clock()).await;
                print_check(&report, *json)
            }
            Command::Run { .. } => {
                let (stop, shutdown) = Shutdown::channel();
                tokio::spawn(forward_stop_signals(stop));
                match runtime::run(&config, app::system_clock(), shutdown).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => fail(&error),
                }
            }
            Command::Config { .. } | Command::Completions { .. } => ExitCode::SUCCESS,
        }
    })
}

/// SIGTERM or SIGINT asks the runtime to stop; a second one exits at once.
async fn forward_stop_signals(stop: tokio::sync::watch::Sender<bool>) {
    wait_for_signal().await;
    tracing::info!("stop requested; finishing the batch in flight");
    let _ = stop.send(true);
    wait_for_signal().await;
    tracing::warn!("second stop request: exiting now");
    std::process::exit(130);
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

fn init_logging(format: LogFormat, verbosity: i8, env: &dyn Fn(&str) -> Option<String>) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(log_filter(verbosity, env("RUST_LOG")))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => {
            let color = cli::use_color(std::io::stderr().is_terminal(), env("NO_COLOR").as_deref());
            builder.with_ansi(color).init()
        }
    }
}

fn report(summary: &Summary, format: LogFormat) {
    match format {
        LogFormat::Text => eprintln!("{summary}"),
        LogFormat::Json => {
            let fields = serde_json::to_string(summary).unwrap_or_default();
            tracing::info!(summary = %fields, "sync summary");
        }
    }
}

/// Writes `text` on stdout; a closed stdout (`| head`) is not an error worth a panic.
fn print_stdout(text: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text).and_then(|()| stdout.flush());
}

/// `config`: exit 0 when the configuration is valid for `sync` and `run`, 2 when not.
fn print_config(loaded: &Loaded, json: bool) -> ExitCode {
    let report = EffectiveConfig::of(loaded);
    let text = if json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        report.to_text()
    };
    print_stdout(text.as_bytes());
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
    print_stdout(&script);
    ExitCode::SUCCESS
}

/// Prints the check report on stdout; exit 0 only when no check failed.
fn print_check(report: &check::Report, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        print!("{}", report.to_text());
    }
    if report.success {
        ExitCode::SUCCESS
    } else {
        exit_code(Exit::CheckFailed)
    }
}

fn fail(error: &AppError) -> ExitCode {
    tracing::error!("{error}");
    exit_code(error.exit())
}

fn exit_code(exit: Exit) -> ExitCode {
    ExitCode::from(exit as u8)
}
