//! The connection to one MCP server: started as a child process or reached over streamable
//! HTTP, with the server's tool list kept for the argument checks.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::sync::{Arc, RwLock};

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::RunningService;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{Peer, RoleClient, ServiceExt};
use serde_json::Value;

use super::error::innermost;
use super::{McpError, McpTool};

/// A connection to one MCP server. Cheap to clone: clones share the connection, and any
/// number of calls may be in flight on it at once, from every branch of a plan. The server is
/// shut down when the last clone is dropped (a child process is killed), or by
/// [`Mcp::close`]. See the [module](super) docs.
#[derive(Clone)]
pub struct Mcp {
    inner: Arc<Inner>,
}

struct Inner {
    /// The command line or URL, to name the server in errors.
    server: String,
    peer: Peer<RoleClient>,
    /// Owns the SDK's service loop (and with it the child process): dropping it ends both.
    service: tokio::sync::Mutex<Option<RunningService<RoleClient, ClientConfig>>>,
    /// The last tool list, by name: a call looks its schema up here.
    tools: RwLock<Arc<BTreeMap<String, Arc<ToolInfo>>>>,
}

/// One tool of a server, as it lists itself.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ToolInfo {
    /// Its name, which [`Mcp::tool`] takes.
    pub name: String,
    /// What it does, for a person or a model.
    pub description: Option<String>,
    /// The JSON schema of its arguments (an object schema).
    pub input_schema: Value,
    /// Everything the server said about it (title, annotations, output schema, …).
    pub raw: rmcp::model::Tool,
}

impl ToolInfo {
    fn from_raw(raw: rmcp::model::Tool) -> Self {
        ToolInfo {
            name: raw.name.to_string(),
            description: raw.description.as_deref().map(str::to_owned),
            input_schema: Value::Object((*raw.input_schema).clone()),
            raw,
        }
    }
}

impl fmt::Debug for Mcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mcp")
            .field("server", &self.inner.server)
            .finish_non_exhaustive()
    }
}

impl Mcp {
    /// Starts `program` with `args` as a child process and speaks MCP with it over its stdin
    /// and stdout; its stderr is passed through. Lists its tools before returning.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), plan_tools::mcp::McpError> {
    /// let mcp = plan_tools::mcp::Mcp::spawn("npx", ["-y", "@modelcontextprotocol/server-everything"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn spawn<I, S>(program: impl AsRef<OsStr>, args: I) -> Result<Mcp, McpError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = tokio::process::Command::new(program);
        command.args(args);
        Mcp::spawn_command(command).await
    }

    /// [`Mcp::spawn`] from one command line: words split at whitespace, where `'…'` and
    /// `"…"` keep a word together and `\` takes the next character as it is (outside single
    /// quotes). No shell runs: no variables, globs or pipes.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), plan_tools::mcp::McpError> {
    /// let mcp = plan_tools::mcp::Mcp::command_line("npx -y @modelcontextprotocol/server-everything").await?;
    /// # Ok(()) }
    /// ```
    pub async fn command_line(line: &str) -> Result<Mcp, McpError> {
        let words = split(line).map_err(|reason| McpError::Connect {
            server: line.to_owned(),
            reason,
        })?;
        let Some((program, args)) = words.split_first() else {
            return Err(McpError::Connect {
                server: line.to_owned(),
                reason: "the command line is empty".to_owned(),
            });
        };
        Mcp::spawn(program, args).await
    }

    /// [`Mcp::spawn`] with a command set up as you like (environment, working directory). Its
    /// stdin and stdout are taken for the protocol; its stderr is passed through.
    pub async fn spawn_command(mut command: tokio::process::Command) -> Result<Mcp, McpError> {
        let std = command.as_std();
        let server = std::iter::once(std.get_program())
            .chain(std.get_args())
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ");
        // Should the connection be dropped without `close` (or the process exit), the child
        // goes with it rather than lingering.
        command.kill_on_drop(true);
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .map_err(|err| McpError::Connect {
                server: server.clone(),
                reason: format!("cannot start it: {err}"),
            })?;
        Mcp::start(server, transport).await
    }

    /// Connects to the MCP server at `url` over streamable HTTP (`http://`; `https://` with the
    /// `tls` feature). Lists its tools before returning.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), plan_tools::mcp::McpError> {
    /// let mcp = plan_tools::mcp::Mcp::connect("http://127.0.0.1:3001/mcp").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Mcp, McpError> {
        let transport = StreamableHttpClientTransport::from_uri(url);
        // Named in errors without the credentials or query the URL may carry.
        Mcp::start(crate::redact::shown(url), transport).await
    }

    /// The MCP handshake over `transport`, then the first tool list.
    async fn start<T, E, A>(server: String, transport: T) -> Result<Mcp, McpError>
    where
        T: rmcp::transport::IntoTransport<RoleClient, E, A>,
        E: std::error::Error + Send + Sync + 'static,
    {
        let client = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("plan-tools", env!("CARGO_PKG_VERSION")),
        );
        let service = client
            .serve(transport)
            .await
            .map_err(|err| McpError::Connect {
                server: server.clone(),
                reason: handshake(&err),
            })?;
        let mcp = Mcp {
            inner: Arc::new(Inner {
                server,
                peer: service.peer().clone(),
                service: tokio::sync::Mutex::new(Some(service)),
                tools: RwLock::default(),
            }),
        };
        mcp.tools().await?;
        Ok(mcp)
    }

    /// The server's tools, listed afresh (every page). The list is also kept for the argument
    /// checks of [`McpTool`] calls.
    pub async fn tools(&self) -> Result<Vec<ToolInfo>, McpError> {
        let has_tools = self
            .inner
            .peer
            .peer_info()
            .is_none_or(|info| info.capabilities.tools.is_some());
        // A server without the tools capability would refuse the request: it has none.
        let listed = if has_tools {
            self.inner
                .peer
                .list_all_tools()
                .await
                .map_err(|err| McpError::from_service(&self.inner.server, None, err))?
        } else {
            Vec::new()
        };
        let tools: Vec<ToolInfo> = listed.into_iter().map(ToolInfo::from_raw).collect();
        let by_name = tools
            .iter()
            .map(|t| (t.name.clone(), Arc::new(t.clone())))
            .collect();
        *self
            .inner
            .tools
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(by_name);
        Ok(tools)
    }

    /// The tool `name` as a plan step (see [`McpTool`]). Whether the server has it is found
    /// out at the call: an unknown tool is then [`McpError::UnknownTool`].
    pub fn tool(&self, name: impl Into<String>) -> McpTool {
        McpTool::new(self.clone(), name.into())
    }

    /// The command line or URL this connection was made with.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// The SDK's handle on the connection, for what this type does not cover (prompts,
    /// resources, …).
    pub fn peer(&self) -> &Peer<RoleClient> {
        &self.inner.peer
    }

    /// Ends the connection for every clone: a child process has its stdin closed and is
    /// given a few seconds to exit before it is killed. Calls made after this fail with
    /// [`McpError::ServerGone`].
    pub async fn close(&self) {
        let service = self.inner.service.lock().await.take();
        if let Some(service) = service {
            // The only failure is the service task's own panic, which leaves nothing to close.
            let _ = service.cancel().await;
        }
    }

    /// The last tool list, looked up by name; listed afresh when `name` is not in it (the
    /// server may have added it since).
    pub(crate) async fn find(&self, name: &str) -> Result<Arc<ToolInfo>, McpError> {
        if let Some(tool) = self.known().get(name) {
            return Ok(tool.clone());
        }
        let tools = self.tools().await?;
        tools
            .iter()
            .find(|t| t.name == name)
            .map(|t| Arc::new(t.clone()))
            .ok_or_else(|| McpError::UnknownTool {
                server: self.inner.server.clone(),
                tool: name.to_owned(),
                available: tools.iter().map(|t| t.name.clone()).collect(),
            })
    }

    fn known(&self) -> Arc<BTreeMap<String, Arc<ToolInfo>>> {
        self.inner
            .tools
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Why the handshake failed, in the words that say it: the transport's innermost cause (`No
/// such file`, `Connection refused`) rather than the SDK's wrapper around it.
fn handshake(err: &rmcp::service::ClientInitializeError) -> String {
    use rmcp::service::ClientInitializeError as E;
    match err {
        E::TransportError { error, .. } => innermost(&*error.error),
        E::ConnectionClosed(_) => {
            "the connection closed during the handshake (did the server exit?)".to_owned()
        }
        other => other.to_string(),
    }
}

/// Splits a command line into words (see [`Mcp::command_line`]).
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(word) = word.take() {
                    words.push(word);
                }
            }
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a `'` is not closed".to_owned()),
                    }
                }
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err("the line ends in a `\\`".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a `\"` is not closed".to_owned()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("the line ends in a `\\`".to_owned()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_command_lines() {
        assert_eq!(
            split("  npx -y  @scope/pkg ").unwrap(),
            ["npx", "-y", "@scope/pkg"]
        );
        assert_eq!(
            split(r#"run 'a b' "c \"d\"" e\ f ''"#).unwrap(),
            ["run", "a b", "c \"d\"", "e f", ""]
        );
        assert!(split("x 'open").is_err());
        assert!(split("x \"open").is_err());
        assert!(split("x \\").is_err());
        assert!(split("   ").unwrap().is_empty());
    }
}
