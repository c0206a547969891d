//! The chat-completions protocol's values: requests, messages, completions, usage, stream
//! events. Fields this crate does not model are kept in `extra` maps and sent or returned as
//! they came, so provider extensions pass through.
//!
//! What a server sends is read leniently: servers differ in what they leave out and what they
//! send as `null` (LiteLLM and vLLM-style servers write every unset optional field as `null`,
//! `tool_calls` included), so every field read from a response takes `null` as absent.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Who wrote a message. Unknown roles from a server are kept as [`Role::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from the application.
    System,
    /// Instructions from the application (newer OpenAI models' name for `system`).
    Developer,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
    /// A role this crate does not know.
    #[serde(untagged)]
    Other(String),
}

/// A message's content: text, or a list of parts (text, images, audio) as the server takes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content parts, e.g. `{"type": "image_url", "image_url": {"url": ".."}}`, passed as they are.
    Parts(Vec<Value>),
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// What it says; `None` for an assistant message that only calls tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// The tool calls of an assistant message (none when the server sent `null`).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tool_calls: Vec<ToolCall>,
    /// For a [`Role::Tool`] message, the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// An optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Any other field (`refusal`, `reasoning_content`, ..), passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatMessage {
    /// A message with text content.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(Content::Text(text.into())),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
            extra: Map::new(),
        }
    }

    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::new(Role::System, text)
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new(Role::User, text)
    }

    /// An assistant message (a previous answer, or a few-shot example).
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, text)
    }

    /// The result of the tool call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, text: impl Into<String>) -> Self {
        ChatMessage {
            tool_call_id: Some(call_id.into()),
            ..Self::new(Role::Tool, text)
        }
    }

    /// The text content, when it is plain text.
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Some(Content::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// Characters of text this message carries (content, tool names and arguments): what
    /// a token estimate counts.
    pub(crate) fn chars(&self) -> usize {
        let content = match &self.content {
            Some(Content::Text(text)) => text.chars().count(),
            // Non-text parts are counted by their JSON text: a rough bound, as an estimate is.
            Some(Content::Parts(parts)) => parts.iter().map(|p| p.to_string().len()).sum(),
            None => 0,
        };
        let calls: usize = self
            .tool_calls
            .iter()
            .map(|c| c.function.name.chars().count() + c.function.arguments.chars().count())
            .sum();
        content + calls
    }
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's ID, to answer it with [`ChatMessage::tool_result`] (empty when the server sent
    /// none, as some local servers do for models that do not make IDs).
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The kind of tool: `"function"` (also when the server sent none, or `null`).
    #[serde(rename = "type", default = "function_kind", deserialize_with = "kind")]
    pub kind: String,
    /// The function and its arguments.
    pub function: FunctionCall,
    /// Any other field, passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn function_kind() -> String {
    "function".to_owned()
}

/// A tool call's `type`, `"function"` when `null`.
fn kind<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(de)?.unwrap_or_else(function_kind))
}

/// A field a server may send as `null`, read as its default (no tool calls, zero tokens,
/// choice 0): `#[serde(default)]` covers a missing field, this covers `null`.
pub(crate) fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// The function a [`ToolCall`] calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Its name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Its arguments, as the JSON text the model wrote (which may not be valid JSON).
    #[serde(default, deserialize_with = "null_as_default")]
    pub arguments: String,
}

/// Sampling and other options. Each field left `None` is not sent, and the server's default
/// applies; per-call options override the client's defaults field by field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatOptions {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// The most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sequences at which to stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// A seed, for servers that sample deterministically with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    /// Frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    /// E.g. `{"type": "json_object"}` or a JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// Tool definitions, as the server takes them (`{"type": "function", "function": {..}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// `"auto"`, `"none"`, `"required"` or a specific tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Any other request field (`n`, `logprobs`, `top_k`, `min_p`, ..), sent as it is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatOptions {
    /// These options, with each field `over` sets replacing this one's.
    pub fn merged(&self, over: &ChatOptions) -> ChatOptions {
        fn pick<T: Clone>(base: &Option<T>, over: &Option<T>) -> Option<T> {
            over.as_ref().or(base.as_ref()).cloned()
        }
        let mut extra = self.extra.clone();
        extra.extend(over.extra.clone());
        ChatOptions {
            temperature: pick(&self.temperature, &over.temperature),
            top_p: pick(&self.top_p, &over.top_p),
            max_tokens: pick(&self.max_tokens, &over.max_tokens),
            stop: pick(&self.stop, &over.stop),
            seed: pick(&self.seed, &over.seed),
            presence_penalty: pick(&self.presence_penalty, &over.presence_penalty),
            frequency_penalty: pick(&self.frequency_penalty, &over.frequency_penalty),
            response_format: pick(&self.response_format, &over.response_format),
            tools: pick(&self.tools, &over.tools),
            tool_choice: pick(&self.tool_choice, &over.tool_choice),
            extra,
        }
    }
}

/// One chat-completion request: the conversation, and options for this call. It is serde
/// (fields missing when read take their defaults), so that a durable run can journal it and
/// a bus can carry it.
///
/// ```
/// use plan_tools::llm::{ChatRequest, ChatMessage};
///
/// let request = ChatRequest::new([ChatMessage::system("Be brief."), ChatMessage::user("Hi")])
///     .temperature(0.0)
///     .max_tokens(16);
/// assert_eq!(request.messages.len(), 2);
/// assert_eq!(ChatRequest::from("Hi").messages[0].text(), Some("Hi"));
/// let journaled = serde_json::to_string(&request).unwrap();
/// assert_eq!(serde_json::from_str::<ChatRequest>(&journaled).unwrap(), request);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// A model other than the client's.
    pub model: Option<String>,
    /// Options for this call, over the client's defaults.
    pub options: ChatOptions,
}

impl ChatRequest {
    /// A request with these messages.
    pub fn new(messages: impl IntoIterator<Item = ChatMessage>) -> Self {
        ChatRequest {
            messages: messages.into_iter().collect(),
            ..Self::default()
        }
    }

    /// A request of one user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new([ChatMessage::user(text)])
    }

    /// Uses `model` instead of the client's.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the temperature.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.options.temperature = Some(temperature);
        self
    }

    /// Sets the most tokens to generate.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.options.max_tokens = Some(max_tokens);
        self
    }

    /// Offers these tools (JSON definitions, as the server takes them).
    pub fn tools(mut self, tools: impl IntoIterator<Item = Value>) -> Self {
        self.options.tools = Some(tools.into_iter().collect());
        self
    }

    /// Replaces this call's options.
    pub fn options(mut self, options: ChatOptions) -> Self {
        self.options = options;
        self
    }

    /// Characters of text in the conversation, for a token estimate.
    pub(crate) fn chars(&self) -> usize {
        self.messages.iter().map(ChatMessage::chars).sum()
    }
}

impl From<&str> for ChatRequest {
    fn from(text: &str) -> Self {
        Self::user(text)
    }
}

impl From<String> for ChatRequest {
    fn from(text: String) -> Self {
        Self::user(text)
    }
}

/// Tokens a call used, as the server counted them — or, when it did not say
/// (`estimated: true`), an estimate of about four characters a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default, deserialize_with = "null_as_default")]
    pub completion_tokens: u64,
    /// Their sum.
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_tokens: u64,
    /// `true` when the server sent no usage (a cut stream, a server that does not count)
    /// and these numbers are this crate's estimate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    /// Any other field (`prompt_tokens_details`, ..), passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Usage {
    /// An estimate for `prompt_chars` characters in and `completion_chars` out: about four
    /// characters a token (the usual rule of thumb for English with BPE tokenizers), rounded up.
    ///
    /// ```
    /// let usage = plan_tools::llm::Usage::estimate(10, 3);
    /// assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (3, 1, 4));
    /// assert!(usage.estimated);
    /// ```
    pub fn estimate(prompt_chars: usize, completion_chars: usize) -> Usage {
        let tokens = |chars: usize| chars.div_ceil(4) as u64;
        let (prompt_tokens, completion_tokens) = (tokens(prompt_chars), tokens(completion_chars));
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            estimated: true,
            extra: Map::new(),
        }
    }
}

/// One answer of a [`Completion`] (there is one unless the request asked for `n` > 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Its position.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: u32,
    /// The model's message: text, tool calls, or both.
    pub message: ChatMessage,
    /// Why the model stopped: `"stop"`, `"length"`, `"tool_calls"`, ..
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Any other field (`logprobs`, ..), passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A server's answer to a chat-completion request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The server's ID for it.
    #[serde(default)]
    pub id: Option<String>,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// The answers.
    #[serde(default, deserialize_with = "null_as_default")]
    pub choices: Vec<Choice>,
    /// Tokens used. A server that sends none (or `null`) gets an estimate (`usage.estimated`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub usage: Usage,
    /// Any other field (`created`, `system_fingerprint`, ..), passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Completion {
    /// The first answer's text.
    pub fn text(&self) -> Option<&str> {
        self.choices.first()?.message.text()
    }

    /// The first answer's tool calls.
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.choices
            .first()
            .map_or(&[], |c| c.message.tool_calls.as_slice())
    }

    /// A completion of one assistant message with `text`, and `usage`: for fakes and tests.
    ///
    /// ```
    /// use plan_tools::llm::{Completion, Usage};
    /// let c = Completion::from_text("hi", Usage::estimate(8, 2));
    /// assert_eq!(c.text(), Some("hi"));
    /// ```
    pub fn from_text(text: impl Into<String>, usage: Usage) -> Self {
        Completion {
            id: None,
            model: None,
            choices: vec![Choice {
                index: 0,
                message: ChatMessage::assistant(text),
                finish_reason: Some("stop".to_owned()),
                extra: Map::new(),
            }],
            usage,
            extra: Map::new(),
        }
    }
}

/// A piece of a tool call, as a stream sends it: the first delta of a call carries its
/// `id` and function name, later ones more of its `arguments`. Join deltas by `index`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which tool call (of this choice) this continues.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: u32,
    /// The call's ID, in its first delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `"function"`, in its first delta.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The function's name and a piece of its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDelta>,
    /// Any other field, passed through.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The function part of a [`ToolCallDelta`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDelta {
    /// The name, in the call's first delta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// More of the arguments' JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// What a streamed completion yields. The last item of a stream that did not fail before
/// the model answered is always [`StreamEvent::Usage`].
///
/// It is serde (`{"text": {"choice": 0, "text": ".."}}`, ..), so that a stream's events can be
/// journaled or sent on as they come:
///
/// ```
/// use plan_tools::llm::StreamEvent;
///
/// let event = StreamEvent::Text { choice: 0, text: "Hi".to_owned() };
/// let written = serde_json::to_string(&event).unwrap();
/// assert_eq!(written, r#"{"text":{"choice":0,"text":"Hi"}}"#);
/// assert_eq!(serde_json::from_str::<StreamEvent>(&written).unwrap(), event);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamEvent {
    /// More text of choice `choice`.
    Text {
        /// Which choice (0 unless the request asked for `n` > 1).
        choice: u32,
        /// The new text.
        text: String,
    },
    /// A piece of a tool call of choice `choice`.
    ToolCall {
        /// Which choice.
        choice: u32,
        /// The piece.
        delta: ToolCallDelta,
    },
    /// Choice `choice` is finished, for `reason` (`"stop"`, `"length"`, `"tool_calls"`, ..).
    Finish {
        /// Which choice.
        choice: u32,
        /// Why it stopped.
        reason: String,
    },
    /// The tokens the call used: the server's count from its usage chunk, or, when the
    /// stream ended without one, an estimate (`usage.estimated`). Always the last event.
    Usage(Usage),
}

impl StreamEvent {
    /// The new text, for a [`StreamEvent::Text`].
    pub fn text(&self) -> Option<&str> {
        match self {
            StreamEvent::Text { text, .. } => Some(text),
            _ => None,
        }
    }
}
