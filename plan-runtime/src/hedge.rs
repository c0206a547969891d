//! `#[hedge(after = DELAY)]`: when a call is slow, another attempt beside it; the first to
//! succeed wins.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt as _};
use plan_core::layer::{Layered, Middleware};
use plan_core::{Cx, Describe, GraphBuilder, HedgeDelay, HedgeInfo, Plan, PlanError};
use tokio::time::Instant;

/// The layer of `#[hedge(after = DELAY, max = N, share = S)]`: if the plan inside has not
/// finished `after` it started, another attempt starts beside it on a clone of the input (and
/// so on, `after` apart, up to `max` hedges, 1 by default). The first attempt to succeed
/// wins; the others are dropped — their destructors have run — before the node returns. A
/// failed attempt does not fail the node while another one runs; when the last one running
/// fails, its error is returned. A hedge is not a retry: a first attempt that fails before
/// the delay fails the node (put `#[retry]` outside for that).
///
/// The delay is fixed ([`Hedge::after`]) or a percentile of the node's own recent latencies
/// ([`Hedge::percentile`]: `after = p95`), kept in a window of its last 128 attempts (1 KiB)
/// and clamped by [`Hedge::min_delay`] and [`Hedge::max_delay`]. Until 20 latencies are
/// known a percentile means nothing: the delay is then `max_delay`, and without one no hedge
/// starts.
///
/// Hedges are limited to a share of calls ([`Hedge::share`], 5 % by default, as "The Tail at
/// Scale" advises), so that a service that is slow because it is loaded is not sent twice the
/// load: each call earns `share` of a hedge, each hedge spends one, and at most 10 are saved
/// up (the first call starts with one). Over any `n` calls there are at most `10 + share · n`
/// hedges.
///
/// What the node has seen — its latencies, its saved hedges — is shared by every clone of the
/// plan, as the node is. A run report counts the node's `hedges` and notes the `winner`
/// (`attempt 2`) of a hedged call.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use plan_runtime::layer::{Hedge, around};
/// use plan_runtime::prelude::*;
///
/// static CALLS: AtomicU32 = AtomicU32::new(0);
/// async fn lookup(key: u32) -> u32 {
///     // The first call is stuck; the hedge answers in 10 ms.
///     let wait = if CALLS.fetch_add(1, Ordering::SeqCst) == 0 { 60_000 } else { 10 };
///     tokio::time::sleep(Duration::from_millis(wait)).await;
///     key * 2
/// }
/// // As `#[hedge(after = 50ms)] lookup`:
/// let p = plan! { #[layer(around(Hedge::after(Duration::from_millis(50))))] lookup };
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
/// # rt.block_on(async {
/// let t0 = tokio::time::Instant::now();
/// assert_eq!(p.run(21).await.unwrap(), 42);
/// assert_eq!(t0.elapsed(), Duration::from_millis(60));
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Hedge {
    after: HedgeDelay,
    max: u32,
    share: f64,
    min_delay: Duration,
    max_delay: Option<Duration>,
    seen: Arc<Mutex<Seen>>,
}

/// How many latencies the window keeps.
const WINDOW: usize = 128;
/// How many latencies a percentile needs.
const MIN_SAMPLES: usize = 20;
/// A hedge, in the millionths that [`Seen::saved`] counts in (whole numbers, so that twenty
/// calls at 5 % save up exactly one hedge).
const HEDGE: u64 = 1_000_000;
/// How many hedges a node saves up at most.
const SAVED_AT_MOST: u64 = 10 * HEDGE;

impl Hedge {
    /// Hedges a call once it has run `delay`.
    pub fn after(delay: Duration) -> Self {
        Hedge::with(HedgeDelay::After(delay))
    }

    /// Hedges a call once it has run as long as quantile `q` of the node's recent latencies
    /// (`0.95` for `after = p95`; taken into `0.0..=1.0`).
    pub fn percentile(q: f64) -> Self {
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        Hedge::with(HedgeDelay::Percentile(q))
    }

    fn with(after: HedgeDelay) -> Self {
        Hedge {
            after,
            max: 1,
            share: 0.05,
            min_delay: Duration::ZERO,
            max_delay: None,
            seen: Arc::new(Mutex::new(Seen {
                latencies: Latencies::default(),
                saved: HEDGE,
            })),
        }
    }

    /// At most `hedges` hedges per call, `after` apart (1 by default; 0 is taken as 1).
    pub fn max(mut self, hedges: u32) -> Self {
        self.max = hedges.max(1);
        self
    }

    /// At most this share of calls is hedged (`0.05`, 5 %, by default; taken into
    /// `0.0..=1.0`).
    pub fn share(mut self, share: f64) -> Self {
        self.share = if share.is_nan() {
            0.0
        } else {
            share.clamp(0.0, 1.0)
        };
        self
    }

    /// A percentile delay is at least `delay`.
    pub fn min_delay(mut self, delay: Duration) -> Self {
        self.min_delay = delay;
        self
    }

    /// A percentile delay is at most `delay`; it is also the delay while too few latencies
    /// are known for a percentile.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = Some(delay);
        self
    }

    /// The attribute, as the graph shows it.
    pub fn info(&self) -> HedgeInfo {
        HedgeInfo {
            after: self.after,
            max: self.max,
            share: self.share,
            min_delay: self.min_delay,
            max_delay: self.max_delay,
        }
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        // Every update under the lock is a store or two: a panic cannot leave it half done.
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a call, and gives the delay before its first hedge, if it may have one.
    fn call_delay(&self) -> Option<Duration> {
        let mut seen = self.seen();
        let earned = (self.share * HEDGE as f64).round() as u64;
        seen.saved = (seen.saved + earned).min(SAVED_AT_MOST);
        match self.after {
            HedgeDelay::After(delay) => Some(delay),
            HedgeDelay::Percentile(q) => match seen.latencies.quantile(q) {
                Some(delay) => {
                    let delay = delay.max(self.min_delay);
                    Some(self.max_delay.map_or(delay, |max| delay.min(max)))
                }
                None => self.max_delay,
            },
        }
    }

    /// Spends a saved hedge, if there is one.
    fn spend(&self) -> bool {
        let mut seen = self.seen();
        let enough = seen.saved >= HEDGE;
        if enough {
            seen.saved -= HEDGE;
        }
        enough
    }

    fn record(&self, latency: Duration) {
        self.seen().latencies.push(latency);
    }
}

/// `#[hedge(..)] inner`.
pub fn hedge<P>(hedge: Hedge, inner: P) -> Layered<Hedge, P> {
    Layered::new(hedge, inner)
}

impl Describe for Hedge {
    fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
        graph.set_hedge(self.info());
        preds.to_vec()
    }
}

impl<I: Clone + Send, O: Send, C: Sync> Middleware<I, O, C> for Hedge {
    async fn around<P>(&self, input: I, cx: Cx<'_, C>, next: &P) -> Result<O, PlanError>
    where
        P: Plan<I, C, Out = O>,
    {
        let Some(delay) = self.call_delay() else {
            // No delay yet (a percentile of too few latencies): the call alone, timed.
            let started = Instant::now();
            let out = next.call(input, cx).await;
            self.record(started.elapsed());
            return out;
        };
        let last = 1 + self.max;
        let mut input = Some(input);
        let mut attempts = FuturesUnordered::new();
        if let Some(first) = input.clone() {
            attempts.push(Attempt::new(1, next.call(first, cx)));
        }
        let mut started = 1;
        let mut timer = pin!(tokio::time::sleep(delay));
        let mut hedging = true;
        loop {
            let event = poll_fn(|task| {
                if let Poll::Ready(Some(done)) = attempts.poll_next_unpin(task) {
                    return Poll::Ready(Some(done));
                }
                if hedging && timer.as_mut().poll(task).is_ready() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            })
            .await;
            match event {
                Some((attempt, latency, outcome)) => {
                    self.record(latency);
                    match outcome {
                        Ok(out) => {
                            if started > 1
                                && let Some(monitor) = cx.monitor()
                            {
                                monitor.note("winner", &format!("attempt {attempt}"));
                            }
                            // The losers are dropped here, before the node returns.
                            return Ok(out);
                        }
                        Err(err) if attempts.is_empty() => return Err(err),
                        Err(err) => tracing::debug!(attempt, error = %err, "hedged attempt failed"),
                    }
                }
                None => {
                    // The delay passed with no success: a hedge, if one is saved up.
                    let given = if started + 1 == last {
                        input.take()
                    } else {
                        input.clone()
                    };
                    match given {
                        Some(given) if self.spend() => {
                            started += 1;
                            tracing::debug!(attempt = started, "hedging");
                            if let Some(monitor) = cx.monitor() {
                                monitor.count("hedges", 1.0);
                            }
                            attempts.push(Attempt::new(started, next.call(given, cx)));
                        }
                        _ => hedging = false,
                    }
                    if started == last {
                        hedging = false;
                    }
                    if hedging {
                        timer.as_mut().reset(Instant::now() + delay);
                    }
                }
            }
        }
    }
}

/// What a node's hedging has seen, shared by the clones of its plan.
#[derive(Debug)]
struct Seen {
    latencies: Latencies,
    /// Hedges saved up, in millionths: each call adds the share, each hedge takes one.
    saved: u64,
}

/// The latencies of a node's last [`WINDOW`] attempts, in nanoseconds, oldest overwritten
/// first.
struct Latencies {
    nanos: [u64; WINDOW],
    len: usize,
    next: usize,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            nanos: [0; WINDOW],
            len: 0,
            next: 0,
        }
    }
}

impl fmt::Debug for Latencies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Latencies")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Latencies {
    fn push(&mut self, latency: Duration) {
        self.nanos[self.next] = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.next = (self.next + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
    }

    /// Quantile `q` by nearest rank, once [`MIN_SAMPLES`] latencies are known.
    fn quantile(&self, q: f64) -> Option<Duration> {
        if self.len < MIN_SAMPLES {
            return None;
        }
        let mut sorted = self.nanos;
        let known = &mut sorted[..self.len];
        // Nearest rank: the smallest latency with at least a share `q` at or below it.
        let rank = ((q * self.len as f64).ceil() as usize).clamp(1, self.len) - 1;
        let (_, nth, _) = known.select_nth_unstable(rank);
        Some(Duration::from_nanos(*nth))
    }
}

pin_project_lite::pin_project! {
    /// One attempt of a hedged call: says which one it was, and how long it took.
    struct Attempt<F> {
        number: u32,
        started: Instant,
        #[pin]
        run: F,
    }
}

impl<F> Attempt<F> {
    fn new(number: u32, run: F) -> Self {
        Attempt {
            number,
            started: Instant::now(),
            run,
        }
    }
}

impl<F: Future> Future for Attempt<F> {
    type Output = (u32, Duration, F::Output);

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.run
            .poll(task)
            .map(|out| (*this.number, this.started.elapsed(), out))
    }
}

#[cfg(test)]
mod tests {
    use super::{Latencies, MIN_SAMPLES};
    use std::time::Duration;

    #[test]
    fn percentiles_need_enough_latencies_and_follow_the_window() {
        let mut latencies = Latencies::default();
        for ms in 1..MIN_SAMPLES as u64 {
            latencies.push(Duration::from_millis(ms));
        }
        assert_eq!(latencies.quantile(0.95), None);
        latencies.push(Duration::from_millis(20));
        // 20 latencies of 1..=20 ms: the 95th percentile by nearest rank is the 19th.
        assert_eq!(latencies.quantile(0.95), Some(Duration::from_millis(19)));
        assert_eq!(latencies.quantile(0.5), Some(Duration::from_millis(10)));
        assert_eq!(latencies.quantile(1.0), Some(Duration::from_millis(20)));
        assert_eq!(latencies.quantile(0.0), Some(Duration::from_millis(1)));
        // A window of the last 128: after 128 latencies of 100 ms the old ones are gone.
        for _ in 0..128 {
            latencies.push(Duration::from_millis(100));
        }
        assert_eq!(latencies.quantile(0.01), Some(Duration::from_millis(100)));
    }
}
