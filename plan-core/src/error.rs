//! `PlanError`: every way a plan run can fail, each naming the node that failed.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::node::NodeRef;
use crate::votes::{Ballot, Votes};

/// A step's own error, shared so that [`PlanError`] stays `Clone`.
pub type StepError = Arc<dyn StdError + Send + Sync + 'static>;

/// Why a plan run failed. Every variant names the failing node — its name, full path and the
/// `file:line:column` of the node in the `plan!` — and `Display` reads as one log line.
///
/// The node is boxed: errors are rare, while every step passes `Result<_, PlanError>` along,
/// so the error is kept small (`size_of::<PlanError>()` is 40 bytes on x86-64).
///
/// ```
/// use plan_core::{NodeInfo, NodeKind, NodeRef, PlanError};
/// # static INFO: NodeInfo = NodeInfo { name: "fetch", kind: NodeKind::Step, path: "1",
/// #     source: "fetch", policy: None, file: "src/main.rs", line: 12, column: 9 };
/// let err = PlanError::timeout(NodeRef::from_info(&INFO), std::time::Duration::from_millis(250));
/// assert_eq!(err.to_string(), "`fetch` (step at 1, src/main.rs:12:9) timed out after 250ms");
/// assert!(err.is_timeout());
/// ```
///
/// `Debug` — what `fn main() -> Result<(), PlanError>` prints when it fails — is that line
/// followed by what it does not show: the causes of a step's error, one per line, and for
/// [`PlanError::AllFailed`] every branch's error, each with its own causes. `{:#?}` shows the
/// error's structure instead, field by field.
///
/// ```
/// # use plan_core::{NodeInfo, NodeKind, NodeRef, PlanError};
/// # static INFO: NodeInfo = NodeInfo { name: "fetch", kind: NodeKind::Step, path: "1",
/// #     source: "fetch", policy: None, file: "src/main.rs", line: 12, column: 9 };
/// #[derive(Debug, thiserror::Error)]
/// #[error("request failed")]
/// struct Request(#[source] std::io::Error);
///
/// let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
/// let err = PlanError::step(NodeRef::from_info(&INFO), Request(refused));
/// assert_eq!(format!("Error: {err:?}"), "\
/// Error: `fetch` (step at 1, src/main.rs:12:9) failed: request failed
///
/// Caused by:
///     connection refused");
/// assert!(format!("{err:#?}").starts_with("Step {\n    node: NodeRef {"));
/// ```
#[derive(Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A step returned an error (`Result<_, E>` with `E: Error`).
    #[error("{node} failed: {source}")]
    Step {
        /// The failing step.
        node: Box<NodeRef>,
        /// The step's error.
        source: StepError,
    },
    /// A deadline passed: the node's own (`#[timeout(..)]`, or a group's `timeout = ..` when
    /// the group fails as a whole), or that of the `par`/`each` group that cut `node` off
    /// (a `settled` branch or item that had not finished).
    #[error("{node} timed out{}", Deadline(*.after, .group.as_deref(), .votes.as_deref()))]
    Timeout {
        /// The node that did not finish in time.
        node: Box<NodeRef>,
        /// The deadline.
        after: Duration,
        /// The group whose deadline cut `node` off; `None` when the deadline was `node`'s own.
        group: Option<Box<NodeRef>>,
        /// For a `quorum` group whose deadline passed before its branches agreed: the votes
        /// it had.
        votes: Option<Box<Votes>>,
    },
    /// The run was cancelled from outside (a run given `until(..)` in plan-runtime).
    #[error("{node} was cancelled")]
    Cancelled {
        /// The plan that was cancelled.
        node: Box<NodeRef>,
    },
    /// Every branch of a `par`/`each` failed (policies `first`, `n_best`, `best`).
    #[error("every branch of {node} failed ({} errors; first: {})", .errors.len(), FirstError(.errors))]
    AllFailed {
        /// The `par` or `each` node.
        node: Box<NodeRef>,
        /// Each branch's error, in branch order.
        errors: Vec<PlanError>,
    },
    /// A `quorum` group can no longer reach agreement: too few of its branches are left to
    /// make up `k` agreeing ones (or it has fewer than `k`). The branches still running were
    /// dropped.
    #[error("{node} reached no quorum of {}: {votes}", .votes.needed)]
    NoQuorum {
        /// The `par` or `each` node.
        node: Box<NodeRef>,
        /// What its branches said, in branch order.
        votes: Box<Votes>,
    },
    /// A `loop` used all its passes without its condition being met.
    #[error("{node} reached its limit of {max} passes")]
    LoopLimit {
        /// The loop.
        node: Box<NodeRef>,
        /// Its `max`.
        max: u32,
    },
    /// A step panicked, or user code that a construct calls: a `choose` predicate or router,
    /// a `loop` condition, an `n_best`/`best` score. The panic was caught; sibling branches
    /// were cancelled as for an error.
    #[error("{node} panicked: {message}")]
    Panicked {
        /// The step that panicked, or the construct whose predicate, router or score did.
        node: Box<NodeRef>,
        /// The panic message, when it was a string.
        message: String,
    },
}

impl PlanError {
    /// Wraps a step's error.
    pub fn step(node: NodeRef, source: impl StdError + Send + Sync + 'static) -> Self {
        PlanError::Step {
            node: Box::new(node),
            source: Arc::new(source),
        }
    }

    /// A deadline of `after` on `node` itself passed.
    ///
    /// ```
    /// # use plan_core::{NodeInfo, NodeKind, NodeRef, PlanError};
    /// # static INFO: NodeInfo = NodeInfo::new("fetch", NodeKind::Step, "1");
    /// let err = PlanError::timeout(NodeRef::from_info(&INFO), std::time::Duration::from_secs(2));
    /// assert_eq!(err.to_string(), "`fetch` (step at 1, <built by hand>:0:0) timed out after 2s");
    /// ```
    pub fn timeout(node: NodeRef, after: Duration) -> Self {
        PlanError::Timeout {
            node: Box::new(node),
            after,
            group: None,
            votes: None,
        }
    }

    /// The node this error names.
    pub fn node(&self) -> &NodeRef {
        match self {
            PlanError::Step { node, .. }
            | PlanError::Timeout { node, .. }
            | PlanError::Cancelled { node }
            | PlanError::AllFailed { node, .. }
            | PlanError::NoQuorum { node, .. }
            | PlanError::LoopLimit { node, .. }
            | PlanError::Panicked { node, .. } => node,
        }
    }

    /// The variant as a short, stable word for logs and reports: `"step"`, `"timeout"`,
    /// `"cancelled"`, `"all_failed"`, `"no_quorum"`, `"loop_limit"` or `"panicked"`.
    ///
    /// ```
    /// # use plan_core::{NodeInfo, NodeKind, NodeRef, PlanError};
    /// # static INFO: NodeInfo = NodeInfo::new("fetch", NodeKind::Step, "1");
    /// let err = PlanError::LoopLimit { node: NodeRef::from_info(&INFO).into(), max: 3 };
    /// assert_eq!(err.kind(), "loop_limit");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            PlanError::Step { .. } => "step",
            PlanError::Timeout { .. } => "timeout",
            PlanError::Cancelled { .. } => "cancelled",
            PlanError::AllFailed { .. } => "all_failed",
            PlanError::NoQuorum { .. } => "no_quorum",
            PlanError::LoopLimit { .. } => "loop_limit",
            PlanError::Panicked { .. } => "panicked",
        }
    }

    /// `true` for [`PlanError::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, PlanError::Timeout { .. })
    }

    /// The votes of a `quorum` group that reached no agreement: those of a
    /// [`PlanError::NoQuorum`], or of a [`PlanError::Timeout`] at the group's deadline.
    pub fn votes(&self) -> Option<&Votes> {
        match self {
            PlanError::NoQuorum { votes, .. } => Some(votes),
            PlanError::Timeout { votes, .. } => votes.as_deref(),
            _ => None,
        }
    }

    /// `true` for [`PlanError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, PlanError::Cancelled { .. })
    }

    /// `true` for [`PlanError::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, PlanError::Panicked { .. })
    }

    /// The step's own error, if this is a [`PlanError::Step`], downcast to `E`.
    ///
    /// ```
    /// # use plan_core::{NodeInfo, NodeKind, NodeRef, PlanError};
    /// # static INFO: NodeInfo = NodeInfo { name: "parse", kind: NodeKind::Step, path: "0",
    /// #     source: "parse", policy: None, file: "f.rs", line: 1, column: 1 };
    /// let err = PlanError::step(NodeRef::from_info(&INFO), std::fmt::Error);
    /// assert!(err.step_error::<std::fmt::Error>().is_some());
    /// ```
    pub fn step_error<E: StdError + 'static>(&self) -> Option<&E> {
        match self {
            PlanError::Step { source, .. } => source.downcast_ref(),
            _ => None,
        }
    }

    /// The step's own error or one of its causes (its [`source`](StdError::source) chain),
    /// downcast to `E`: for an error a step wraps in its own, as an HTTP step wraps a budget's
    /// refusal.
    ///
    /// ```
    /// # use plan_core::{NodeInfo, NodeKind, NodeRef, PlanError};
    /// # static INFO: NodeInfo = NodeInfo { name: "fetch", kind: NodeKind::Step, path: "0",
    /// #     source: "fetch", policy: None, file: "f.rs", line: 1, column: 1 };
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("not sent")]
    /// struct NotSent(#[source] std::fmt::Error);
    ///
    /// let err = PlanError::step(NodeRef::from_info(&INFO), NotSent(std::fmt::Error));
    /// assert!(err.step_error::<std::fmt::Error>().is_none());
    /// assert!(err.caused_by::<std::fmt::Error>().is_some());
    /// assert!(err.caused_by::<NotSent>().is_some());
    /// ```
    pub fn caused_by<E: StdError + 'static>(&self) -> Option<&E> {
        let PlanError::Step { source, .. } = self else {
            return None;
        };
        let own: &(dyn StdError + 'static) = &**source;
        std::iter::successors(Some(own), |&e| e.source()).find_map(|e| e.downcast_ref())
    }
}

/// `Debug` as a report (the `Display` line, then the causes and branch errors it leaves
/// out), or with `{:#?}` as the error's structure.
impl fmt::Debug for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            self.debug_structure(f)
        } else {
            self.report(f, "")
        }
    }
}

impl PlanError {
    /// The `Display` line, then — each section indented by `indent` — the causes of a step's
    /// error beyond the one the line shows, and every branch's error of an `AllFailed`.
    fn report(&self, f: &mut fmt::Formatter<'_>, indent: &str) -> fmt::Result {
        write!(f, "{self}")?;
        // The line shows the step's own error; what caused that comes next.
        let first = match self {
            PlanError::Step { source, .. } => source.source(),
            _ => None,
        };
        let causes: Vec<&dyn StdError> = std::iter::successors(first, |&e| e.source()).collect();
        // A blank line before each section at the top; a branch's sections stay with it.
        let gap = if indent.is_empty() { "\n\n" } else { "\n" };
        // Numbered as anyhow numbers them: only when there are several.
        match causes.as_slice() {
            [] => {}
            [cause] => write!(f, "{gap}{indent}Caused by:\n{indent}    {cause}")?,
            causes => {
                write!(f, "{gap}{indent}Caused by:")?;
                for (i, cause) in causes.iter().enumerate() {
                    write!(f, "\n{indent}    {i}: {cause}")?;
                }
            }
        }
        // Every branch's error of an `AllFailed`; those of the branches that failed in a
        // quorum's votes, numbered by branch.
        let branch_errors: Vec<(usize, &PlanError)> = match self {
            PlanError::AllFailed { errors, .. } => errors.iter().enumerate().collect(),
            _ => self.votes().map_or_else(Vec::new, |votes| {
                let failed = votes.cast.iter().filter_map(|vote| match &vote.ballot {
                    Ballot::Failed(err) => Some((vote.index, err)),
                    Ballot::Said(_) => None,
                });
                failed.collect()
            }),
        };
        if !branch_errors.is_empty() {
            write!(f, "{gap}{indent}Branch errors:")?;
            for (i, err) in branch_errors {
                let number = format!("{i}: ");
                write!(f, "\n{indent}    {number}")?;
                // A branch's own sections line up under its line.
                let nested = format!("{indent}    {:width$}", "", width = number.len());
                err.report(f, &nested)?;
            }
        }
        Ok(())
    }

    /// The variant and its fields, as `#[derive(Debug)]` would show them.
    fn debug_structure(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Step { node, source } => f
                .debug_struct("Step")
                .field("node", node)
                .field("source", source)
                .finish(),
            PlanError::Timeout {
                node,
                after,
                group,
                votes,
            } => f
                .debug_struct("Timeout")
                .field("node", node)
                .field("after", after)
                .field("group", group)
                .field("votes", votes)
                .finish(),
            PlanError::Cancelled { node } => {
                f.debug_struct("Cancelled").field("node", node).finish()
            }
            PlanError::AllFailed { node, errors } => f
                .debug_struct("AllFailed")
                .field("node", node)
                .field("errors", errors)
                .finish(),
            PlanError::NoQuorum { node, votes } => f
                .debug_struct("NoQuorum")
                .field("node", node)
                .field("votes", votes)
                .finish(),
            PlanError::LoopLimit { node, max } => f
                .debug_struct("LoopLimit")
                .field("node", node)
                .field("max", max)
                .finish(),
            PlanError::Panicked { node, message } => f
                .debug_struct("Panicked")
                .field("node", node)
                .field("message", message)
                .finish(),
        }
    }
}

/// The end of a timeout's log line: the deadline, the group whose deadline it was, and the
/// votes a quorum had by then.
struct Deadline<'a>(Duration, Option<&'a NodeRef>, Option<&'a Votes>);

impl fmt::Display for Deadline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let after = DisplayDuration(self.0);
        match self.1 {
            None => write!(f, " after {after}")?,
            Some(group) => write!(f, ": cut off by the {after} deadline of {group}")?,
        }
        match self.2 {
            Some(votes) => write!(f, " before a quorum of {}: {votes}", votes.needed),
            None => Ok(()),
        }
    }
}

/// Durations in log lines: `250ms`, `1.5s`, `10µs`.
struct DisplayDuration(Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

struct FirstError<'a>(&'a [PlanError]);

impl fmt::Display for FirstError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.first() {
            Some(err) => err.fmt(f),
            None => f.write_str("none"),
        }
    }
}
