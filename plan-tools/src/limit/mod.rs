//! Limits around the steps that call a service, shared by every branch of a run and across
//! runs: a [`RateLimit`] (GCRA, through `governor`), a [`ConcurrencyLimit`] and a
//! [`CircuitBreaker`].
//!
//! Each is a cheap `Clone` over shared state: make one per service, and hand clones to every
//! plan that calls it. [`Limits`] gathers them; it is a layer
//! ([`plan_runtime::layer`]): `#[layer(limits)]` on an item of a `plan!`, or
//! [`Limits::wrap`], puts them around any plan, giving a [`Limited`] plan with the same
//! input, output and graph.
//!
//! A limited step *waits* for its turn; it does not fail. An `each(all)` over a thousand
//! items through a rate-limited step takes as long as the rate says, and every item
//! succeeds. Only an open circuit breaker refuses calls, at once, with [`BreakerOpen`] — and
//! the run's [`Budget`](crate::budget::Budget), which `Limits` asks before any wait, so that
//! a call the budget refuses takes no rate-limit slot and no breaker probe.
//! Time is tokio's clock throughout, so on a paused test clock every wait is exact; and a
//! reported run (`.reported()`) shows each step's waiting time in its record
//! ([`NodeRecord::waited`](plan_runtime::report::NodeRecord::waited)) and on its timeline line.
//!
//! ```
//! use std::time::Duration;
//! use plan_runtime::prelude::*;
//! use plan_tools::limit::{Limits, RateLimit};
//!
//! async fn search(query: u32) -> Result<u32, std::io::Error> {
//!     tokio::time::sleep(Duration::from_millis(30)).await;
//!     Ok(query * 2)
//! }
//!
//! // One limit for the search service, shared by every plan that calls it.
//! let limits = Limits::new().rate(RateLimit::per_second(10).burst(5));
//! let plan = plan! { each(all) { #[layer(limits)] search } };
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
//! # rt.block_on(async {
//! let (out, report) = plan.run((0..10).collect::<Vec<u32>>()).reported().await;
//! assert_eq!(out.unwrap(), (0..10).map(|q| q * 2).collect::<Vec<_>>());
//! // Five at once, then one every 100 ms: the tenth search starts at 500 ms.
//! assert_eq!(report.wall, Duration::from_millis(530));
//! // The last five waited 100, 200, 300, 400 and 500 ms.
//! let waited: Duration = report.find_all("search").map(|n| n.waited).sum();
//! assert_eq!(waited, Duration::from_millis(1500));
//! # });
//! ```

mod breaker;
mod clock;
mod concurrency;
mod limited;
mod rate;

pub use breaker::{BreakerCall, BreakerOpen, BreakerState, CircuitBreaker};
pub use concurrency::{ConcurrencyLimit, Slot};
pub use governor::Quota;
pub use limited::{Limited, Limits};
pub use rate::RateLimit;
