//! Language models over the OpenAI-compatible chat-completions protocol — what llama.cpp's
//! server, vLLM, Ollama's `/v1`, LiteLLM and the hosted APIs speak — as plain plan steps.
//!
//! * [`OpenAi`]: the client. [`OpenAi::call`] gives one [`Completion`] with the server's
//!   [`Usage`]; [`OpenAi::stream`] its text and tool-call deltas as they arrive, then the
//!   usage (estimated, and marked so, when the stream is cut before the server sent it);
//!   [`OpenAi::batch`] many requests with a concurrency limit, in order, each failing alone.
//! * [`Llm`]: the small trait other providers and test fakes implement; [`Chat`] makes any
//!   `Llm` a step of `plan!`, and [`batch`] batches any `Llm`.
//! * [`ApiKey`]: read from `OPENAI_API_KEY` by default; printed as `[redacted]`, and never
//!   put into errors, spans or log events — nor are the base URL's user name and password,
//!   even when a server echoes them back, raw, JSON-escaped or percent-encoded
//!   ([`redact`](crate::redact)).
//!
//! Messages, tool definitions and tool calls pass through: fields this crate does not model
//! are kept in `extra` maps, sent and returned as they are.
//!
//! A plan with a model step, here a fake that answers in upper case:
//!
//! ```
//! use futures::future::BoxFuture;
//! use plan_runtime::prelude::*;
//! use plan_tools::llm::{Chat, ChatRequest, Completion, Llm, LlmError, Usage};
//!
//! struct Shout;
//! impl Llm for Shout {
//!     fn complete(&self, request: ChatRequest) -> BoxFuture<'_, Result<Completion, LlmError>> {
//!         let prompt = request.messages.last().and_then(|m| m.text()).unwrap_or("").to_owned();
//!         let usage = Usage::estimate(prompt.len(), prompt.len());
//!         Box::pin(async move { Ok(Completion::from_text(prompt.to_uppercase(), usage)) })
//!     }
//! }
//!
//! fn ask(topic: String) -> ChatRequest { ChatRequest::user(format!("tell me about {topic}")) }
//! fn answer(c: Completion) -> String { c.text().unwrap_or_default().to_owned() }
//!
//! let p = plan! { ask >> (Chat::new(Shout)) >> answer };
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! assert_eq!(rt.block_on(p.run("plans".into())).unwrap(), "TELL ME ABOUT PLANS");
//! ```

mod batch;
mod client;
mod error;
mod key;
mod step;
mod stream;
mod types;

pub use batch::batch;
pub use client::{DEFAULT_KEY_VAR, OpenAi};
pub use error::{EXCERPT_CHARS, LlmError};
pub use key::ApiKey;
pub use step::Chat;
pub use types::{
    ChatMessage, ChatOptions, ChatRequest, Choice, Completion, Content, FunctionCall,
    FunctionDelta, Role, StreamEvent, ToolCall, ToolCallDelta, Usage,
};

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

/// A chat model: what a provider, a router or a test fake implements. Object safe, so
/// `Arc<dyn Llm>` works where the provider is chosen at run time.
///
/// Only [`Llm::complete`] is required. The default [`Llm::stream`] makes one completion and
/// yields it as events (its text, its tool calls, the finish, the usage), so code written
/// against streams runs on any `Llm`.
///
/// ```
/// use futures::{StreamExt, future::BoxFuture};
/// use plan_tools::llm::{ChatRequest, Completion, Llm, LlmError, StreamEvent, Usage};
///
/// struct Echo;
/// impl Llm for Echo {
///     fn complete(&self, request: ChatRequest) -> BoxFuture<'_, Result<Completion, LlmError>> {
///         let text = request.messages[0].text().unwrap_or("").to_owned();
///         Box::pin(async move { Ok(Completion::from_text(text, Usage::default())) })
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let events: Vec<_> = Echo.stream(ChatRequest::user("hi")).collect().await;
/// assert_eq!(events[0].as_ref().unwrap().text(), Some("hi"));
/// assert!(matches!(events.last(), Some(Ok(StreamEvent::Usage(_)))));
/// # });
/// ```
pub trait Llm: Send + Sync {
    /// One completion of `request`.
    fn complete(&self, request: ChatRequest) -> BoxFuture<'_, Result<Completion, LlmError>>;

    /// `request`'s completion as a stream of events, ending with [`StreamEvent::Usage`].
    fn stream(&self, request: ChatRequest) -> BoxStream<'_, Result<StreamEvent, LlmError>> {
        Box::pin(
            futures::stream::once(self.complete(request)).flat_map(|result| {
                let items = match result {
                    Ok(completion) => completion_events(completion),
                    Err(err) => vec![Err(err)],
                };
                futures::stream::iter(items)
            }),
        )
    }
}

/// A whole completion as the events a stream of it would have yielded.
fn completion_events(completion: Completion) -> Vec<Result<StreamEvent, LlmError>> {
    let mut events = Vec::new();
    for choice in completion.choices {
        let index = choice.index;
        if let Some(text) = choice.message.text().filter(|t| !t.is_empty()) {
            events.push(Ok(StreamEvent::Text {
                choice: index,
                text: text.to_owned(),
            }));
        }
        for (i, call) in choice.message.tool_calls.into_iter().enumerate() {
            let delta = ToolCallDelta {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                id: Some(call.id),
                kind: Some(call.kind),
                function: Some(FunctionDelta {
                    name: Some(call.function.name),
                    arguments: Some(call.function.arguments),
                }),
                extra: call.extra,
            };
            events.push(Ok(StreamEvent::ToolCall {
                choice: index,
                delta,
            }));
        }
        if let Some(reason) = choice.finish_reason {
            events.push(Ok(StreamEvent::Finish {
                choice: index,
                reason,
            }));
        }
    }
    events.push(Ok(StreamEvent::Usage(completion.usage)));
    events
}

// A provider behind a pointer is that provider.
macro_rules! llm_through {
    ($($pointer:ty),*) => {$(
        impl<L: Llm + ?Sized> Llm for $pointer {
            fn complete(&self, request: ChatRequest) -> BoxFuture<'_, Result<Completion, LlmError>> {
                (**self).complete(request)
            }

            fn stream(&self, request: ChatRequest) -> BoxStream<'_, Result<StreamEvent, LlmError>> {
                (**self).stream(request)
            }
        }
    )*};
}

llm_through!(&L, Box<L>, std::sync::Arc<L>);
