//! A `governor` clock that reads tokio's clock, so that a paused test clock drives the rate
//! limiter exactly as it drives `tokio::time::sleep`.

use std::ops::Add;
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::nanos::Nanos;
use tokio::time::Instant;

/// [`Clock`] over [`tokio::time::Instant::now`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TokioClock;

/// A reading of [`TokioClock`]. A newtype, because `governor` wants `Add<Nanos>` on its
/// instants and neither type is ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TokioInstant(pub(crate) Instant);

impl Add<Nanos> for TokioInstant {
    type Output = Self;

    fn add(self, other: Nanos) -> Self {
        TokioInstant(self.0 + Duration::from(other))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        // Saturating, as the trait requires.
        self.0.saturating_duration_since(earlier.0).into()
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        self.0
            .checked_sub(duration.into())
            .map_or(*self, TokioInstant)
    }
}

impl Clock for TokioClock {
    type Instant = TokioInstant;

    fn now(&self) -> TokioInstant {
        TokioInstant(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_the_paused_clock() {
        let clock = TokioClock;
        let before = clock.now();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let after = clock.now();
        assert_eq!(
            after.duration_since(before),
            Nanos::from(Duration::from_millis(250))
        );
        // Saturating both ways.
        assert_eq!(before.duration_since(after), Nanos::from(0));
        assert_eq!(before + Nanos::from(Duration::from_millis(250)), after);
        assert_eq!(
            after.saturating_sub(Nanos::from(Duration::from_millis(250))),
            before
        );
    }
}
