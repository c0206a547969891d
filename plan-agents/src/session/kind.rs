//! Kinds of agent: the plan that runs an agent's tasks, behind a type-erased handler so that
//! agents of several kinds (each with its own state type) live in one [`Agents`](super::Agents).

use std::any::type_name;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use plan_runtime::budget::Budget;
use plan_runtime::run::Options;
use plan_runtime::{Plan, PlanExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Turn;

/// A kind of agent, with its state as JSON.
pub(crate) trait Handler: Send + Sync {
    /// The state of a new agent of this kind.
    fn initial(&self) -> Result<serde_json::Value, String>;

    /// Whether `state` is a state of this kind.
    fn check(&self, state: &serde_json::Value) -> Result<(), String>;

    /// A new budget of one agent of this kind, if agents of this kind have their own.
    fn budget(&self) -> Option<Budget>;

    /// Runs one turn, spending from `budget` (the agent's own) if it has one. A panic of the
    /// plan is an error, not the end of the process.
    fn turn(
        &self,
        turn: Turn<serde_json::Value>,
        budget: Option<Arc<Budget>>,
    ) -> BoxFuture<'static, Result<Turn<serde_json::Value>, String>>;
}

/// What makes an agent's own budget.
type MakeBudget = Arc<dyn Fn() -> Budget + Send + Sync>;

/// A kind of agent: the plan that runs its tasks, each as a [`Turn`] of the agent's state,
/// with the context its steps take, the [`Options`] each turn's run is given (a budget
/// all the turns of every agent of the kind spend from, a deadline per turn, a monitor), and
/// a budget of each agent's own ([`Kind::budget`]).
/// Register it with [`Builder::kind`](super::Builder::kind); a plain plan is a kind with no
/// context and no options.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use plan_agents::session::{Agents, Kind, Turn};
/// use plan_runtime::prelude::*;
/// use plan_runtime::run::Options;
/// use plan_state::store::InMemory;
///
/// struct Greeting(&'static str);
/// fn greet(mut turn: Turn<()>, greeting: &Greeting) -> Turn<()> {
///     turn.output = serde_json::json!(greeting.0);
///     turn
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let greeter = Kind::new(plan! { greet })
///     .ctx(Greeting("hello"))
///     .options(Options::new().timeout(Duration::from_secs(30)));
/// let agents = Agents::builder(Arc::new(InMemory::new())).kind("greeter", greeter).start().await.unwrap();
/// agents.create("ada", "greeter", None).await.unwrap();
/// # });
/// ```
pub struct Kind<P, C = ()> {
    plan: P,
    ctx: C,
    options: Options,
    budget: Option<MakeBudget>,
}

impl<P> Kind<P> {
    /// The kind whose tasks `plan` runs.
    pub fn new(plan: P) -> Self {
        Kind {
            plan,
            ctx: (),
            options: Options::new(),
            budget: None,
        }
    }
}

impl<P, C> Kind<P, C> {
    /// With the context that the plan's steps taking `&D` receive: a bus, a store, a client.
    pub fn ctx<D>(self, ctx: D) -> Kind<P, D> {
        Kind {
            plan: self.plan,
            ctx,
            options: self.options,
            budget: self.budget,
        }
    }

    /// With the options each turn's run is given.
    pub fn options(self, options: Options) -> Self {
        Kind { options, ..self }
    }

    /// Each agent of this kind with a budget of its own, made by `make` when the agent is
    /// first run in this process, which all its turns spend from ("each agent may spend $5 a
    /// day": `Budget::new().dollars(5.0).period(DAY)`). It shadows a budget the
    /// [`Options`] hold for the whole kind.
    ///
    /// What it has spent is saved in the agent's record with each turn's result, and
    /// restored when the agent is loaded again (after a restart, in another process): a
    /// restart does not refill it. A budget with a period is restored only if the save is
    /// less than a period old; its new period counts from when it is restored, so a restart
    /// can only make a period end later, never sooner. What a turn spent is saved when the
    /// turn ends: a turn cut off by a crash is run again, and what it had spent before the
    /// crash is not counted (a turn's durable run, which journals its spending, is).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use plan_agents::session::{Agents, Kind, Turn};
    /// use plan_runtime::budget::Budget;
    /// use plan_runtime::prelude::*;
    /// use plan_state::store::InMemory;
    ///
    /// fn think(turn: Turn<()>) -> Turn<()> { turn }
    /// const DAY: Duration = Duration::from_secs(86_400);
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let thinker = Kind::new(plan! { think }).budget(|| Budget::new().dollars(5.0).period(DAY));
    /// let agents = Agents::builder(Arc::new(InMemory::new())).kind("thinker", thinker).start().await.unwrap();
    /// agents.create("ada", "thinker", None).await.unwrap();
    /// # });
    /// ```
    pub fn budget(self, make: impl Fn() -> Budget + Send + Sync + 'static) -> Self {
        Kind {
            budget: Some(Arc::new(make)),
            ..self
        }
    }
}

/// What [`Builder::kind`](super::Builder::kind) takes: a [`Kind`], or a plan over `Turn<St>`
/// with no context (a kind with nothing else).
pub trait IntoKind<St> {
    /// The plan.
    type Plan;
    /// Its context.
    type Ctx;
    /// The kind.
    fn into_kind(self) -> Kind<Self::Plan, Self::Ctx>;
}

impl<St, P: Plan<Turn<St>, (), Out = Turn<St>>> IntoKind<St> for P {
    type Plan = P;
    type Ctx = ();
    fn into_kind(self) -> Kind<P> {
        Kind::new(self)
    }
}

impl<St, P: Plan<Turn<St>, C, Out = Turn<St>>, C> IntoKind<St> for Kind<P, C> {
    type Plan = P;
    type Ctx = C;
    fn into_kind(self) -> Kind<P, C> {
        self
    }
}

/// A kind from a plan over `Turn<St>` with context `C`.
pub(crate) struct Typed<St, P, C> {
    kind: Arc<Kind<P, C>>,
    state: PhantomData<fn() -> St>,
}

impl<St, P, C> Typed<St, P, C> {
    pub fn new(kind: Kind<P, C>) -> Self {
        Typed {
            kind: Arc::new(kind),
            state: PhantomData,
        }
    }
}

fn decode<St: DeserializeOwned>(state: serde_json::Value) -> Result<St, String> {
    serde_json::from_value(state).map_err(|e| format!("it is not a `{}`: {e}", type_name::<St>()))
}

impl<St, P, C> Handler for Typed<St, P, C>
where
    St: Serialize + DeserializeOwned + Default + Send + 'static,
    P: Plan<Turn<St>, C, Out = Turn<St>> + 'static,
    C: Send + Sync + 'static,
{
    fn initial(&self) -> Result<serde_json::Value, String> {
        serde_json::to_value(St::default()).map_err(|e| e.to_string())
    }

    fn check(&self, state: &serde_json::Value) -> Result<(), String> {
        decode::<St>(state.clone()).map(drop)
    }

    fn budget(&self) -> Option<Budget> {
        self.kind.budget.as_ref().map(|make| make())
    }

    fn turn(
        &self,
        turn: Turn<serde_json::Value>,
        budget: Option<Arc<Budget>>,
    ) -> BoxFuture<'static, Result<Turn<serde_json::Value>, String>> {
        let kind = Arc::clone(&self.kind);
        Box::pin(async move {
            let state = decode::<St>(turn.state)
                .map_err(|e| format!("the agent's state cannot be read: {e}"))?;
            let turn = Turn {
                agent: turn.agent,
                task: turn.task,
                state,
                output: turn.output,
                sleep: turn.sleep,
            };
            let mut run = kind.plan.run(turn).ctx(&kind.ctx).options(&kind.options);
            if let Some(budget) = &budget {
                run = run.with(&**budget);
            }
            let run = AssertUnwindSafe(run).catch_unwind();
            let done = match run.await {
                Ok(Ok(done)) => done,
                Ok(Err(error)) => return Err(error.to_string()),
                Err(panic) => return Err(format!("the plan panicked: {}", panic_message(&*panic))),
            };
            Ok(Turn {
                agent: done.agent,
                task: done.task,
                state: serde_json::to_value(done.state)
                    .map_err(|e| format!("the agent's new state cannot be saved: {e}"))?,
                output: done.output,
                sleep: done.sleep,
            })
        })
    }
}

/// What a panic said, when it said it with a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload")
}
