//! The launcher's seccomp filters, compiled by seccompiler. Three filters stack, and the
//! kernel takes the strictest answer of those that match:
//!
//! * a socket of any family but `AF_UNIX` kills the process (`SIGSYS`), which the parent
//!   reports as `denied (network)`: an attempt at the network is a refusal that names itself,
//!   not an error a script may swallow;
//! * `AF_UNIX` sockets (socket pairs already made work), and calls that reach past the
//!   sandbox — namespaces, mounts, tracing, kernel keys, BPF, io_uring (whose operations
//!   no filter sees), modules, clocks, reboot — fail with `EPERM`;
//! * `clone3`, whose flags a filter cannot read, fails with `ENOSYS`, so that the C library
//!   falls back to `clone`, whose namespace flags are refused like `unshare`.

use std::collections::BTreeMap;

use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// x86-64's x32 calls are the same numbers with this bit set: refused like the others.
#[cfg(target_arch = "x86_64")]
const X32: i64 = 0x4000_0000;

type Rules = BTreeMap<i64, Vec<SeccompRule>>;

pub(crate) fn apply() -> Result<(), seccompiler::Error> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)?;
    let filters = [
        (network()?, SeccompAction::KillProcess),
        (refused()?, SeccompAction::Errno(libc::EPERM as u32)),
        (clone3(), SeccompAction::Errno(libc::ENOSYS as u32)),
    ];
    for (rules, action) in filters {
        let program: BpfProgram =
            SeccompFilter::new(rules, SeccompAction::Allow, action, arch)?.try_into()?;
        seccompiler::apply_filter(&program)?;
    }
    Ok(())
}

fn clone3() -> Rules {
    let mut rules = Rules::from([(libc::SYS_clone3, vec![])]);
    #[cfg(target_arch = "x86_64")]
    rules.insert(X32 | libc::SYS_clone3, vec![]);
    rules
}

fn arg(index: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, seccompiler::Error> {
    Ok(SeccompCondition::new(
        index,
        SeccompCmpArgLen::Dword,
        op,
        value,
    )?)
}

/// `socket(domain, ..)` with a domain other than `AF_UNIX`.
fn network() -> Result<Rules, seccompiler::Error> {
    let not_unix = || -> Result<Vec<SeccompRule>, seccompiler::Error> {
        Ok(vec![SeccompRule::new(vec![arg(
            0,
            SeccompCmpOp::Ne,
            libc::AF_UNIX as u64,
        )?])?])
    };
    let mut rules = Rules::from([(libc::SYS_socket, not_unix()?)]);
    #[cfg(target_arch = "x86_64")]
    rules.insert(X32 | libc::SYS_socket, not_unix()?);
    Ok(rules)
}

fn refused() -> Result<Rules, seccompiler::Error> {
    let namespaces = [
        libc::CLONE_NEWNS,
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWNET,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWCGROUP,
    ];
    let mut clone = Vec::new();
    for flag in namespaces {
        let flag = flag as u64;
        clone.push(SeccompRule::new(vec![arg(
            0,
            SeccompCmpOp::MaskedEq(flag),
            flag,
        )?])?);
    }
    let mut rules = Rules::from([
        (libc::SYS_clone, clone),
        (
            libc::SYS_socket,
            vec![SeccompRule::new(vec![arg(
                0,
                SeccompCmpOp::Eq,
                libc::AF_UNIX as u64,
            )?])?],
        ),
    ]);
    let always = [
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_mount_setattr,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_adjtimex,
        libc::SYS_sethostname,
        libc::SYS_setdomainname,
        libc::SYS_quotactl,
        libc::SYS_acct,
        libc::SYS_syslog,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_iopl,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_ioperm,
    ];
    for call in always {
        rules.insert(call, vec![]);
    }
    // The same calls through the x32 ABI: the shared numbers with the x32 bit, and the calls
    // that have x32 numbers of their own.
    #[cfg(target_arch = "x86_64")]
    {
        let shared: Vec<(i64, Vec<SeccompRule>)> = rules
            .iter()
            .map(|(call, rule)| (X32 | call, rule.clone()))
            .collect();
        rules.extend(shared);
        for x32_only in [
            X32_PTRACE,
            X32_KEXEC_LOAD,
            X32_PROCESS_VM_READV,
            X32_PROCESS_VM_WRITEV,
        ] {
            rules.insert(X32 | x32_only, vec![]);
        }
    }
    Ok(rules)
}

// The x32 numbers of calls whose x86-64 numbers x32 does not use (the kernel's
// `syscall_64.tbl`).
#[cfg(target_arch = "x86_64")]
const X32_PTRACE: i64 = 521;
#[cfg(target_arch = "x86_64")]
const X32_KEXEC_LOAD: i64 = 528;
#[cfg(target_arch = "x86_64")]
const X32_PROCESS_VM_READV: i64 = 539;
#[cfg(target_arch = "x86_64")]
const X32_PROCESS_VM_WRITEV: i64 = 540;
