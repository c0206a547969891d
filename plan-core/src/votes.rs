//! [`Votes`]: what the branches of a `quorum` group said, carried by its error when they did
//! not agree.

use std::fmt;

use crate::error::PlanError;
use crate::node::NodeRef;

/// What the branches (or `each` items) of a `par(quorum(k, ..))` group said, when they
/// reached no quorum: carried by [`PlanError::NoQuorum`], and by the
/// [`PlanError::Timeout`] of a group whose deadline passed first.
///
/// `Display` lists the votes as a log line shows them: each branch by name and index, what it
/// said (its key's `Debug`, shortened to 60 characters) or that it failed, then how many had
/// not finished.
///
/// ```
/// use plan_core::{Ballot, NodeInfo, NodeKind, NodeRef, Vote, Votes};
/// static ASK: NodeInfo = NodeInfo::new("ask", NodeKind::Step, "0/0");
/// let vote = |index, ballot| Vote { index, branch: NodeRef::from_info(&ASK), ballot };
/// let votes = Votes {
///     needed: 2,
///     branches: 3,
///     cast: vec![vote(0, Ballot::Said("4".into())), vote(2, Ballot::Said("5".into()))],
/// };
/// assert_eq!(votes.to_string(), "`ask` #0 said 4, `ask` #2 said 5, 1 unfinished");
/// ```
#[derive(Clone, Debug)]
pub struct Votes {
    /// How many agreeing branches the quorum needed (`k`).
    pub needed: usize,
    /// How many branches the group had: for an `each`, the items it had started.
    pub branches: usize,
    /// The branches that finished, in branch order.
    pub cast: Vec<Vote>,
}

/// One branch's vote in a [`Votes`].
#[derive(Clone, Debug)]
pub struct Vote {
    /// The branch's index (an `each` item's index in its input).
    pub index: usize,
    /// The branch (the body of an `each`).
    pub branch: NodeRef,
    /// What it said.
    pub ballot: Ballot,
}

/// What a branch of a `quorum` group said.
#[derive(Clone, Debug)]
pub enum Ballot {
    /// It succeeded: its output's key (the output itself without `by`), as its `Debug` shows
    /// it, shortened to 60 characters.
    Said(String),
    /// It failed.
    Failed(PlanError),
}

impl Votes {
    /// The errors of the branches that failed, in branch order.
    pub fn errors(&self) -> impl Iterator<Item = &PlanError> {
        self.cast.iter().filter_map(|vote| match &vote.ballot {
            Ballot::Failed(err) => Some(err),
            Ballot::Said(_) => None,
        })
    }
}

impl fmt::Display for Votes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.needed > self.branches && self.cast.is_empty() {
            return write!(f, "it has {} branches", self.branches);
        }
        let mut first = true;
        for vote in &self.cast {
            if !std::mem::take(&mut first) {
                f.write_str(", ")?;
            }
            write!(f, "{vote}")?;
        }
        let unfinished = self.branches.saturating_sub(self.cast.len());
        match (first, unfinished) {
            (true, _) => write!(f, "no branch finished"),
            (false, 0) => Ok(()),
            (false, n) => write!(f, ", {n} unfinished"),
        }
    }
}

impl fmt::Display for Vote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` #{} ", self.branch.name, self.index)?;
        match &self.ballot {
            Ballot::Said(said) => write!(f, "said {said}"),
            Ballot::Failed(_) => f.write_str("failed"),
        }
    }
}

/// `value`'s `Debug`, as a [`Ballot::Said`] shows it: at most 60 characters, cut with `…`.
///
/// ```
/// assert_eq!(plan_core::said(&"Paris"), "\"Paris\"");
/// assert_eq!(plan_core::said(&"x".repeat(100)).chars().count(), 60);
/// ```
pub fn said(value: &dyn fmt::Debug) -> String {
    const MAX: usize = 60;
    let text = format!("{value:?}");
    if text.chars().nth(MAX).is_none() {
        return text;
    }
    let cut = text
        .char_indices()
        .nth(MAX - 1)
        .map_or(text.len(), |(at, _)| at);
    format!("{}…", &text[..cut])
}
