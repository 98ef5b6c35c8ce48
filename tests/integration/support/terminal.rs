//! The connector binary on a pseudo-terminal, and what a person would see on that terminal.
//!
//! A pseudo-terminal, not a pipe, because the connector decides what to show from
//! `isatty(stderr)`: the live progress display and colours exist only on a terminal. It is opened
//! with `libc::openpty` (libc is already a dependency of the connector) instead of a crate such
//! as `portable-pty` or `rexpect`: the tests need one pty, a window size and a byte stream, not
//! expect-scripts or Windows consoles. [`Screen`] replays the bytes the way a VT100 terminal
//! does for the few sequences the connector writes (cursor up, erase below, colours), so a test
//! can assert on what remains visible, not on the raw stream of redraws.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Columns of the test terminal.
pub const COLUMNS: u16 = 150;

/// Chunks read from a terminal, each with when it arrived (since the start).
type Chunks = Arc<Mutex<Vec<(Duration, Vec<u8>)>>>;

/// A child process whose stderr (and stdin) is a pseudo-terminal.
pub struct Terminal {
    child: Child,
    /// Every chunk read from the terminal.
    chunks: Chunks,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    /// Starts `command` with stdin and stderr on a new terminal of [`COLUMNS`] × 40; stdout
    /// goes where the command says (the connector's logs and progress are on stderr).
    pub fn spawn(mut command: Command) -> Terminal {
        let (master, slave) = open_pty();
        let input = slave.try_clone().expect("dup the terminal");
        command.stdin(Stdio::from(input)).stderr(Stdio::from(slave));
        let started = Instant::now();
        let child = command.spawn().expect("the connector starts");
        // Our copies of the terminal's far end must close, or reading never ends.
        drop(command);
        let chunks: Chunks = Arc::default();
        let sink = chunks.clone();
        let reader = std::thread::spawn(move || {
            let mut master = std::fs::File::from(master);
            let mut buffer = [0u8; 8192];
            // EIO once the child and every copy of the far end are gone.
            while let Ok(n @ 1..) = master.read(&mut buffer) {
                let at = started.elapsed();
                sink.lock().unwrap().push((at, buffer[..n].to_vec()));
            }
        });
        Terminal {
            child,
            chunks,
            reader: Some(reader),
        }
    }

    /// When the first byte appeared on the terminal, after the start.
    pub fn first_output(&self) -> Option<Duration> {
        self.chunks.lock().unwrap().first().map(|(at, _)| *at)
    }

    /// Everything written so far, as sent (redraws included).
    pub fn raw(&self) -> String {
        let chunks = self.chunks.lock().unwrap();
        let bytes: Vec<u8> = chunks.iter().flat_map(|(_, b)| b.iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// What the terminal shows now.
    pub fn screen(&self) -> String {
        Screen::replay(&self.raw())
    }

    /// Waits (at most `timeout`) until the screen satisfies `shown`; returns the screen then.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        shown: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if shown(&screen) {
                return Some(screen);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the child to exit (at most `timeout`, then kills it).
    pub async fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the connector") {
                self.join_reader();
                return status;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!(
                    "the connector did not exit within {timeout:?}: {}",
                    self.screen()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ends the child now (SIGKILL) and collects what it wrote.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.join_reader();
    }

    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.reader.is_some() {
            self.kill();
        }
    }
}

fn open_pty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: COLUMNS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors it opened into the out-pointers and reads the
    // window size we own; the name and termios pointers may be null.
    let status = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(status, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// A replay of terminal output: text, carriage returns, line feeds, and the escape sequences
/// the connector writes (cursor up `ESC[nA`, erase below `ESC[J`, colours `ESC[...m`, which show
/// nothing). Lines are not wrapped: a long line stays one line.
pub struct Screen {
    rows: Vec<Vec<char>>,
    row: usize,
    col: usize,
}

impl Screen {
    /// The visible text after `output`, trailing blank lines dropped.
    pub fn replay(output: &str) -> String {
        let mut screen = Screen {
            rows: vec![Vec::new()],
            row: 0,
            col: 0,
        };
        let mut chars = output.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => screen.col = 0,
                '\n' => {
                    screen.row += 1;
                    screen.col = 0;
                    if screen.row == screen.rows.len() {
                        screen.rows.push(Vec::new());
                    }
                }
                '\x1b' if chars.peek() == Some(&'[') => {
                    chars.next();
                    let mut parameters = String::new();
                    let mut command = None;
                    for c in chars.by_ref() {
                        if c.is_ascii_digit() || c == ';' || c == '?' {
                            parameters.push(c);
                        } else {
                            command = Some(c);
                            break;
                        }
                    }
                    screen.escape(&parameters, command);
                }
                c => screen.put(c),
            }
        }
        let mut lines: Vec<String> = screen
            .rows
            .iter()
            .map(|row| row.iter().collect::<String>().trim_end().to_string())
            .collect();
        while lines.last().is_some_and(|line| line.is_empty()) {
            lines.pop();
        }
        lines.join("\n")
    }

    fn put(&mut self, c: char) {
        let row = &mut self.rows[self.row];
        if row.len() <= self.col {
            row.resize(self.col, ' ');
            row.push(c);
        } else {
            row[self.col] = c;
        }
        self.col += 1;
    }

    fn escape(&mut self, parameters: &str, command: Option<char>) {
        let n = parameters.parse::<usize>().unwrap_or(1);
        match command {
            Some('A') => self.row = self.row.saturating_sub(n),
            Some('J') => {
                self.rows[self.row].truncate(self.col);
                self.rows.truncate(self.row + 1);
            }
            Some('K') => self.rows[self.row].truncate(self.col),
            // Colours and anything else: nothing visible.
            _ => {}
        }
    }
}

#[test]
fn the_screen_replays_redraws() {
    let output = "log one\nframe 1\nframe 1b\n\x1b[2A\r\x1b[Jlog \x1b[31mtwo\x1b[0m\nframe 2\n\x1b[1A\r\x1b[J";
    assert_eq!(Screen::replay(output), "log one\nlog two");
}
