//! What the tests that run a package's examples as processes share: where `cargo test`
//! put an example's binary, and how to wait for or kill it.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// An example's binary, which `cargo test` builds into `target/<profile>/examples` (the
/// examples of the package under test).
///
/// ```no_run
/// let out = std::process::Command::new(test_support::processes::example("durable"))
///     .output()
///     .unwrap();
/// ```
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it",
        path.display()
    );
    path
}

/// What `child` printed, once it ended; it must end well.
///
/// ```no_run
/// use std::process::{Command, Stdio};
/// use test_support::processes::{example, succeeded};
///
/// let child = Command::new(example("durable")).stdout(Stdio::piped()).spawn().unwrap();
/// assert!(succeeded(child).contains("result: "));
/// ```
pub fn succeeded(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Kills `child` with SIGKILL as soon as `ready` holds (checked every 2 ms, for up to 60 s,
/// while it runs); what it printed.
///
/// ```no_run
/// use std::process::{Command, Stdio};
/// use test_support::processes::{example, kill_when};
///
/// let effects = std::env::temp_dir().join("effects");
/// let child = Command::new(example("durable")).stdout(Stdio::piped()).spawn().unwrap();
/// let printed = kill_when(child, "a first effect", || effects.exists());
/// ```
pub fn kill_when(mut child: Child, what: &str, ready: impl Fn() -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "no {what} within 60 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the example ended before {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}
