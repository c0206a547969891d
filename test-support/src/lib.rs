//! The fixtures the workspace's tests share, written once: a child server on a free port,
//! killed on drop ([`Server`]); a temporary directory, removed on drop ([`temp_dir`]); a
//! package's example run as a process ([`processes`]); a `nats-server` with JetStream, alone
//! or in a cluster, killed and restarted at will ([`nats`]); with the feature `chaos`, an
//! HTTP proxy that injects seeded, reproducible faults (`chaos`). A dev-dependency only; not
//! published.
//!
//! ```no_run
//! use std::process::Command;
//!
//! let port = test_support::free_port();
//! let mut redis = Command::new("redis-server");
//! redis.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""]);
//! let server = test_support::Server::start(redis, port); // waits until it listens
//! assert_eq!(server.port(), port);
//! drop(server); // SIGKILL
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "chaos")]
pub mod chaos;
pub mod nats;
pub mod processes;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use tempfile::TempDir;

/// A port on 127.0.0.1 that nothing listens on now (the system's pick), for a server to
/// take.
///
/// ```
/// let port = test_support::free_port();
/// assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
/// ```
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// A fresh directory under the system's temporary one, named after `name` (and made
/// unique), removed with all it holds when dropped.
///
/// ```
/// let dir = test_support::temp_dir("notes");
/// std::fs::write(dir.path().join("a"), "x").unwrap();
/// let path = dir.path().to_owned();
/// drop(dir);
/// assert!(!path.exists());
/// ```
pub fn temp_dir(name: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("plan-{name}-"))
        .tempdir()
        .expect("a directory under the system's temporary one")
}

/// A child server of a test's own, listening on 127.0.0.1: started, waited for until it
/// accepts connections (at most 10 s), and killed (SIGKILL) and reaped when dropped.
///
/// ```no_run
/// let port = test_support::free_port();
/// let mut nats = std::process::Command::new("nats-server");
/// nats.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
/// let server = test_support::Server::start(nats, port);
/// ```
#[derive(Debug)]
pub struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts `command` (its output discarded), which must listen on 127.0.0.1:`port`, and
    /// waits until it does. Panics, naming the program, if it cannot be started (with how to
    /// install it) or does not listen within 10 s.
    pub fn start(mut command: Command, port: u16) -> Self {
        let program = command.get_program().to_string_lossy().into_owned();
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{program}` ({e}): install it, e.g. `apt-get install {program}`"
                )
            });
        let server = Server { child, port };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("`{program}` did not listen on 127.0.0.1:{port} within 10 s");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id, to read what the system says of it (`/proc/PID/status`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
