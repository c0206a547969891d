//! The temporary files of [`JsonFiles`](super::JsonFiles) writes: how they are named, and
//! how those of writes cut off (a process killed mid-write) are found and removed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A number per temporary file, so that two writes of one process never share one.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary file's path for the key's file at `path`, in the same directory (a
/// rename is atomic only within one filesystem): `.NAME.json.PID.N.tmp`. It starts with `.`,
/// as no key's file does, and is recognized by [`is_temporary`].
pub(super) fn path_for(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("value");
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Whether `name` is a temporary file's name, as [`path_for`] makes them: nothing else is
/// ever removed.
pub(super) fn is_temporary(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = rest.rsplitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(pid), Some(file)) => digits(n) && digits(pid) && file.ends_with(".json"),
        _ => false,
    }
}

/// Removes every temporary file under `dir`; returns how many. The caller holds the
/// directory's lock, so none of them belongs to a live write.
///
/// A file that cannot be removed is left, with a warning: it is never read, and is tried
/// again at the next opening.
pub(super) fn remove_leftovers(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            // Keys' directories never start with `.`: nothing of the store's is in others.
            if !name.starts_with('.') {
                removed += remove_leftovers(&path)?;
            }
        } else if is_temporary(&name) {
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(
                    file = %path.display(),
                    error = %e,
                    "cannot remove the temporary file of a write that was cut off"
                ),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_names_it_makes_are_temporary() {
        let made = path_for(Path::new("/store/agents/ada.json"));
        assert_eq!(made.parent(), Some(Path::new("/store/agents")));
        let name = made.file_name().unwrap().to_str().unwrap();
        assert!(is_temporary(name), "{name}");
        for other in [
            "ada.json",
            ".lock",
            ".ada.json.tmp",
            ".ada.json.12.tmp",
            ".ada.txt.12.3.tmp",
            ".ada.json.12.x.tmp",
            ".ada.json.12.3.tmp.bak",
            "ada.json.12.3.tmp",
            ".notes.tmp",
        ] {
            assert!(!is_temporary(other), "{other}");
        }
    }
}
