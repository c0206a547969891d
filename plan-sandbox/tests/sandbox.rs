//! Each restriction of the sandbox, proven by a script that tries to break it and by what
//! the test sees from outside: a port that counts its connections, files that are or are
//! not there, processes that are or are not left. Run as root, as CI runs them. The limits
//! on time use real time (the command is a real process), with wide margins and no upper
//! bound.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use plan_runtime::prelude::*;
use plan_sandbox::{Input, Launcher, Limit, Sandbox, SandboxError, Status};
use test_support::TempDir;

fn launcher() -> Launcher {
    Launcher::path(env!("CARGO_BIN_EXE_plan-sandbox"))
}

/// `python3 SCRIPT` in the sandbox, the script written to a directory of the test's own.
fn python(script: &str) -> (Sandbox, TempDir, PathBuf) {
    let dir = test_support::temp_dir("sandbox-script");
    let path = dir.path().join("script.py");
    std::fs::write(&path, script).unwrap();
    let sandbox = Sandbox::python(launcher())
        .expect("python3 on PATH")
        .arg(path.display().to_string())
        .allow_read(&path);
    (sandbox, dir, path)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn json_on_stdin_gives_typed_json_on_stdout_as_a_plan_step() {
    let (sandbox, _dir, _) = python(
        "import json, sys\n\
         numbers = json.load(sys.stdin)\n\
         print(json.dumps({'sum': sum(numbers), 'count': len(numbers)}))\n",
    );
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Totals {
        sum: i64,
        count: usize,
    }
    let totals = sandbox.json::<Totals>();
    let plan = plan! { #[name = "totals"] (totals) };
    let out = plan
        .run(Input::from(serde_json::json!([4, 5, 6])))
        .await
        .unwrap();
    assert_eq!(out, Totals { sum: 15, count: 3 });
}

#[tokio::test]
async fn text_on_stdin_and_the_scratch_directory_as_home_and_cwd() {
    let (sandbox, _dir, _) = python(
        "import os, sys\n\
         text = sys.stdin.read()\n\
         open('note.txt', 'w').write(text.upper())\n\
         print(open(os.path.join(os.environ['HOME'], 'note.txt')).read())\n\
         print(os.getcwd() == os.environ['HOME'] == os.environ['TMPDIR'])\n",
    );
    let out = sandbox.run("shout").await.unwrap();
    assert_eq!(out, "SHOUT\nTrue\n");
}

#[tokio::test]
async fn a_connection_to_a_listening_port_is_denied_and_never_accepted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stream.is_ok() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    // The counter counts: a connection from outside the sandbox is accepted.
    drop(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    let waited = Instant::now();
    while accepted.load(Ordering::SeqCst) == 0 && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let (sandbox, _dir, _) = python(&format!(
        "import socket\n\
         socket.create_connection(('127.0.0.1', {port}), timeout=5)\n\
         print('connected')\n"
    ));
    let output = sandbox.output("").await.unwrap();
    assert_eq!(
        output.status,
        Status::Denied("network"),
        "{}",
        text(&output.stderr)
    );
    assert!(!text(&output.stdout).contains("connected"));
    // Given the time a connection would take to be accepted:
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the sandbox reached the port"
    );

    let err = sandbox.run("").await.unwrap_err();
    assert!(matches!(err, SandboxError::Denied("network")), "{err}");
}

/// The same refusal through the x32 ABI (the call's number with bit 30 set), which a 64-bit
/// process can use where the kernel has it: without a rule of its own it would get past.
#[cfg(target_arch = "x86_64")]
#[tokio::test]
async fn a_socket_through_the_x32_abi_is_denied_too() {
    let (sandbox, _dir, _) = python(
        "import ctypes, socket\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         print(libc.syscall(0x40000000 | 41, socket.AF_INET, socket.SOCK_STREAM, 0))\n",
    );
    let output = sandbox.output("").await.unwrap();
    assert_eq!(
        output.status,
        Status::Denied("network"),
        "{}",
        text(&output.stdout)
    );
}

#[tokio::test]
async fn unix_sockets_are_refused_but_socket_pairs_work() {
    let (sandbox, _dir, _) = python(
        "import socket\n\
         try:\n    socket.socket(socket.AF_UNIX)\n    print('made')\n\
         except PermissionError:\n    print('refused')\n\
         a, b = socket.socketpair()\n\
         a.sendall(b'ping')\n\
         print(b.recv(4).decode())\n",
    );
    assert_eq!(sandbox.run("").await.unwrap(), "refused\nping\n");
}

#[tokio::test]
async fn writes_outside_the_scratch_directory_are_refused() {
    let outside = test_support::temp_dir("sandbox-outside");
    let target = outside.path().join("escaped.txt");
    // Its own file (`sys.argv[0]`) is readable, not writable, like every allowed path.
    let (sandbox, _dir, script) = python(&format!(
        "import sys\n\
         for path in [{target:?}, '/tmp/plan-sandbox-escaped', sys.argv[0]]:\n\
         \x20   try:\n\
         \x20       open(path, 'a').write('x')\n\
         \x20       print('wrote', path)\n\
         \x20   except PermissionError:\n\
         \x20       print('refused', path)\n\
         open('inside.txt', 'w').write('x')\n\
         print('wrote inside')\n",
        target = target.display().to_string(),
    ));
    let before = std::fs::read_to_string(&script).unwrap();
    let out = sandbox.run("").await.unwrap();
    assert_eq!(out.matches("refused").count(), 3, "{out}");
    assert!(out.ends_with("wrote inside\n"), "{out}");
    assert!(!target.exists());
    assert!(!Path::new("/tmp/plan-sandbox-escaped").exists());
    assert_eq!(std::fs::read_to_string(&script).unwrap(), before);
}

#[tokio::test]
async fn files_outside_the_allowlist_cannot_be_read() {
    let secrets = test_support::temp_dir("sandbox-secret");
    let secret = secrets.path().join("key.txt");
    let content = format!("secret-{}", std::process::id());
    std::fs::write(&secret, &content).unwrap();
    let script = format!(
        "import sys\n\
         for path in [{secret:?}, '/etc/shadow', '/proc/1/environ']:\n\
         \x20   try:\n\
         \x20       print(open(path).read())\n\
         \x20   except PermissionError:\n\
         \x20       print('refused', path)\n",
        secret = secret.display().to_string()
    );
    let (sandbox, _dir, _) = python(&script);
    let output = sandbox.output("").await.unwrap();
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status, Status::Exited(0), "{stderr}");
    assert_eq!(stdout.matches("refused").count(), 3, "{stdout}");
    assert!(!stdout.contains(&content) && !stderr.contains(&content));

    // The same script reads it once it is allowed: the refusal above was the sandbox's.
    let out = sandbox.allow_read(&secret).run("").await.unwrap();
    assert!(out.starts_with(&content), "{out}");
}

/// The command gets stdin, stdout and stderr and no other descriptor: not one its parent
/// left inheritable, such as a socket it could talk through past the network ban.
#[tokio::test]
async fn the_command_inherits_no_descriptor_but_its_standard_three() {
    let (ours, _theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    // `dup` leaves close-on-exec off, as a C library's descriptor may have it.
    let inheritable = nix::unistd::dup(&ours).unwrap();
    let (sandbox, _dir, _) = python(
        "import os\n\
         open_fds = []\n\
         for fd in range(3, 256):\n\
         \x20   try:\n\
         \x20       os.fstat(fd)\n\
         \x20       open_fds.append(fd)\n\
         \x20   except OSError:\n\
         \x20       pass\n\
         print(open_fds)\n",
    );
    assert_eq!(sandbox.run("").await.unwrap(), "[]\n");
    drop(inheritable);
}

/// Root inside keeps its user id but none of its powers: no capability, no namespace, no
/// signal to a process outside.
#[tokio::test]
async fn root_in_the_sandbox_has_no_privileges() {
    let (sandbox, _dir, _) = python(
        "import ctypes, os\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         print('uid', os.getuid())\n\
         def attempt(name, call):\n\
         \x20   try:\n\
         \x20       call()\n\
         \x20       print(name, 'allowed')\n\
         \x20   except PermissionError:\n\
         \x20       print(name, 'refused')\n\
         def c_call(result):\n\
         \x20   if result != 0:\n\
         \x20       raise PermissionError(ctypes.get_errno(), 'refused')\n\
         open('mine', 'w').close()\n\
         attempt('chown', lambda: os.chown('mine', 1000, 1000))\n\
         attempt('setuid', lambda: os.setuid(1000))\n\
         attempt('kill', lambda: os.kill(1, 0))\n\
         attempt('unshare', lambda: c_call(libc.unshare(0x10000000)))\n\
         attempt('mount', lambda: c_call(libc.mount(b'none', b'.', b'tmpfs', 0, None)))\n",
    );
    let out = sandbox.run("").await.unwrap();
    let expected =
        "uid 0\nchown refused\nsetuid refused\nkill refused\nunshare refused\nmount refused\n";
    assert_eq!(out, expected);
}

/// A command that dies of a signal of its own reads as a shell shows it: 128 + the signal.
#[tokio::test]
async fn a_crash_is_an_exit_code_of_128_plus_its_signal() {
    let (sandbox, _dir, _) = python("import os\nos.abort()\n");
    let output = sandbox.output("").await.unwrap();
    assert_eq!(output.status, Status::Signaled(6));
    assert_eq!(output.status.to_string(), "exit 134");
    let err = sandbox.run("").await.unwrap_err();
    assert!(matches!(err, SandboxError::Exit { code: 134, .. }), "{err}");
}

/// The processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let mut cmdline = String::new();
        let read = std::fs::File::open(entry.path().join("cmdline"))
            .and_then(|mut file| file.read_to_string(&mut cmdline));
        if read.is_ok() && cmdline.contains(marker) {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

#[tokio::test]
async fn a_fork_bomb_is_killed_for_processes_and_leaves_none_behind() {
    let (sandbox, dir, _) = python(
        "import os, time\n\
         while True:\n\
         \x20   try:\n\
         \x20       os.fork()\n\
         \x20   except OSError:\n\
         \x20       time.sleep(0.01)\n",
    );
    let marker = dir.path().display().to_string();
    let output = sandbox.processes(16).output("").await.unwrap();
    assert_eq!(output.status, Status::Killed(Limit::Processes));
    assert_eq!(processes_with(&marker), Vec::<String>::new());
}

#[tokio::test]
async fn an_endless_loop_is_killed_at_its_timeout_with_its_children() {
    let (sandbox, dir, _) = python(
        "import os\n\
         if os.fork() == 0:\n\
         \x20   os.setsid()\n\
         while True:\n\
         \x20   pass\n",
    );
    let marker = dir.path().display().to_string();
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let err = sandbox.timeout(timeout).run("").await.unwrap_err();
    assert!(matches!(err, SandboxError::Killed(Limit::Timeout)), "{err}");
    assert!(started.elapsed() >= timeout);
    // The child that left the process group is gone too (it was in the run's cgroup).
    assert_eq!(processes_with(&marker), Vec::<String>::new());
}

/// The timeout is wall-clock time: under tokio's paused clock — a plan's tests — the runtime,
/// idle while the command runs, would jump its clock to the deadline at once.
#[tokio::test(start_paused = true)]
async fn the_timeout_is_real_time_under_a_paused_clock() {
    let (sandbox, _dir, _) = python("import time\ntime.sleep(0.2)\nprint('done')\n");
    let output = sandbox
        .timeout(Duration::from_secs(60))
        .output("")
        .await
        .unwrap();
    assert_eq!(output.status, Status::Exited(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "done\n");
}

/// A deadline that passes while the launcher still sets the sandbox up ends the run the same
/// way: killed, not a setup error.
#[tokio::test]
async fn a_timeout_shorter_than_the_setup_is_still_a_timeout() {
    let (sandbox, _dir, _) = python("while True:\n    pass\n");
    let output = sandbox
        .timeout(Duration::from_millis(1))
        .output("")
        .await
        .unwrap();
    assert_eq!(output.status, Status::Killed(Limit::Timeout));
}

/// A run whose step is dropped — a plan's own deadline, a `par(first)` that has its answer —
/// kills the command and all it started.
#[tokio::test]
async fn a_dropped_run_leaves_no_process_behind() {
    let (sandbox, dir, _) = python(
        "import os, time\n\
         os.fork()\n\
         print('started', flush=True)\n\
         time.sleep(600)\n",
    );
    let marker = dir.path().display().to_string();
    let slow = sandbox.timeout(Duration::from_secs(600));
    let plan = plan! { #[name = "slow"] (slow) };
    let mut run = Box::pin(plan.run(Input::from("")));
    // Until the script and its child both run:
    while processes_with(&marker).len() < 2 {
        tokio::select! {
            out = &mut run => panic!("the run ended: {out:?}"),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    drop(run);
    assert_eq!(processes_with(&marker), Vec::<String>::new());
}

#[tokio::test]
async fn endless_allocation_is_killed_for_memory() {
    let (sandbox, _dir, _) = python(
        "chunks = []\n\
         while True:\n\
         \x20   chunks.append(b'x' * (1 << 20))\n",
    );
    let output = sandbox.memory(64 << 20).output("").await.unwrap();
    assert_eq!(
        output.status,
        Status::Killed(Limit::Memory),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn an_output_flood_is_cut_at_the_limit() {
    let (sandbox, _dir, _) = python("while True:\n    print('y' * 1000)\n");
    let output = sandbox.output_limit(10_000).output("").await.unwrap();
    assert_eq!(output.status, Status::Killed(Limit::Output));
    assert_eq!(output.stdout.len(), 10_000);
    assert!(output.stdout.iter().all(|b| *b == b'y' || *b == b'\n'));
}

/// A command that takes itself out of its process group, where the parent's first kill
/// looks, and then floods its output and waits: killed all the same (through its cgroup),
/// and the run ends.
#[tokio::test]
async fn an_output_flood_from_outside_the_process_group_still_ends_the_run() {
    let (sandbox, _dir, _) = python(
        "import os, sys, time\n\
         child = os.fork()\n\
         if child == 0:\n\
         \x20   time.sleep(600)\n\
         os.setpgid(child, child)\n\
         os.setpgid(0, child)\n\
         sys.stdout.write('y' * 20000)\n\
         sys.stdout.flush()\n\
         time.sleep(600)\n",
    );
    let sandbox = sandbox
        .output_limit(10_000)
        .timeout(Duration::from_secs(10));
    // A bound for the test alone (the run ends at once when it works).
    let output = tokio::time::timeout(Duration::from_secs(120), sandbox.output(""))
        .await
        .expect("the run never ended")
        .unwrap();
    assert_eq!(
        output.status,
        Status::Killed(Limit::Output),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(output.stdout.len(), 10_000);
}

#[tokio::test]
async fn a_busy_loop_is_killed_at_its_cpu_time() {
    let (sandbox, _dir, _) = python("while True:\n    pass\n");
    let output = sandbox
        .cpu_time(Duration::from_secs(1))
        .timeout(Duration::from_secs(120))
        .output("")
        .await
        .unwrap();
    assert_eq!(output.status, Status::Killed(Limit::Cpu));
}

/// The hard CPU limit, a second past the soft one, kills with `SIGKILL` a command that
/// ignores the soft one's `SIGXCPU`: still the CPU limit, not an exit code.
#[tokio::test]
async fn a_busy_loop_that_ignores_sigxcpu_is_killed_at_its_cpu_time_too() {
    let (sandbox, _dir, _) = python(
        "import signal\n\
         signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n\
         while True:\n    pass\n",
    );
    let output = sandbox
        .cpu_time(Duration::from_secs(1))
        .timeout(Duration::from_secs(120))
        .output("")
        .await
        .unwrap();
    assert_eq!(output.status, Status::Killed(Limit::Cpu));
}

/// A command killed by `SIGXFSZ` for a file past its limit (Python ignores the signal by
/// default and gets `EFBIG`; most programs die of it) is killed for the file size, not an exit
/// code.
#[tokio::test]
async fn a_file_past_its_size_limit_is_killed_for_the_file_size() {
    let (sandbox, _dir, _) = python(
        "import signal\n\
         signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n\
         open('big', 'wb').write(b'x' * 100_000)\n",
    );
    let sandbox = sandbox.file_size(10_000);
    let output = sandbox.output("").await.unwrap();
    assert_eq!(output.status, Status::Killed(Limit::FileSize));
    assert_eq!(output.status.to_string(), "killed (file size)");
    let err = sandbox.run("").await.unwrap_err();
    assert!(err.to_string().contains("`Sandbox::file_size`"), "{err}");
}

#[tokio::test]
async fn a_failing_script_is_an_exit_error_with_its_stderr() {
    let (sandbox, _dir, _) = python("import sys\nsys.exit('no input given')\n");
    match sandbox.run("").await.unwrap_err() {
        SandboxError::Exit { code, stderr } => {
            assert_eq!(code, 1);
            assert_eq!(stderr, "no input given");
        }
        err => panic!("{err}"),
    }
}

#[tokio::test]
async fn a_refusal_is_a_plan_error_naming_the_node() {
    let (sandbox, _dir, _) = python("while True:\n    pass\n");
    let untrusted = sandbox.timeout(Duration::from_millis(300));
    let plan = plan! { #[name = "untrusted"] (untrusted) };
    let err = plan.run(Input::from("")).await.unwrap_err();
    assert_eq!(err.node().name, "untrusted");
    let message = err.to_string();
    assert!(message.contains("`untrusted`"), "{message}");
    assert!(message.contains("killed (timeout)"), "{message}");
}

/// The largest limits a caller can give mean "no limit", not an overflow.
#[tokio::test]
async fn the_largest_timeout_and_output_limit_are_no_limit() {
    let (sandbox, _dir, _) = python("print('ran')\n");
    let output = sandbox
        .timeout(Duration::MAX)
        .output_limit(usize::MAX)
        .output("")
        .await
        .unwrap();
    assert_eq!(output.status, Status::Exited(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "ran\n");
}

/// Each fails before the command could run: no output, only the reason.
#[tokio::test]
async fn a_sandbox_that_cannot_be_set_up_is_an_error_not_a_run() {
    let dir = test_support::temp_dir("sandbox-setup");
    let python = Sandbox::python(launcher())
        .unwrap()
        .arg("-c")
        .arg("print('ran')");

    let missing = Launcher::path(dir.path().join("no-such-launcher"));
    let err = Sandbox::new(missing, "python3")
        .output("")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SandboxError::Setup(m) if m.contains("no-such-launcher")),
        "{err}"
    );

    let err = python
        .clone()
        .allow_read("/no/such/path")
        .output("")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SandboxError::Setup(m) if m.contains("/no/such/path")),
        "{err}"
    );

    // A program that is not a launcher exits before any sandbox is ready.
    let err = Sandbox::new(Launcher::path("/bin/true"), "python3")
        .output("")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SandboxError::Setup(m) if m.contains("launch_if_asked")),
        "{err}"
    );

    let err = Sandbox::new(launcher(), "no-such-command")
        .output("")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SandboxError::Setup(m) if m.contains("no-such-command")),
        "{err}"
    );

    // A restriction the launcher cannot apply: a limit of more open files than the kernel
    // allows any process (`fs.nr_open`) cannot be set, so the command does not run.
    let err = python
        .clone()
        .open_files(u64::MAX / 2)
        .output("")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SandboxError::Setup(m) if m.contains("RLIMIT_NOFILE")),
        "{err}"
    );

    // The same sandbox, set up, runs.
    assert_eq!(python.run("").await.unwrap(), "ran\n");
}

/// The `sandbox` example's contract: the script's stdout, then one last line, and exit code
/// 0 only when the script exited with 0.
#[test]
fn the_example_prints_one_last_line_per_ending() {
    let dir = test_support::temp_dir("sandbox-example");
    let cases: &[(&str, &[&str], &str)] = &[
        ("print('hi')", &[], "sandbox: exit 0"),
        (
            "import sys\nprint('hi')\nsys.exit(3)",
            &[],
            "sandbox: exit 3",
        ),
        (
            "while True: pass",
            &["--timeout-ms", "300"],
            "sandbox: killed (timeout)",
        ),
        (
            "x = []\nwhile True: x.append(b'x' * (1 << 20))",
            &["--memory-mb", "48"],
            "sandbox: killed (memory)",
        ),
        (
            "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass",
            &[],
            "sandbox: killed (processes)",
        ),
        (
            "import socket\nsocket.socket()",
            &[],
            "sandbox: denied (network)",
        ),
    ];
    for (i, (script, flags, last)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case{i}.py"));
        std::fs::write(&path, script).unwrap();
        let out = std::process::Command::new(test_support::processes::example("sandbox"))
            .args(*flags)
            .arg(&path)
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        assert_eq!(
            stdout.lines().last(),
            Some(*last),
            "{script}: {stdout}{}",
            text(&out.stderr)
        );
        assert_eq!(out.status.success(), *last == "sandbox: exit 0", "{script}");
        if script.contains("print('hi')") {
            assert!(stdout.starts_with("hi\n"), "{stdout}");
        }
    }

    // Its stdin is the script's.
    let path = dir.path().join("upper.py");
    std::fs::write(&path, "import sys\nprint(sys.stdin.read().upper())").unwrap();
    let mut child = std::process::Command::new(test_support::processes::example("sandbox"))
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"shout").unwrap();
    let stdout = test_support::processes::succeeded(child);
    assert_eq!(stdout, "SHOUT\nsandbox: exit 0\n");
}
