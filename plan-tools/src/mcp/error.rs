//! How an MCP connection or tool call fails.

use std::time::Duration;

use crate::cut::cut;

/// Why connecting to an MCP server, listing its tools or calling one failed. Each reads as one
/// line naming the server or the tool; as a step's error it is wrapped in a
/// [`PlanError`](plan_core::PlanError) that names the node.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The server could not be started or reached, or the MCP handshake with it failed.
    #[error("cannot connect to MCP server `{server}`: {reason}")]
    Connect {
        /// The command line or URL.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// The server has no tool of that name. Its `Display` cuts the name and the list of
    /// those it has short: either may come from outside (a model's tool call, a server).
    #[error(
        "MCP server `{server}` has no tool `{}` (it has: {})",
        cut(.tool, NAME_CHARS),
        list(.available)
    )]
    UnknownTool {
        /// The command line or URL.
        server: String,
        /// The name asked for.
        tool: String,
        /// The names it has.
        available: Vec<String>,
    },
    /// The arguments do not match the tool's input schema; the tool was not called.
    #[error("invalid arguments for tool `{tool}`: {problem}")]
    InvalidArguments {
        /// The tool.
        tool: String,
        /// The first mismatch found.
        problem: String,
    },
    /// The tool ran and reported a failure (a result with `isError: true`).
    #[error("tool `{tool}` failed: {message}")]
    ToolFailed {
        /// The tool.
        tool: String,
        /// The text of its result.
        message: String,
    },
    /// The server answered the request with a JSON-RPC error.
    #[error("MCP server `{server}` refused the request{}: {message} (code {code})", about(.tool))]
    Protocol {
        /// The command line or URL.
        server: String,
        /// The tool called, if the request was a call.
        tool: Option<String>,
        /// The JSON-RPC error code.
        code: i32,
        /// The server's message.
        message: String,
    },
    /// The connection ended: the child process exited, or the HTTP server went away or
    /// closed the session. A call in flight when that happened fails with this too.
    #[error("MCP server `{server}` is gone{}: {reason}", about(.tool))]
    ServerGone {
        /// The command line or URL.
        server: String,
        /// The tool called, if it was a call.
        tool: Option<String>,
        /// What the transport said.
        reason: String,
    },
    /// No answer to a call within the tool's timeout (the request was cancelled).
    #[error("tool `{tool}` did not answer within {after:?}")]
    Timeout {
        /// The tool.
        tool: String,
        /// The timeout.
        after: Duration,
    },
    /// Any other failure of the exchange: an answer of the wrong kind, a request the SDK
    /// cancelled.
    #[error("MCP server `{server}`{}: {reason}", about(.tool))]
    Other {
        /// The command line or URL.
        server: String,
        /// The tool called, if it was a call.
        tool: Option<String>,
        /// What went wrong.
        reason: String,
    },
}

/// How many items of a list (tools, allowed values, known arguments) a message names.
pub(super) const LISTED: usize = 10;

/// The longest tool name a message shows, in characters.
pub(super) const NAME_CHARS: usize = 100;

/// The first few of `items`, joined with `, `, and how many there are in all if more.
pub(super) fn listed(items: impl ExactSizeIterator<Item = String>) -> String {
    let total = items.len();
    let mut shown: Vec<String> = items.take(LISTED).collect();
    if total > LISTED {
        shown.push(format!("… ({total} in all)"));
    }
    shown.join(", ")
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "no tools".to_owned()
    } else {
        listed(names.iter().map(|name| cut(name, NAME_CHARS)))
    }
}

fn about(tool: &Option<String>) -> String {
    match tool {
        Some(tool) => format!(" while calling `{tool}`"),
        None => String::new(),
    }
}

impl McpError {
    /// What an SDK error means for a request to `server` (calling `tool`, if any).
    pub(crate) fn from_service(
        server: &str,
        tool: Option<&str>,
        err: rmcp::service::ServiceError,
    ) -> Self {
        use rmcp::service::ServiceError;
        let (server, tool) = (server.to_owned(), tool.map(str::to_owned));
        match err {
            ServiceError::McpError(data) => McpError::Protocol {
                server,
                tool,
                code: data.code.0,
                message: data.message.into_owned(),
            },
            ServiceError::TransportClosed => McpError::ServerGone {
                server,
                tool,
                reason: "the connection closed".to_owned(),
            },
            // A send that fails means the other end is not there any more (a broken pipe, a
            // refused or reset connection); the innermost cause says which.
            ServiceError::TransportSend(err) => McpError::ServerGone {
                server,
                tool,
                reason: innermost(&*err.error),
            },
            other => McpError::Other {
                server,
                tool,
                reason: other.to_string(),
            },
        }
    }

    /// `true` for [`McpError::ServerGone`].
    pub fn is_server_gone(&self) -> bool {
        matches!(self, McpError::ServerGone { .. })
    }
}

/// The innermost cause of an error, which names what failed (`Connection refused`).
pub(crate) fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    use rmcp::transport::streamable_http_client::StreamableHttpError;
    let mut innermost = err;
    loop {
        // rmcp's HTTP transport holds reqwest's error as a field, not as its source: step
        // into it, or the reason would stop at "error sending request".
        let next = match innermost.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
            Some(StreamableHttpError::Client(client)) => Some(client as &dyn std::error::Error),
            _ => innermost.source(),
        };
        match next {
            Some(cause) => innermost = cause,
            None => return innermost.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_tool_is_named_short_among_a_few_of_the_others() {
        let err = McpError::UnknownTool {
            server: "srv".to_owned(),
            tool: "t".repeat(500_000),
            available: (0..10_000)
                .map(|i| format!("{i}{}", "n".repeat(1000)))
                .collect(),
        };
        let shown = err.to_string();
        assert!(
            shown.chars().count() < 1200,
            "{} chars",
            shown.chars().count()
        );
        assert!(shown.ends_with(", … (10000 in all))"), "{shown}");
        let small = McpError::UnknownTool {
            server: "srv".to_owned(),
            tool: "mul".to_owned(),
            available: vec!["add".to_owned(), "sub".to_owned()],
        };
        assert_eq!(
            small.to_string(),
            "MCP server `srv` has no tool `mul` (it has: add, sub)"
        );
    }
}
