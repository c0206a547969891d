//! What the parent tells the launcher: the command and every restriction to apply before it
//! runs. It travels as JSON in one environment variable, never on the command's own command
//! line, and the command gets an environment of its own (the spec's `env`), without it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The launcher's marker argument: with [`SPEC_VAR`] set, a program started with it as its
/// first argument is a launcher ([`crate::launch_if_asked`]).
pub(crate) const MARKER: &str = "--plan-sandbox-launcher";

/// The environment variable that carries the [`Spec`] as JSON.
pub(crate) const SPEC_VAR: &str = "PLAN_SANDBOX_SPEC";

/// The line the launcher prints on its stdout once every restriction holds, right before it
/// becomes the command: whatever follows is the command's. Printed first, so that the
/// command cannot forge it.
pub(crate) const READY: &str = "plan-sandbox: ready\n";

/// The start of the line the launcher prints instead when a restriction could not be
/// applied; the rest of the line says which and why. It then exits without running the
/// command.
pub(crate) const FAILED: &str = "plan-sandbox: setup failed: ";

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Spec {
    /// The command's absolute path (resolved by the parent).
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The command's whole environment.
    pub env: Vec<(String, String)>,
    /// Readable (and executable) files and trees.
    pub read: Vec<PathBuf>,
    /// Readable and writable trees: the scratch directory, `/dev/null`.
    pub write: Vec<PathBuf>,
    /// The cgroup directories the launcher moves itself into.
    pub cgroups: Vec<PathBuf>,
    pub cpu_secs: u64,
    pub file_size: u64,
    pub open_files: u64,
    pub processes: u64,
}
