//! Many requests, a bounded number at a time.

use futures::StreamExt;

use crate::llm::{ChatRequest, Completion, Llm, LlmError};

/// The completions of `requests` by `llm`, at most `concurrency` in flight at once (a
/// `concurrency` of 0 counts as 1), in the order of `requests`. Each result stands alone: a
/// failed request is an `Err` in its place, and the others go on.
///
/// ```
/// use futures::future::BoxFuture;
/// use plan_tools::llm::{batch, ChatRequest, Completion, Llm, LlmError, Usage};
///
/// struct Picky;
/// impl Llm for Picky {
///     fn complete(&self, request: ChatRequest) -> BoxFuture<'_, Result<Completion, LlmError>> {
///         let text = request.messages[0].text().unwrap_or("").to_owned();
///         Box::pin(async move {
///             if text == "bad" {
///                 return Err(LlmError::Other("refused".into()));
///             }
///             Ok(Completion::from_text(text, Usage::default()))
///         })
///     }
/// }
///
/// let requests = ["a", "bad", "c"].map(ChatRequest::from);
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let results = rt.block_on(batch(&Picky, requests, 2));
/// assert_eq!(results[0].as_ref().unwrap().text(), Some("a"));
/// assert!(results[1].is_err());
/// assert_eq!(results[2].as_ref().unwrap().text(), Some("c"));
/// ```
pub async fn batch<L: Llm + ?Sized>(
    llm: &L,
    requests: impl IntoIterator<Item = ChatRequest>,
    concurrency: usize,
) -> Vec<Result<Completion, LlmError>> {
    // `buffered` keeps at most `concurrency` futures running and yields them in input order.
    futures::stream::iter(requests)
        .map(|request| llm.complete(request))
        .buffered(concurrency.max(1))
        .collect()
        .await
}
