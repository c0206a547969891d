//! A sandboxed process as a plan step: a command (a model's Python script, a user's plugin)
//! runs with JSON or text on its stdin, and its stdout is the step's output, inside a
//! sandbox that holds when the process runs as root:
//!
//! * **no network**: a new network namespace (no interface but a loopback that is down), and
//!   a seccomp filter that kills the process for opening a socket other than a UNIX one
//!   ([`Status::Denied`]`("network")`);
//! * **files**: read (and execute) only an allowlist — the system's libraries, the command,
//!   what [`Sandbox::allow_read`] adds — and write only a fresh scratch directory, the
//!   command's working directory, `HOME` and `TMPDIR`, removed after the run (Landlock; a
//!   refused access is the command's own `EACCES` error);
//! * **limits**: wall time (the whole process group killed), CPU time per process, memory and
//!   processes (a cgroup: they hold for root too), output size, file size, open files;
//! * **no privileges**: every capability dropped (the bounding set too), no signal to a
//!   process outside the sandbox, and namespaces, mounts, tracing, kernel keys, BPF,
//!   io_uring and modules refused by seccomp.
//!
//! The restrictions that must be in place before the command runs are applied by a
//! **launcher**, a process that applies them to itself and then becomes the command (the
//! workspace forbids `unsafe`, so no code runs between `fork` and `exec`). The launcher is
//! the `plan-sandbox` binary ([`Launcher::path`]) or the program itself, when its `main`
//! calls [`launch_if_asked`] first ([`Launcher::this_program`]). A restriction that cannot
//! be applied — a kernel without Landlock ABI 6, no cgroup to make — is a
//! [`SandboxError::Setup`]: the command never runs without the whole sandbox. `SECURITY.md`
//! says exactly what the sandbox protects against and what it does not.
//!
//! What it needs: Linux 6.12 or later with Landlock enabled (ABI 6), seccomp, and a cgroup
//! the process may create under its own — as root, cgroup v1's `pids` and `memory`
//! hierarchies or cgroup v2 with those controllers delegated to the process's cgroup. A
//! process that is not root also needs unprivileged user namespaces (for the network
//! namespace) and write access to its cgroup. Where one is missing, every run is a
//! [`SandboxError::Setup`] that says which; there is no degraded mode.
//!
//! ```standalone_crate
//! use std::time::Duration;
//! use plan_runtime::prelude::*;
//! use plan_sandbox::{Input, Launcher, Sandbox};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     plan_sandbox::launch_if_asked(); // this program is its own launcher
//!     let python = Sandbox::python(Launcher::this_program())?
//!         .arg("-c")
//!         .arg("import json, sys; print(sum(json.load(sys.stdin)))")
//!         .timeout(Duration::from_secs(5))
//!         .memory(256 << 20);
//!     let sum = plan! { #[name = "sum"] (python) };
//!     let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//!     let out = runtime.block_on(sum.run(Input::from(serde_json::json!([1, 2, 3]))))?;
//!     assert_eq!(out, "6\n");
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cgroup;
mod error;
mod filter;
mod launch;
mod run;
mod spec;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use plan_runtime::{Cx, Describe, NodeRef, Plan, PlanError};
use serde_json::Value;

pub use error::{Limit, SandboxError, Status};
pub use launch::launch_if_asked;

/// What every sandboxed command may read and execute: the system's programs, libraries and
/// the loader's cache (those that exist on this machine), and the devices that read as
/// nothing, zeros or random bytes.
const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/dev/null",
    "/dev/zero",
    "/dev/urandom",
];

/// The program that becomes the sandboxed command.
///
/// ```
/// use plan_sandbox::Launcher;
///
/// let launcher = Launcher::path("/usr/local/bin/plan-sandbox");
/// assert_eq!(format!("{launcher:?}"), r#"Launcher::path("/usr/local/bin/plan-sandbox")"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Launcher(Option<PathBuf>);

impl Launcher {
    /// The `plan-sandbox` binary at `path` (a test gets it as
    /// `env!("CARGO_BIN_EXE_plan-sandbox")`).
    pub fn path(path: impl Into<PathBuf>) -> Launcher {
        Launcher(Some(path.into()))
    }

    /// This program (`std::env::current_exe`) as its own launcher.
    ///
    /// **Its `main` must call [`launch_if_asked`] first thing.** Otherwise each run starts a
    /// second copy of the whole program, *outside* any sandbox (with the launcher's marker as
    /// its first argument); the run notices that no sandbox became ready and fails with a
    /// [`SandboxError::Setup`], but only once that copy has ended, and whatever it did, it did.
    /// Tests and libraries, whose `main` is not theirs, use [`Launcher::path`].
    pub fn this_program() -> Launcher {
        Launcher(None)
    }

    fn resolve(&self) -> Result<PathBuf, String> {
        match &self.0 {
            Some(path) if path.is_file() => Ok(path.clone()),
            Some(path) => Err(format!("the launcher {} does not exist", path.display())),
            None => std::env::current_exe()
                .map_err(|err| format!("cannot find this program to launch with: {err}")),
        }
    }
}

impl fmt::Debug for Launcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(path) => write!(f, "Launcher::path({path:?})"),
            None => f.write_str("Launcher::this_program()"),
        }
    }
}

#[derive(Clone, Debug)]
struct Limits {
    timeout: Duration,
    memory: u64,
    cpu_time: Duration,
    processes: u64,
    output: usize,
    file_size: u64,
    open_files: u64,
}

/// A command to run in the sandbox, and the sandbox's limits: a builder, cheap to clone,
/// and a plan step (`Input -> String`, its stdout; [`Sandbox::json`] for JSON of a type).
///
/// The defaults: 30 s of wall time, 30 s of CPU time per process, 512 MiB of memory, 64
/// processes, 1 MiB of stdout (and of stderr), files of at most 64 MiB, 256 open files.
///
/// ```
/// use std::time::Duration;
/// use plan_sandbox::{Launcher, Sandbox};
///
/// let sandbox = Sandbox::new(Launcher::path("/opt/plan-sandbox"), "/usr/bin/python3")
///     .arg("-c")
///     .arg("print(1)")
///     .env("API_KEY", "sk-secret")
///     .timeout(Duration::from_secs(2))
///     .memory(128 << 20)
///     .processes(8);
/// let debug = format!("{sandbox:?}");
/// assert!(debug.contains("API_KEY") && !debug.contains("sk-secret"));
/// ```
#[derive(Clone)]
pub struct Sandbox {
    launcher: Launcher,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    read: Vec<PathBuf>,
    limits: Limits,
}

impl Sandbox {
    /// `program` (a path, or a name looked up on this process's `PATH`) run by `launcher`.
    pub fn new(launcher: Launcher, program: impl Into<PathBuf>) -> Sandbox {
        Sandbox {
            launcher,
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            read: Vec::new(),
            limits: Limits {
                timeout: Duration::from_secs(30),
                memory: 512 << 20,
                cpu_time: Duration::from_secs(30),
                processes: 64,
                output: 1 << 20,
                file_size: 64 << 20,
                open_files: 256,
            },
        }
    }

    /// This machine's `python3` (its real interpreter, not a shim such as pyenv's) with its
    /// installation readable: it asks `python3` on `PATH`, outside the sandbox, for
    /// `sys.executable` and `sys.base_prefix`.
    pub fn python(launcher: Launcher) -> Result<Sandbox, SandboxError> {
        let asked = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys; print(sys.executable); print(sys.base_prefix)",
            ])
            .output()
            .map_err(|err| SandboxError::Setup(format!("cannot run `python3`: {err}")))?;
        let said = String::from_utf8_lossy(&asked.stdout);
        let mut lines = said.lines();
        match (asked.status.success(), lines.next(), lines.next()) {
            (true, Some(executable), Some(prefix)) => {
                Ok(Sandbox::new(launcher, executable).allow_read(prefix))
            }
            _ => Err(SandboxError::Setup(
                "`python3` did not say where it is installed".to_owned(),
            )),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Sandbox {
        self.args.push(arg.into());
        self
    }

    /// Sets a variable of the command's environment, which is otherwise only `PATH`, `HOME`
    /// and `TMPDIR` (the scratch directory) and `LANG`. `Debug` shows its name, not its value.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Sandbox {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Lets the command read (and execute) `path`, a file or a whole tree. It must exist
    /// when the command runs, or the run is a [`SandboxError::Setup`].
    pub fn allow_read(mut self, path: impl Into<PathBuf>) -> Sandbox {
        self.read.push(path.into());
        self
    }

    /// The wall-clock limit of a run, after which its processes are killed
    /// ([`Limit::Timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Sandbox {
        self.limits.timeout = timeout;
        self
    }

    /// The memory of all the run's processes together, in bytes (swap included); past it
    /// the kernel kills one, and the sandbox the rest ([`Limit::Memory`]). It bounds memory
    /// used, not address space (no `RLIMIT_AS`): a mapping never touched costs nothing, and a
    /// program's allocator does not fail before the limit is reached.
    pub fn memory(mut self, bytes: u64) -> Sandbox {
        self.limits.memory = bytes;
        self
    }

    /// The CPU time of each process, in whole seconds (at least 1); past it the kernel kills
    /// the process ([`Limit::Cpu`] when it is the command).
    pub fn cpu_time(mut self, limit: Duration) -> Sandbox {
        self.limits.cpu_time = limit;
        self
    }

    /// How many processes (and threads) the run may have at once, the command included; a
    /// run that tries to make more is killed ([`Limit::Processes`]).
    pub fn processes(mut self, count: u64) -> Sandbox {
        self.limits.processes = count;
        self
    }

    /// How many bytes the command may write to stdout, and to stderr; a run that writes more
    /// is killed ([`Limit::Output`]).
    pub fn output_limit(mut self, bytes: usize) -> Sandbox {
        self.limits.output = bytes;
        self
    }

    /// The largest file the command may write, in bytes (`SIGXFSZ` past it: [`Limit::FileSize`]
    /// when the command dies of it; a program that ignores it, as Python does, gets `EFBIG`).
    pub fn file_size(mut self, bytes: u64) -> Sandbox {
        self.limits.file_size = bytes;
        self
    }

    /// How many files the command may have open at once.
    pub fn open_files(mut self, count: u64) -> Sandbox {
        self.limits.open_files = count;
        self
    }

    /// Runs the command with `input` on its stdin, to its end: its status, stdout and
    /// stderr. Only a sandbox that could not be set up is an error; a command that failed or
    /// was killed is an [`Output`] with that [`Status`].
    pub async fn output(&self, input: impl Into<Input>) -> Result<Output, SandboxError> {
        run::run(self, input.into().into_bytes()).await
    }

    /// Runs the command with `input` on its stdin: its stdout (lossily decoded) when it
    /// exited with code 0, else the error that says how it ended.
    pub async fn run(&self, input: impl Into<Input>) -> Result<String, SandboxError> {
        let output = self.output(input).await?;
        match SandboxError::from_status(output.status, &output.stderr) {
            Some(err) => Err(err),
            None => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        }
    }

    /// This sandbox as a step whose output is the command's stdout read as JSON of type `T`.
    pub fn json<T>(self) -> SandboxJson<T> {
        SandboxJson {
            sandbox: self,
            out: std::marker::PhantomData,
        }
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values may be secrets (keys): names only.
        let env: Vec<&str> = self.env.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Sandbox")
            .field("launcher", &self.launcher)
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &env)
            .field("read", &self.read)
            .field("limits", &self.limits)
            .finish()
    }
}

/// What a command gets on its stdin: JSON (written compactly) or text.
///
/// ```
/// use plan_sandbox::Input;
///
/// assert_eq!(Input::from(serde_json::json!({"n": 1})).into_bytes(), br#"{"n":1}"#);
/// assert_eq!(Input::from("hello").into_bytes(), b"hello");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Written as JSON.
    Json(Value),
    /// Written as it is.
    Text(String),
}

impl Input {
    /// The bytes written to the command's stdin.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Input::Json(value) => value.to_string().into_bytes(),
            Input::Text(text) => text.into_bytes(),
        }
    }
}

impl From<Value> for Input {
    fn from(value: Value) -> Input {
        Input::Json(value)
    }
}

impl From<String> for Input {
    fn from(text: String) -> Input {
        Input::Text(text)
    }
}

impl From<&str> for Input {
    fn from(text: &str) -> Input {
        Input::Text(text.to_owned())
    }
}

/// How a sandboxed run ended, and what it printed ([`Sandbox::output`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Output {
    /// How it ended.
    pub status: Status,
    /// Its stdout, up to the output limit.
    pub stdout: Vec<u8>,
    /// Its stderr, up to the output limit.
    pub stderr: Vec<u8>,
}

impl Describe for Sandbox {}

/// The sandbox as a step: the command's stdout, or a [`PlanError::Step`] naming the node
/// with the [`SandboxError`] that says what was exceeded, refused or failed.
impl<C: Sync> Plan<Input, C> for Sandbox {
    type Out = String;

    async fn call(&self, input: Input, cx: Cx<'_, C>) -> Result<String, PlanError> {
        self.run(input)
            .await
            .map_err(|err| PlanError::step(NodeRef::current(&cx), err))
    }
}

/// A [`Sandbox`] whose output is its stdout read as JSON of type `T` ([`Sandbox::json`]).
pub struct SandboxJson<T> {
    sandbox: Sandbox,
    out: std::marker::PhantomData<fn() -> T>,
}

impl<T> Clone for SandboxJson<T> {
    fn clone(&self) -> Self {
        self.sandbox.clone().json()
    }
}

impl<T> fmt::Debug for SandboxJson<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SandboxJson").field(&self.sandbox).finish()
    }
}

impl<T> Describe for SandboxJson<T> {}

impl<T, C> Plan<Input, C> for SandboxJson<T>
where
    T: serde::de::DeserializeOwned + Send + 'static,
    C: Sync,
{
    type Out = T;

    async fn call(&self, input: Input, cx: Cx<'_, C>) -> Result<T, PlanError> {
        let node = || NodeRef::current(&cx);
        let stdout = self
            .sandbox
            .run(input)
            .await
            .map_err(|err| PlanError::step(node(), err))?;
        serde_json::from_str(&stdout)
            .map_err(|err| PlanError::step(node(), SandboxError::Json(err.to_string())))
    }
}
