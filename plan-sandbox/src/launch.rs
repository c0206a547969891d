//! The launcher's side: a process that applies every restriction of a [`Spec`] to itself,
//! then becomes the command (`exec`). Each step either holds or ends the launch with a
//! setup failure; the command never runs with part of the sandbox.

use std::convert::Infallible;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Command;

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
    Scope, path_beneath_rules,
};
use nix::sched::CloneFlags;
use rlimit::Resource;

use crate::filter;
use crate::spec::{FAILED, MARKER, READY, SPEC_VAR, Spec};

/// The Landlock ABI the sandbox needs: file access (with `ioctl` on devices, ABI 5) and the
/// scoping of signals and abstract UNIX sockets to the sandbox (ABI 6, Linux 6.12).
const LANDLOCK_ABI: ABI = ABI::V6;

/// The exit code of a launcher that could not set the sandbox up.
const SETUP_EXIT: i32 = 125;

/// Becomes the sandboxed command if this process was started as a launcher, and returns at
/// once otherwise. Call it first thing in `main` — before any thread or runtime starts (a
/// process that is not root can make its network namespace only while it has one thread) —
/// of a program that passes
/// [`Launcher::this_program`](crate::Launcher::this_program) to its sandboxes:
///
/// ```no_run
/// use plan_sandbox::{Launcher, Sandbox};
///
/// fn main() {
///     plan_sandbox::launch_if_asked(); // first: in a launcher it never returns
///     program();
/// }
///
/// fn program() {
///     let sandbox = Sandbox::new(Launcher::this_program(), "python3");
///     // .. run it
/// #   drop(sandbox);
/// }
/// ```
///
/// A process is a launcher when its first argument is the launcher's marker *and* the
/// sandbox's spec is in its environment; then this function does not return: it applies
/// the sandbox and runs the command in its place, or, when a restriction cannot be applied,
/// says why to the parent and exits (code 125) without running it.
pub fn launch_if_asked() {
    if std::env::args_os().nth(1).as_deref() != Some(OsStr::new(MARKER)) {
        return;
    }
    let Some(spec) = std::env::var_os(SPEC_VAR) else {
        return;
    };
    let Err(reason) = launch(&spec);
    // On stdout, where the parent looks for the ready line first: one line.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{FAILED}{}", reason.replace('\n', " "));
    let _ = out.flush();
    std::process::exit(SETUP_EXIT);
}

fn launch(spec: &OsStr) -> Result<Infallible, String> {
    let spec = spec
        .to_str()
        .ok_or("the spec is not UTF-8")
        .and_then(|s| serde_json::from_str::<Spec>(s).map_err(|_| "the spec is not valid JSON"))
        .map_err(|err| format!("{err}: the launcher and its parent must be the same version"))?;
    // Descriptors the launcher was given without close-on-exec (by its parent's parent, a C
    // library: a socket among them would reach past the network ban) close at the command's
    // `exec`: it gets stdin, stdout and stderr only. First, while `/proc` is still readable.
    close_fds::set_fds_cloexec(3, &[]);
    // The order matters: joining cgroups and a new network namespace need the privileges the
    // later steps drop, and seccomp goes last because it refuses what the others call.
    join_cgroups(&spec)?;
    unshare_network()?;
    set_limits(&spec)?;
    drop_capabilities()?;
    restrict_files(&spec)?;
    filter::apply().map_err(|err| format!("cannot install the seccomp filter: {err}"))?;

    let mut out = std::io::stdout().lock();
    out.write_all(READY.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|err| format!("cannot write to the parent: {err}"))?;
    drop(out);
    let err = Command::new(&spec.program)
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .exec();
    // Past the ready line, so not a setup failure: the command could not start, as a shell
    // reports it (126: found but not executable, 127: not found).
    eprintln!(
        "plan-sandbox: cannot execute {}: {err}",
        spec.program.display()
    );
    std::process::exit(if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    });
}

/// Moves this process into the cgroups its parent made for the run, so that the command and
/// all it starts count against their process and memory limits.
fn join_cgroups(spec: &Spec) -> Result<(), String> {
    let pid = std::process::id().to_string();
    for dir in &spec.cgroups {
        std::fs::write(dir.join("cgroup.procs"), &pid)
            .map_err(|err| format!("cannot join the cgroup {}: {err}", dir.display()))?;
    }
    Ok(())
}

/// A new network namespace: no interface but a loopback that is down. As root that takes
/// `CAP_SYS_ADMIN`, which root has; otherwise a new user namespace comes with it.
fn unshare_network() -> Result<(), String> {
    let flags = if nix::unistd::geteuid().is_root() {
        CloneFlags::CLONE_NEWNET
    } else {
        CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET
    };
    nix::sched::unshare(flags)
        .map_err(|err| format!("cannot make a network namespace (unshare: {err})"))
}

fn set_limits(spec: &Spec) -> Result<(), String> {
    let cpu = spec.cpu_secs;
    // The soft CPU limit sends SIGXCPU (reported as `killed (cpu)`), the hard one a second
    // later SIGKILL, for a command that catches the first.
    let limits = [
        (Resource::CPU, cpu, cpu.saturating_add(1)),
        (Resource::FSIZE, spec.file_size, spec.file_size),
        (Resource::NOFILE, spec.open_files, spec.open_files),
        (Resource::CORE, 0, 0),
        (Resource::RTPRIO, 0, 0),
        // Not enforced for root (the kernel exempts it): the pids cgroup is the limit that
        // holds; this one holds where the launcher is not root.
        (Resource::NPROC, spec.processes, spec.processes),
    ];
    for (resource, soft, hard) in limits {
        resource
            .set(soft, hard)
            .map_err(|err| format!("cannot set {}: {err}", resource.as_name()))?;
    }
    Ok(())
}

/// Drops every capability, from the bounding set too, so that the command, even as root,
/// gets none back when it executes a program.
fn drop_capabilities() -> Result<(), String> {
    use caps::CapSet;
    for set in [
        CapSet::Ambient,
        CapSet::Bounding,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set)
            .map_err(|err| format!("cannot drop capabilities ({set:?}): {err}"))?;
    }
    Ok(())
}

/// Landlock: read and execute the allowlist, read and write the scratch directory, nothing
/// else; and no signal to, nor abstract socket of, a process outside the sandbox. Fully
/// enforced or an error: a kernel without Landlock ABI 6 cannot run the sandbox.
fn restrict_files(spec: &Spec) -> Result<(), String> {
    let abi = LANDLOCK_ABI;
    // Devices cannot be made even in the scratch directory: a block device node would read
    // the disk beneath every rule.
    let write = AccessFs::from_all(abi) & !(AccessFs::MakeBlock | AccessFs::MakeChar);
    Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(&spec.read, AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(&spec.write, write)))
        .and_then(|r| r.restrict_self())
        .map(drop)
        .map_err(|err| format!("cannot restrict file access with Landlock (needs Linux 6.12 or later with Landlock enabled): {err}"))
}
