//! `Chat`: any [`Llm`] as a plan step.

use plan_core::{Cx, Describe, NodeRef, Plan, PlanError};

use std::future::Future;

use crate::budget::{Budget, Charge};
use crate::llm::{ChatRequest, Completion, Llm, LlmError, Usage};

/// A step of `plan!` that sends its input, a [`ChatRequest`], to an [`Llm`] and gives the
/// [`Completion`]. A failed call is a [`PlanError::Step`] naming this step's node, with the
/// [`LlmError`](crate::llm::LlmError) as its source.
///
/// `Chat` wraps any provider or fake, including an `Arc<dyn Llm>`; an
/// [`OpenAi`](crate::llm::OpenAi) client is also a step without it. See the
/// [module example](crate::llm).
#[derive(Debug, Clone)]
pub struct Chat<L> {
    llm: L,
}

impl<L: Llm> Chat<L> {
    /// A step that calls `llm`.
    pub fn new(llm: L) -> Self {
        Chat { llm }
    }

    /// The model it calls.
    pub fn llm(&self) -> &L {
        &self.llm
    }
}

impl<L> Describe for Chat<L> {}

impl<L: Llm, C: Sync> Plan<ChatRequest, C> for Chat<L> {
    type Out = Completion;

    async fn call(&self, request: ChatRequest, cx: Cx<'_, C>) -> Result<Completion, PlanError> {
        let model = request.model.clone();
        metered(&cx, model, request, |request| self.llm.complete(request)).await
    }
}

/// One model call as a step: admitted by the run's [`Budget`] (if it carries one) on an
/// estimate — the prompt at about four characters a token, and `max_tokens` — before it is
/// sent; then settled with the server's usage (or given back whole if the connection could
/// not be made: nothing was sent), and counted on the node (`requests`,
/// `requests_ok`, `tokens_in`, `tokens_out`, and `dollars` at the budget's prices).
pub(crate) async fn metered<C, F, Fut>(
    cx: &Cx<'_, C>,
    model: Option<String>,
    request: ChatRequest,
    call: F,
) -> Result<Completion, PlanError>
where
    F: FnOnce(ChatRequest) -> Fut,
    Fut: Future<Output = Result<Completion, LlmError>>,
{
    let node = || NodeRef::current(cx);
    let count = |counter, amount| {
        if let Some(monitor) = cx.monitor() {
            monitor.count(counter, amount);
        }
    };
    let mut prompt = Length(0);
    let _ = serde_json::to_writer(&mut prompt, &request.messages);
    let prompt_chars = prompt.0;
    let estimate = Charge {
        model,
        input_tokens: Usage::estimate(prompt_chars, 0).prompt_tokens,
        output_tokens: request.options.max_tokens.map_or(0, u64::from),
        requests: 1,
    };
    let budget = cx.extension::<Budget>();
    let reservation = budget
        .map(|budget| budget.admit(&estimate))
        .transpose()
        .map_err(|exceeded| PlanError::step(node(), exceeded))?;
    count("requests", 1.0);
    let completion = match call(request).await {
        Ok(completion) => completion,
        Err(err) => {
            // No connection, nothing sent: nothing spent. Any other failure keeps its
            // request, which reached the server.
            if let (LlmError::Connect(_), Some(reservation)) = (&err, reservation) {
                reservation.unsent();
            }
            return Err(PlanError::step(node(), err));
        }
    };
    let actual = Charge {
        input_tokens: completion.usage.prompt_tokens,
        output_tokens: completion.usage.completion_tokens,
        ..estimate
    };
    count("requests_ok", 1.0);
    count("tokens_in", actual.input_tokens as f64);
    count("tokens_out", actual.output_tokens as f64);
    if let Some(budget) = budget {
        count("dollars", budget.cost(&actual));
    }
    if let Some(reservation) = reservation {
        reservation.settle(&actual);
    }
    Ok(completion)
}

/// Counts the bytes written to it: the prompt's size as JSON, without building the JSON.
struct Length(usize);

impl std::io::Write for Length {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
