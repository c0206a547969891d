//! Budgets: the tokens, money, requests and wall time a run may spend, shared by all its
//! branches. A call that would exceed the budget fails before it is sent.
//!
//! A run carries its budget as an [`Extensions`](plan_core::Extensions) value; every tool
//! of this crate inside the run finds it and spends from it:
//!
//! ```
//! use plan_core::Extensions;
//! use plan_tools::budget::{Budget, Charge};
//!
//! let budget = Budget::new().requests(2).tokens(1_000);
//! let extensions = Extensions::new().with(&budget);
//! // `plan.run_extended(input, &ctx, &extensions)` runs the plan with it. A tool does:
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
    started: Instant,
    spent: Mutex<Spent>,
}

/// What a budget has been spent on so far (reserved estimates of calls in flight included).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spent {
    /// Input and output tokens.
    pub tokens: u64,
    /// Money, at the [`PriceTable`]'s prices.
    pub dollars: f64,
    /// Requests sent.
    pub requests: u64,
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
/// use plan_tools::budget::{Charge, Price, PriceTable};
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
            started: Instant::now(),
            spent: Mutex::new(Spent::default()),
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
        *self.lock()
    }

    /// Admits a call estimated at `estimate`, reserving it, or says which limit it would
    /// exceed (then nothing is reserved). Settle the reservation with the actual figures once
    /// the call is done; dropped unsettled (the call failed), it gives back its tokens and
    /// money but keeps its requests, which were sent. A call that was never sent gives back
    /// its requests too ([`Reservation::unsent`]).
    pub fn admit(&self, estimate: &Charge) -> Result<Reservation<'_>, BudgetExceeded> {
        if let Some(limit) = self.wall
            && self.started.elapsed() >= limit
        {
            return Err(BudgetExceeded::Wall { limit });
        }
        let cost = self.prices.cost(estimate);
        let mut spent = self.lock();
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
        spent.tokens += estimate.total_tokens();
        spent.dollars += cost;
        spent.requests += estimate.requests;
        Ok(Reservation {
            budget: self,
            tokens: estimate.total_tokens(),
            dollars: cost,
            requests: estimate.requests,
            settled: false,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Spent> {
        self.spent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("tokens", &self.tokens)
            .field("dollars", &self.dollars)
            .field("requests", &self.requests)
            .field("wall", &self.wall)
            .field("spent", &self.spent())
            .finish_non_exhaustive()
    }
}

/// An admitted call's reserved estimate; see [`Budget::admit`].
#[must_use = "settle the reservation with what the call spent"]
#[derive(Debug)]
pub struct Reservation<'b> {
    budget: &'b Budget,
    tokens: u64,
    dollars: f64,
    requests: u64,
    settled: bool,
}

impl Reservation<'_> {
    /// Replaces the estimate with what the call spent (its requests stay as admitted).
    pub fn settle(mut self, actual: &Charge) {
        let cost = self.budget.prices.cost(actual);
        let mut spent = self.budget.lock();
        spent.tokens = spent.tokens - self.tokens + actual.total_tokens();
        spent.dollars = (spent.dollars - self.dollars + cost).max(0.0);
        self.settled = true;
    }

    /// Gives back all of the estimate, its requests too: the call was never sent (its
    /// connection could not be made), so it spent nothing.
    ///
    /// ```
    /// use plan_tools::budget::{Budget, Charge};
    ///
    /// let budget = Budget::new().requests(1);
    /// budget.admit(&Charge::request()).unwrap().unsent();
    /// assert_eq!(budget.spent().requests, 0);
    /// budget.admit(&Charge::request()).unwrap().settle(&Charge::request());
    /// assert!(budget.admit(&Charge::request()).is_err());
    /// ```
    pub fn unsent(mut self) {
        let mut spent = self.budget.lock();
        spent.tokens -= self.tokens;
        spent.dollars = (spent.dollars - self.dollars).max(0.0);
        spent.requests -= self.requests;
        self.settled = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let mut spent = self.budget.lock();
            spent.tokens -= self.tokens;
            spent.dollars = (spent.dollars - self.dollars).max(0.0);
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
