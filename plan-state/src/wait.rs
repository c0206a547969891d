//! Waiting for a person: a step that pauses a durable run until someone answers its question.

use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};

use plan_runtime::{Cx, Describe, NodeRef, Plan, PlanError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A step `Q -> A` that asks for outside input (the approval of a draft, an answer): in a
/// durable run, it pauses the run with its input as the question — the run is persisted and
/// [`Runs::run`](crate::runs::Runs::run) returns [`RunStatus::Waiting`](crate::runs::RunStatus) —
/// until [`Runs::resume`](crate::runs::Runs::resume) gives the answer, later and in any
/// process; the step then returns the answer as an `A`, and the run goes on from there.
///
/// While the run waits, the branches running beside the step (in a `par`) are stopped as for
/// an error: their durable nodes that finished are journaled, the others run again on resume.
/// Outside a durable run the step fails: there is nobody to persist the question for.
///
/// ```
/// use plan_runtime::prelude::*;
/// use plan_state::runs::{RunStatus, Runs};
/// use plan_state::store::Sqlite;
/// use plan_state::wait::ask;
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Verdict { approved: bool }
///
/// fn draft(topic: String) -> String { format!("a post about {topic}") }
/// fn publish((draft, verdict): (String, Verdict)) -> String {
///     if verdict.approved { format!("published {draft}") } else { "shelved".to_owned() }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let plan = plan! {
///     let draft = #[durable] draft;
///     let verdict = draft >> ask::<Verdict>();
///     (draft, verdict) >> publish
/// };
/// let runs = Runs::new(Sqlite::open_in_memory().await.unwrap());
/// let RunStatus::Waiting(question) = runs.run(&plan, "post-1", "plans".to_owned()).await.unwrap() else {
///     panic!("the run waits for a verdict");
/// };
/// assert_eq!(question.question, serde_json::json!("a post about plans"));
/// // Later, maybe in another process:
/// let done = runs.resume(&plan, "post-1", Verdict { approved: true }).await.unwrap();
/// assert_eq!(done.done().unwrap(), "published a post about plans");
/// # });
/// ```
pub fn ask<A>() -> Ask<A> {
    Ask {
        answer: PhantomData,
    }
}

/// The step [`ask`] makes.
pub struct Ask<A> {
    answer: PhantomData<fn() -> A>,
}

impl<A> Clone for Ask<A> {
    fn clone(&self) -> Self {
        ask()
    }
}

impl<A> std::fmt::Debug for Ask<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ask<{}>", std::any::type_name::<A>())
    }
}

/// A question a durable run is waiting on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// The asking step's name.
    pub node: String,
    /// The asking step's entry in the run's journal, where its answer is recorded.
    pub entry: String,
    /// The step's input: what it asks.
    pub question: serde_json::Value,
    /// Why the last answer was refused (it was not the step's answer type), if it was.
    pub refused: Option<String>,
}

/// Where the `ask` steps of one attempt of a run leave their question for the run: the run
/// carries it among its extensions.
#[derive(Debug, Default)]
pub(crate) struct Waits(Mutex<Option<Question>>);

impl Waits {
    /// Leaves `question`, unless another step asked first.
    fn ask(&self, question: Question) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(question);
    }

    /// The question asked, if any.
    pub fn take(&self) -> Option<Question> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Why an `ask` step did not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The run is paused until the question is answered (the durable run turns this into
    /// [`RunStatus::Waiting`](crate::runs::RunStatus)).
    #[error("waiting for an answer")]
    Waiting,
    /// The step ran outside a durable run.
    #[error("it asks for outside input, which needs a durable run (`plan_state::runs::Runs`)")]
    NotDurable,
    /// The question could not be written as JSON.
    #[error("its question cannot be written as JSON: {0}")]
    Question(serde_json::Error),
}

impl<A> Describe for Ask<A> {}

impl<Q, A, C> Plan<Q, C> for Ask<A>
where
    Q: Serialize + Send,
    A: DeserializeOwned + Send,
    C: Sync,
{
    type Out = A;

    async fn call(&self, question: Q, cx: Cx<'_, C>) -> Result<A, PlanError> {
        let fail = |error| PlanError::step(NodeRef::current(&cx), error);
        let (Some(journal), Some(waits)) = (cx.journal(), cx.extension::<Waits>()) else {
            return Err(fail(AskError::NotDurable));
        };
        let entry = cx.entry();
        let answer = journal
            .replay(&entry)
            .await
            .map_err(|source| PlanError::Step {
                node: Box::new(entry.node.clone()),
                source,
            })?;
        let refused = match answer.map(serde_json::from_value::<A>) {
            Some(Ok(answer)) => return Ok(answer),
            Some(Err(e)) => Some(format!(
                "the answer is not a `{}`: {e}",
                std::any::type_name::<A>()
            )),
            None => None,
        };
        let question = serde_json::to_value(question).map_err(|e| fail(AskError::Question(e)))?;
        waits.ask(Question {
            node: entry.node.name.to_owned(),
            entry: entry.key,
            question,
            refused,
        });
        Err(fail(AskError::Waiting))
    }
}
