//! The tools of any MCP server, from the command line: list them, or call one as a plan step.
//!
//! ```text
//! cargo run -p plan-tools --example mcp -- --server "npx -y @modelcontextprotocol/server-everything" --list
//! cargo run -p plan-tools --example mcp -- --server "npx -y @modelcontextprotocol/server-everything" \
//!     --call echo --args '{"message":"hi"}'
//! cargo run -p plan-tools --example mcp -- --url http://127.0.0.1:3001/mcp --list
//! ```
//!
//! `--list` prints one line per tool, `name: description`. `--call TOOL --args JSON` prints
//! the tool's text content (its structured content as JSON when it has no text) and exits 0.
//! Anything that goes wrong — a bad command line, JSON that does not parse, arguments the
//! tool's schema refuses, an unknown or failing tool, a server that cannot be started or
//! reached or that dies — is one line on stderr and a non-zero exit: 2 for a usage error, 1
//! for the rest. `--timeout SECS` (default 60) bounds the connection and the call.

use std::process::ExitCode;
use std::time::Duration;

use plan_runtime::prelude::*;
use plan_tools::mcp::{Mcp, McpError, McpOutput};

const USAGE: &str = "usage: mcp (--server \"COMMAND ARGS..\" | --url URL) \
                     (--list | --call TOOL [--args JSON]) [--timeout SECS]";

enum Server {
    Command(String),
    Url(String),
}

enum Action {
    List,
    Call {
        tool: String,
        args: serde_json::Value,
    },
}

struct Options {
    server: Server,
    action: Action,
    timeout: Duration,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let (mut server, mut list, mut tool, mut json, mut timeout) = (None, false, None, None, 60);
    while let Some(flag) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{flag} needs {what}"));
        match flag.as_str() {
            "--server" => server = Some(Server::Command(value("a command line")?)),
            "--url" => server = Some(Server::Url(value("a URL")?)),
            "--list" => list = true,
            "--call" => tool = Some(value("a tool name")?),
            "--args" => json = Some(value("a JSON object")?),
            "--timeout" => {
                let secs = value("a number of seconds")?;
                timeout = secs
                    .parse()
                    .map_err(|_| format!("--timeout: `{secs}` is not a number of seconds"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let server = server.ok_or("--server or --url is required")?;
    let action = match (list, tool) {
        (true, None) => Action::List,
        (false, Some(tool)) => {
            let args = match json {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|err| format!("--args is not valid JSON: {err}"))?,
                None => serde_json::Value::Null,
            };
            Action::Call { tool, args }
        }
        (true, Some(_)) => return Err("--list and --call do not go together".to_owned()),
        (false, None) => return Err("--list or --call is required".to_owned()),
    };
    Ok(Options {
        server,
        action,
        timeout: Duration::from_secs(timeout),
    })
}

fn text(out: McpOutput) -> String {
    match (out.text.is_empty(), out.structured) {
        (true, Some(structured)) => structured.to_string(),
        _ => out.text,
    }
}

/// Connects, then lists or calls; what to print, or the one line that says what went wrong.
async fn run(options: Options) -> Result<String, String> {
    let connect = async {
        match &options.server {
            Server::Command(line) => Mcp::command_line(line).await,
            Server::Url(url) => Mcp::connect(url).await,
        }
    };
    let mcp = tokio::time::timeout(options.timeout, connect)
        .await
        .map_err(|_| format!("the server did not start within {:?}", options.timeout))?
        .map_err(|err| err.to_string())?;
    let outcome = match options.action {
        Action::List => mcp
            .tools()
            .await
            .map_err(|err| err.to_string())
            .map(|tools| {
                let lines: Vec<String> = tools
                    .into_iter()
                    .map(|tool| {
                        // One line per tool, whatever the description's own line breaks.
                        let description = tool.description.unwrap_or_default();
                        let description = description.split_whitespace().collect::<Vec<_>>();
                        format!("{}: {}", tool.name, description.join(" "))
                    })
                    .collect();
                lines.join("\n")
            }),
        Action::Call { tool, args } => {
            let step = mcp.tool(tool).timeout(options.timeout);
            let call = plan! { #[name = "call"] (step) >> text };
            call.run(args)
                .await
                .map_err(|err| match err.step_error::<McpError>() {
                    // The tool's own error says all there is; the node is this one-step plan's.
                    Some(mcp_err) => mcp_err.to_string(),
                    None => err.to_string(),
                })
        }
    };
    mcp.close().await;
    outcome
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(problem) if problem.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("mcp: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(out) => {
            // Not `println!`, which panics when the reader has gone (`mcp --list | head -1`);
            // a reader that stopped early has what it wanted.
            use std::io::Write as _;
            match writeln!(std::io::stdout().lock(), "{out}") {
                Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("mcp: cannot write the output: {err}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(problem) => {
            eprintln!("mcp: {problem}");
            ExitCode::FAILURE
        }
    }
}
