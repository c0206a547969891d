//! MCP tools: the tools of any Model Context Protocol server as plan steps, over stdio (the
//! server as a child process) or streamable HTTP, on the official Rust SDK ([`rmcp`]).
//!
//! [`Mcp`] is the connection; [`Mcp::tools`] lists the tools (name, description, input
//! schema); [`Mcp::tool`] gives one as an [`McpTool`], a step taking its arguments as JSON and
//! giving an [`McpOutput`] (the text content, with the raw and structured content beside it).
//! Arguments are checked against the tool's input schema before the call. A failed tool, a
//! refused request, an unknown tool and a server that went away are each an [`McpError`],
//! which a step turns into a [`PlanError`](plan_core::PlanError) naming its node.
//!
//! ```no_run
//! use plan_runtime::prelude::*;
//! use plan_tools::mcp::{Mcp, McpOutput};
//!
//! fn question(topic: String) -> serde_json::Value {
//!     serde_json::json!({ "message": format!("tell me about {topic}") })
//! }
//! fn text(out: McpOutput) -> String {
//!     out.text
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mcp = Mcp::command_line("npx -y @modelcontextprotocol/server-everything").await?;
//! for tool in mcp.tools().await? {
//!     println!("{}: {}", tool.name, tool.description.unwrap_or_default());
//! }
//! let echo = plan! { question >> (mcp.tool("echo")) >> text };
//! let answer = echo.run("plans".to_owned()).await?;
//! mcp.close().await;
//! # Ok(()) }
//! ```
//!
//! Over HTTP, [`Mcp::connect`] takes the server's URL (`http://127.0.0.1:3001/mcp`).

mod client;
mod error;
mod schema;
mod tool;

pub use client::{Mcp, ToolInfo};
pub use error::McpError;
pub use schema::check_arguments;
pub use tool::{McpOutput, McpTool};

/// The SDK, for the types [`ToolInfo::raw`], [`McpOutput::content`] and [`Mcp::peer`] are
/// made of, at the version this crate uses.
pub use rmcp;
