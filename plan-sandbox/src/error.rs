//! How a sandboxed run ended, and why a step that ran one failed.

use std::fmt;

/// A limit of the sandbox that a run went past, and so was killed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// The wall-clock [`timeout`](crate::Sandbox::timeout).
    Timeout,
    /// The [`memory`](crate::Sandbox::memory) limit: the kernel killed a process for want
    /// of memory.
    Memory,
    /// The [`processes`](crate::Sandbox::processes) limit: a process could not be made.
    Processes,
    /// The [`output_limit`](crate::Sandbox::output_limit) on stdout or stderr.
    Output,
    /// The [`cpu_time`](crate::Sandbox::cpu_time) limit of a process.
    Cpu,
    /// The [`file_size`](crate::Sandbox::file_size) limit: the command wrote a file past it
    /// and died of `SIGXFSZ`.
    FileSize,
}

impl Limit {
    /// The limit's word, as in `killed (timeout)`.
    ///
    /// ```
    /// assert_eq!(plan_sandbox::Limit::Processes.as_str(), "processes");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Timeout => "timeout",
            Limit::Memory => "memory",
            Limit::Processes => "processes",
            Limit::Output => "output",
            Limit::Cpu => "cpu",
            Limit::FileSize => "file size",
        }
    }

    /// What to change when a run needs more.
    fn fix(self) -> &'static str {
        match self {
            Limit::Timeout => "raise `Sandbox::timeout` if the work needs longer",
            Limit::Memory => "raise `Sandbox::memory` if the work needs more",
            Limit::Processes => "raise `Sandbox::processes` if the work starts more",
            Limit::Output => "raise `Sandbox::output_limit` if the output is that large",
            Limit::Cpu => "raise `Sandbox::cpu_time` if the work needs more",
            Limit::FileSize => "raise `Sandbox::file_size` if the work writes larger files",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a sandboxed run ended. Its `Display` is the one-word-or-so summary that the `sandbox`
/// example prints last (`sandbox: {status}`): `exit 0`, `killed (timeout)`,
/// `denied (network)`.
///
/// ```
/// use plan_sandbox::{Limit, Status};
///
/// assert_eq!(Status::Exited(3).to_string(), "exit 3");
/// assert_eq!(Status::Killed(Limit::Memory).to_string(), "killed (memory)");
/// assert_eq!(Status::Denied("network").to_string(), "denied (network)");
/// // A signal the sandbox did not send reads as a shell shows it: 128 + the signal.
/// assert_eq!(Status::Signaled(6).to_string(), "exit 134");
/// assert!(Status::Exited(0).success());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// The command exited with this code.
    Exited(i32),
    /// The sandbox killed the run for going past a limit.
    Killed(Limit),
    /// The command tried something the sandbox refuses and was killed for it: `"network"` (a
    /// socket other than a UNIX one).
    Denied(&'static str),
    /// The command died of a signal the sandbox did not send (its own `abort`, a crash).
    Signaled(i32),
}

impl Status {
    /// `true` for an exit with code 0.
    pub fn success(self) -> bool {
        self == Status::Exited(0)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Exited(code) => write!(f, "exit {code}"),
            Status::Killed(limit) => write!(f, "killed ({limit})"),
            Status::Denied(what) => write!(f, "denied ({what})"),
            Status::Signaled(signal) => write!(f, "exit {}", 128 + signal),
        }
    }
}

/// Why a sandboxed run failed. As a step's error it is wrapped in a
/// [`PlanError`](plan_runtime::PlanError) that names the node; each reads as one line that
/// says what was exceeded or refused and what to change.
///
/// ```
/// use plan_sandbox::{Limit, SandboxError};
///
/// let err = SandboxError::Killed(Limit::Timeout);
/// assert_eq!(
///     err.to_string(),
///     "sandboxed command killed (timeout): raise `Sandbox::timeout` if the work needs longer"
/// );
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// Killed for going past a limit.
    #[error("sandboxed command killed ({0}): {fix}", fix = .0.fix())]
    Killed(Limit),
    /// Killed for trying what the sandbox refuses (`"network"`).
    #[error(
        "sandboxed command denied ({0}): the sandbox has no network; give the command its data on stdin"
    )]
    Denied(&'static str),
    /// The command exited with a code other than 0, or died of a signal of its own (code
    /// 128 + the signal).
    #[error("sandboxed command failed with exit code {code}{}", Tail(.stderr))]
    Exit {
        /// Its exit code.
        code: i32,
        /// The end of its stderr (at most 2 KiB), lossily decoded.
        stderr: String,
    },
    /// Its stdout is not the JSON a [`SandboxJson`](crate::SandboxJson) step expects.
    #[error("sandboxed command's stdout is not the JSON expected: {0}")]
    Json(String),
    /// The sandbox could not be set up: the command did not run.
    #[error("sandbox not set up, the command did not run: {0}")]
    Setup(String),
}

impl SandboxError {
    /// The error for a run that ended with `status` (`None` for a success), with the end of
    /// its `stderr`.
    pub(crate) fn from_status(status: Status, stderr: &[u8]) -> Option<SandboxError> {
        Some(match status {
            Status::Exited(0) => return None,
            Status::Exited(code) => SandboxError::Exit {
                code,
                stderr: tail(stderr),
            },
            Status::Signaled(signal) => SandboxError::Exit {
                code: 128 + signal,
                stderr: tail(stderr),
            },
            Status::Killed(limit) => SandboxError::Killed(limit),
            Status::Denied(what) => SandboxError::Denied(what),
        })
    }
}

/// The last 2 KiB of `bytes`, lossily decoded.
fn tail(bytes: &[u8]) -> String {
    const KEEP: usize = 2048;
    let start = bytes.len().saturating_sub(KEEP);
    String::from_utf8_lossy(&bytes[start..])
        .trim_end()
        .to_owned()
}

struct Tail<'a>(&'a str);

impl fmt::Display for Tail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.lines().last() {
            Some(last) => write!(f, "; its stderr ends: {last}"),
            None => Ok(()),
        }
    }
}
