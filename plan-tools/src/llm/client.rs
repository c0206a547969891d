//! `OpenAi`: a client for `POST {base_url}/chat/completions`.

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::Serialize;
use tracing::Instrument;

use crate::llm::error::{EXCERPT_CHARS, excerpt};
use crate::llm::{
    ApiKey, ChatMessage, ChatOptions, ChatRequest, Completion, Llm, LlmError, StreamEvent, Usage,
};
use crate::redact::{Redactor, url_for_debug};

/// The variable [`OpenAi::new`] reads the API key from.
pub const DEFAULT_KEY_VAR: &str = "OPENAI_API_KEY";

/// A client for an OpenAI-compatible chat-completions server: llama.cpp's `llama-server`,
/// vLLM, Ollama (`http://localhost:11434/v1`), LiteLLM, or a hosted API (with the `tls`
/// feature). Cheap to clone: clones share one connection pool.
///
/// It is a plan step as it is — `plan! { ask >> (client.clone()) >> answer }` takes a
/// [`ChatRequest`] and gives a [`Completion`] — and an [`Llm`], for [`Chat`](crate::llm::Chat),
/// [`batch`](crate::llm::batch) and code that takes any provider.
///
/// ```
/// use plan_tools::llm::{ApiKey, ChatOptions, OpenAi};
///
/// let client = OpenAi::new("http://127.0.0.1:8080/v1", "qwen2.5-7b-instruct")
///     .api_key(ApiKey::new("sk-local"))
///     .defaults(ChatOptions { temperature: Some(0.2), max_tokens: Some(512), ..Default::default() });
/// assert_eq!(client.model(), "qwen2.5-7b-instruct");
/// // The key never shows, nor the base URL's credentials.
/// assert!(!format!("{client:?}").contains("sk-local"));
/// let behind_proxy = OpenAi::new("http://user:pa55@127.0.0.1:8080/v1", "qwen2.5-7b-instruct");
/// assert!(format!("{behind_proxy:?}").contains(r#"base_url: "http://[redacted]@127.0.0.1:8080/v1""#));
/// ```
#[derive(Clone)]
pub struct OpenAi {
    http: reqwest::Client,
    base_url: String,
    endpoint: String,
    model: String,
    key: Option<ApiKey>,
    defaults: ChatOptions,
    timeout: Option<Duration>,
    max_body: usize,
}

impl OpenAi {
    /// A client for the server at `base_url` (up to and including `/v1`, e.g.
    /// `https://api.openai.com/v1`), asking for `model`. The API key is read from
    /// `OPENAI_API_KEY` when that is set; without one no `Authorization` header is sent,
    /// which is what local servers expect.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        OpenAi {
            http: reqwest::Client::new(),
            endpoint: format!("{base_url}/chat/completions"),
            base_url,
            model: model.into(),
            key: ApiKey::from_env(DEFAULT_KEY_VAR),
            defaults: ChatOptions::default(),
            timeout: None,
            max_body: 10 << 20,
        }
    }

    /// Uses this API key.
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Reads the API key from the environment variable `var`, which must be set.
    pub fn api_key_from_env(mut self, var: &str) -> Result<Self, LlmError> {
        self.key = Some(ApiKey::from_env(var).ok_or_else(|| LlmError::MissingKey {
            var: var.to_owned(),
        })?);
        Ok(self)
    }

    /// Sends no API key, even if `OPENAI_API_KEY` is set.
    pub fn without_api_key(mut self) -> Self {
        self.key = None;
        self
    }

    /// Options every call starts from; a request's own options override them field by field.
    pub fn defaults(mut self, defaults: ChatOptions) -> Self {
        self.defaults = defaults;
        self
    }

    /// The largest answer [`OpenAi::call`] reads, in bytes (10 MiB unless set, as for the
    /// HTTP tool): a larger one is [`LlmError::TooLarge`], and is not read on. (A stream holds
    /// at most one event at a time, capped by the [`sse`](crate::sse) decoder.)
    ///
    /// ```
    /// use plan_tools::llm::OpenAi;
    ///
    /// let client = OpenAi::new("http://127.0.0.1:8080/v1", "qwen2.5-7b-instruct").max_body(1 << 20);
    /// # let _ = client;
    /// ```
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// A deadline for each call, from sending the request to the end of the response (for a
    /// stream, its last byte). None by default: local models can be slow.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends requests through this `reqwest` client (its pool, proxy and TLS settings).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The model asked for when a request names none.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Whether an API key is sent.
    pub fn has_api_key(&self) -> bool {
        self.key.is_some()
    }

    /// One completion. The usage is the server's; a server that sends none gets an estimate,
    /// marked `usage.estimated`.
    pub async fn call(&self, request: ChatRequest) -> Result<Completion, LlmError> {
        let span = tracing::debug_span!(
            "llm.call",
            model = %self.model_for(&request),
            messages = request.messages.len(),
        );
        async {
            let secrets = self.secrets();
            let mut response = self.send(&request, false, &secrets).await?;
            // Read up to the cap, never past it: a server may send an answer without end.
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(LlmError::transport)? {
                if body.len() + chunk.len() > self.max_body {
                    return Err(LlmError::TooLarge {
                        limit: self.max_body,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            let mut completion: Completion = serde_json::from_slice(&body)
                .map_err(|err| LlmError::json(err, &body, &secrets))?;
            if completion.usage == Usage::default() {
                let output = completion.choices.iter().map(|c| c.message.chars()).sum();
                completion.usage = Usage::estimate(request.chars(), output);
            }
            tracing::debug!(
                prompt_tokens = completion.usage.prompt_tokens,
                completion_tokens = completion.usage.completion_tokens,
                estimated = completion.usage.estimated,
                "llm call done"
            );
            Ok(completion)
        }
        .instrument(span)
        .await
    }

    /// A streamed completion: text and tool-call deltas as they arrive, then the usage.
    ///
    /// Asks for `stream_options.include_usage`, and reads the usage the server sends in its
    /// last chunk (the one with `choices: []`). When the stream ends without one — the
    /// connection broke, or the server does not send usage — the last event is an estimate
    /// (`usage.estimated`) of the prompt and of what arrived. If the connection broke, that
    /// usage comes first and the error after it, so that spend is counted either way.
    ///
    /// The stream is boxed — `Unpin`, `Send` and `'static` — so it is read with a plain
    /// `while let` loop, stored in a struct, or moved to a task. Here a server that is not
    /// listening: the one event is the error.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use plan_tools::llm::{ChatRequest, LlmError, OpenAi};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// // A port nothing listens on.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// let client = OpenAi::new(format!("http://127.0.0.1:{port}/v1"), "qwen2.5-7b-instruct");
    ///
    /// let mut events = client.stream(ChatRequest::user("Say hi."));
    /// let mut failed = false;
    /// while let Some(event) = events.next().await {
    ///     match event {
    ///         Ok(event) => print!("{}", event.text().unwrap_or("")),
    ///         Err(err) => failed = matches!(err, LlmError::Connect(_)),
    ///     }
    /// }
    /// assert!(failed);
    /// # });
    /// ```
    pub fn stream(
        &self,
        request: ChatRequest,
    ) -> BoxStream<'static, Result<StreamEvent, LlmError>> {
        let span = tracing::debug_span!(
            "llm.stream",
            model = %self.model_for(&request),
            messages = request.messages.len(),
        );
        crate::llm::stream::events(self.clone(), request, span)
    }

    /// Completions of many requests, at most `concurrency` at once (at least one), in the
    /// order of `requests`; one failure does not affect the others.
    pub async fn batch(
        &self,
        requests: impl IntoIterator<Item = ChatRequest>,
        concurrency: usize,
    ) -> Vec<Result<Completion, LlmError>> {
        crate::llm::batch(self, requests, concurrency).await
    }

    fn model_for<'a>(&'a self, request: &'a ChatRequest) -> &'a str {
        request.model.as_deref().unwrap_or(&self.model)
    }

    /// Sends `request`; an error status becomes [`LlmError::Status`].
    pub(crate) async fn send(
        &self,
        request: &ChatRequest,
        stream: bool,
        secrets: &Redactor,
    ) -> Result<reqwest::Response, LlmError> {
        let mut options = self.defaults.merged(&request.options);
        // The protocol's own fields are this client's to set, whatever `extra` holds.
        for field in ["model", "messages", "stream", "stream_options"] {
            options.extra.remove(field);
        }
        let body = WireRequest {
            model: self.model_for(request),
            messages: &request.messages,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
            options,
        };
        let mut builder = self.http.post(&self.endpoint).json(&body);
        if let Some(key) = &self.key {
            // `bearer_auth` marks the header sensitive, so reqwest and hyper never print it.
            builder = builder.bearer_auth(key.expose());
        }
        if let Some(timeout) = self.timeout {
            builder = builder.timeout(timeout);
        }
        let response = builder.send().await.map_err(LlmError::transport)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        // The body explains the status; a broken read of it still leaves the status.
        let body = start_of(response, EXCERPT_CHARS * 4).await;
        tracing::debug!(status = status.as_u16(), "llm server error");
        Err(LlmError::Status {
            status: status.as_u16(),
            body: excerpt(&body, secrets),
        })
    }

    /// What a call sends as secret: the key, the base URL's credentials and query keys, and
    /// the `Authorization` reqwest makes of them.
    pub(crate) fn secrets(&self) -> Redactor {
        let mut secrets = Redactor::new();
        if let Some(key) = &self.key {
            secrets.add(key.expose());
        }
        if let Ok(url) = reqwest::Url::parse(&self.endpoint) {
            secrets.add_url(&url, |_| false);
            secrets.add_url_authorization(&self.http, &url);
        }
        secrets
    }
}

/// The first `bytes` bytes of `response`'s body, or a little more (the chunk that passes
/// them): as much as an error's excerpt shows, and enough to tell that the body goes on.
/// Never the rest: a server may send an error body without end. A broken read ends it.
async fn start_of(mut response: reqwest::Response, bytes: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() <= bytes {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body
}

impl fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAi")
            .field("base_url", &url_for_debug(&self.base_url))
            .field("model", &self.model)
            .field("api_key", &self.key)
            .field("defaults", &self.defaults)
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl Llm for OpenAi {
    fn complete(&self, request: ChatRequest) -> BoxFuture<'_, Result<Completion, LlmError>> {
        Box::pin(self.call(request))
    }

    fn stream(&self, request: ChatRequest) -> BoxStream<'_, Result<StreamEvent, LlmError>> {
        OpenAi::stream(self, request)
    }
}

impl plan_core::Describe for OpenAi {}

/// A call as a plan step: its error is a step error of the node that runs it.
impl<C: Sync> plan_core::Plan<ChatRequest, C> for OpenAi {
    type Out = Completion;

    async fn call(
        &self,
        request: ChatRequest,
        cx: plan_core::Cx<'_, C>,
    ) -> Result<Completion, plan_core::PlanError> {
        let model = Some(
            request
                .model
                .clone()
                .unwrap_or_else(|| self.model().to_owned()),
        );
        super::step::metered(&cx, model, request, |request| OpenAi::call(self, request)).await
    }
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(flatten)]
    options: ChatOptions,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}
