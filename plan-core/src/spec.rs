//! `ParallelSpec`: how a `par`/`each` group runs its branches.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Which branch results a `par`/`each` group keeps, and when it returns.
///
/// ```
/// use plan_core::PolicyKind;
/// assert_eq!(PolicyKind::NBest(2).to_string(), "n_best(2)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyKind {
    /// Every branch must succeed; the first error cancels the rest.
    All,
    /// Every branch's outcome is kept; the group never fails as a whole.
    Settled,
    /// The first success wins; the rest are cancelled.
    First,
    /// The first branch to finish decides, success or error; the rest are cancelled.
    FirstCompleted,
    /// The best `n` successes by a score, best first.
    NBest(usize),
    /// The best success by a score.
    Best,
    /// The first `k` successes that agree (on a key, or as values); fails as soon as that
    /// can no longer happen.
    Quorum(usize),
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyKind::All => f.write_str("all"),
            PolicyKind::Settled => f.write_str("settled"),
            PolicyKind::First => f.write_str("first"),
            PolicyKind::FirstCompleted => f.write_str("first_completed"),
            PolicyKind::NBest(n) => write!(f, "n_best({n})"),
            PolicyKind::Best => f.write_str("best"),
            PolicyKind::Quorum(k) => write!(f, "quorum({k})"),
        }
    }
}

/// A parallel group's policy and options: `par(POLICY, timeout = .., limit = ..)`.
///
/// ```
/// use plan_core::{ParallelSpec, PolicyKind};
/// use std::time::Duration;
/// let spec = ParallelSpec::new(PolicyKind::All)
///     .timeout(Duration::from_secs(2))
///     .limit(4);
/// assert_eq!(spec.limit, Some(4));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ParallelSpec {
    /// Which results are kept.
    pub policy: PolicyKind,
    /// A deadline for the whole group, if any.
    pub timeout: Option<Duration>,
    /// At most this many branches run at once, if set.
    pub limit: Option<usize>,
}

impl ParallelSpec {
    /// A group with `policy`, no deadline and no limit.
    pub const fn new(policy: PolicyKind) -> Self {
        ParallelSpec {
            policy,
            timeout: None,
            limit: None,
        }
    }

    /// Sets the group deadline.
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the concurrency limit (`0` is treated as `1`).
    pub const fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(if limit == 0 { 1 } else { limit });
        self
    }
}
