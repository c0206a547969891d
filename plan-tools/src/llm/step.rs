//! `Chat`: any [`Llm`] as a plan step.

use plan_core::{Cx, Describe, NodeRef, Plan, PlanError};

use crate::llm::{ChatRequest, Completion, Llm};

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
        self.llm
            .complete(request)
            .await
            .map_err(|err| PlanError::step(NodeRef::current(&cx), err))
    }
}
