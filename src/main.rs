//! Entry point: parse the command line, set up logging, run the command, map the outcome to an
//! exit code. The logic lives in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use okta_asset_connector::app::{self, AppError, Exit};
use okta_asset_connector::check;
use okta_asset_connector::cli::{Cli, Command};
use okta_asset_connector::config::LogFormat;
use okta_asset_connector::runtime;
use okta_asset_connector::sync::Shutdown;
use okta_asset_connector::sync::Summary;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = |name: &str| std::env::var(name).ok();
    let raw = app::load_raw_config(&cli.settings, env);
    let log_format = raw
        .as_ref()
        .ok()
        .and_then(|raw| raw.log_format.as_deref())
        .map(|f| {
            if f == "json" {
                LogFormat::Json
            } else {
                LogFormat::Text
            }
        })
        .unwrap_or(if std::io::stderr().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        });
    init_logging(log_format);

    let config = raw.and_then(|raw| raw.validate(app::needs(&cli.command)));
    let config = match (config, &cli.command) {
        (Ok(config), _) => config,
        (Err(error), Command::Check { json }) => {
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
            Command::Sync { output, full } => {
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
            Command::Check { json } => {
                let report = check::run(&config, app::system_clock()).await;
                print_check(&report, *json)
            }
            Command::Run => {
                let (stop, shutdown) = Shutdown::channel();
                tokio::spawn(forward_stop_signals(stop));
                match runtime::run(&config, app::system_clock(), shutdown).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => fail(&error),
                }
            }
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

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,hyper=warn,reqwest=warn,rustls=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
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
