//! The parent's side of a run: the scratch directory and cgroups made, the launcher started
//! in a process group of its own, stdin fed and stdout and stderr read (each up to a cap) on
//! threads, the limits watched, everything killed at the end, and the end classified.

use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::{Pid, SysconfVar, sysconf};
use tokio::sync::Notify;

use crate::cgroup::Cgroups;
use crate::error::{Limit, SandboxError, Status};
use crate::spec::{FAILED, MARKER, READY, SPEC_VAR, Spec};
use crate::{Limits, Output, Sandbox};

/// How often the parent looks at the cgroups' counters while the command runs.
const TICK: Duration = Duration::from_millis(10);

pub(crate) async fn run(sandbox: &Sandbox, stdin: Vec<u8>) -> Result<Output, SandboxError> {
    let setup = SandboxError::Setup;
    let launcher = sandbox.launcher.resolve().map_err(setup)?;
    let program = resolve(&sandbox.program).map_err(setup)?;
    let limits = &sandbox.limits;
    let scratch = tempfile::Builder::new()
        .prefix("plan-sandbox-")
        .tempdir()
        .map_err(|err| setup(format!("cannot make a scratch directory: {err}")))?;
    let scratch_path = scratch.path().to_owned();
    let cgroups = Cgroups::create(limits.processes, limits.memory).map_err(setup)?;
    let spec = spec(sandbox, program, &scratch_path, &cgroups)?;

    let mut child = Command::new(&launcher)
        .arg(MARKER)
        .env_clear()
        .env(SPEC_VAR, spec)
        .current_dir(&scratch_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|err| {
            setup(format!(
                "cannot start the launcher {}: {err}",
                launcher.display()
            ))
        })?;
    let group = Pid::from_raw(child.id() as i32);
    // Also when the run is dropped mid-way (a plan's deadline, a `par(first)` answered):
    // until the launcher has joined the run's cgroup, its process group is the only hold on
    // it, and dropped before the cgroups (declared after them), it is killed first.
    let group_killer = KillGroup(group);
    let overflow = Arc::new(AtomicBool::new(false));
    let feeder = feed(&mut child, stdin);
    let stdout = drain(
        child.stdout.take(),
        limits.output.saturating_add(READY.len()),
        group,
        &overflow,
    );
    let stderr = drain(child.stderr.take(), limits.output, group, &overflow);
    let (status, ended) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let cpu = cpu_time_at_exit(group);
        let _ = status.send(child.wait().map(|exit| (exit, cpu)));
    });

    let (exit, killed) = watch(ended, limits.timeout, &cgroups, group, &overflow).await;
    // Whatever the command left behind dies with it, so that the pipes close.
    drop(group_killer);
    cgroups.kill_all();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let _ = feeder.join();
    let (exit, cpu) = exit.map_err(|err| setup(format!("cannot wait for the launcher: {err}")))?;

    let said = String::from_utf8_lossy(&stdout);
    if let Some(reason) = said.strip_prefix(FAILED) {
        return Err(setup(reason.trim_end().to_owned()));
    }
    let stdout = match stdout.strip_prefix(READY.as_bytes()) {
        Some(stdout) => stdout.to_vec(),
        // A limit that passed while the launcher was still setting up (a timeout shorter
        // than that) ends the run like any other: killed, with nothing printed.
        None if killed.is_some() => Vec::new(),
        None => {
            return Err(setup(format!(
                "the launcher {} ended ({exit}) before the sandbox was ready: is it a launcher \
                 (does its `main` call `plan_sandbox::launch_if_asked()` first)? {}",
                launcher.display(),
                String::from_utf8_lossy(&stderr).trim_end()
            )));
        }
    };
    let hit_cpu_limit = cpu.is_some_and(|cpu| cpu.as_secs() >= cpu_secs(limits));
    let status = classify(
        exit,
        killed,
        &cgroups,
        overflow.load(Ordering::Relaxed),
        hit_cpu_limit,
    );
    drop(cgroups);
    drop(scratch);
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Kills a process group when dropped.
struct KillGroup(Pid);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = killpg(self.0, Signal::SIGKILL);
    }
}

/// The launcher's spec, as JSON: the command and every restriction of the run.
fn spec(
    sandbox: &Sandbox,
    program: PathBuf,
    scratch: &Path,
    cgroups: &Cgroups,
) -> Result<String, SandboxError> {
    let mut read = vec![program.clone()];
    for path in &sandbox.read {
        if !path.exists() {
            return Err(SandboxError::Setup(format!(
                "the allowed path {} does not exist",
                path.display()
            )));
        }
        read.push(path.clone());
    }
    read.extend(
        crate::SYSTEM_READ
            .iter()
            .map(PathBuf::from)
            .filter(|path| path.exists()),
    );
    let home = scratch.display().to_string();
    let mut env = vec![
        ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("HOME".to_owned(), home.clone()),
        ("TMPDIR".to_owned(), home),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ];
    env.extend(sandbox.env.iter().cloned());
    let limits = &sandbox.limits;
    let spec = Spec {
        program,
        args: sandbox.args.clone(),
        env,
        read,
        write: vec![scratch.to_owned(), PathBuf::from("/dev/null")],
        cgroups: cgroups.dirs(),
        cpu_secs: cpu_secs(limits),
        file_size: limits.file_size,
        open_files: limits.open_files,
        processes: limits.processes,
    };
    // Paths travel as JSON strings: one that is not UTF-8 cannot.
    serde_json::to_string(&spec)
        .map_err(|err| SandboxError::Setup(format!("a path of the sandbox is not UTF-8: {err}")))
}

/// The soft limit of CPU time of each process, in whole seconds (`RLIMIT_CPU`'s unit).
fn cpu_secs(limits: &Limits) -> u64 {
    limits.cpu_time.as_secs().max(1)
}

/// Waits for the launcher's end, killing the run at its deadline or as soon as it hits a
/// limit the kernel enforces by refusing (processes) or by killing one process (memory), or
/// its output overflows: the run as a whole ends there.
async fn watch(
    mut ended: tokio::sync::oneshot::Receiver<std::io::Result<Ended>>,
    timeout: Duration,
    cgroups: &Cgroups,
    group: Pid,
    overflow: &AtomicBool,
) -> (std::io::Result<Ended>, Option<Limit>) {
    // Real time, not tokio's: under a paused clock (a plan's tests) an idle runtime would
    // jump to the deadline at once.
    // `None`: so far off it cannot be told (`Duration::MAX`), no deadline.
    let deadline = std::time::Instant::now().checked_add(timeout);
    let tick = ticker();
    let mut killed = None;
    loop {
        let mut next_tick = std::pin::pin!(tick.notified());
        let ended = std::future::poll_fn(|cx| match Pin::new(&mut ended).poll(cx) {
            Poll::Ready(exit) => Poll::Ready(Some(exit)),
            Poll::Pending => next_tick.as_mut().poll(cx).map(|()| None),
        });
        match ended.await {
            Some(exit) => {
                let exit = exit.unwrap_or_else(|_| Err(std::io::Error::other("waiter gone")));
                return (exit, killed);
            }
            None if killed.is_some() => continue,
            None => {}
        }
        // An overflow killed the process group already; the cgroup also holds a command that
        // left its group (`setpgid`), which would otherwise run on unwatched.
        killed = if overflow.load(Ordering::Relaxed) {
            Some(Limit::Output)
        } else if cgroups.process_limit_hits() > 0 {
            Some(Limit::Processes)
        } else if cgroups.oom_kills() > 0 {
            Some(Limit::Memory)
        } else if deadline.is_some_and(|deadline| std::time::Instant::now() >= deadline) {
            Some(Limit::Timeout)
        } else {
            None
        };
        if killed.is_some() {
            let _ = killpg(group, Signal::SIGKILL);
            cgroups.kill_all();
        }
    }
}

/// Wakes the watcher every [`TICK`] of real time for as long as it holds the result (a tokio
/// timer would fire at once under a paused clock, and the watcher would spin).
fn ticker() -> Arc<Notify> {
    let tick = Arc::new(Notify::new());
    let held = Arc::downgrade(&tick);
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(TICK);
            match held.upgrade() {
                Some(tick) => tick.notify_one(),
                None => break,
            }
        }
    });
    tick
}

/// The launcher's exit, and the CPU time the command had used when it ended (`None` when it
/// could not be read).
type Ended = (ExitStatus, Option<Duration>);

fn classify(
    exit: ExitStatus,
    killed: Option<Limit>,
    cgroups: &Cgroups,
    overflow: bool,
    hit_cpu_limit: bool,
) -> Status {
    if overflow {
        return Status::Killed(Limit::Output);
    }
    if let Some(limit) = killed {
        return Status::Killed(limit);
    }
    // The command may have ended between two looks at the counters.
    if cgroups.process_limit_hits() > 0 {
        return Status::Killed(Limit::Processes);
    }
    if cgroups.oom_kills() > 0 {
        return Status::Killed(Limit::Memory);
    }
    match (exit.code(), exit.signal()) {
        (Some(code), _) => Status::Exited(code),
        (None, Some(signal)) if signal == Signal::SIGXCPU as i32 => Status::Killed(Limit::Cpu),
        // The hard CPU limit, a second past the soft one, kills a command that ignored
        // `SIGXCPU`; no `SIGKILL` of the sandbox's own gets here (`killed` says those).
        (None, Some(signal)) if signal == Signal::SIGKILL as i32 && hit_cpu_limit => {
            Status::Killed(Limit::Cpu)
        }
        (None, Some(signal)) if signal == Signal::SIGXFSZ as i32 => Status::Killed(Limit::FileSize),
        // The seccomp filter kills with SIGSYS for a socket other than a UNIX one, and for
        // nothing else.
        (None, Some(signal)) if signal == Signal::SIGSYS as i32 => Status::Denied("network"),
        (None, Some(signal)) => Status::Signaled(signal),
        (None, None) => Status::Exited(-1),
    }
}

/// Waits for the launcher (pid `pid`) to end without reaping it, and reads the CPU time it
/// used from its zombie's `/proc/PID/stat`, which its reaping removes.
fn cpu_time_at_exit(pid: Pid) -> Option<Duration> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    while let Err(nix::errno::Errno::EINTR) = waitid(Id::Pid(pid), flags) {}
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's name (in parentheses, and free to hold anything): the state (field
    // 3), .., utime (field 14) and stime (field 15), in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_second = sysconf(SysconfVar::CLK_TCK).ok()??;
    let per_second = u64::try_from(per_second).ok().filter(|&n| n > 0)?;
    Some(Duration::from_millis(
        ticks.saturating_mul(1000) / per_second,
    ))
}

/// Writes `input` to the child's stdin and closes it; a command that does not read it all
/// gets the rest refused (EPIPE), which is fine.
fn feed(child: &mut Child, input: Vec<u8>) -> JoinHandle<()> {
    let stdin = child.stdin.take();
    std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input);
        }
    })
}

/// Reads `pipe` to its end, keeping at most `cap` bytes; past the cap it kills the run's
/// process group and marks `overflow`.
fn drain(
    pipe: Option<impl Read + Send + 'static>,
    cap: usize,
    group: Pid,
    overflow: &Arc<AtomicBool>,
) -> JoinHandle<Vec<u8>> {
    let overflow = overflow.clone();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let Some(mut pipe) = pipe else { return kept };
        let mut buf = [0; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    if n > room && !overflow.swap(true, Ordering::Relaxed) {
                        let _ = killpg(group, Signal::SIGKILL);
                    }
                }
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        kept
    })
}

/// The command's absolute path: as given when it has a `/`, else found on this process's
/// `PATH`, as a shell would.
fn resolve(program: &std::path::Path) -> Result<PathBuf, String> {
    let found = if program.components().count() > 1 || program.is_absolute() {
        Some(program.to_owned()).filter(|path| path.is_file())
    } else {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(program))
                .find(|path| path.is_file())
        })
    };
    let found =
        found.ok_or_else(|| format!("the command `{}` was not found", program.display()))?;
    std::fs::canonicalize(&found)
        .map_err(|err| format!("cannot resolve the command {}: {err}", found.display()))
}
