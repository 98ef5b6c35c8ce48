//! The connector binary under test: the one way the tests start it.

use std::process::{Child, Command, Output, Stdio};

/// The binary cargo built for these tests.
const BIN: &str = env!("CARGO_BIN_EXE_okta-asset-connector");

/// The connector's command with an empty environment (nothing leaks in from the shell running
/// the tests) and no stdin; the caller adds arguments, variables and output redirections.
pub fn command() -> Command {
    let mut command = Command::new(BIN);
    command.env_clear().stdin(Stdio::null());
    command
}

/// Runs `command` to completion on a blocking thread, so that the fakes it talks to keep being
/// served meanwhile.
pub async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the blocking task finishes")
        .expect("the connector binary runs")
}

/// Sends SIGTERM, as a service manager stopping the connector does.
pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -TERM {}", child.id());
}

/// Runs `command` to completion like [`output`] and asserts that it succeeded.
pub async fn success(command: Command) -> Output {
    let output = output(command).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
