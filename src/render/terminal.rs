//! The live region: a few lines at the bottom of the terminal, redrawn in place, with log lines
//! printed above them.
//!
//! Hand-written rather than a progress-bar crate: the job is one block of at most eight lines
//! redrawn four times a second, which takes three VT100 sequences (cursor up, carriage return,
//! erase to the end of the screen) and the terminal width (one `ioctl`, through `libc`, already
//! a dependency). A crate would add four more to the build for layout features this display does
//! not use. Lines are cut to the terminal width so they never wrap, which would break the
//! cursor-up count.
//!
//! There is one stderr per process, so there is one region: a process-wide lock that the live
//! display and the log writer ([`LogWriter`]) share, so that a log line erases the region, is
//! written, and the region is drawn again below it.

use std::io::{self, Write};
use std::sync::Mutex;

/// The lines on screen, and how many rows they take.
struct Region {
    lines: Vec<String>,
    drawn: usize,
}

static REGION: Mutex<Region> = Mutex::new(Region {
    lines: Vec::new(),
    drawn: 0,
});

fn region() -> std::sync::MutexGuard<'static, Region> {
    // A panic while drawing leaves nothing inconsistent worth refusing to draw again.
    REGION
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Region {
    fn erase(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.drawn > 0 {
            write!(out, "\x1b[{}A\r\x1b[J", self.drawn)?;
            self.drawn = 0;
        }
        Ok(())
    }

    fn draw(&mut self, out: &mut impl Write) -> io::Result<()> {
        let width = terminal_width().saturating_sub(1).max(20);
        for line in &self.lines {
            writeln!(out, "{}", fit(line, width))?;
        }
        self.drawn = self.lines.len();
        Ok(())
    }
}

/// Shows `lines` in place of the region's previous lines.
pub fn show(lines: Vec<String>) {
    let mut region = region();
    let mut out = io::stderr().lock();
    let _ = region.erase(&mut out);
    region.lines = lines;
    let _ = region.draw(&mut out);
    let _ = out.flush();
}

/// Erases the region and forgets it: what follows is written where it was.
pub fn clear() {
    let mut region = region();
    let mut out = io::stderr().lock();
    let _ = region.erase(&mut out);
    region.lines.clear();
    let _ = out.flush();
}

/// Writes `text` to stderr above the region (plainly when there is none).
fn write_above(text: &[u8]) {
    let mut region = region();
    let mut out = io::stderr().lock();
    let _ = region.erase(&mut out);
    let _ = out.write_all(text);
    let _ = region.draw(&mut out);
    let _ = out.flush();
}

/// The log writer for text logs on stderr: each log line goes above the live region. Errors
/// writing stderr are ignored (there is nowhere left to report them).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_above(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter
    }
}

/// Columns of the terminal on stderr (80 when it cannot be told).
fn terminal_width() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills a `winsize` we own; the call reads nothing else.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        let status = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) };
        if status == 0 && size.ws_col > 0 {
            return usize::from(size.ws_col);
        }
    }
    80
}

/// `line` cut to `width` characters (with `…` when cut).
fn fit(line: &str, width: usize) -> String {
    match line.char_indices().nth(width) {
        Some(_) => {
            let cut: String = line.chars().take(width.saturating_sub(1)).collect();
            format!("{cut}…")
        }
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_to_the_width() {
        assert_eq!(fit("abcdef", 10), "abcdef");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("a·b·c", 5), "a·b·c");
    }

    #[test]
    fn erasing_moves_up_over_what_was_drawn_and_clears_below() {
        let mut region = Region {
            lines: vec!["one".into(), "two".into()],
            drawn: 0,
        };
        let mut out = Vec::new();
        region.draw(&mut out).unwrap();
        region.erase(&mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "one\ntwo\n\x1b[2A\r\x1b[J");
        assert_eq!(region.drawn, 0);
    }
}
