//! [`ConcurrencyLimit`]: at most `k` calls at once, over a tokio semaphore.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// At most `k` calls at once. A caller beyond the limit *waits* for a slot — in arrival
/// order (tokio's semaphore is fair) — and never fails.
///
/// Cloning is cheap and shares the slots: give clones to every branch of a run and to every
/// run that calls the same service. Wrap a step in one with
/// [`Limits::concurrency`](super::Limits::concurrency).
///
/// ```
/// use std::time::Duration;
/// use plan_tools::limit::ConcurrencyLimit;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let limit = ConcurrencyLimit::new(2);
/// let a = limit.acquire().await;
/// let _b = limit.acquire().await;
/// assert_eq!(limit.available(), 0);
///
/// // A third caller waits until `a` is dropped, 50 ms later.
/// let release = async {
///     tokio::time::sleep(Duration::from_millis(50)).await;
///     drop(a);
/// };
/// let (_, c) = tokio::join!(release, limit.acquire());
/// assert_eq!(c.waited(), Duration::from_millis(50));
/// # }
/// ```
#[derive(Clone)]
pub struct ConcurrencyLimit {
    slots: Arc<Semaphore>,
    limit: usize,
}

/// A slot of a [`ConcurrencyLimit`], held while the call runs; dropping it frees the slot.
#[derive(Debug)]
#[must_use = "the slot is freed as soon as it is dropped"]
pub struct Slot<'a> {
    _permit: SemaphorePermit<'a>,
    waited: Duration,
}

impl ConcurrencyLimit {
    /// At most `limit` calls at once.
    ///
    /// # Panics
    ///
    /// If `limit` is zero (nothing could ever run), or above tokio's
    /// [`Semaphore::MAX_PERMITS`].
    pub fn new(limit: usize) -> Self {
        assert!(
            limit > 0,
            "a concurrency limit must allow at least one call"
        );
        ConcurrencyLimit {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// The most calls that run at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many slots are free now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }

    /// Waits for a slot. Dropping the future gives up the place in line.
    pub async fn acquire(&self) -> Slot<'_> {
        // A free slot is taken at once, without reading the clock. (`try_acquire` cannot jump
        // the line: a freed slot goes straight to the first waiter.)
        if let Ok(permit) = self.slots.try_acquire() {
            return Slot {
                _permit: permit,
                waited: Duration::ZERO,
            };
        }
        let start = Instant::now();
        let permit = self
            .slots
            .acquire()
            .await
            // The semaphore is private and never closed.
            .expect("a concurrency limit's semaphore is never closed");
        Slot {
            _permit: permit,
            waited: start.elapsed(),
        }
    }
}

impl Slot<'_> {
    /// How long the caller waited for this slot.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl fmt::Debug for ConcurrencyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("limit", &self.limit)
            .field("available", &self.available())
            .finish()
    }
}
