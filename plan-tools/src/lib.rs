//! Tools for plans: calls to models and services as plain plan steps, with the limits an
//! agent needs around them.
//!
//! * [`limit`]: a rate limiter (GCRA), a concurrency limit and a circuit breaker, shared by
//!   every branch of a run and across runs; a limited step waits, it does not fail, and a
//!   call the run's budget refuses fails before it waits. [`limit::Limits`] is a layer
//!   (`#[layer(limits)]` on a step of a `plan!`).
//! * [`sse`]: a server-sent events decoder that takes its input split at any byte, holding at
//!   most a capped event.
//! * [`llm`]: the OpenAI-compatible chat-completions protocol (llama.cpp, vLLM, Ollama's
//!   `/v1`, LiteLLM and the hosted APIs): one call, a stream, a batch; the [`llm::Llm`] trait
//!   for other providers and test fakes.
//! * [`http`]: an HTTP step with a per-request timeout, retries of transient failures only,
//!   `Retry-After` (up to a cap), a retry budget and a response size cap; [`allow`]: a host
//!   and port allowlist checked before any connection.
//! * [`redact`]: what every tool sends as secret — credential headers, URL credentials, key
//!   query parameters, the model key — scrubbed from its errors however a server echoes it.
//! * [`budget`]: the tokens, money, requests and wall time a run may spend, shared by all its
//!   branches; a call that would exceed it fails before it is sent.
//! * `mcp` (feature `mcp`): the tools of any Model Context Protocol server, over stdio or
//!   streamable HTTP, as plan steps, their arguments checked against the tool's schema first.
//! * `sandbox` (feature `sandbox`): a command — a model's Python script, a user's plugin —
//!   as a plan step, with no network, no file access outside an allowlist and a scratch
//!   directory, and limits on CPU, memory, processes, output and wall time, as root too.
//!
//! Without the `tls` feature, requests go over plain HTTP only (local model servers); enable
//! it for hosted APIs.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod allow;
/// Budgets, which every layer's runs carry: `plan_runtime::budget`, the same module.
pub use plan_runtime::budget;
mod cut;
pub mod http;
pub mod limit;
pub mod llm;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod redact;
/// The sandboxed process tool: the crate `plan-sandbox`, whole (feature `sandbox`).
#[cfg(feature = "sandbox")]
pub use plan_sandbox as sandbox;
pub mod sse;
