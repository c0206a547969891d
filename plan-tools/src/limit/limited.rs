//! [`Limits`] and [`Limited`]: any plan, behind the run's budget, a rate limit, a concurrency
//! limit and a circuit breaker — a layer (see [`plan_runtime::layer`]).

use std::time::Duration;

use plan_core::{Cx, Describe, NodeRef, Plan, PlanError};
use plan_runtime::layer::{Layer, Layered, Middleware};

use super::{CircuitBreaker, ConcurrencyLimit, RateLimit};
use crate::budget::{Budget, BudgetExceeded, Charge};

/// The limits to put around a plan: any of a [`RateLimit`], a [`ConcurrencyLimit`] and a
/// [`CircuitBreaker`], and the budget of the run, if it carries one. [`Limits::wrap`] puts
/// them around a plan, giving a [`Limited`] plan; `Limits` is a [`Layer`] (for
/// `#[layer(limits)]` in a `plan!`, or a [`Layers`](plan_runtime::layer::Layers) stack).
///
/// A `Limits` is cheap to clone, and its clones (and every plan wrapped with it) share the
/// same limits; so do plans wrapped with different `Limits` holding clones of one limit.
///
/// ```
/// use std::time::Duration;
/// use plan_tools::limit::{CircuitBreaker, ConcurrencyLimit, Limits, RateLimit};
///
/// let limits = Limits::new()
///     .rate(RateLimit::per_second(10).burst(5))
///     .concurrency(ConcurrencyLimit::new(4))
///     .breaker(CircuitBreaker::new(5, Duration::from_secs(30)));
/// assert_eq!(limits.rate_limit().unwrap().period(), Duration::from_millis(100));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Limits {
    rate: Option<RateLimit>,
    concurrency: Option<ConcurrencyLimit>,
    breaker: Option<CircuitBreaker>,
    /// The least one call spends, asked of the budget before any wait (`None`: one request).
    charge: Option<Charge>,
}

/// A plan behind [`Limits`], made by [`Limits::wrap`] (or by [`Limits`] as a
/// [`Layer`]): a [`Layered`] plan, with the same input, output and graph as the plan inside
/// (a plan's graph is the same with or without limits).
///
/// A call goes through the limits in the order of
/// [`plan_runtime::layer`](plan_runtime::layer#order), fail-fast checks before any wait:
///
/// 1. it is refused at once if the run's [`Budget`] (found among the run's extensions) would
///    refuse the least such a call spends ([`Limits::charge`]; one request unless told) —
///    its requests or wall time are spent, or its tokens or money are — with
///    [`BudgetExceeded`](crate::budget::BudgetExceeded);
/// 2. it is refused at once with [`BreakerOpen`](super::BreakerOpen) if the breaker is open (or half-open with its
///    probe running);
/// 3. it waits for a concurrency slot, then for the rate limit (in that order, so that a call
///    starts as soon as it is admitted by the rate limit, and calls that waited for slots
///    don't start in a burst);
/// 4. it asks the budget and the breaker again — either may have changed while it waited —
///    and is refused, or runs (as the breaker's probe, if the breaker is half-open);
/// 5. it runs the plan inside, holding its concurrency slot, and tells the breaker how it
///    went: any error is a failure except [`PlanError::Cancelled`] and a refusal by the budget,
///    which count for nothing.
///
/// So a call the budget refuses takes no rate-limit slot and no probe. The budget is only
/// *asked* here: the call inside (a model step, an HTTP step) reserves its own estimate when
/// it is sent and settles it with what it spent, which only it knows — a reservation taken
/// here could be neither sized (a model call's estimate is its prompt and `max_tokens`) nor
/// settled, and would count the request twice. Parallel calls may pass the check together and
/// one of them be refused by the call itself after its wait.
///
/// A refusal is `PlanError::step(node, error)` naming the step being run (the node of the
/// `plan!` around this plan); get the error back with `err.step_error::<BreakerOpen>()` or
/// `err.step_error::<BudgetExceeded>()`. Waiting never fails; in a run that is reported on
/// (`.reported()`, a [`Recorder`](plan_runtime::report::Recorder)) the step's
/// [`NodeRecord::waited`](plan_runtime::report::NodeRecord::waited) holds the time it waited,
/// reported through [`Monitor::waited`](plan_core::Monitor::waited) (only when it did wait;
/// without a monitor, nothing is reported).
pub type Limited<P> = Layered<Limits, P>;

impl Limits {
    /// No limits yet.
    pub fn new() -> Self {
        Limits::default()
    }

    /// With the rate limit `rate` (a clone of it: the limit is shared).
    pub fn rate(self, rate: RateLimit) -> Self {
        Limits {
            rate: Some(rate),
            ..self
        }
    }

    /// With the concurrency limit `limit` (shared).
    pub fn concurrency(self, limit: ConcurrencyLimit) -> Self {
        Limits {
            concurrency: Some(limit),
            ..self
        }
    }

    /// With the circuit breaker `breaker` (shared).
    pub fn breaker(self, breaker: CircuitBreaker) -> Self {
        Limits {
            breaker: Some(breaker),
            ..self
        }
    }

    /// The least one call through these limits spends, which the budget is asked for before
    /// the call waits: one request unless told ([`Charge::request`]). A model call spends at
    /// least a token, so for a model step say so, and a budget whose tokens or money are
    /// spent refuses the call before it waits for the rate limit, not after:
    ///
    /// ```
    /// use plan_tools::budget::Charge;
    /// use plan_tools::limit::{Limits, RateLimit};
    ///
    /// let limits = Limits::new()
    ///     .rate(RateLimit::per_second(1))
    ///     .charge(Charge::tokens(1, 0).model("gpt-4o-mini"));
    /// assert_eq!(limits.least_charge(), Charge::tokens(1, 0).model("gpt-4o-mini"));
    /// ```
    pub fn charge(self, least: Charge) -> Self {
        Limits {
            charge: Some(least),
            ..self
        }
    }

    /// The least one call spends, as asked of the budget ([`Limits::charge`]).
    pub fn least_charge(&self) -> Charge {
        self.charge.clone().unwrap_or_else(Charge::request)
    }

    /// The rate limit, if any.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.rate.as_ref()
    }

    /// The concurrency limit, if any.
    pub fn concurrency_limit(&self) -> Option<&ConcurrencyLimit> {
        self.concurrency.as_ref()
    }

    /// The circuit breaker, if any.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// `plan` behind these limits. `plan` is any [`Plan`] — a `plan!`, a custom step, or a
    /// function made a plan with `plan_runtime::step!`:
    /// `plan! { each(all) { (limits.wrap(step!(search))) } }`.
    pub fn wrap<P>(&self, plan: P) -> Limited<P> {
        self.layer(plan)
    }
}

impl<P> Layer<P> for Limits {
    type Plan = Limited<P>;

    fn layer(&self, plan: P) -> Limited<P> {
        Layered::new(self.clone(), plan)
    }
}

impl Describe for Limits {}

impl<In, Out, Ctx> Middleware<In, Out, Ctx> for Limits
where
    In: Send,
    Out: Send,
    Ctx: Sync,
{
    async fn around<P>(&self, input: In, cx: Cx<'_, Ctx>, next: &P) -> Result<Out, PlanError>
    where
        P: Plan<In, Ctx, Out = Out>,
    {
        let node = || NodeRef::current(&cx);
        // The budget is asked with the least a call spends: a budget that refuses it
        // refuses the call, whatever the call inside estimates when it is sent.
        let budget = cx.extension::<Budget>();
        let least = budget.map(|_| self.least_charge());
        let ask_budget = || match (budget, &least) {
            (Some(budget), Some(least)) => {
                budget.check(least).map_err(|e| PlanError::step(node(), e))
            }
            _ => Ok(()),
        };
        // Fail fast: a call the budget or the breaker would refuse does not wait in line.
        ask_budget()?;
        if let Some(breaker) = &self.breaker {
            breaker.check().map_err(|e| PlanError::step(node(), e))?;
        }
        let _slot = match &self.concurrency {
            Some(limit) => {
                let slot = limit.acquire().await;
                report_wait(&cx, "concurrency limit", slot.waited());
                Some(slot)
            }
            None => None,
        };
        if let Some(rate) = &self.rate {
            let waited = rate.acquire().await;
            report_wait(&cx, "rate limit", waited);
        }
        // Asked again after the waits (others spent meanwhile), before the breaker's probe
        // is taken: a call the budget now refuses must not be the probe.
        ask_budget()?;
        let call = match &self.breaker {
            Some(breaker) => Some(breaker.admit().map_err(|e| PlanError::step(node(), e))?),
            None => None,
        };
        let out = next.call(input, cx).await;
        match (call, &out) {
            (None, _) => {}
            (Some(call), Ok(_)) => call.succeeded(),
            // Cancelled from outside, or refused by the budget when it was about to be sent
            // (a call in parallel took the last of it): says nothing about the service (a
            // probe's drop makes way for the next probe).
            (Some(call), Err(err)) if err.is_cancelled() || over_budget(err) => drop(call),
            (Some(call), Err(_)) => call.failed(),
        }
        out
    }
}

/// Whether `err` is a call refused by the run's budget before it was sent: a model step's
/// [`BudgetExceeded`], or one a tool wrapped in its own error (an HTTP step's
/// [`HttpError::OverBudget`](crate::http::HttpError::OverBudget)).
fn over_budget(err: &PlanError) -> bool {
    err.caused_by::<BudgetExceeded>().is_some()
}

/// Tells the run's monitor, if any, that the node being run waited `waited` for `on`.
fn report_wait<Ctx>(cx: &Cx<'_, Ctx>, on: &'static str, waited: Duration) {
    if let Some(monitor) = cx.monitor()
        && !waited.is_zero()
    {
        monitor.waited(on, waited);
    }
}
