//! What a person sees of a cycle.
//!
//! - [`watch`]: while a cycle runs, its progress: redrawn in place on a terminal, a log line
//!   every few seconds elsewhere (files, pipes, containers, JSON logs), nothing with `-q`.
//! - [`eta`]: how many Okta requests a cycle still needs per bucket, and when the busiest bucket
//!   is done at the pace Okta allows (pure).
//! - [`frame`]: the words of a progress frame and of a progress log line (pure).
//! - [`terminal`]: the live region at the bottom of the terminal, and the log writer that prints
//!   log lines above it.
//! - [`report`]: after a cycle: the summary of `sync` (the error first when it failed), and the
//!   one line per cycle of `run`.

pub mod eta;
pub mod frame;
pub mod report;
pub mod terminal;
pub mod watch;

pub use report::{log_cycle, report_sync};
pub use terminal::LogWriter;
pub use watch::{TerminalUse, View, Watcher};
