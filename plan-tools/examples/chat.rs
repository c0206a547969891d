//! One prompt to any OpenAI-compatible server — llama.cpp's `llama-server`, vLLM, Ollama's
//! `/v1`, LiteLLM, a hosted API — from the command line.
//!
//! ```text
//! cargo run -p plan-tools --example chat -- --base-url http://127.0.0.1:8080/v1 --model qwen2.5-7b-instruct "Say hi."
//! cargo run -p plan-tools --example chat -- --base-url http://127.0.0.1:11434/v1 --model llama3.1 --stream "Say hi."
//! cargo run -p plan-tools --example chat -- --base-url URL --model NAME --batch 8 --concurrency 4 --max-tokens 64 "Say hi."
//! ```
//!
//! It prints the completion's text (with `--stream`, as it arrives; with `--batch N`, the N
//! completions' texts, one after the other, at most `--concurrency K` requests at once), then
//! one last line `usage: prompt P, completion C, total T` — for a batch, the sums over its
//! calls — marked `(estimated)` when the server sent no usage. The API key comes from
//! `OPENAI_API_KEY` when it is set (never printed); local servers need none.
//!
//! A server that cannot be reached or that fails is one line on stderr naming its URL and a
//! non-zero exit (1); a bad command line exits 64 with the usage line.

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;

use futures::StreamExt;
use plan_tools::llm::{ChatRequest, LlmError, OpenAi, StreamEvent, Usage};

const USAGE: &str = "usage: chat --base-url URL --model NAME [--stream] \
                     [--batch N [--concurrency K]] [--max-tokens N] PROMPT";

/// `EX_USAGE` of sysexits.h: the command was used incorrectly.
const BAD_USAGE: u8 = 64;

struct Options {
    base_url: String,
    model: String,
    stream: bool,
    batch: Option<usize>,
    concurrency: usize,
    max_tokens: Option<u32>,
    prompt: String,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let (mut base_url, mut model, mut stream, mut batch, mut concurrency) =
        (None, None, false, None, None);
    let (mut max_tokens, mut prompt) = (None, None);
    fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
        match text.parse() {
            Ok(n) => Ok(n),
            Err(_) => Err(format!("{flag}: `{text}` is not a positive number")),
        }
    }
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{arg} needs {what}"));
        match arg.as_str() {
            "--base-url" => base_url = Some(value("a URL")?),
            "--model" => model = Some(value("a model name")?),
            "--stream" => stream = true,
            "--batch" => batch = Some(number::<usize>(&arg, &value("a number of calls")?)?),
            "--concurrency" => concurrency = Some(number::<usize>(&arg, &value("a number")?)?),
            "--max-tokens" => max_tokens = Some(number::<u32>(&arg, &value("a number")?)?),
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with("--") => return Err(format!("unknown option `{flag}`")),
            _ if prompt.is_some() => return Err("one PROMPT only (quote it)".to_owned()),
            _ => prompt = Some(arg),
        }
    }
    let base_url = base_url.ok_or("--base-url is required")?;
    if reqwest::Url::parse(&base_url).is_err() {
        return Err(format!("--base-url: `{base_url}` is not a URL"));
    }
    if batch == Some(0) || concurrency == Some(0) || max_tokens == Some(0) {
        return Err("--batch, --concurrency and --max-tokens must be at least 1".to_owned());
    }
    if stream && batch.is_some() {
        return Err("--stream and --batch do not go together".to_owned());
    }
    if concurrency.is_some() && batch.is_none() {
        return Err("--concurrency goes with --batch".to_owned());
    }
    Ok(Options {
        base_url,
        model: model.ok_or("--model is required")?,
        stream,
        concurrency: concurrency.unwrap_or(1),
        batch,
        max_tokens,
        prompt: prompt.ok_or("PROMPT is required")?,
    })
}

/// The base URL as it may be printed: without a user name or password.
fn shown(base_url: &str) -> String {
    match reqwest::Url::parse(base_url) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => base_url.to_owned(),
    }
}

/// A failed call in one line: what failed, and the deepest cause (e.g. "Connection refused").
fn one_line(base_url: &str, err: &LlmError) -> String {
    let mut line = format!("the model server at {}: {err}", shown(base_url));
    let mut cause = err.source();
    while let Some(deeper) = cause.and_then(Error::source) {
        cause = Some(deeper);
    }
    if let Some(cause) = cause {
        line += &format!(" ({cause})");
    }
    line.replace('\n', " ")
}

/// Writes to stdout; a reader that has gone (`chat .. | head -1`) got what it wanted.
fn emit(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the output: {err}"))
        }
        _ => Ok(()),
    }
}

fn usage_line(usage: &Usage) -> String {
    let estimated = if usage.estimated { " (estimated)" } else { "" };
    format!(
        "usage: prompt {}, completion {}, total {}{estimated}\n",
        usage.prompt_tokens, usage.completion_tokens, usage.total_tokens
    )
}

/// Runs the call(s), printing as it goes; the one line that says what went wrong.
async fn run(options: Options) -> Result<(), String> {
    let client = OpenAi::new(&options.base_url, &options.model);
    let mut request = ChatRequest::user(&options.prompt);
    request.options.max_tokens = options.max_tokens;
    let fail = |err: &LlmError| one_line(&options.base_url, err);

    if options.stream {
        let mut events = client.stream(request);
        let (mut usage, mut failure, mut printed) = (None, None, false);
        while let Some(event) = events.next().await {
            match event {
                Ok(StreamEvent::Text { text, .. }) => {
                    emit(&text)?;
                    printed = true;
                }
                Ok(StreamEvent::Usage(u)) => usage = Some(u),
                Ok(_) => {}
                // The stream ends with its error (after the usage of what arrived, if any).
                Err(err) => failure = Some(fail(&err)),
            }
        }
        if let Some(failure) = failure {
            return Err(failure);
        }
        let usage = usage.ok_or("the stream ended without its usage")?;
        if printed {
            emit("\n")?;
        }
        return emit(&usage_line(&usage));
    }

    let calls = options.batch.unwrap_or(1);
    let results = client
        .batch(vec![request; calls], options.concurrency)
        .await;
    let mut total = Usage::default();
    let mut failures = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(completion) => {
                emit(&format!("{}\n", completion.text().unwrap_or_default()))?;
                total.prompt_tokens += completion.usage.prompt_tokens;
                total.completion_tokens += completion.usage.completion_tokens;
                total.total_tokens += completion.usage.total_tokens;
                total.estimated |= completion.usage.estimated;
            }
            Err(err) => failures.push((i + 1, err)),
        }
    }
    match failures.first() {
        None => emit(&usage_line(&total)),
        Some((_, err)) if calls == 1 => Err(fail(err)),
        Some((i, err)) => Err(format!(
            "{} of {calls} calls failed; the first, call {i}: {}",
            failures.len(),
            fail(err)
        )),
    }
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
            eprintln!("chat: {problem}\n{USAGE}");
            return ExitCode::from(BAD_USAGE);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("chat: {problem}");
            ExitCode::FAILURE
        }
    }
}
