//! The lock that makes a [`JsonFiles`](super::JsonFiles) directory safe for several processes:
//! an advisory lock (`flock` on Unix, `LockFileEx` on Windows, through std's [`File::lock`])
//! on the file `DIR/.lock`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The name of the lock file in a store's directory. It starts with `.`, as no key's file
/// does (see [`Key`](crate::store::Key)), so it is never listed as a key.
const NAME: &str = ".lock";

/// A store directory's lock file, open for the store's life.
///
/// Every writer, in every process, holds the lock from its read of the current version to
/// the rename of its new file, and makes its temporary file while holding it; so a temporary
/// file found by a holder of the lock belongs to a write that was cut off.
#[derive(Debug)]
pub(super) struct DirLock {
    /// The open lock file, or why it cannot be made: in a directory this process may only
    /// read, a store without one still reads (a reader needs no lock), and a write fails
    /// with this reason.
    file: Result<File, String>,
    path: PathBuf,
}

impl DirLock {
    /// The lock file of `dir`, made if missing.
    pub(super) fn open(dir: &Path) -> io::Result<Self> {
        let path = dir.join(NAME);
        // Never truncated: another process may hold the lock on it.
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
        {
            Ok(file) => Ok(file),
            // A directory this process may only read: an existing lock file locks as well
            // open for reading (`flock` asks no more); without one, the store only reads.
            Err(e) if read_only(&e) => File::open(&path).map_err(|_| e.to_string()),
            Err(e) => return Err(in_context(&path, "cannot open the lock file", e)),
        };
        Ok(DirLock { file, path })
    }

    /// Whether the lock can be taken: there is a lock file.
    pub(super) fn is_open(&self) -> bool {
        self.file.is_ok()
    }

    /// Waits for the lock, then holds it until the guard is dropped.
    ///
    /// The lock belongs to the open file, not to the thread: two threads holding one
    /// `DirLock` do not exclude each other (the store serializes its own tasks first).
    pub(super) fn hold(&self) -> io::Result<Held<'_>> {
        let file = self.file.as_ref().map_err(|reason| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "cannot make the lock file {}: {reason}",
                    self.path.display()
                ),
            )
        })?;
        file.lock()
            .map_err(|e| in_context(&self.path, "cannot lock", e))?;
        Ok(Held(file))
    }
}

/// Whether `e` says that a directory may not be written to.
fn read_only(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// The lock, held.
pub(super) struct Held<'a>(&'a File);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // An unlock fails only on a file that is not open; closing it releases the lock
        // anyway, and so does the death of the process.
        let _ = self.0.unlock();
    }
}

fn in_context(path: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}
