//! [`Limits`] and [`Limited`]: any plan, behind a rate limit, a concurrency limit and a
//! circuit breaker.

use std::time::Duration;

use plan_core::{Cx, Describe, GraphBuilder, NodeInfo, NodeRef, Plan, PlanError};

use super::{BreakerOpen, CircuitBreaker, ConcurrencyLimit, RateLimit};

/// The limits to put around a plan: any of a [`RateLimit`], a [`ConcurrencyLimit`] and a
/// [`CircuitBreaker`]. [`Limits::wrap`] puts them around a plan, giving a [`Limited`] plan.
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
}

/// A plan behind [`Limits`], made by [`Limits::wrap`]. It is a [`Plan`] with the same input
/// and output as the plan inside, and describes itself as that plan does (a plan's graph is
/// the same with or without limits).
///
/// A call:
///
/// 1. is refused at once with [`BreakerOpen`] if the breaker is open (or half-open with its
///    probe running);
/// 2. waits for a concurrency slot, then for the rate limit (in that order, so that a call
///    starts as soon as it is admitted by the rate limit, and calls that waited for slots
///    don't start in a burst);
/// 3. asks the breaker again — it may have opened while the call waited — and is refused, or
///    runs (as the probe, if the breaker is half-open);
/// 4. runs the plan inside, holding its concurrency slot, and tells the breaker how it went:
///    any error is a failure except [`PlanError::Cancelled`], which counts for nothing.
///
/// A refusal is `PlanError::step(node, BreakerOpen { .. })` naming the step being run (the
/// node of the `plan!` around this plan). Waiting never fails; in a run that is reported on
/// (`run_reported`, a [`Recorder`](plan_runtime::report::Recorder)) the step's
/// [`NodeRecord::waited`](plan_runtime::report::NodeRecord::waited) holds the time it waited,
/// reported through [`Monitor::waited`](plan_core::Monitor::waited) (only when it did wait;
/// without a monitor, nothing is reported).
#[derive(Clone, Debug)]
pub struct Limited<P> {
    limits: Limits,
    inner: P,
}

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
        Limited {
            limits: self.clone(),
            inner: plan,
        }
    }
}

impl<P> Limited<P> {
    /// The limits around the plan.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The plan inside.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: Describe> Describe for Limited<P> {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        self.inner.describe(graph, preds)
    }

    fn info(&self) -> Option<&'static NodeInfo> {
        self.inner.info()
    }
}

impl<In, Ctx, P> Plan<In, Ctx> for Limited<P>
where
    In: Send,
    Ctx: Sync,
    P: Plan<In, Ctx>,
{
    type Out = P::Out;

    async fn call(&self, input: In, cx: Cx<'_, Ctx>) -> Result<P::Out, PlanError> {
        let refused = |open: BreakerOpen| PlanError::step(NodeRef::current(&cx), open);
        let limits = &self.limits;
        // Fail fast: a call the breaker would refuse does not wait in line first.
        if let Some(breaker) = &limits.breaker {
            breaker.check().map_err(refused)?;
        }
        let _slot = match &limits.concurrency {
            Some(limit) => {
                let slot = limit.acquire().await;
                report_wait(&cx, "concurrency limit", slot.waited());
                Some(slot)
            }
            None => None,
        };
        if let Some(rate) = &limits.rate {
            let waited = rate.acquire().await;
            report_wait(&cx, "rate limit", waited);
        }
        let call = match &limits.breaker {
            Some(breaker) => Some(breaker.admit().map_err(refused)?),
            None => None,
        };
        let out = self.inner.call(input, cx).await;
        match (call, &out) {
            (None, _) => {}
            (Some(call), Ok(_)) => call.succeeded(),
            // Cancelled from outside: says nothing about the service (a probe's drop makes
            // way for the next probe).
            (Some(call), Err(err)) if err.is_cancelled() => drop(call),
            (Some(call), Err(_)) => call.failed(),
        }
        out
    }
}

/// Tells the run's monitor, if any, that the node being run waited `waited` for `on`.
fn report_wait<Ctx>(cx: &Cx<'_, Ctx>, on: &'static str, waited: Duration) {
    if let Some(monitor) = cx.monitor()
        && !waited.is_zero()
    {
        monitor.waited(on, waited);
    }
}
