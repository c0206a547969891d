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
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// The lock file of `dir`, made if missing.
    pub(super) fn open(dir: &Path) -> io::Result<Self> {
        let path = dir.join(NAME);
        // Never truncated: another process may hold the lock on it.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| in_context(&path, "cannot open the lock file", e))?;
        Ok(DirLock { file, path })
    }

    /// Waits for the lock, then holds it until the guard is dropped.
    ///
    /// The lock belongs to the open file, not to the thread: two threads holding one
    /// `DirLock` do not exclude each other (the store serializes its own tasks first).
    pub(super) fn hold(&self) -> io::Result<Held<'_>> {
        self.file
            .lock()
            .map_err(|e| in_context(&self.path, "cannot lock", e))?;
        Ok(Held(self))
    }
}

/// The lock, held.
pub(super) struct Held<'a>(&'a DirLock);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // An unlock fails only on a file that is not open; closing it releases the lock
        // anyway, and so does the death of the process.
        let _ = self.0.file.unlock();
    }
}

fn in_context(path: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}
