//! Runs `python3 SCRIPT.py` in the sandbox, with a fresh scratch directory as its working
//! directory and this program's stdin as its own (unless that is a terminal): prints the script's stdout, then one last line, `sandbox: exit CODE`,
//! `sandbox: killed (timeout)`, `sandbox: killed (memory)`, `sandbox: killed (processes)`,
//! `sandbox: killed (output)`, `sandbox: killed (cpu)`, `sandbox: killed (file size)` or
//! `sandbox: denied (network)`. Exits
//! with 0 only when the script exited with 0; a sandbox that cannot be set up is a message on
//! stderr and exit code 2.
//!
//! ```text
//! cargo run --example sandbox -- [--timeout-ms N] [--memory-mb N] SCRIPT.py
//! ```
//!
//! The example is its own launcher: `launch_if_asked()` first thing in `main`.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use plan_sandbox::{Launcher, Sandbox};

const USAGE: &str = "usage: sandbox [--timeout-ms N] [--memory-mb N] SCRIPT.py";

fn main() -> ExitCode {
    // First, before the runtime's threads: in a launcher this never returns.
    plan_sandbox::launch_if_asked();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run())
}

async fn run() -> ExitCode {
    let (script, timeout, memory) = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sandbox = match Sandbox::python(Launcher::this_program()) {
        Ok(sandbox) => sandbox,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let mut sandbox = sandbox
        .arg(script.display().to_string())
        .allow_read(&script);
    if let Some(timeout) = timeout {
        sandbox = sandbox.timeout(timeout);
    }
    if let Some(memory) = memory {
        sandbox = sandbox.memory(memory);
    }
    // The example's stdin is the script's, unless it is a terminal (nothing to wait for).
    let mut input = String::new();
    if !std::io::stdin().is_terminal()
        && let Err(err) = std::io::stdin().read_to_string(&mut input)
    {
        eprintln!("cannot read stdin for the script: {err}");
        return ExitCode::from(2);
    }
    match sandbox.output(input).await {
        Ok(output) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(&output.stdout);
            if !output.stdout.is_empty() && !output.stdout.ends_with(b"\n") {
                let _ = writeln!(stdout);
            }
            let _ = std::io::stderr().write_all(&output.stderr);
            let _ = writeln!(stdout, "sandbox: {}", output.status);
            if output.status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(2)
        }
    }
}

type Args = (PathBuf, Option<Duration>, Option<u64>);

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut script, mut timeout, mut memory) = (None, None, None);
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> Result<u64, String> {
            args.next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("{flag} takes a whole number"))
        };
        match arg.as_str() {
            "--timeout-ms" => timeout = Some(Duration::from_millis(number("--timeout-ms")?)),
            "--memory-mb" => memory = Some(number("--memory-mb")? << 20),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ if script.is_some() => return Err("one script only".to_owned()),
            _ => script = Some(PathBuf::from(arg)),
        }
    }
    let script = script.ok_or("no script given")?;
    // The script is read by its absolute path: the sandbox's working directory is its own.
    let script = std::fs::canonicalize(&script)
        .map_err(|err| format!("cannot read {}: {err}", script.display()))?;
    Ok((script, timeout, memory))
}
