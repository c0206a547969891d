//! [`CircuitBreaker`]: stop calling a service that keeps failing, and try it again, once,
//! after a cool-down.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A circuit breaker: closed → open after `failures` consecutive failures → half-open after a
/// cool-down, admitting exactly one probe → closed when the probe succeeds, open again (for a
/// fresh cool-down) when it fails.
///
/// While it is open, and while the probe runs, calls are refused at once with
/// [`BreakerOpen`]: they do not wait. Time is tokio's clock (exact under a paused test clock).
///
/// Cloning is cheap and shares the state: give clones to every branch of a run and to every
/// run that calls the same service. Wrap a step in one with
/// [`Limits::breaker`](super::Limits::breaker), which counts a failure for every error the
/// step returns except [`PlanError::Cancelled`](plan_core::PlanError::Cancelled). Used by hand,
/// [`CircuitBreaker::admit`] asks to call, and the [`BreakerCall`] it gives is told how the
/// call went.
///
/// ```
/// use std::time::Duration;
/// use plan_tools::limit::{BreakerOpen, BreakerState, CircuitBreaker};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let breaker = CircuitBreaker::new(2, Duration::from_secs(10));
/// breaker.admit().unwrap().failed();
/// breaker.admit().unwrap().failed(); // the second failure in a row opens it
/// assert_eq!(breaker.state(), BreakerState::Open);
/// assert_eq!(
///     breaker.admit().unwrap_err(),
///     BreakerOpen::CoolingDown { remaining: Duration::from_secs(10) },
/// );
///
/// tokio::time::sleep(Duration::from_secs(10)).await;
/// assert_eq!(breaker.state(), BreakerState::HalfOpen);
/// let probe = breaker.admit().unwrap();
/// assert_eq!(breaker.admit().unwrap_err(), BreakerOpen::Probing); // one probe at a time
/// probe.succeeded();
/// assert_eq!(breaker.state(), BreakerState::Closed);
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    failures: u32,
    cool_down: Duration,
    state: Mutex<State>,
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Calls go through; `failures` in a row so far.
    Closed { failures: u32 },
    /// Calls are refused until `until`; after it, the next call is the probe.
    Open { until: Instant },
    /// The probe is running; calls are refused until it ends.
    Probing,
}

/// Where a [`CircuitBreaker`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused until the cool-down is over.
    Open,
    /// The cool-down is over: the next call is the probe (or the probe is running, and calls
    /// are refused until it ends).
    HalfOpen,
}

/// Why a [`CircuitBreaker`] refused a call. In a plan, it is the source of a
/// [`PlanError::Step`](plan_core::PlanError::Step) naming the limited step; get it back with
/// `err.step_error::<BreakerOpen>()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerOpen {
    /// The breaker opened after consecutive failures; it lets a probe through in `remaining`.
    #[error("circuit breaker is open after repeated failures; next probe in {remaining:?}")]
    CoolingDown {
        /// Until the cool-down is over.
        remaining: Duration,
    },
    /// The breaker is half-open and its one probe call is running.
    #[error("circuit breaker is half-open and its probe call is running")]
    Probing,
}

/// Leave to make one call through a [`CircuitBreaker`]: tell it how the call went with
/// [`BreakerCall::succeeded`] or [`BreakerCall::failed`]. Dropped without either (the call was
/// cancelled), it counts for nothing; a probe dropped so leaves the breaker half-open, for the
/// next call to probe.
#[derive(Debug)]
#[must_use = "tell the breaker how the call went"]
pub struct BreakerCall {
    breaker: CircuitBreaker,
    probe: bool,
    done: bool,
}

impl CircuitBreaker {
    /// A breaker that opens after `failures` consecutive failures, and lets a probe through
    /// `cool_down` after it opened.
    ///
    /// # Panics
    ///
    /// If `failures` is zero.
    pub fn new(failures: u32, cool_down: Duration) -> Self {
        assert!(
            failures > 0,
            "a circuit breaker must allow at least one failure"
        );
        CircuitBreaker {
            inner: Arc::new(Inner {
                failures,
                cool_down,
                state: Mutex::new(State::Closed { failures: 0 }),
            }),
        }
    }

    /// How many consecutive failures open it.
    pub fn failures(&self) -> u32 {
        self.inner.failures
    }

    /// How long it stays open before a probe.
    pub fn cool_down(&self) -> Duration {
        self.inner.cool_down
    }

    /// Where it stands now.
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() < until => BreakerState::Open,
            State::Open { .. } | State::Probing => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call: a [`BreakerCall`] when the breaker is closed, or when it is
    /// half-open and this is the probe; [`BreakerOpen`] otherwise.
    pub fn admit(&self) -> Result<BreakerCall, BreakerOpen> {
        let mut state = self.lock();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(BreakerOpen::CoolingDown {
                        remaining: until - now,
                    });
                }
                // Under the lock: of callers arriving together, exactly one is the probe.
                *state = State::Probing;
                true
            }
            State::Probing => return Err(BreakerOpen::Probing),
        };
        Ok(BreakerCall {
            breaker: self.clone(),
            probe,
            done: false,
        })
    }

    /// Whether [`CircuitBreaker::admit`] would admit a call now, without taking the probe's
    /// place: for callers that are about to wait (for a rate limit) before calling.
    pub(crate) fn check(&self) -> Result<(), BreakerOpen> {
        match *self.lock() {
            State::Closed { .. } => Ok(()),
            State::Open { until } => {
                let now = Instant::now();
                if now < until {
                    Err(BreakerOpen::CoolingDown {
                        remaining: until - now,
                    })
                } else {
                    Ok(())
                }
            }
            State::Probing => Err(BreakerOpen::Probing),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a single store of a `Copy` value: a panic cannot leave it torn.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl BreakerCall {
    /// Whether this call is the half-open breaker's probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call succeeded: the failure count starts over; a probe closes the breaker.
    pub fn succeeded(mut self) {
        self.done = true;
        let mut state = self.breaker.lock();
        match *state {
            State::Probing if self.probe => *state = State::Closed { failures: 0 },
            State::Closed { .. } => *state = State::Closed { failures: 0 },
            // A call admitted before the breaker opened: the breaker has moved on.
            State::Open { .. } | State::Probing => {}
        }
    }

    /// The call failed: one more failure in a row, which may open the breaker; a probe opens
    /// it again, for a fresh cool-down.
    pub fn failed(mut self) {
        self.done = true;
        let open = State::Open {
            until: Instant::now() + self.breaker.inner.cool_down,
        };
        let limit = self.breaker.inner.failures;
        let mut state = self.breaker.lock();
        match *state {
            State::Probing if self.probe => *state = open,
            State::Closed { failures } if failures + 1 >= limit => *state = open,
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                }
            }
            // A call admitted before the breaker opened: it is open already.
            State::Open { .. } | State::Probing => {}
        }
    }
}

impl Drop for BreakerCall {
    fn drop(&mut self) {
        if self.probe && !self.done {
            // A cancelled probe proved nothing: the next call probes, at once.
            let mut state = self.breaker.lock();
            if let State::Probing = *state {
                *state = State::Open {
                    until: Instant::now(),
                };
            }
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("failures", &self.inner.failures)
            .field("cool_down", &self.inner.cool_down)
            .field("state", &self.state())
            .finish()
    }
}
