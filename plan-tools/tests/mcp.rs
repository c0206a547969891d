//! MCP tools against an MCP server of our own, over stdio and over streamable HTTP.
//!
//! No extra binary: this test has its own `main` (`harness = false`). Run with
//! `PLAN_TOOLS_MCP_TEST_SERVER` set, the binary is the stdio server, and the stdio cases start
//! it as a child process (`std::env::current_exe()`); otherwise it runs the cases, each in its
//! own task under a deadline, prints one line per case and exits non-zero if any failed.
//! `cargo test --features mcp --test mcp -- NAME` runs the cases whose name contains `NAME`.
//!
//! The server counts the calls that reach it (the `calls` tool tells): the schema case checks
//! that arguments the schema refuses never do.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use plan_runtime::prelude::*;
use plan_tools::mcp::{Mcp, McpError, McpOutput};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};

/// Set in the environment of the child that is to be the stdio server.
const SERVE: &str = "PLAN_TOOLS_MCP_TEST_SERVER";

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// The test server: `add`, `fail` (an error result), `refuse` (a JSON-RPC error), `slow`,
/// `die` (the process exits mid-call), and `calls` (how many calls of the others it got).
#[derive(Clone, Default)]
struct TestServer {
    calls: Arc<AtomicU32>,
}

fn object(schema: Value) -> Arc<serde_json::Map<String, Value>> {
    match schema {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("the test schemas are objects"),
    }
}

fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            "add",
            "Adds two numbers",
            object(json!({
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
                "additionalProperties": false,
            })),
        ),
        Tool::new(
            "calls",
            "How many calls of the other tools this server got",
            object(json!({"type": "object", "properties": {}})),
        ),
        Tool::new(
            "fail",
            "Reports a failure",
            object(json!({
                "type": "object",
                "properties": {"reason": {"type": "string"}},
                "required": ["reason"],
            })),
        ),
        Tool::new(
            "refuse",
            "Answers with a JSON-RPC error",
            object(json!({"type": "object"})),
        ),
        Tool::new(
            "slow",
            "Answers after `ms` milliseconds",
            object(json!({
                "type": "object",
                "properties": {"ms": {"type": "integer", "minimum": 0}},
                "required": ["ms"],
            })),
        ),
        Tool::new(
            "die",
            "Exits the server process without answering",
            object(json!({"type": "object"})),
        ),
    ]
}

fn text(result: impl Into<String>) -> Vec<ContentBlock> {
    vec![ContentBlock::text(result.into())]
}

impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        if request.name != "calls" {
            self.calls.fetch_add(1, Ordering::SeqCst);
        }
        let result = match &*request.name {
            "add" => {
                let sum =
                    args["a"].as_f64().unwrap_or(f64::NAN) + args["b"].as_f64().unwrap_or(f64::NAN);
                CallToolResult::success(text(sum.to_string()))
            }
            "calls" => CallToolResult::success(text(self.calls.load(Ordering::SeqCst).to_string())),
            "fail" => CallToolResult::error(text(format!(
                "cannot: {}",
                args["reason"].as_str().unwrap_or("?")
            ))),
            "refuse" => return Err(ErrorData::invalid_request("not today", None)),
            "slow" => {
                let ms = args["ms"].as_u64().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                CallToolResult::success(text("done"))
            }
            // Only ever sent to a child process: the test process must not exit.
            "die" => std::process::exit(3),
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool `{other}`"),
                    None,
                ));
            }
        };
        Ok(CallToolResponse::Complete(result))
    }
}

/// The child's side: MCP on stdin/stdout until the client goes away.
fn serve_stdio() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let running = TestServer::default()
            .serve(rmcp::transport::stdio())
            .await
            .expect("the handshake");
        let _ = running.waiting().await;
    });
}

/// The test server as a child process of this test.
async fn spawn_server() -> Mcp {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = tokio::process::Command::new(exe);
    command.env(SERVE, "1");
    Mcp::spawn_command(command).await.expect("the stdio server")
}

/// The test server over streamable HTTP on 127.0.0.1 (a port of its own): its URL, its calls,
/// and its task (abort it to stop listening).
async fn serve_http() -> (String, Arc<AtomicU32>, tokio::task::JoinHandle<()>) {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

    let server = TestServer::default();
    let calls = server.calls.clone();
    let service: StreamableHttpService<TestServer, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(server.clone()),
            Default::default(),
            // No keep-alive pings: nothing here waits long enough to need them.
            StreamableHttpServerConfig::default().with_sse_keep_alive(None),
        );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/mcp"), calls, task)
}

async fn calls(mcp: &Mcp) -> u32 {
    let out = mcp.tool("calls").call_json(json!({})).await.unwrap();
    out.text.parse().unwrap()
}

fn out_text(out: McpOutput) -> String {
    out.text
}

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

async fn stdio_lists_tools() {
    let mcp = spawn_server().await;
    let tools = mcp.tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["add", "calls", "fail", "refuse", "slow", "die"]);
    assert_eq!(tools[0].description.as_deref(), Some("Adds two numbers"));
    assert_eq!(tools[0].input_schema["required"], json!(["a", "b"]));
    mcp.close().await;
}

async fn stdio_calls_a_tool_in_a_plan() {
    let mcp = spawn_server().await;
    let args = |(a, b): (f64, f64)| json!({"a": a, "b": b});
    let sum = plan! { args >> (mcp.tool("add")) >> out_text };
    assert_eq!(sum.run((2.0, 3.5)).await.unwrap(), "5.5");
    // Several calls in flight at once on one connection, each with its own answer.
    let runs = (0..8).map(|i| sum.run((f64::from(i), 1.0)));
    let sums = futures::future::join_all(runs).await;
    for (i, got) in sums.into_iter().enumerate() {
        assert_eq!(got.unwrap(), (i as f64 + 1.0).to_string());
    }
    assert_eq!(calls(&mcp).await, 9);
    mcp.close().await;
}

async fn stdio_checks_the_schema_before_the_call() {
    let mcp = spawn_server().await;
    let add = mcp.tool("add");
    add.call_json(json!({"a": 1, "b": 2})).await.unwrap();
    assert_eq!(calls(&mcp).await, 1);
    let cases = [
        (json!({"a": 1}), "missing required argument `b`"),
        (
            json!({"a": 1, "b": "2"}),
            "`b` must be a number, not a string (\"2\")",
        ),
        (
            json!({"a": 1, "b": 2, "c": 3}),
            "unexpected argument `c` (the tool takes: `a`, `b`)",
        ),
        (
            json!([1, 2]),
            "the arguments must be an object, not an array",
        ),
    ];
    for (args, problem) in cases {
        let err = add.call_json(args.clone()).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("invalid arguments for tool `add`: {problem}"),
            "{args}"
        );
        assert!(matches!(err, McpError::InvalidArguments { .. }));
    }
    // None of them reached the server.
    assert_eq!(calls(&mcp).await, 1);
    // As a step, the error names the node.
    let wrong = |(): ()| json!({"a": true, "b": 1});
    let step = plan! { wrong >> #[name = "add"] (mcp.tool("add")) >> out_text };
    let err = step.run(()).await.unwrap_err();
    assert_eq!((err.node().name, err.node().path.as_str()), ("add", "1"));
    assert!(matches!(
        err.step_error::<McpError>(),
        Some(McpError::InvalidArguments { .. })
    ));
    assert_eq!(calls(&mcp).await, 1);
    mcp.close().await;
}

async fn stdio_errors_name_the_node() {
    let mcp = spawn_server().await;
    let reason = |r: &'static str| json!({ "reason": r });
    let fail = plan! { reason >> #[name = "fail"] (mcp.tool("fail")) >> out_text };
    let err = fail.run("no disk").await.unwrap_err();
    assert_eq!((err.node().name, err.node().path.as_str()), ("fail", "1"));
    assert!(
        err.to_string()
            .ends_with("failed: tool `fail` failed: cannot: no disk"),
        "{err}"
    );
    assert!(matches!(
        err.step_error::<McpError>(),
        Some(McpError::ToolFailed { .. })
    ));

    // A JSON-RPC error answer.
    let err = mcp.tool("refuse").call_json(json!({})).await.unwrap_err();
    match &err {
        McpError::Protocol {
            tool,
            code,
            message,
            ..
        } => {
            assert_eq!(
                (tool.as_deref(), *code, message.as_str()),
                (Some("refuse"), -32600, "not today")
            );
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("refused the request while calling `refuse`: not today"),
        "{err}"
    );

    // A tool the server does not have: no call is made, and the error lists the ones it has.
    let err = mcp.tool("multiply").call_json(json!({})).await.unwrap_err();
    assert!(matches!(err, McpError::UnknownTool { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("has no tool `multiply` (it has: add, calls, fail, refuse, slow, die)"),
        "{err}"
    );
    assert_eq!(
        calls(&mcp).await,
        2,
        "fail and refuse reached the server, multiply did not"
    );
    mcp.close().await;
}

async fn stdio_a_dying_server_fails_the_step() {
    let mcp = spawn_server().await;
    let nothing = |(): ()| json!({});
    let die = plan! { nothing >> #[name = "die"] (mcp.tool("die")) >> out_text };
    // The child exits mid-call; the call must fail soon, not hang (the case's own deadline
    // is the backstop, this one says which step hung).
    let err = tokio::time::timeout(Duration::from_secs(5), die.run(()))
        .await
        .expect("a dying server must fail the call, not hang it")
        .unwrap_err();
    assert_eq!((err.node().name, err.node().path.as_str()), ("die", "1"));
    let mcp_err = err.step_error::<McpError>().expect("an McpError");
    assert!(mcp_err.is_server_gone(), "{mcp_err:?}");
    assert!(
        err.to_string().contains("is gone while calling `die`"),
        "{err}"
    );
    // And so does any later call, at once.
    let err = mcp
        .tool("add")
        .call_json(json!({"a": 1, "b": 1}))
        .await
        .unwrap_err();
    assert!(err.is_server_gone(), "{err:?}");
}

async fn stdio_a_timeout_cancels_the_call() {
    let mcp = spawn_server().await;
    let slow = mcp.tool("slow").timeout(Duration::from_millis(50));
    let started = Instant::now();
    let err = slow.call_json(json!({"ms": 60_000})).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, McpError::Timeout { .. }), "{err:?}");
    assert_eq!(err.to_string(), "tool `slow` did not answer within 50ms");
    // The connection is still good.
    let quick = slow.call_json(json!({"ms": 0})).await.unwrap();
    assert_eq!(quick.text, "done");
    mcp.close().await;
}

async fn stdio_a_missing_command_is_a_connect_error() {
    let err = Mcp::command_line("./no-such-mcp-server --stdio")
        .await
        .unwrap_err();
    assert!(matches!(err, McpError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "cannot connect to MCP server `./no-such-mcp-server --stdio`: cannot start it:"
        ),
        "{err}"
    );
    // A command that starts and exits without speaking MCP.
    let err = Mcp::spawn("true", [""; 0]).await.unwrap_err();
    assert!(matches!(err, McpError::Connect { .. }), "{err:?}");
}

async fn http_lists_and_calls() {
    let (url, server_calls, _) = serve_http().await;
    let mcp = Mcp::connect(&url).await.unwrap();
    let names: Vec<String> = mcp
        .tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["add", "calls", "fail", "refuse", "slow", "die"]);
    let args = |(a, b): (f64, f64)| json!({"a": a, "b": b});
    let sum = plan! { args >> #[name = "add"] (mcp.tool("add")) >> out_text };
    assert_eq!(sum.run((40.0, 2.0)).await.unwrap(), "42");
    // The schema check holds over HTTP too, and the error names the node.
    let err = sum.run((f64::NAN, 1.0)).await.unwrap_err();
    assert_eq!(err.node().name, "add");
    assert!(
        err.to_string().contains("`a` must be a number, not null"),
        "{err}"
    );
    assert_eq!(server_calls.load(Ordering::SeqCst), 1);
    let err = mcp
        .tool("fail")
        .call_json(json!({"reason": "http"}))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "tool `fail` failed: cannot: http");
    mcp.close().await;
}

async fn http_an_unreachable_server_is_a_connect_error() {
    // A port that was just free: bound, then released.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/mcp");
    let err = Mcp::connect(&url).await.unwrap_err();
    assert!(matches!(err, McpError::Connect { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("cannot connect to MCP server `{url}`: Connection refused (os error 111)")
    );
}

async fn http_a_server_gone_away_fails_the_step() {
    let (url, _, server) = serve_http().await;
    let mcp = Mcp::connect(&url).await.unwrap();
    server.abort();
    let _ = server.await;
    let nothing = |(): ()| json!({});
    let calls = plan! { nothing >> #[name = "calls"] (mcp.tool("calls")) >> out_text };
    let err = tokio::time::timeout(Duration::from_secs(10), calls.run(()))
        .await
        .expect("a server gone away must fail the call, not hang it")
        .unwrap_err();
    assert_eq!(err.node().name, "calls");
    let mcp_err = err.step_error::<McpError>().expect("an McpError");
    assert!(mcp_err.is_server_gone(), "{mcp_err:?}");
}

// ---------------------------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------------------------

type Case = fn() -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// The cases by name: `(name, fn starting it)`.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        [$((stringify!($case), (|| Box::pin($case())) as Case)),*]
    };
}

fn main() {
    if std::env::var_os(SERVE).is_some() {
        serve_stdio();
        return;
    }
    let cases = cases![
        stdio_lists_tools,
        stdio_calls_a_tool_in_a_plan,
        stdio_checks_the_schema_before_the_call,
        stdio_errors_name_the_node,
        stdio_a_dying_server_fails_the_step,
        stdio_a_timeout_cancels_the_call,
        stdio_a_missing_command_is_a_connect_error,
        http_lists_and_calls,
        http_an_unreachable_server_is_a_connect_error,
        http_a_server_gone_away_fails_the_step,
    ];
    // Cargo passes its own flags (`--nocapture`, …); a bare word filters the cases by name.
    let filter: Option<String> = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (mut passed, mut failed) = (0, 0);
    for (name, case) in cases {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        // Its own task, so that a panic is this case's failure and not the runner's; a
        // deadline, so that a hang is too.
        let outcome = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), tokio::spawn(case())).await
        });
        match outcome {
            Ok(Ok(())) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Ok(Err(panic)) => {
                failed += 1;
                println!("test {name} ... FAILED ({panic})");
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED (no end within 30 s)");
            }
        }
    }
    println!("\nmcp: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
