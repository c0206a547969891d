//! What a group deadline cuts off: [`CutOff`] names the group and, for `settled`, each branch
//! that had not finished, so that its `Err(Timeout)` says which branch it was and whose
//! deadline stopped it.

use std::fmt;
use std::time::Duration;

use plan_core::{Cx, Describe, NodeKind, NodeRef, PlanError, Votes};

/// Names branch `index` of a group; see [`branch_ref`]. Called only when a deadline passes.
pub(crate) type BranchNames<'a> = &'a (dyn Fn(usize) -> NodeRef + Sync + 'a);

/// The deadline of a `par`/`each` group, which has passed: what a policy needs to fail the
/// group with [`PlanError::Timeout`] or to mark the branches it cut off.
///
/// Made by the group when its deadline passes and given to [`GroupPolicy::end`](crate::nodes::GroupPolicy::end).
/// What `settled` makes of it:
///
/// ```
/// use plan_runtime::prelude::*;
///
/// async fn fast(x: u32) -> u32 { x }
/// async fn slow(x: u32) -> u32 { tokio::time::sleep(Duration::from_secs(1)).await; x }
/// let p = plan! { par(settled, timeout = 50ms) { fast, slow } };
///
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
/// let (fast, slow) = rt.block_on(p.run(1)).unwrap();
/// assert_eq!(fast.unwrap(), 1);
/// let Err(PlanError::Timeout { node, group: Some(group), .. }) = slow else { panic!() };
/// assert_eq!((node.name, &*node.path), ("slow", "0/1"));
/// assert!(group.to_string().starts_with("`par(settled)` (par at 0, "));
/// ```
pub struct CutOff<'a> {
    after: Duration,
    group: NodeRef,
    branches: BranchNames<'a>,
}

impl fmt::Debug for CutOff<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CutOff")
            .field("after", &self.after)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl<'a> CutOff<'a> {
    /// The deadline `after` of the group `cx` is at, whose branches `branches` names.
    pub(crate) fn new<C>(after: Duration, cx: &Cx<'_, C>, branches: BranchNames<'a>) -> Self {
        CutOff {
            after,
            group: NodeRef::current(cx),
            branches,
        }
    }

    /// The deadline.
    pub fn after(&self) -> Duration {
        self.after
    }

    /// The group's own timeout: the error of a group that fails as a whole at its deadline.
    pub fn group_timed_out(&self) -> PlanError {
        PlanError::timeout(self.group.clone(), self.after)
    }

    /// The group's own timeout, with the votes of a `quorum` that had not agreed by then.
    pub fn group_timed_out_with(&self, votes: Votes) -> PlanError {
        PlanError::Timeout {
            node: Box::new(self.group.clone()),
            after: self.after,
            group: None,
            votes: Some(Box::new(votes)),
        }
    }

    /// The outcome of branch `index` (in branch or item order), which the deadline cut off:
    /// a timeout naming the branch, and the group as the one whose deadline it was.
    pub fn branch_timed_out(&self, index: usize) -> PlanError {
        PlanError::Timeout {
            node: Box::new((self.branches)(index)),
            after: self.after,
            group: Some(Box::new(self.group.clone())),
            votes: None,
        }
    }
}

/// Names `branch`, child `child` of the group `cx` is at: by its own node when it has one (a
/// step, a construct). A chain `a >> b` has none: it is named as a `seq` at the branch's
/// path, written where its first node is — which of its steps was running is not tracked, so
/// that a run pays nothing for it.
pub(crate) fn branch_ref<C>(cx: &Cx<'_, C>, child: usize, branch: &dyn Describe) -> NodeRef {
    if let Some(info) = branch.info() {
        return NodeRef::within(cx, info);
    }
    let group = NodeRef::current(cx);
    let path = if group.path.is_empty() {
        child.to_string()
    } else {
        format!("{}/{child}", group.path)
    };
    let location = branch
        .graph()
        .nodes
        .first()
        .map_or(group.location, |first| first.location);
    NodeRef {
        name: NodeKind::Seq.as_str(),
        kind: NodeKind::Seq,
        policy: None,
        path,
        location,
    }
}
