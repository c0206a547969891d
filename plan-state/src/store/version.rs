//! Versions: 1 for a value's first write, raised by one by each write, and below 2^63 in every
//! store (SQLite's integers are signed 64-bit), so that a value moves between stores intact.
//! For a backend of your own, which must keep them as the others do.
//!
//! ```
//! use plan_state::store::version;
//!
//! assert_eq!(version::next(None), Ok(1));
//! assert!(version::is_valid(1) && !version::is_valid(0));
//! assert!(version::next(Some(version::MAX)).is_err());
//! ```

/// The largest version a store keeps.
pub const MAX: u64 = i64::MAX as u64;

/// Whether a version read from a store's files or rows is one a store writes.
pub fn is_valid(version: u64) -> bool {
    (1..=MAX).contains(&version)
}

/// The version of the write after `version` (`None`: after nothing), or why there is none.
pub fn next(version: Option<u64>) -> Result<u64, String> {
    match version.unwrap_or(0) {
        MAX => Err(at_max()),
        version => Ok(version + 1),
    }
}

/// Why a value at [`MAX`] takes no write.
pub fn at_max() -> String {
    format!(
        "its version is {MAX}, the largest a store keeps: no write can raise it (delete the value to start again at 1)"
    )
}
