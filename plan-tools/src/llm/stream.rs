//! A streamed completion: SSE chunks of `chat.completion.chunk` JSON to [`StreamEvent`]s.

use std::collections::VecDeque;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument;

use crate::llm::error::excerpt;
use crate::llm::types::null_as_default;
use crate::llm::{ChatRequest, LlmError, OpenAi, StreamEvent, ToolCallDelta, Usage};
use crate::redact::Redactor;
use crate::sse::{SseEvent, SseStream};

/// One chunk of a stream. Every field may be missing or `null`: servers differ.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Option<Vec<ChunkChoice>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default, deserialize_with = "null_as_default")]
    index: u32,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

struct State {
    /// The client and request, until the request is sent.
    start: Option<(OpenAi, ChatRequest)>,
    body: Option<SseStream<BoxStream<'static, Result<Bytes, LlmError>>>>,
    /// Events decoded but not yet yielded: one SSE event can make several.
    ready: VecDeque<Result<StreamEvent, LlmError>>,
    /// The server's usage, once its usage chunk arrived.
    usage: Option<Usage>,
    prompt_chars: usize,
    output_chars: usize,
    /// No more input is read; what is in `ready` is all that is left.
    finished: bool,
    /// For redacting error excerpts.
    secrets: Redactor,
}

/// The events of `request` streamed by `client`, boxed so that callers get an `Unpin` stream.
pub(crate) fn events(
    client: OpenAi,
    request: ChatRequest,
    span: tracing::Span,
) -> BoxStream<'static, Result<StreamEvent, LlmError>> {
    let state = State {
        prompt_chars: request.chars(),
        secrets: client.secrets(),
        start: Some((client, request)),
        body: None,
        ready: VecDeque::new(),
        usage: None,
        output_chars: 0,
        finished: false,
    };
    futures::stream::unfold(state, move |state| state.next().instrument(span.clone())).boxed()
}

impl State {
    async fn next(mut self) -> Option<(Result<StreamEvent, LlmError>, Self)> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some((item, self));
            }
            if self.finished {
                return None;
            }
            if let Some((client, request)) = self.start.take() {
                match client.send(&request, true, &self.secrets).await {
                    Ok(response) => {
                        let bytes = response.bytes_stream().map_err(LlmError::transport);
                        self.body = Some(SseStream::new(bytes.boxed()));
                    }
                    Err(err) => {
                        // Nothing was generated: there is no usage to report.
                        self.finished = true;
                        return Some((Err(err), self));
                    }
                }
                continue;
            }
            let body = self.body.as_mut().expect("the request was sent");
            match body.next().await {
                Some(Ok(event)) => self.on_event(event),
                Some(Err(err)) => self.fail(err),
                // The body ended without `[DONE]`: what arrived is all there is.
                None => self.end(),
            }
        }
    }

    fn on_event(&mut self, event: SseEvent) {
        let data = event.data.trim();
        if data == "[DONE]" {
            return self.end();
        }
        if data.is_empty() {
            return;
        }
        let chunk: Chunk = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(err) => return self.fail(LlmError::json(err, data.as_bytes(), &self.secrets)),
        };
        if let Some(error) = chunk.error {
            let message = excerpt(error.to_string().as_bytes(), &self.secrets);
            return self.fail(LlmError::Api { message });
        }
        for choice in chunk.choices.unwrap_or_default() {
            if let Some(delta) = choice.delta {
                if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                    self.output_chars += text.chars().count();
                    self.ready.push_back(Ok(StreamEvent::Text {
                        choice: choice.index,
                        text,
                    }));
                }
                for call in delta.tool_calls.unwrap_or_default() {
                    if let Some(function) = &call.function {
                        let name = function.name.as_deref().unwrap_or("");
                        let arguments = function.arguments.as_deref().unwrap_or("");
                        self.output_chars += name.chars().count() + arguments.chars().count();
                    }
                    self.ready.push_back(Ok(StreamEvent::ToolCall {
                        choice: choice.index,
                        delta: call,
                    }));
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.ready.push_back(Ok(StreamEvent::Finish {
                    choice: choice.index,
                    reason,
                }));
            }
        }
        // The usage-only chunk (`choices: []`) comes last; some servers repeat a running
        // usage in every chunk, so the latest one wins.
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
    }

    /// Ends the stream with its usage: the server's, or an estimate.
    fn end(&mut self) {
        let usage = self.usage.take().unwrap_or_else(|| {
            tracing::debug!("llm stream ended without usage; estimating");
            Usage::estimate(self.prompt_chars, self.output_chars)
        });
        tracing::debug!(
            prompt_tokens = usage.prompt_tokens,
            completion_tokens = usage.completion_tokens,
            estimated = usage.estimated,
            "llm stream done"
        );
        self.ready.push_back(Ok(StreamEvent::Usage(usage)));
        self.finished = true;
        // Stop reading: after `[DONE]` nothing more is expected.
        self.body = None;
    }

    /// Ends the stream with its usage, then `err`: spend is reported even for a failed call.
    fn fail(&mut self, err: LlmError) {
        self.end();
        self.ready.push_back(Err(err));
    }
}
