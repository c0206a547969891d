//! A model call whose text is printed as it arrives: a step of its own (a `Plan`), because
//! it must find the run's budget (`cx.extension::<Budget>()`), which a plain `fn` step cannot.
//! It gives the whole [`Completion`], so a durable run journals it like any other model
//! call, and a rerun replays it without printing or asking again.

use futures::StreamExt as _;
use plan_runtime::{Cx, Describe, NodeRef, Plan, PlanError};
use plan_tools::budget::{Budget, Charge};
use plan_tools::llm::{ChatRequest, Completion, LlmError, OpenAi, StreamEvent, Usage};

use crate::console::Console;

pub struct Streamed {
    pub model: OpenAi,
    pub console: Console,
}

impl Describe for Streamed {}

impl<C: Sync> Plan<ChatRequest, C> for Streamed {
    type Out = Completion;

    async fn call(&self, request: ChatRequest, cx: Cx<'_, C>) -> Result<Completion, PlanError> {
        let fail = |err: LlmError| PlanError::step(NodeRef::current(&cx), err);
        // Admitted by the budget before anything is sent, on an estimate of its prompt and
        // its `max_tokens`, at its model's price, as `OpenAi`'s own calls are.
        let prompt_chars = serde_json::to_string(&request.messages).map_or(0, |json| json.len());
        let model = request.model.as_deref().unwrap_or(self.model.model());
        let estimate = Charge {
            input_tokens: Usage::estimate(prompt_chars, 0).prompt_tokens,
            output_tokens: request.options.max_tokens.map_or(0, u64::from),
            ..Charge::request().model(model)
        };
        let reservation = cx
            .extension::<Budget>()
            .map(|budget| budget.admit(&estimate))
            .transpose()
            .map_err(|exceeded| PlanError::step(NodeRef::current(&cx), exceeded))?;
        self.console
            .start_stream("answer, as the model streams it:");
        let mut events = self.model.stream(request);
        let (mut text, mut usage) = (String::new(), Usage::default());
        while let Some(event) = events.next().await {
            match event {
                Ok(StreamEvent::Text { text: piece, .. }) => {
                    self.console.stream(&piece);
                    text += &piece;
                }
                Ok(StreamEvent::Usage(spent)) => usage = spent,
                Ok(_) => {}
                Err(err) => {
                    // Nothing reached the server: nothing was spent.
                    if let (LlmError::Connect(_), Some(reservation)) = (&err, reservation) {
                        reservation.unsent();
                    }
                    return Err(fail(err));
                }
            }
        }
        self.console.stream("\n");
        if let Some(reservation) = reservation {
            reservation.settle(&Charge {
                input_tokens: usage.prompt_tokens,
                output_tokens: usage.completion_tokens,
                ..estimate
            });
        }
        Ok(Completion::from_text(text, usage))
    }
}
