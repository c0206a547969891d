//! [`Options`]: what a run is given, owned, for whatever starts many runs.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use plan_core::Monitor;
use tokio_util::sync::CancellationToken;

/// What each run started by a loop, an agent or a durable run is given — values for the
/// tools inside ([`Options::with`]: a budget they all spend from), a cancellation token, a
/// deadline per run, a monitor — owned, so that it can be kept and cloned. A [`Run`] takes
/// them with [`Run::options`]; whatever runs plans for you takes an `Options`.
///
/// Clones share their values: a budget given once is one budget for every run.
///
/// ```
/// use std::time::Duration;
/// use plan_runtime::prelude::*;
/// use plan_runtime::run::Options;
///
/// struct Quota(u32);
/// let stop = CancellationToken::new();
/// let options = Options::new()
///     .with(Quota(3))
///     .until(stop.clone())
///     .timeout(Duration::from_secs(30));
/// assert_eq!(options.get::<Quota>().unwrap().0, 3);
/// assert_eq!(options.deadline(), Some(Duration::from_secs(30)));
/// ```
///
/// [`Run`]: super::Run
/// [`Run::options`]: super::Run::options
#[derive(Clone, Default)]
pub struct Options {
    values: Vec<Arc<dyn Any + Send + Sync>>,
    cancel: Option<CancellationToken>,
    timeout: Option<Duration>,
    monitor: Option<Arc<dyn Monitor + Send>>,
}

impl Options {
    /// Nothing yet.
    pub fn new() -> Self {
        Options::default()
    }

    /// With `value` for the tools inside each run, found by type (it shadows an earlier
    /// value of its type).
    pub fn with<T: Any + Send + Sync>(self, value: T) -> Self {
        self.shared(Arc::new(value))
    }

    /// With `value`, shared with whoever else holds it: a budget that other runs, or your
    /// own code, also see. Each run finds it as a `T`.
    pub fn shared<T: Any + Send + Sync>(mut self, value: Arc<T>) -> Self {
        self.values.push(value);
        self
    }

    /// Each run ends with [`PlanError::Cancelled`](plan_core::PlanError::Cancelled) when
    /// `token` is cancelled (at once, if it already is).
    pub fn until(self, token: CancellationToken) -> Self {
        Options {
            cancel: Some(token),
            ..self
        }
    }

    /// Each run has `after` to finish, or ends with
    /// [`PlanError::Timeout`](plan_core::PlanError::Timeout).
    pub fn timeout(self, after: Duration) -> Self {
        Options {
            timeout: Some(after),
            ..self
        }
    }

    /// Each run reports to `monitor`.
    pub fn monitor(self, monitor: Arc<dyn Monitor + Send>) -> Self {
        Options {
            monitor: Some(monitor),
            ..self
        }
    }

    /// The value of type `T`, if these options hold one (the last given).
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.values
            .iter()
            .rev()
            .find_map(|value| value.downcast_ref())
    }

    /// The cancellation token, if any.
    pub fn cancellation(&self) -> Option<&CancellationToken> {
        self.cancel.as_ref()
    }

    /// The deadline of each run, if any.
    pub fn deadline(&self) -> Option<Duration> {
        self.timeout
    }

    /// The monitor, if any.
    pub fn monitoring(&self) -> Option<&(dyn Monitor + Send)> {
        self.monitor.as_deref()
    }

    /// The values for the tools, in the order given.
    pub(super) fn values(&self) -> impl Iterator<Item = &(dyn Any + Sync)> {
        self.values
            .iter()
            .map(|value| &**value as &(dyn Any + Sync))
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("values", &self.values.len())
            .field("cancellable", &self.cancel.is_some())
            .field("timeout", &self.timeout)
            .field("monitored", &self.monitor.is_some())
            .finish()
    }
}
