//! One tool of an MCP server as a plan step.

use std::sync::Arc;
use std::time::Duration;

use plan_core::{Cx, Describe, NodeRef, Plan, PlanError};
use rmcp::model::{CallToolRequestParams, ContentBlock};
use serde_json::Value;

use super::{Mcp, McpError, schema};

/// A tool of an MCP server, as a plan step taking its arguments (a JSON object) and giving
/// its [`McpOutput`]. Made by [`Mcp::tool`]; cheap to clone (clones share the connection).
///
/// Each call checks the arguments against the tool's input schema first (a subset of JSON
/// Schema: see below); arguments that do not match fail with
/// [`McpError::InvalidArguments`] and the server sees no call. A result the tool marks as an
/// error is [`McpError::ToolFailed`]. As a step, every [`McpError`] becomes a
/// [`PlanError::Step`] naming the node.
///
/// The schema subset: `type`, `enum`, `const`, `properties`, `required`,
/// `additionalProperties`, `items`, `minItems`/`maxItems`, `minLength`/`maxLength`,
/// `minimum`/`maximum` and their exclusive forms, `allOf`/`anyOf`/`oneOf`/`not`. Other
/// keywords (`$ref`, `pattern`, `format`, …) are left to the server, which checks too.
#[derive(Clone, Debug)]
pub struct McpTool {
    mcp: Mcp,
    name: Arc<str>,
    timeout: Option<Duration>,
}

/// What a tool call gave. It is serde (content blocks as MCP writes them), so that a durable
/// run journals a tool call's output and a bus can carry it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct McpOutput {
    /// The text of its text content blocks, one per line.
    pub text: String,
    /// Every content block, text or not (images, audio, resources, links).
    pub content: Vec<ContentBlock>,
    /// Its structured content, when the tool gives one.
    pub structured: Option<Value>,
}

impl McpTool {
    pub(crate) fn new(mcp: Mcp, name: String) -> Self {
        McpTool {
            mcp,
            name: name.into(),
            timeout: None,
        }
    }

    /// This tool with calls given up after `timeout`: the request is cancelled and the call
    /// fails with [`McpError::Timeout`]. Without one a call waits as long as the server
    /// takes (a plan's `#[timeout(..)]` on the step bounds it too).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls the tool with `arguments` (a JSON object; `null` for none), checked against its
    /// input schema first.
    pub async fn call_json(&self, arguments: Value) -> Result<McpOutput, McpError> {
        let tool = self.mcp.find(&self.name).await?;
        let arguments = schema::check_arguments(&self.name, &tool.input_schema, arguments)?;
        let request = CallToolRequestParams::new(self.name.to_string()).with_arguments(arguments);
        let call = self.mcp.peer().call_tool(request);
        let result = match self.timeout {
            // Dropping the call on the deadline sends the server a cancellation.
            Some(after) => {
                tokio::time::timeout(after, call)
                    .await
                    .map_err(|_| McpError::Timeout {
                        tool: self.name.to_string(),
                        after,
                    })?
            }
            None => call.await,
        }
        .map_err(|err| McpError::from_service(self.mcp.server(), Some(&self.name), err))?;
        let text = result
            .content
            .iter()
            .filter_map(|block| block.as_text().map(|t| t.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n");
        if result.is_error == Some(true) {
            return Err(McpError::ToolFailed {
                tool: self.name.to_string(),
                message: if text.is_empty() {
                    "(no message)".to_owned()
                } else {
                    text
                },
            });
        }
        Ok(McpOutput {
            text,
            content: result.content,
            structured: result.structured_content,
        })
    }
}

impl Describe for McpTool {}

impl<C: Sync> Plan<Value, C> for McpTool {
    type Out = McpOutput;

    async fn call(&self, arguments: Value, cx: Cx<'_, C>) -> Result<McpOutput, PlanError> {
        self.call_json(arguments)
            .await
            .map_err(|err| PlanError::step(NodeRef::current(&cx), err))
    }
}
