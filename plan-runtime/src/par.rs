//! `par(POLICY) { a, b, .. }`: a fixed set of branches, each given a clone of the input,
//! run concurrently inside the plan's task.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use plan_core::{Cx, Describe, GraphBuilder, NodeRef, ParallelSpec, Plan, PlanError};

use crate::arity::for_each_arity;
use crate::cut_off::branch_ref;
use crate::group::{Branch, GroupPolicy, ParallelPolicy, Uniform, run_group_fixed};
use crate::policy::{All, Marks, Settled, note_outcomes};

/// A `par` group: `branches` is a tuple of plans, `policy` one of [`policy`](crate::policy).
///
/// * [`All`]: `I -> (A, B, ..)`, failing fast;
/// * [`Settled`]: `I -> (Result<A, PlanError>, ..)`, never failing;
/// * the other policies need every branch to produce the same `O`:
///   [`First`](crate::policy::First) and [`FirstCompleted`](crate::policy::FirstCompleted)
///   give `O`, [`NBest`](crate::policy::NBest) gives `Vec<O>`, [`Best`](crate::policy::Best)
///   gives `O`, [`QuorumPolicy`](crate::policy::QuorumPolicy) gives
///   [`Quorum<O>`](crate::policy::Quorum).
///
/// Up to 12 branches; use `each` for more, or nest groups.
#[derive(Clone, Debug)]
pub struct Par<B, P> {
    branches: B,
    policy: P,
    timeout: Option<Duration>,
    limit: Option<usize>,
}

/// A `par` group of `branches` (a tuple) under `policy`.
pub fn par<B, P>(policy: P, branches: B) -> Par<B, P> {
    Par {
        branches,
        policy,
        timeout: None,
        limit: None,
    }
}

impl<B, P> Par<B, P> {
    /// A deadline for the whole group. When it passes, unfinished branches are dropped, and:
    /// `all` fails with [`PlanError::Timeout`]; `settled` marks them `Err(Timeout)`, each
    /// naming its branch, with the group as the one whose deadline it was; `first`
    /// fails with `Timeout` unless a branch succeeded; `first_completed` fails with `Timeout`;
    /// `n_best`/`best` rank what finished and fail only if nothing succeeded; `quorum` fails
    /// with `Timeout` listing the votes it had.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// At most `limit` branches run at once; the others start, in order, as slots free up.
    /// A limit of 0 is taken as 1.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit.max(1));
        self
    }

    fn spec(&self) -> ParallelSpec
    where
        P: ParallelPolicy,
    {
        ParallelSpec {
            policy: self.policy.policy(),
            timeout: self.timeout,
            limit: self.limit,
        }
    }
}

macro_rules! par_impls {
    ($($B:ident $i:tt),+) => {
        impl<$($B: Describe),+, P: ParallelPolicy> Describe for Par<($($B,)+), P> {
            fn describe(&self, graph: &mut GraphBuilder, preds: &[usize]) -> Vec<usize> {
                graph.set_parallel(self.spec());
                let mut exits = Vec::new();
                $(exits.extend(self.branches.$i.describe(graph, preds));)+
                exits
            }
        }

        impl<$($B: Describe),+, P> Par<($($B,)+), P> {
            /// Names branch `index`, for the error of a branch the deadline cuts off.
            fn branch_ref<C>(&self, cx: &Cx<'_, C>, index: usize) -> NodeRef {
                let branches: [&dyn Describe; _] = [$(&self.branches.$i,)+];
                branches
                    .get(index)
                    .map_or_else(|| NodeRef::current(cx), |branch| branch_ref(cx, index, *branch))
            }
        }

        impl<I, C, $($B),+> Plan<I, C> for Par<($($B,)+), All>
        where
            I: Clone + Send,
            C: Sync,
            $($B: Plan<I, C>,)+
        {
            type Out = ($($B::Out,)+);

            fn call(
                &self,
                input: I,
                cx: Cx<'_, C>,
            ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
                async move {
                    let mut slots = ($(None::<$B::Out>,)+);
                    {
                        let branches: [Branch<'_, ()>; _] = [$(
                            {
                                let slot = &mut slots.$i;
                                let input = input.clone();
                                pin!(async move {
                                    *slot = Some(self.branches.$i.call(input, cx).await?);
                                    Ok(())
                                })
                            },
                        )+];
                        drop(input);
                        let names = |index| self.branch_ref(&cx, index);
                        run_group_fixed(branches, &self.spec(), &All, &cx, &names).await?;
                    }
                    // `All` returns `Ok` only when every branch has filled its slot.
                    Ok(($(slots.$i.expect("every branch succeeded"),)+))
                }
            }
        }

        impl<I, C, $($B),+> Plan<I, C> for Par<($($B,)+), Settled>
        where
            I: Clone + Send,
            C: Sync,
            $($B: Plan<I, C>,)+
        {
            type Out = ($(Result<$B::Out, PlanError>,)+);

            fn call(
                &self,
                input: I,
                cx: Cx<'_, C>,
            ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
                async move {
                    let mut slots = ($(None::<Result<$B::Out, PlanError>>,)+);
                    let marks = {
                        let branches: [Branch<'_, ()>; _] = [$(
                            {
                                let slot = &mut slots.$i;
                                let input = input.clone();
                                pin!(async move {
                                    *slot = Some(self.branches.$i.call(input, cx).await);
                                    Ok(())
                                })
                            },
                        )+];
                        drop(input);
                        let names = |index| self.branch_ref(&cx, index);
                        run_group_fixed(branches, &self.spec(), &Marks, &cx, &names).await?
                    };
                    // A branch without an outcome was cut off by the deadline: its mark says so.
                    let mut marks = marks.into_iter();
                    let outcomes = ($({
                        let mark = marks.next();
                        match slots.$i {
                            Some(outcome) => outcome,
                            None => Err(mark.and_then(Result::err).expect("cut-off branch is marked")),
                        }
                    },)+);
                    note_outcomes(&cx, [$(outcomes.$i.as_ref().err(),)+].into_iter());
                    Ok(outcomes)
                }
            }
        }

        impl<I, C, O, P, $($B),+> Plan<I, C> for Par<($($B,)+), P>
        where
            I: Clone + Send,
            C: Sync,
            O: Send,
            P: GroupPolicy<O> + Uniform,
            $($B: Plan<I, C, Out = O>,)+
        {
            type Out = P::Out;

            fn call(
                &self,
                input: I,
                cx: Cx<'_, C>,
            ) -> impl Future<Output = Result<Self::Out, PlanError>> + Send {
                async move {
                    let branches: [Branch<'_, O>; _] = [$(
                        pin!(self.branches.$i.call(input.clone(), cx)),
                    )+];
                    drop(input);
                    let names = |index| self.branch_ref(&cx, index);
                    run_group_fixed(branches, &self.spec(), &self.policy, &cx, &names).await
                }
            }
        }
    };
}

for_each_arity!(par_impls);
