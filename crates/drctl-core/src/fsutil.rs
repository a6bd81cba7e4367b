//! Crash-safe file writes: temp file in the same folder, fsync, rename, fsync
//! of the folder. A reader sees the old bytes or the new ones, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` atomically with mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("drctl");
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` holding `bytes` (mode 0600) unless it exists, atomically:
/// the bytes go to a temp file in the same folder, fsynced, which is then
/// hard-linked into place; a link never replaces an existing file. So `path`
/// either does not exist or holds every byte, never an empty or partial
/// file. Returns whether this call created it.
pub fn create_exclusive(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("drctl");
    let tmp = dir.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        match fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        }
        sync_dir(dir)?;
        Ok(true)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// Makes a rename or create in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Why a JSON-lines file could not be read.
#[derive(Debug)]
pub enum JsonLinesError {
    Io(io::Error),
    /// A line other than a torn last one does not parse.
    Corrupt {
        line: usize,
        reason: String,
    },
}

/// The entries of an append-only JSON-lines file, `None` if it does not
/// exist. A torn last line (the writer died while appending it, so it has
/// no newline) is dropped: what it would have recorded never happened.
pub fn read_json_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<Vec<T>>, JsonLinesError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(JsonLinesError::Io(e)),
    };
    let complete = bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut entries = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_slice(line) {
            Ok(entry) => entries.push(entry),
            Err(_) if i + 1 == lines.len() && !complete => {}
            Err(e) => {
                return Err(JsonLinesError::Corrupt {
                    line: i + 1,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(Some(entries))
}

/// A file that logs append whole lines to: a trait so that unit tests can
/// make a write fail part way (disk full) or a truncation fail.
pub trait AppendFile: Send {
    /// Writes all of `bytes` at the end of the file.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// The file's length in bytes.
    fn size(&self) -> io::Result<u64>;
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    fn sync(&mut self) -> io::Result<()>;
}

impl AppendFile for File {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.sync_all()
    }
}

/// Why a line could not be appended.
#[derive(Debug)]
pub enum AppendError {
    /// Nothing of the line is left in the file: it is as before the append.
    Undone(io::Error),
    /// Part of the line may be left at the end of the file: cutting it off
    /// failed too. The file must not be appended to again (a line after it
    /// would leave a partial line in the middle, which readers refuse).
    Torn {
        append: io::Error,
        truncate: io::Error,
    },
}

impl AppendError {
    /// The append's own error.
    pub fn into_io(self) -> io::Error {
        match self {
            AppendError::Undone(e) | AppendError::Torn { append: e, .. } => e,
        }
    }
}

/// Appends `line` (ending in `\n`) and fsyncs it, whole or not at all: a
/// failed write or fsync (disk full) is cut off again at the length the
/// file had before, so that a later append does not follow a partial line.
/// Returns the file's length after the append.
pub fn append_line(file: &mut dyn AppendFile, line: &[u8]) -> Result<u64, AppendError> {
    let before = file.size().map_err(AppendError::Undone)?;
    match file.append(line).and_then(|()| file.sync()) {
        Ok(()) => Ok(before + line.len() as u64),
        Err(append) => match file.set_len(before).and_then(|()| file.sync()) {
            Ok(()) => Err(AppendError::Undone(append)),
            Err(truncate) => Err(AppendError::Torn { append, truncate }),
        },
    }
}

/// Opens the JSON-lines file `path` to append to (created with mode 0600,
/// the folder fsynced when it is new). A torn last line a writer left
/// (killed, or a truncation that failed) is cut off first: readers ignore
/// it as the last line, but would refuse it once a line followed.
pub fn open_append(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let existed = path.exists();
    let mut file = opts.open(path)?;
    if !existed && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync_dir(dir)?;
    }
    let len = file.metadata()?.len();
    if len > 0 {
        use std::io::{Read, Seek, SeekFrom};
        // The tail up to the last newline; lines are small, so a torn one
        // is within the last few KiB, but read back as far as needed.
        let mut keep = 0;
        let mut end = len;
        let mut chunk = vec![0u8; 4096];
        while end > 0 {
            let start = end.saturating_sub(chunk.len() as u64);
            let n = (end - start) as usize;
            file.seek(SeekFrom::Start(start))?;
            file.read_exact(&mut chunk[..n])?;
            if let Some(i) = chunk[..n].iter().rposition(|b| *b == b'\n') {
                keep = start + i as u64 + 1;
                break;
            }
            end = start;
        }
        if keep < len {
            file.set_len(keep)?;
            file.sync_all()?;
        }
    }
    Ok(file)
}

/// Test doubles for [`AppendFile`].
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A real file whose next append writes only `budget` bytes and fails
    /// (as a full disk does); later appends succeed. `truncate_fails`: its
    /// truncations fail too.
    pub struct FailsPartWay {
        pub file: File,
        pub budget: Option<usize>,
        pub truncate_fails: bool,
    }

    impl FailsPartWay {
        pub fn after(path: &Path, bytes: usize) -> Self {
            Self {
                file: open_append(path).unwrap(),
                budget: Some(bytes),
                truncate_fails: false,
            }
        }
    }

    impl AppendFile for FailsPartWay {
        fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
            match self.budget.take() {
                Some(n) if n < bytes.len() => {
                    self.file.write_all(&bytes[..n])?;
                    Err(io::Error::new(
                        io::ErrorKind::StorageFull,
                        "No space left on device (injected)",
                    ))
                }
                _ => self.file.write_all(bytes),
            }
        }
        fn size(&self) -> io::Result<u64> {
            AppendFile::size(&self.file)
        }
        fn set_len(&mut self, len: u64) -> io::Result<()> {
            if self.truncate_fails {
                return Err(io::Error::other("truncate refused (injected)"));
            }
            self.file.set_len(len)
        }
        fn sync(&mut self) -> io::Result<()> {
            self.file.sync_all()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::FailsPartWay;
    use super::*;

    #[test]
    fn a_failed_append_is_cut_off_and_a_torn_tail_is_dropped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut f = open_append(&path).unwrap();
        assert_eq!(append_line(&mut f, b"{\"n\":1}\n").unwrap(), 8);
        drop(f);
        let mut failing = FailsPartWay::after(&path, 3);
        let err = append_line(&mut failing, b"{\"n\":2}\n").unwrap_err();
        assert!(matches!(err, AppendError::Undone(_)), "{err:?}");
        assert_eq!(fs::read(&path).unwrap(), b"{\"n\":1}\n");
        assert_eq!(append_line(&mut failing, b"{\"n\":3}\n").unwrap(), 16);
        assert_eq!(fs::read(&path).unwrap(), b"{\"n\":1}\n{\"n\":3}\n");

        // A truncation that fails leaves the partial line: reported, and
        // the next open cuts it off.
        let mut torn = FailsPartWay::after(&path, 4);
        torn.truncate_fails = true;
        let err = append_line(&mut torn, b"{\"n\":4}\n").unwrap_err();
        assert!(matches!(err, AppendError::Torn { .. }), "{err:?}");
        assert_eq!(fs::read(&path).unwrap(), b"{\"n\":1}\n{\"n\":3}\n{\"n\"");
        let mut f = open_append(&path).unwrap();
        append_line(&mut f, b"{\"n\":5}\n").unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            b"{\"n\":1}\n{\"n\":3}\n{\"n\":5}\n"
        );

        // A file holding only a torn line is emptied.
        fs::write(&path, b"{\"n\"").unwrap();
        drop(open_append(&path).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"");
    }
}
