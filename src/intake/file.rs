//! `--output FILE|-`: the bodies that would be posted, written instead of sent.
//!
//! Layout: each batch body is written as is, followed by a newline unless it already ends with
//! one. So a `sekoia` output holds one envelope `{"version":1,"items":[...]}` per line (JSON
//! Lines of envelopes), and an `ocsf` output is one NDJSON stream, one event per line. Bodies are
//! never gzipped here.
//!
//! A file is written to a temporary file beside the target and renamed over it only by
//! [`FileOutput::finish`], after an fsync: a failed or killed run never leaves a half file (the
//! temporary file is removed on drop). The events are people's data, and the directory may be
//! shared: the temporary file gets a random name (`.NAME.XXXXXX.tmp`), is created with `O_EXCL`
//! (a symbolic link or a file planted under that name is never followed nor reused) and mode
//! `0600`, so the output is private to the user that ran the connector. Writes are synchronous:
//! they are small and sequential, and the caller delivers one batch at a time anyway.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

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
        /// The temporary file (removed when dropped unfinished).
        writer: Option<BufWriter<NamedTempFile>>,
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
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| io_error("a temporary file beside", e))?;
        Ok(FileOutput {
            format,
            target: Target::File {
                writer: Some(BufWriter::with_capacity(1 << 16, temp)),
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
            Target::File { writer, path } => match writer.take() {
                Some(w) => finish_file(w, path),
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

fn finish_file(writer: BufWriter<NamedTempFile>, path: &Path) -> io::Result<()> {
    let temp = writer.into_inner().map_err(|e| e.into_error())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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

    #[cfg(unix)]
    #[test]
    fn the_temporary_file_has_a_random_name_and_the_output_is_private() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        // A previous output readable by everyone: replaced by a private one.
        fs::write(&path, "previous run\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut names = std::collections::BTreeSet::new();
        let mut outputs = Vec::new();
        for _ in 0..3 {
            let mut out = FileOutput::create(&path, Format::Sekoia).unwrap();
            out.write(batch(&[r#"{"a":1}"#])).unwrap();
            outputs.push(out);
        }
        for entry in fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if name == "out.json" {
                continue;
            }
            assert!(
                name.starts_with(".out.json.") && name.ends_with(".tmp"),
                "{name}"
            );
            assert!(!name.contains(&std::process::id().to_string()), "{name}");
            assert_eq!(entry.metadata().unwrap().mode() & 0o777, 0o600, "{name}");
            names.insert(name);
        }
        assert_eq!(names.len(), 3, "a new random name each time: {names:?}");
        for out in outputs {
            out.finish().unwrap();
        }
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me\n").unwrap();
        let path = dir.path().join("out.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let mut out = FileOutput::create(&path, Format::Ocsf).unwrap();
        out.write(batch(&[r#"{"a":1}"#])).unwrap();
        out.finish().unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me\n");
        assert!(fs::symlink_metadata(&path).unwrap().file_type().is_file());
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
