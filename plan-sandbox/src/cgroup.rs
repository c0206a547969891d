//! The run's cgroups, made by the parent before the launcher starts and removed after: the
//! limits on processes and memory that hold for root too (`RLIMIT_NPROC` does not bind
//! root), a count of the times they were hit, and a way to kill every process of the run,
//! however it left its process group.
//!
//! cgroup v2 (one hierarchy at `/sys/fs/cgroup`) or v1 (a `pids` and a `memory` hierarchy);
//! each run's directory is made under the cgroup of the process itself, where it may create
//! one. Neither, or no permission to create one, is a setup error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const ROOT: &str = "/sys/fs/cgroup";

/// The cgroup (v2) or cgroups (v1: one per controller) of one run.
#[derive(Debug)]
pub(crate) struct Cgroups {
    v2: bool,
    pids: PathBuf,
    memory: PathBuf,
}

impl Cgroups {
    /// Makes the run's cgroups, limited to `processes` processes and `memory` bytes (swap
    /// included).
    pub(crate) fn create(processes: u64, memory: u64) -> Result<Cgroups, String> {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "plan-sandbox-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        );
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|err| format!("cannot read /proc/self/cgroup: {err}"))?;
        let cgroups = if Path::new(ROOT).join("cgroup.controllers").exists() {
            let path = own_path(&own, "").ok_or("no cgroup v2 entry in /proc/self/cgroup")?;
            let parent = Path::new(ROOT).join(path);
            enable_controllers(&parent)?;
            let dir = make(&parent.join(&name))?;
            Cgroups {
                v2: true,
                pids: dir.clone(),
                memory: dir,
            }
        } else {
            let under = |controller: &str| -> Result<PathBuf, String> {
                let path = own_path(&own, controller).ok_or_else(|| {
                    format!("no cgroup v1 `{controller}` controller is mounted under {ROOT}")
                })?;
                make(&Path::new(ROOT).join(controller).join(path).join(&name))
            };
            let pids = under("pids")?;
            let memory = under("memory").inspect_err(|_| {
                let _ = std::fs::remove_dir(&pids);
            })?;
            Cgroups {
                v2: false,
                pids,
                memory,
            }
        };
        cgroups
            .limit(processes, memory)
            .inspect_err(|_| cgroups.remove())?;
        Ok(cgroups)
    }

    fn limit(&self, processes: u64, memory: u64) -> Result<(), String> {
        write(&self.pids.join("pids.max"), &processes.to_string())?;
        let memory = memory.to_string();
        if self.v2 {
            write(&self.memory.join("memory.max"), &memory)?;
            // Without swap the limit is one of memory; a kernel without swap accounting has
            // no such file, and no swap to spill into either.
            let swap = self.memory.join("memory.swap.max");
            if swap.exists() {
                write(&swap, "0")?;
            }
        } else {
            write(&self.memory.join("memory.limit_in_bytes"), &memory)?;
            let swap = self.memory.join("memory.memsw.limit_in_bytes");
            if swap.exists() {
                write(&swap, &memory)?;
            }
        }
        Ok(())
    }

    /// The directories the launcher moves itself into.
    pub(crate) fn dirs(&self) -> Vec<PathBuf> {
        if self.v2 {
            vec![self.pids.clone()]
        } else {
            vec![self.pids.clone(), self.memory.clone()]
        }
    }

    /// How often a process could not be made because the run had its limit of processes.
    pub(crate) fn process_limit_hits(&self) -> u64 {
        counter(&self.pids.join("pids.events"), "max")
    }

    /// How many processes of the run the kernel killed for want of memory.
    pub(crate) fn oom_kills(&self) -> u64 {
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        counter(&self.memory.join(file), "oom_kill")
    }

    /// Kills every process of the run, until none is left (a process may fork while being
    /// killed, so this goes round until the cgroup is empty).
    pub(crate) fn kill_all(&self) {
        if self.v2 && std::fs::write(self.pids.join("cgroup.kill"), "1").is_ok() {
            self.wait_empty();
            return;
        }
        for _ in 0..1000 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn wait_empty(&self) {
        for _ in 0..1000 {
            if self.pids().is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The processes in the run's cgroup.
    pub(crate) fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.pids.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    }

    /// Removes the run's directories (a cgroup with processes, or zombies not yet reaped,
    /// cannot be removed: the caller kills and reaps them first).
    pub(crate) fn remove(&self) {
        for dir in self.dirs() {
            for _ in 0..100 {
                if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        self.kill_all();
        self.remove();
    }
}

/// This process's cgroup path (relative) in the hierarchy of `controller` (`""`: v2).
fn own_path<'a>(proc_self_cgroup: &'a str, controller: &str) -> Option<&'a str> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        matches.then(|| path.trim_start_matches('/'))
    })
}

/// v2: the `pids` and `memory` controllers must be enabled for the children of `parent`.
fn enable_controllers(parent: &Path) -> Result<(), String> {
    let control = parent.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&control).unwrap_or_default();
    for controller in ["pids", "memory"] {
        if !enabled.split_whitespace().any(|c| c == controller) {
            write(&control, &format!("+{controller}")).map_err(|err| {
                format!("{err} (the `{controller}` controller must be delegated to this process's cgroup)")
            })?;
        }
    }
    Ok(())
}

fn make(dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir(dir)
        .map(|()| dir.to_owned())
        .map_err(|err| format!("cannot create the cgroup {}: {err}", dir.display()))
}

fn write(file: &Path, value: &str) -> Result<(), String> {
    std::fs::write(file, value)
        .map_err(|err| format!("cannot write {value} to {}: {err}", file.display()))
}

/// The value of `key` in a flat-keyed cgroup file (`key value` lines); 0 when absent.
fn counter(file: &Path, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let (k, v) = line.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_own_cgroup_per_controller() {
        let own = "9:name=systemd:/\n8:pids:/a/b\n4:memory,foo:/c\n0::/user.slice/x\n";
        assert_eq!(own_path(own, "pids"), Some("a/b"));
        assert_eq!(own_path(own, "memory"), Some("c"));
        assert_eq!(own_path(own, ""), Some("user.slice/x"));
        assert_eq!(own_path(own, "cpu"), None);
    }
}
