//! `--output FILE|-`: the bodies that would be posted, written instead of sent.
//!
//! Layout: each batch body is written as is, followed by a newline unless it already ends with
//! one. So a `sekoia` output holds one envelope `{"version":1,"items":[...]}` per line (JSON
//! Lines of envelopes), and an `ocsf` output is one NDJSON stream, one event per line. Bodies are
//! never gzipped here.
//!
//! A file is written to a temporary file beside the target and renamed over it only by
//! [`FileOutput::finish`], after an fsync: a failed or killed run never leaves a half file (the
//! temporary file is removed on drop). Writes are synchronous: they are small and sequential,
//! and the caller delivers one batch at a time anyway.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::batcher::Batch;
use super::envelope::Format;
use super::error::IntakeError;
use super::Delivered;

/// Writes batch bodies to a file or stdout.
pub struct FileOutput {
    format: Format,
    target: Target,
    written: u64,
}

enum Target {
    Stdout(BufWriter<io::Stdout>),
    File {
        writer: Option<BufWriter<File>>,
        temp: PathBuf,
        path: PathBuf,
    },
}

impl std::fmt::Debug for FileOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.target {
            Target::Stdout(_) => Path::new("-"),
            Target::File { path, .. } => path.as_path(),
        };
        f.debug_struct("FileOutput")
            .field("format", &self.format)
            .field("target", &target)
            .field("written", &self.written)
            .finish()
    }
}

impl FileOutput {
    /// Writes to standard output (`--output -`).
    pub fn stdout(format: Format) -> FileOutput {
        FileOutput {
            format,
            target: Target::Stdout(BufWriter::with_capacity(1 << 16, io::stdout())),
            written: 0,
        }
    }

    /// Writes to `path` (through a temporary file beside it, renamed by [`FileOutput::finish`]).
    pub fn create(path: impl AsRef<Path>, format: Format) -> Result<FileOutput, IntakeError> {
        let path = path.as_ref().to_path_buf();
        let io_error = |what: &str, source| IntakeError::Io {
            what: format!("{what} {}", path.display()),
            source,
        };
        let name = path
            .file_name()
            .ok_or_else(|| io_error("output file", io::Error::other("not a file name")))?;
        if path.is_dir() {
            return Err(io_error("output file", io::Error::other("is a directory")));
        }
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let file = File::create(&temp).map_err(|e| io_error("a temporary file beside", e))?;
        Ok(FileOutput {
            format,
            target: Target::File {
                writer: Some(BufWriter::with_capacity(1 << 16, file)),
                temp,
                path,
            },
            written: 0,
        })
    }

    /// `-` means stdout, anything else a file path. A path whose directory does not exist is
    /// refused before anything is read from Okta.
    pub fn open(target: &str, format: Format) -> Result<FileOutput, IntakeError> {
        if target == "-" {
            Ok(FileOutput::stdout(format))
        } else {
            check_directory(Path::new(target))?;
            FileOutput::create(target, format)
        }
    }

    /// Where the events go, for messages: the path, or `standard output`.
    pub fn destination(&self) -> String {
        match &self.target {
            Target::Stdout(_) => "standard output".to_string(),
            Target::File { path, .. } => path.display().to_string(),
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Writes the body of `batch` (see the module doc for the layout).
    pub fn write(&mut self, batch: Batch) -> Result<Delivered, IntakeError> {
        if batch.is_empty() {
            return Ok(Delivered::default());
        }
        let mut body = batch.body(self.format);
        if !body.ends_with(b"\n") {
            body.push(b'\n');
        }
        let result = match &mut self.target {
            Target::Stdout(out) => out.write_all(&body),
            Target::File { writer, .. } => match writer {
                Some(w) => w.write_all(&body),
                None => Err(io::Error::other("output already finished")),
            },
        };
        result.map_err(|source| self.io_error(source))?;
        self.written += body.len() as u64;
        Ok(Delivered {
            items: batch.len(),
            bytes: body.len() as u64,
            ..Delivered::default()
        })
    }

    /// Flushes; for a file, syncs it to disk and renames it into place.
    pub fn finish(mut self) -> Result<(), IntakeError> {
        let result = match &mut self.target {
            Target::Stdout(out) => out.flush(),
            Target::File { writer, temp, path } => match writer.take() {
                Some(w) => finish_file(w, temp, path),
                None => Ok(()),
            },
        };
        result.map_err(|source| self.io_error(source))
    }

    fn io_error(&self, source: io::Error) -> IntakeError {
        let what = match &self.target {
            Target::Stdout(_) => "standard output".to_string(),
            Target::File { path, .. } => format!("output file {}", path.display()),
        };
        IntakeError::Io { what, source }
    }
}

/// The usual `--output` mistake (a typo, a directory not created yet) named as such, rather
/// than as the temporary file's "No such file or directory".
fn check_directory(path: &Path) -> Result<(), IntakeError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if directory.is_dir() {
        return Ok(());
    }
    Err(IntakeError::Io {
        what: format!("output file {}", path.display()),
        source: io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "the directory {} does not exist; create it or choose another path",
                directory.display()
            ),
        ),
    })
}

fn finish_file(writer: BufWriter<File>, temp: &Path, path: &Path) -> io::Result<()> {
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    fs::rename(temp, path)?;
    // Make the rename itself durable (best effort: not every platform opens directories).
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

impl Drop for FileOutput {
    fn drop(&mut self) {
        // Not finished: remove the partial temporary file, leave any previous output alone.
        if let Target::File {
            writer: Some(_),
            temp,
            ..
        } = &mut self.target
        {
            let _ = fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(events: &[&str]) -> Batch {
        Batch::from_items(events.iter().map(|e| e.as_bytes().to_vec()).collect())
    }

    #[test]
    fn sekoia_file_holds_one_envelope_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let mut out = FileOutput::create(&path, Format::Sekoia).unwrap();
        let d = out.write(batch(&[r#"{"a":1}"#, r#"{"b":2}"#])).unwrap();
        out.write(batch(&[r#"{"c":3}"#])).unwrap();
        assert_eq!((d.items, d.requests), (2, 0));
        assert!(!path.exists(), "the target appears only at finish");
        out.finish().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"version\":1,\"items\":[{\"a\":1},{\"b\":2}]}\n{\"version\":1,\"items\":[{\"c\":3}]}\n"
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn ocsf_file_is_one_ndjson_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut out = FileOutput::create(&path, Format::Ocsf).unwrap();
        out.write(batch(&[r#"{"a":1}"#, r#"{"b":2}"#])).unwrap();
        out.write(batch(&[])).unwrap();
        out.write(batch(&[r#"{"c":3}"#])).unwrap();
        out.finish().unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"
        );
    }

    #[test]
    fn an_unfinished_output_leaves_nothing_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        fs::write(&path, "previous run\n").unwrap();
        let mut out = FileOutput::create(&path, Format::Sekoia).unwrap();
        out.write(batch(&[r#"{"a":1}"#])).unwrap();
        drop(out);
        assert_eq!(fs::read_to_string(&path).unwrap(), "previous run\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn bad_paths_fail_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let err = FileOutput::create(dir.path(), Format::Sekoia)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("directory") || err.contains("file name"),
            "{err}"
        );
        let err = FileOutput::create(dir.path().join("missing/out.json"), Format::Sekoia)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
