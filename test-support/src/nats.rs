//! `nats-server`s of a test's own on 127.0.0.1: one node ([`NatsServer`]), or a JetStream
//! cluster of several ([`NatsCluster`]). Each keeps its JetStream store in a temporary
//! directory of its own, which outlives a kill so that a restarted server finds its data;
//! dropping the fixture kills every server (SIGKILL) and then removes the directories.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{Server, TempDir, free_port, temp_dir};

/// One `nats-server` on a free port of 127.0.0.1, with JetStream unless started
/// [`without_jetstream`](NatsServer::without_jetstream): killed and restarted at will, on the
/// same port and with the same store.
///
/// ```
/// use test_support::nats::NatsServer;
///
/// let mut server = NatsServer::start(); // waits until it listens
/// assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
/// server.kill(); // SIGKILL
/// assert!(std::net::TcpStream::connect(("127.0.0.1", server.port())).is_err());
/// server.restart(); // same port, same store
/// assert!(std::net::TcpStream::connect(("127.0.0.1", server.port())).is_ok());
/// ```
#[derive(Debug)]
pub struct NatsServer {
    /// `None` while killed. Declared before the store, so dropped (killed) before it.
    server: Option<Server>,
    port: u16,
    jetstream: bool,
    /// Holds the JetStream store and the configuration file, if any.
    dir: TempDir,
}

/// The configuration file of a [`NatsServer::with_config`], in its directory.
const CONFIG_FILE: &str = "server.conf";

impl NatsServer {
    /// A server with JetStream, waited for until it accepts connections. Panics if
    /// `nats-server` cannot be started or does not listen within 10 s.
    pub fn start() -> Self {
        NatsServer::launch(true, None)
    }

    /// A server without JetStream (core NATS only), for what must refuse one.
    ///
    /// ```
    /// let server = test_support::nats::NatsServer::without_jetstream();
    /// assert!(std::net::TcpStream::connect(("127.0.0.1", server.port())).is_ok());
    /// ```
    pub fn without_jetstream() -> Self {
        NatsServer::launch(false, None)
    }

    /// A server with JetStream and the options in `config`, the text of a configuration
    /// file: for options that have no flag, such as `max_payload: 4096`.
    ///
    /// ```
    /// let server = test_support::nats::NatsServer::with_config("max_payload: 4096\n");
    /// assert!(std::net::TcpStream::connect(("127.0.0.1", server.port())).is_ok());
    /// ```
    pub fn with_config(config: &str) -> Self {
        NatsServer::launch(true, Some(config))
    }

    fn launch(jetstream: bool, config: Option<&str>) -> Self {
        let dir = temp_dir("nats");
        if let Some(config) = config {
            std::fs::write(dir.path().join(CONFIG_FILE), config)
                .expect("the server's configuration file, in its temporary directory");
        }
        let mut server = NatsServer {
            server: None,
            port: free_port(),
            jetstream,
            dir,
        };
        server.restart();
        server
    }

    /// Its URL, `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on, also while killed.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it (SIGKILL), as a crash would; its store stays. Does nothing if it is not
    /// running.
    pub fn kill(&mut self) {
        self.server = None;
    }

    /// Starts it again, on the same port and with the same store, and waits until it accepts
    /// connections; a running server is killed first.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new("nats-server");
        command.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]);
        if self.jetstream {
            command.arg("-js").arg("-sd").arg(self.dir.path());
        }
        let config = self.dir.path().join(CONFIG_FILE);
        if config.exists() {
            command.arg("-c").arg(config);
        }
        self.server = Some(Server::start(command, self.port));
    }
}

/// A JetStream cluster of `nats-server`s on 127.0.0.1, each with its own client, cluster
/// (route) and monitoring port, server name (`n0`, `n1`, ..) and store, routed to all the
/// others. [`start`](NatsCluster::start) and [`restart`](NatsCluster::restart) return once
/// the cluster has formed: every running node routed to every other, all agreeing on one
/// JetStream meta leader, to which every running node is current: a stream with a replica
/// on each running node can be made at once.
///
/// ```
/// use test_support::nats::NatsCluster;
///
/// let mut cluster = NatsCluster::start(3);
/// assert_eq!(cluster.urls().split(',').count(), 3); // for a client to connect to any
/// cluster.kill(0); // SIGKILL: the other two go on
/// assert!(std::net::TcpStream::connect(("127.0.0.1", cluster.port(0))).is_err());
/// cluster.restart(0); // back, with its store, and current again
/// ```
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    /// `None` while killed. Declared before the store, so dropped (killed) before it.
    server: Option<Server>,
    name: String,
    port: u16,
    cluster_port: u16,
    monitor_port: u16,
    store: TempDir,
}

/// How long a cluster may take to form (or form again after a restart).
const FORMING: Duration = Duration::from_secs(30);

impl NatsCluster {
    /// Starts a cluster of `size` nodes (at least 2; 3 or 5 for a quorum that survives the loss
    /// of one or two) and waits until it has formed. Panics if a node cannot be started, or if
    /// the cluster has not formed within 30 s, saying what it lacked.
    pub fn start(size: usize) -> Self {
        assert!(size >= 2, "a cluster has at least 2 nodes, not {size}");
        let nodes = (0..size)
            .map(|i| Node {
                server: None,
                name: format!("n{i}"),
                port: free_port(),
                cluster_port: free_port(),
                monitor_port: free_port(),
                store: temp_dir(&format!("nats-n{i}")),
            })
            .collect();
        let mut cluster = NatsCluster { nodes };
        for i in 0..size {
            cluster.launch(i);
        }
        cluster.wait_until_formed();
        cluster
    }

    /// The URLs of all its nodes, running or not, separated by `,`: a client given them all
    /// connects to any node that runs.
    pub fn urls(&self) -> String {
        (0..self.nodes.len())
            .map(|i| self.url(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The URL of node `i`, `nats://127.0.0.1:PORT`.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.port(i))
    }

    /// The client port of node `i`, also while it is killed.
    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// Kills node `i` (SIGKILL), as a crash would; its store stays. Returns at once, before
    /// the others notice. Does nothing if it is not running.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].server = None;
    }

    /// Starts node `i` again (killed first if it runs), on its ports and with its store, and
    /// waits until the cluster has formed again with it.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.launch(i);
        self.wait_until_formed();
    }

    fn launch(&mut self, i: usize) {
        let routes = self
            .nodes
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, other)| format!("nats://127.0.0.1:{}", other.cluster_port))
            .collect::<Vec<_>>()
            .join(",");
        let node = &mut self.nodes[i];
        let mut command = Command::new("nats-server");
        command
            .args(["-a", "127.0.0.1", "-p", &node.port.to_string()])
            .args(["-n", &node.name, "--cluster_name", "plan"])
            .arg("--cluster")
            .arg(format!("nats://127.0.0.1:{}", node.cluster_port))
            .args(["--routes", &routes])
            .args(["-m", &node.monitor_port.to_string()])
            .arg("-js")
            .arg("-sd")
            .arg(node.store.path());
        node.server = Some(Server::start(command, node.port));
    }

    /// Polls the running nodes' monitoring endpoints until the cluster has formed.
    fn wait_until_formed(&self) {
        let deadline = Instant::now() + FORMING;
        loop {
            let lacking = match self.lacking() {
                None => return,
                Some(lacking) => lacking,
            };
            assert!(
                Instant::now() < deadline,
                "the NATS cluster did not form within {FORMING:?}: {lacking}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the cluster lacks to have formed, if anything.
    fn lacking(&self) -> Option<String> {
        let running: Vec<&Node> = self.nodes.iter().filter(|n| n.server.is_some()).collect();
        let mut leaders = Vec::new();
        for node in &running {
            let routes = monitor(node.monitor_port, "/routez")
                .and_then(|routez| routez["num_routes"].as_u64())
                .unwrap_or(0);
            if routes < running.len() as u64 - 1 {
                return Some(format!("{} has {routes} routes", node.name));
            }
            let Some(jsz) = monitor(node.monitor_port, "/jsz") else {
                return Some(format!("{} does not serve /jsz", node.name));
            };
            match jsz["meta_cluster"]["leader"].as_str() {
                Some(leader) if !leader.is_empty() => leaders.push(leader.to_owned()),
                _ => return Some(format!("{} knows no meta leader", node.name)),
            }
        }
        leaders.dedup();
        let [leader] = leaders.as_slice() else {
            return Some(format!(
                "the nodes name different meta leaders: {leaders:?}"
            ));
        };
        let Some(at_leader) = running.iter().find(|n| &n.name == leader) else {
            return Some(format!("the meta leader {leader} is not running"));
        };
        let Some(jsz) = monitor(at_leader.monitor_port, "/jsz") else {
            return Some(format!("the meta leader {leader} does not serve /jsz"));
        };
        let replicas = jsz["meta_cluster"]["replicas"].as_array().cloned();
        for node in running.iter().filter(|n| &n.name != leader) {
            let current = replicas
                .iter()
                .flatten()
                .any(|replica| replica["name"] == node.name.as_str() && replica["current"] == true);
            if !current {
                return Some(format!("{} is not current with the meta leader", node.name));
            }
        }
        None
    }
}

/// The JSON a node's monitoring endpoint serves at `path`, if it answers.
fn monitor(port: u16, path: &str) -> Option<serde_json::Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    // HTTP/1.0: the server closes the connection after its answer, which ends the read.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (_, body) = answer.split_once("\r\n\r\n")?;
    serde_json::from_str(body).ok()
}
