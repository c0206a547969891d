//! `JsonFiles` shared by processes, for real: two processes incrementing one value by
//! compare-and-set lose nothing; a write cut by SIGKILL leaves a temporary file that the next
//! opening removes; the temporary file of a writer alive in another process is left alone.
//!
//! No extra binary: this test has its own `main` (`harness = false`). Run with
//! `PLAN_STATE_TEST_CHILD` set, the binary is a child process playing that role on the
//! directory in `PLAN_STATE_TEST_DIR` (see [`child`]); otherwise it runs the cases, each on a
//! thread of its own under a deadline, prints one line per case and exits non-zero if any
//! failed. `cargo test -p plan-state --test processes -- NAME` runs the cases whose name
//! contains `NAME`.

mod common;

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{key, temp_dir};
use plan_state::store::{JsonFiles, Store};
use serde_json::json;

/// The role of a child process: `increment`, `write` or `hold`.
const CHILD: &str = "PLAN_STATE_TEST_CHILD";
/// The store's directory, for a child.
const DIR: &str = "PLAN_STATE_TEST_DIR";

/// Increments per process in the increment case.
const INCREMENTS: u64 = 300;
/// The padding of each value the killed writer writes: large, so that most of its time is
/// spent with its temporary file on disk.
const PAD: usize = 4 << 20;

// ---------------------------------------------------------------------------------------------
// The children.

/// Plays the role `role` on the store in `dir`:
///
/// * `increment`: opens the store, prints `ready`, waits for a line, then adds 1 to
///   `counter` [`INCREMENTS`] times by read and compare-and-set, retrying on a conflict, and
///   prints `successes N`;
/// * `write`: writes `big` (a value of [`PAD`] bytes) again and again, until killed;
/// * `hold`: does what a writer of the store does before its rename — takes the directory's
///   lock and writes a temporary file of `held` — prints `holding`, waits for a line, then
///   renames the file into place and exits.
fn child(role: &str, dir: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    match role {
        "increment" => runtime.block_on(async {
            let store = JsonFiles::open(dir).expect("the store opens");
            let counter = key("counter");
            println!("ready");
            wait_for_a_line();
            let mut successes = 0;
            for _ in 0..INCREMENTS {
                loop {
                    let now = store.get(&counter).await.unwrap().unwrap();
                    let next = json!(now.value.as_u64().unwrap() + 1);
                    if store
                        .compare_and_set(&counter, Some(now.version), &next)
                        .await
                        .unwrap()
                        .is_ok()
                    {
                        successes += 1;
                        break;
                    }
                }
            }
            println!("successes {successes}");
        }),
        "write" => runtime.block_on(async {
            let store = JsonFiles::open(dir).expect("the store opens");
            for n in 0u64.. {
                let value = json!({ "n": n, "pad": "x".repeat(PAD) });
                store.put(&key("big"), &value).await.unwrap();
            }
        }),
        "hold" => {
            let lock = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(".lock"))
                .unwrap();
            lock.lock().unwrap();
            // Named as the store names its temporary files: `.NAME.json.PID.N.tmp`.
            let temporary = dir.join(format!(".held.json.{}.0.tmp", std::process::id()));
            std::fs::write(&temporary, br#"{"version":1,"value":"from the holder"}"#).unwrap();
            println!("holding");
            wait_for_a_line();
            std::fs::rename(&temporary, dir.join("held.json"))
                .expect("the temporary file is still there");
            lock.unlock().unwrap();
        }
        other => panic!("no child role `{other}`"),
    }
}

fn wait_for_a_line() {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
}

/// A child process, killed (if still running) when dropped, so that a failing case leaves
/// none behind.
struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Process {
    fn spawn(role: &str, dir: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("the test binary's path"))
            .env(CHILD, role)
            .env(DIR, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the child starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Process {
            child,
            stdin,
            stdout,
        }
    }

    /// The child's next line of output.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the child ended without a word");
        line.trim_end().to_owned()
    }

    fn tell(&mut self) {
        writeln!(self.stdin).unwrap();
    }

    /// Waits for the child's end; asserts that it succeeded.
    fn succeeded(mut self) {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the child failed: {status}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The temporary files under `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    common::walk(dir)
        .into_iter()
        .filter(|p| p.ends_with(".tmp"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The cases.

fn two_processes_incrementing_one_value_lose_nothing() {
    let dir = temp_dir("processes-increment");
    block_on(
        JsonFiles::open(dir.path())
            .unwrap()
            .put(&key("counter"), &json!(0)),
    )
    .unwrap();
    let mut processes: Vec<Process> = (0..2)
        .map(|_| Process::spawn("increment", dir.path()))
        .collect();
    for process in &mut processes {
        assert_eq!(process.line(), "ready");
    }
    // Both start at once, so that their writes interleave.
    for process in &mut processes {
        process.tell();
    }
    let mut successes = 0;
    for mut process in processes {
        let line = process.line();
        let n: u64 = line
            .strip_prefix("successes ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(n, INCREMENTS);
        successes += n;
        process.succeeded();
    }
    assert_eq!(successes, 2 * INCREMENTS);
    let total = block_on(JsonFiles::open(dir.path()).unwrap().get(&key("counter")))
        .unwrap()
        .unwrap();
    assert_eq!(
        (total.value, total.version),
        (json!(2 * INCREMENTS), 2 * INCREMENTS + 1),
        "writes were lost"
    );
}

fn a_write_killed_mid_way_leaves_a_temporary_file_that_opening_removes() {
    let dir = temp_dir("processes-killed");
    let file = dir.path().join("big.json");
    // A kill lands between two writes now and then; a few attempts make one land inside one.
    let cut = (0..10).any(|_| {
        let mut writer = Process::spawn("write", dir.path());
        let deadline = Instant::now() + Duration::from_secs(60);
        // Killed once a write is complete and the next one is on its way.
        while !file.exists() || temporaries(dir.path()).is_empty() {
            assert!(
                Instant::now() < deadline,
                "the writer wrote nothing in 60 s"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        writer.child.kill().unwrap();
        writer.child.wait().unwrap();
        !temporaries(dir.path()).is_empty()
    });
    assert!(cut, "no kill in 10 cut a write");

    let store = JsonFiles::open(dir.path()).unwrap();
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    // The last complete write is there, whole.
    let big = block_on(store.get(&key("big"))).unwrap().unwrap();
    assert_eq!(big.value["pad"].as_str().map(str::len), Some(PAD));
    assert_eq!(big.value["n"].as_u64().unwrap() + 1, big.version);
    assert_eq!(
        block_on(store.keys("")).unwrap(),
        [key("big")],
        "only the key is listed"
    );
}

fn the_temporary_file_of_a_live_writer_in_another_process_is_kept() {
    let dir = temp_dir("processes-live");
    let mut holder = Process::spawn("hold", dir.path());
    assert_eq!(holder.line(), "holding");

    let (opened, open) = mpsc::channel();
    let opening = dir.path().to_owned();
    std::thread::spawn(move || {
        let _ = opened.send(JsonFiles::open(opening));
    });
    // Opening waits for the lock, so it cannot remove the holder's file under it. (Were it
    // not to wait, it would be done well within this time.)
    assert!(
        matches!(
            open.recv_timeout(Duration::from_millis(500)),
            Err(mpsc::RecvTimeoutError::Timeout)
        ),
        "the store opened while another process held the directory's lock"
    );
    holder.tell();
    holder.succeeded();
    let store = open
        .recv_timeout(Duration::from_secs(30))
        .expect("the store opens once the lock is released")
        .unwrap();
    let held = block_on(store.get(&key("held"))).unwrap().unwrap();
    assert_eq!((held.value, held.version), (json!("from the holder"), 1));
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

// ---------------------------------------------------------------------------------------------

fn main() {
    if let Some(role) = std::env::var_os(CHILD) {
        let dir = PathBuf::from(std::env::var_os(DIR).expect("PLAN_STATE_TEST_DIR"));
        child(role.to_str().expect("a role"), &dir);
        return;
    }
    let cases: [(&str, fn()); 3] = [
        (
            "two_processes_incrementing_one_value_lose_nothing",
            two_processes_incrementing_one_value_lose_nothing,
        ),
        (
            "a_write_killed_mid_way_leaves_a_temporary_file_that_opening_removes",
            a_write_killed_mid_way_leaves_a_temporary_file_that_opening_removes,
        ),
        (
            "the_temporary_file_of_a_live_writer_in_another_process_is_kept",
            the_temporary_file_of_a_live_writer_in_another_process_is_kept,
        ),
    ];
    // Cargo passes its own flags (`--nocapture`, …); a bare word filters the cases by name.
    let filter: Option<String> = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let (mut passed, mut failed) = (0, 0);
    for (name, case) in cases {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        // A thread of its own, so that a panic is this case's failure and not the runner's;
        // a deadline, so that a hang is too.
        let (done, outcome) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(std::panic::catch_unwind(case).is_ok());
        });
        match outcome.recv_timeout(Duration::from_secs(300)) {
            Ok(true) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Ok(false) => {
                failed += 1;
                println!("test {name} ... FAILED");
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED (no end within 300 s)");
            }
        }
    }
    println!("\nprocesses: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
