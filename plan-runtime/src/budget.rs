//! Budgets: the tokens, money, requests and wall time a run may spend, shared by all its
//! branches. A call that would exceed the budget fails before it is sent.
//!
//! A run carries its budget (`plan.run(input).with(&budget)`, or
//! [`Options::shared`](crate::run::Options::shared) for every run of a loop or an agent
//! kind); every tool inside the run finds it and spends from it, and `plan_tools`'
//! `Limits` asks it before a call waits for a rate limit or takes a circuit breaker's probe
//! ([`Budget::check`]), so that a refused call takes neither. A durable run journals what
//! its budget has spent and [restores](Budget::restore) it when it continues, so that a
//! crash or a second attempt never refills it. A budget with a [period](Budget::period)
//! ("$5 a day") starts each period with nothing spent.
//!
//! ```
//! use plan_runtime::budget::{Budget, Charge};
//!
//! let budget = Budget::new().requests(2).tokens(1_000);
//! // `plan.run(input).with(&budget)` runs the plan with it. A tool does:
//! let call = budget.admit(&Charge::tokens(400, 100)).unwrap();
//! call.settle(&Charge::tokens(380, 90));
//! assert_eq!(budget.spent().tokens, 470);
//! assert_eq!(budget.spent().requests, 1);
//! let err = budget.admit(&Charge::tokens(500, 100)).unwrap_err();
//! assert_eq!(err.to_string(), "the run's budget of 1000 tokens would be exceeded: 470 spent, this call needs 600");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The name under which a durable run journals what its budget has spent
/// ([`Journal::checkpoint`](plan_core::Journal::checkpoint)): a [`Spent`], as JSON.
pub const CHECKPOINT: &str = "budget";

/// What a run may spend, and what it has spent. Share it by reference: every branch of the
/// run spends from the same budget. Limits not set are unlimited.
///
/// A call is admitted on an estimate, which stays reserved while it runs (so parallel calls
/// cannot all take the same last tokens), and settled with what it really spent. A call may
/// spend more than its estimate, so the tokens and money spent can pass a limit by that
/// much; a model call's estimate counts its `max_tokens`, so give it one for a hard bound.
/// Requests and wall time never pass their limits.
pub struct Budget {
    tokens: Option<u64>,
    dollars: Option<f64>,
    requests: Option<u64>,
    wall: Option<Duration>,
    prices: PriceTable,
    period: Option<Duration>,
    started: Instant,
    ledger: Mutex<Ledger>,
}

/// What has been spent in the current period (the whole life of a budget without one).
#[derive(Debug, Default)]
struct Ledger {
    spent: Spent,
    /// The number of the current period, from 0.
    period: u128,
}

/// What a budget has been spent on so far (reserved estimates of calls in flight included).
/// Serde, so that a durable run can journal it.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spent {
    /// Input and output tokens.
    pub tokens: u64,
    /// Money, at the [`PriceTable`]'s prices.
    pub dollars: f64,
    /// Requests sent.
    pub requests: u64,
}

/// What is left of a [`Budget`]'s limits ([`Budget::left`]), to send with work run
/// elsewhere. Serde.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Left {
    /// Tokens left, if tokens are limited.
    pub tokens: Option<u64>,
    /// Money left, if money is limited.
    pub dollars: Option<f64>,
    /// Requests left, if requests are limited.
    pub requests: Option<u64>,
}

impl Left {
    /// A budget of what is left (its wall time, if any, is not carried over).
    pub fn budget(&self) -> Budget {
        let mut budget = Budget::new();
        budget.tokens = self.tokens;
        budget.dollars = self.dollars;
        budget.requests = self.requests;
        budget
    }
}

/// What one call spends: an estimate before it is sent, the actual figures after.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Charge {
    /// The model, for its price.
    pub model: Option<String>,
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens.
    pub output_tokens: u64,
    /// Requests: 1 for a call.
    pub requests: u64,
}

impl Charge {
    /// One request, and no tokens (an HTTP call).
    pub fn request() -> Self {
        Charge {
            requests: 1,
            ..Charge::default()
        }
    }

    /// One request of `input` and `output` tokens.
    pub fn tokens(input: u64, output: u64) -> Self {
        Charge {
            input_tokens: input,
            output_tokens: output,
            requests: 1,
            ..Charge::default()
        }
    }

    /// The same charge, for `model` (priced by the budget's [`PriceTable`]).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// What a model costs, in dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// Per million input tokens.
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
}

impl Price {
    /// `input` and `output` dollars per million tokens.
    pub fn per_million(input: f64, output: f64) -> Self {
        Price { input, output }
    }
}

/// Prices per model. A model without a price costs nothing (its tokens still count).
///
/// ```
/// use plan_runtime::budget::{Charge, Price, PriceTable};
/// let prices = PriceTable::new().model("small", Price::per_million(0.15, 0.60));
/// let cost = prices.cost(&Charge::tokens(1_000_000, 500_000).model("small"));
/// assert!((cost - 0.45).abs() < 1e-9);
/// ```
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    models: HashMap<String, Price>,
}

impl PriceTable {
    /// No prices.
    pub fn new() -> Self {
        PriceTable::default()
    }

    /// The table, with `model` at `price`.
    pub fn model(mut self, model: impl Into<String>, price: Price) -> Self {
        self.models.insert(model.into(), price);
        self
    }

    /// What `charge` costs.
    pub fn cost(&self, charge: &Charge) -> f64 {
        let Some(price) = charge.model.as_ref().and_then(|m| self.models.get(m)) else {
            return 0.0;
        };
        (charge.input_tokens as f64 * price.input + charge.output_tokens as f64 * price.output)
            / 1e6
    }
}

/// A call the budget would not admit: which limit, and the figures.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetExceeded {
    /// The token limit.
    #[error(
        "the run's budget of {limit} tokens would be exceeded: {spent} spent, this call needs {needs}"
    )]
    Tokens {
        /// The limit.
        limit: u64,
        /// Spent so far.
        spent: u64,
        /// This call's estimate.
        needs: u64,
    },
    /// The money limit.
    #[error(
        "the run's budget of ${limit:.4} would be exceeded: ${spent:.4} spent, this call needs ${needs:.4}"
    )]
    Dollars {
        /// The limit.
        limit: f64,
        /// Spent so far.
        spent: f64,
        /// This call's estimate.
        needs: f64,
    },
    /// The request limit.
    #[error("the run's budget of {limit} requests is spent")]
    Requests {
        /// The limit.
        limit: u64,
    },
    /// The wall-time limit.
    #[error("the run's budget of {limit:?} of wall time is spent")]
    Wall {
        /// The limit.
        limit: Duration,
    },
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new()
    }
}

impl Budget {
    /// An unlimited budget, whose wall time starts now.
    pub fn new() -> Self {
        Budget {
            tokens: None,
            dollars: None,
            requests: None,
            wall: None,
            prices: PriceTable::new(),
            period: None,
            started: Instant::now(),
            ledger: Mutex::new(Ledger::default()),
        }
    }

    /// At most `tokens` input and output tokens.
    pub fn tokens(mut self, tokens: u64) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// At most `dollars`, at the prices of [`Budget::prices`].
    pub fn dollars(mut self, dollars: f64) -> Self {
        self.dollars = Some(dollars);
        self
    }

    /// At most `requests` requests.
    pub fn requests(mut self, requests: u64) -> Self {
        self.requests = Some(requests);
        self
    }

    /// No call sent later than `wall` after the budget was made.
    pub fn wall(mut self, wall: Duration) -> Self {
        self.wall = Some(wall);
        self
    }

    /// The limits hold per `period`, counted from when the budget was made: at the start of
    /// each period, nothing has been spent ("this agent may spend $5 a day":
    /// `Budget::new().dollars(5.0).period(Duration::from_secs(86_400))`). A call admitted in
    /// one period and settled in the next counts in the next. The wall-time limit, if any,
    /// still counts from when the budget was made. A period of zero is taken as none.
    ///
    /// ```
    /// use std::time::Duration;
    /// use plan_runtime::budget::{Budget, Charge};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
    /// let budget = Budget::new().requests(1).period(Duration::from_secs(60));
    /// budget.admit(&Charge::request()).unwrap().settle(&Charge::request());
    /// assert!(budget.check(&Charge::request()).is_err());
    /// tokio::time::sleep(Duration::from_secs(60)).await;
    /// assert!(budget.check(&Charge::request()).is_ok()); // a new period
    /// # });
    /// ```
    pub fn period(mut self, period: Duration) -> Self {
        self.period = (!period.is_zero()).then_some(period);
        self
    }

    /// What is left of each limit (`None`: the budget has no such limit): what a call run
    /// elsewhere — a step on a worker process — may spend, given to a budget made there
    /// ([`Left::budget`]), whose spending comes back with [`Budget::spend`].
    ///
    /// ```
    /// use plan_runtime::budget::{Budget, Charge};
    ///
    /// let budget = Budget::new().requests(3);
    /// budget.admit(&Charge::request()).unwrap().settle(&Charge::request());
    /// let left = budget.left();
    /// assert_eq!((left.requests, left.tokens), (Some(2), None));
    /// ```
    pub fn left(&self) -> Left {
        let spent = self.spent();
        Left {
            tokens: self.tokens.map(|limit| limit.saturating_sub(spent.tokens)),
            dollars: self.dollars.map(|limit| (limit - spent.dollars).max(0.0)),
            requests: self
                .requests
                .map(|limit| limit.saturating_sub(spent.requests)),
        }
    }

    /// Its limits, as a budget with nothing spent would have them left (`None`: no such
    /// limit): what a display shows what has been spent against.
    ///
    /// ```
    /// use plan_runtime::budget::{Budget, Charge};
    ///
    /// let budget = Budget::new().requests(3).dollars(0.5);
    /// budget.admit(&Charge::request()).unwrap().settle(&Charge::request());
    /// let limits = budget.limits();
    /// assert_eq!((limits.requests, limits.dollars, limits.tokens), (Some(3), Some(0.5), None));
    /// ```
    pub fn limits(&self) -> Left {
        Left {
            tokens: self.tokens,
            dollars: self.dollars,
            requests: self.requests,
        }
    }

    /// Counts `spent`, spent elsewhere (by a step run on a worker process, from a budget
    /// made of [`Budget::left`]), as spent here too.
    ///
    /// ```
    /// use plan_runtime::budget::{Budget, Charge, Spent};
    ///
    /// let budget = Budget::new().requests(3);
    /// let remote = budget.left().budget();
    /// remote.admit(&Charge::request()).unwrap().settle(&Charge::request());
    /// budget.spend(&remote.spent());
    /// assert_eq!(budget.spent().requests, 1);
    /// ```
    pub fn spend(&self, spent: &Spent) {
        let mut ledger = self.ledger();
        let now = &mut ledger.spent;
        now.tokens += spent.tokens;
        now.dollars += spent.dollars;
        now.requests += spent.requests;
    }

    /// How often the limits renew ([`Budget::period`]), if they do.
    pub fn renews_every(&self) -> Option<Duration> {
        self.period
    }

    /// Its wall-time limit ([`Budget::wall`]), if it has one, and how much of it has passed
    /// (which may be more than the limit: the limit stops only calls sent after it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use plan_runtime::budget::Budget;
    ///
    /// let (limit, passed) = Budget::new().wall(Duration::from_secs(60)).wall_time().unwrap();
    /// assert_eq!(limit, Duration::from_secs(60));
    /// assert!(passed < limit);
    /// assert_eq!(Budget::new().wall_time(), None);
    /// ```
    pub fn wall_time(&self) -> Option<(Duration, Duration)> {
        self.wall.map(|limit| (limit, self.started.elapsed()))
    }

    /// Counts `spent` as spent, where it is more than this budget has counted: what a run
    /// spent before it was interrupted, read back from its journal. Each figure becomes the
    /// larger of the two, so restoring twice, or restoring what this budget itself counted,
    /// changes nothing; spending is never given back.
    ///
    /// ```
    /// use plan_runtime::budget::{Budget, Charge, Spent};
    ///
    /// let budget = Budget::new().requests(2);
    /// let before_the_crash = Spent { requests: 2, ..Spent::default() };
    /// budget.restore(&before_the_crash);
    /// budget.restore(&before_the_crash);
    /// assert_eq!(budget.spent().requests, 2);
    /// assert!(budget.admit(&Charge::request()).is_err());
    /// ```
    pub fn restore(&self, spent: &Spent) {
        let mut ledger = self.ledger();
        let now = &mut ledger.spent;
        now.tokens = now.tokens.max(spent.tokens);
        now.dollars = now.dollars.max(spent.dollars);
        now.requests = now.requests.max(spent.requests);
    }

    /// The prices money is counted at.
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    /// What `charge` costs at the budget's prices.
    pub fn cost(&self, charge: &Charge) -> f64 {
        self.prices.cost(charge)
    }

    /// What has been spent.
    pub fn spent(&self) -> Spent {
        self.ledger().spent
    }

    /// Admits a call estimated at `estimate`, reserving it, or says which limit it would
    /// exceed (then nothing is reserved). Settle the reservation with the actual figures once
    /// the call is done; dropped unsettled (the call failed), it gives back its tokens and
    /// money but keeps its requests, which were sent. A call that was never sent gives back
    /// its requests too ([`Reservation::unsent`]).
    pub fn admit(&self, estimate: &Charge) -> Result<Reservation<'_>, BudgetExceeded> {
        let cost = self.prices.cost(estimate);
        let mut ledger = self.ledger();
        self.refusal(&ledger.spent, estimate, cost)?;
        let spent = &mut ledger.spent;
        spent.tokens += estimate.total_tokens();
        spent.dollars += cost;
        spent.requests += estimate.requests;
        Ok(Reservation {
            budget: self,
            period: ledger.period,
            tokens: estimate.total_tokens(),
            dollars: cost,
            requests: estimate.requests,
            settled: false,
        })
    }

    /// Whether [`Budget::admit`] would admit a call estimated at `estimate` now, without
    /// reserving anything: for a caller about to wait (for a rate limit, a concurrency slot)
    /// before a call that admits itself once it is sent. A budget that refuses
    /// `Charge::request()` refuses every call.
    ///
    /// ```
    /// use plan_runtime::budget::{Budget, BudgetExceeded, Charge};
    ///
    /// let budget = Budget::new().requests(1);
    /// assert!(budget.check(&Charge::request()).is_ok());
    /// assert_eq!(budget.spent().requests, 0); // nothing reserved
    /// budget.admit(&Charge::request()).unwrap().settle(&Charge::request());
    /// assert_eq!(budget.check(&Charge::request()), Err(BudgetExceeded::Requests { limit: 1 }));
    /// ```
    pub fn check(&self, estimate: &Charge) -> Result<(), BudgetExceeded> {
        let cost = self.prices.cost(estimate);
        self.refusal(&self.ledger().spent, estimate, cost)
    }

    /// Which limit a call estimated at `estimate` (costing `cost`) would pass, given `spent`.
    fn refusal(&self, spent: &Spent, estimate: &Charge, cost: f64) -> Result<(), BudgetExceeded> {
        if let Some(limit) = self.wall
            && self.started.elapsed() >= limit
        {
            return Err(BudgetExceeded::Wall { limit });
        }
        if let Some(limit) = self.requests
            && spent.requests + estimate.requests > limit
        {
            return Err(BudgetExceeded::Requests { limit });
        }
        if let Some(limit) = self.tokens
            && spent.tokens + estimate.total_tokens() > limit
        {
            return Err(BudgetExceeded::Tokens {
                limit,
                spent: spent.tokens,
                needs: estimate.total_tokens(),
            });
        }
        if let Some(limit) = self.dollars
            && spent.dollars + cost > limit
        {
            return Err(BudgetExceeded::Dollars {
                limit,
                spent: spent.dollars,
                needs: cost,
            });
        }
        Ok(())
    }

    /// The ledger of the current period.
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(period) = self.period {
            let now = self.started.elapsed().as_nanos() / period.as_nanos();
            if now != ledger.period {
                *ledger = Ledger {
                    spent: Spent::default(),
                    period: now,
                };
            }
        }
        ledger
    }
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("tokens", &self.tokens)
            .field("dollars", &self.dollars)
            .field("requests", &self.requests)
            .field("wall", &self.wall)
            .field("period", &self.period)
            .field("spent", &self.spent())
            .finish_non_exhaustive()
    }
}

/// An admitted call's reserved estimate; see [`Budget::admit`].
#[must_use = "settle the reservation with what the call spent"]
#[derive(Debug)]
pub struct Reservation<'b> {
    budget: &'b Budget,
    /// The period it was admitted in: its estimate is part of that period's spending only.
    period: u128,
    tokens: u64,
    dollars: f64,
    requests: u64,
    settled: bool,
}

impl Reservation<'_> {
    /// Replaces the estimate with what the call spent (its requests stay as admitted).
    pub fn settle(mut self, actual: &Charge) {
        let cost = self.budget.prices.cost(actual);
        let mut ledger = self.budget.ledger();
        let same = ledger.period == self.period;
        let spent = &mut ledger.spent;
        if same {
            spent.tokens = spent.tokens.saturating_sub(self.tokens);
            spent.dollars = (spent.dollars - self.dollars).max(0.0);
        }
        spent.tokens += actual.total_tokens();
        spent.dollars += cost;
        self.settled = true;
    }

    /// Gives back all of the estimate, its requests too: the call was never sent (its
    /// connection could not be made), so it spent nothing.
    ///
    /// ```
    /// use plan_runtime::budget::{Budget, Charge};
    ///
    /// let budget = Budget::new().requests(1);
    /// budget.admit(&Charge::request()).unwrap().unsent();
    /// assert_eq!(budget.spent().requests, 0);
    /// budget.admit(&Charge::request()).unwrap().settle(&Charge::request());
    /// assert!(budget.admit(&Charge::request()).is_err());
    /// ```
    pub fn unsent(mut self) {
        self.give_back(true);
        self.settled = true;
    }

    /// Gives back the estimate's tokens and money, and its requests too if `requests`, if it
    /// is still part of the current period's spending.
    fn give_back(&self, requests: bool) {
        let mut ledger = self.budget.ledger();
        if ledger.period != self.period {
            return;
        }
        let spent = &mut ledger.spent;
        spent.tokens = spent.tokens.saturating_sub(self.tokens);
        spent.dollars = (spent.dollars - self.dollars).max(0.0);
        if requests {
            spent.requests = spent.requests.saturating_sub(self.requests);
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.give_back(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_refuses_the_call_that_would_pass_it() {
        let prices = PriceTable::new().model("m", Price::per_million(1.0, 2.0));
        let budget = Budget::new().dollars(0.003).prices(prices);
        // 1,000 in + 500 out = $0.002.
        budget
            .admit(&Charge::tokens(1_000, 500).model("m"))
            .unwrap()
            .settle(&Charge::tokens(1_000, 500).model("m"));
        let err = budget
            .admit(&Charge::tokens(1_000, 500).model("m"))
            .unwrap_err();
        assert!(matches!(err, BudgetExceeded::Dollars { .. }), "{err}");
        // An unpriced model costs nothing.
        assert!(
            budget
                .admit(&Charge::tokens(1_000, 500).model("other"))
                .is_ok()
        );

        let budget = Budget::new().requests(1);
        drop(budget.admit(&Charge::request()).unwrap());
        assert_eq!(
            budget.admit(&Charge::request()).unwrap_err(),
            BudgetExceeded::Requests { limit: 1 }
        );
    }

    #[test]
    fn an_unsettled_call_gives_back_its_tokens_but_not_its_request() {
        let budget = Budget::new().tokens(100);
        let call = budget.admit(&Charge::tokens(80, 0)).unwrap();
        // While it is in flight, its estimate is reserved: a parallel call cannot take it.
        assert!(budget.admit(&Charge::tokens(30, 0)).is_err());
        drop(call);
        assert_eq!(
            budget.spent(),
            Spent {
                tokens: 0,
                dollars: 0.0,
                requests: 1
            }
        );
        assert!(budget.admit(&Charge::tokens(30, 0)).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_wall_limit_counts_from_the_budget_s_making() {
        let budget = Budget::new().wall(Duration::from_secs(2));
        assert!(budget.admit(&Charge::request()).is_ok());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(matches!(
            budget.admit(&Charge::request()),
            Err(BudgetExceeded::Wall { .. })
        ));
    }
}
