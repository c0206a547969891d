//! `quorum(k)` and `quorum(k, by = key)`: the first `k` branches that agree.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{BuildHasher, Hash, RandomState};
use std::ops::ControlFlow;

use plan_core::{Ballot, Cx, NodeRef, PlanError, PolicyKind, Vote, Votes, said};
use serde::{Deserialize, Serialize};

use crate::cut_off::CutOff;
use crate::group::{Branches, GroupPolicy, ParallelPolicy, Uniform};

/// What a `quorum` group gives: the output its branches agreed on, and which branches agreed.
///
/// ```
/// use plan_runtime::prelude::*;
///
/// fn ask_a(q: String) -> String { format!("{q}: Paris") }
/// fn ask_b(q: String) -> String { format!("{q}: Lyon") }
/// fn ask_c(q: String) -> String { format!("{q}: paris") }
/// fn answer(reply: &String) -> String { reply.rsplit(": ").next().unwrap_or("").to_lowercase() }
///
/// let vote = plan! { par(quorum(2, by = answer)) { ask_a, ask_b, ask_c } };
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
/// let agreed: Quorum<String> = rt.block_on(vote.run("capital".into())).unwrap();
/// assert_eq!(agreed.voters, [0, 2]);
/// assert_eq!(agreed.output, "capital: Paris"); // the first voter's, in branch order
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quorum<O> {
    /// The agreed output: that of the first voter in branch order (outputs that agree on a
    /// key may differ in everything else).
    pub output: O,
    /// The branches (or `each` items) that agreed, in branch order: exactly `k` of them.
    pub voters: Vec<usize>,
}

impl<O> Quorum<O> {
    /// The agreed output.
    pub fn into_output(self) -> O {
        self.output
    }
}

/// `quorum(k)`, `quorum(k, by = key)`: the group ends as soon as `k` branches have succeeded
/// with outputs that agree — on `key(&output)`, or as values without `by` — and gives a
/// [`Quorum`]; the others are dropped. It fails with [`PlanError::NoQuorum`] as soon as
/// agreement can no longer happen (too few branches left to make up `k` agreeing ones), and at
/// a group deadline with a [`PlanError::Timeout`]; both list the votes. A `k` of 0 is taken
/// as 1.
#[derive(Clone, Copy, Debug)]
pub struct QuorumPolicy<A> {
    k: usize,
    agreement: A,
}

/// The `quorum(k)` policy: outputs agree when they are equal (`O: Eq + Hash + Debug`). Add a
/// key with [`QuorumPolicy::by`].
pub fn quorum(k: usize) -> QuorumPolicy<Whole> {
    QuorumPolicy {
        k: k.max(1),
        agreement: Whole,
    }
}

impl QuorumPolicy<Whole> {
    /// `quorum(k, by = key)`: outputs agree when their keys are equal
    /// (`key: Fn(&O) -> K`, `K: Eq + Hash + Debug`).
    pub fn by<F>(self, key: F) -> QuorumPolicy<By<F>> {
        QuorumPolicy {
            k: self.k,
            agreement: By(key),
        }
    }
}

/// How a quorum tells which outputs agree: [`Whole`] outputs, or [`By`] a key.
pub trait Agreement<O>: Send + Sync {
    /// What is kept of each distinct answer to compare the next ones with.
    type Key: Send;

    /// The key of `output`.
    fn key(&self, output: &O) -> Self::Key;

    /// A hash of the answer, equal for answers that agree.
    fn hash(&self, key: &Self::Key, output: &O, hasher: &RandomState) -> u64;

    /// Whether two answers agree.
    fn agree(&self, a: (&Self::Key, &O), b: (&Self::Key, &O)) -> bool;

    /// The answer as a vote shows it ([`said`]).
    fn said(&self, key: &Self::Key, output: &O) -> String;
}

/// Outputs agree when they are equal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Whole;

/// Outputs agree when the key function gives equal keys.
#[derive(Clone, Copy, Debug)]
pub struct By<F>(F);

impl<O: Eq + Hash + Debug> Agreement<O> for Whole {
    type Key = ();

    fn key(&self, _output: &O) {}

    fn hash(&self, _key: &(), output: &O, hasher: &RandomState) -> u64 {
        hasher.hash_one(output)
    }

    fn agree(&self, (_, a): (&(), &O), (_, b): (&(), &O)) -> bool {
        a == b
    }

    fn said(&self, _key: &(), output: &O) -> String {
        said(output)
    }
}

impl<O, K, F> Agreement<O> for By<F>
where
    F: Fn(&O) -> K + Send + Sync,
    K: Eq + Hash + Debug + Send,
{
    type Key = K;

    fn key(&self, output: &O) -> K {
        (self.0)(output)
    }

    fn hash(&self, key: &K, _output: &O, hasher: &RandomState) -> u64 {
        hasher.hash_one(key)
    }

    fn agree(&self, (a, _): (&K, &O), (b, _): (&K, &O)) -> bool {
        a == b
    }

    fn said(&self, key: &K, _output: &O) -> String {
        said(key)
    }
}

impl<A: Send + Sync> ParallelPolicy for QuorumPolicy<A> {
    fn policy(&self) -> PolicyKind {
        PolicyKind::Quorum(self.k)
    }
}

impl<A: Send + Sync> Uniform for QuorumPolicy<A> {}

/// The votes of a `quorum` group so far.
#[doc(hidden)]
pub struct Tally<K, O> {
    /// How many branches the group has, once known.
    total: Option<usize>,
    /// The distinct answers, in the order first given.
    answers: Vec<Answer<K, O>>,
    /// The answers by hash.
    by_hash: HashMap<u64, Vec<usize>>,
    hasher: RandomState,
    /// Each finished branch, with the answer it gave or its error, in the order they finished.
    ballots: Vec<(usize, Result<usize, PlanError>)>,
    /// The most votes any answer has.
    most: usize,
    /// The answer that reached `k` votes.
    agreed: Option<usize>,
}

/// One distinct answer and its voters.
struct Answer<K, O> {
    key: K,
    /// The output of its first voter in branch order (the others' are dropped as they come).
    output: (usize, O),
    voters: Vec<usize>,
}

impl<K, O> Tally<K, O> {
    /// Whether `k` agreeing votes can no longer be cast: the best answer and every branch
    /// still to finish would not make them up.
    fn hopeless(&self, k: usize) -> ControlFlow<()> {
        match self.total {
            Some(total) if self.most + total.saturating_sub(self.ballots.len()) < k => {
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

impl<A> QuorumPolicy<A> {
    /// The votes as a run report shows them: `4 by #0 #2 (agreed), 5 by #1, failed #3`.
    fn note<O, C>(&self, tally: &Tally<A::Key, O>, cx: &Cx<'_, C>)
    where
        A: Agreement<O>,
    {
        let Some(monitor) = cx.monitor() else { return };
        let mut answers: Vec<(usize, String)> = tally
            .answers
            .iter()
            .enumerate()
            .map(|(at, answer)| {
                let mut voters = answer.voters.clone();
                voters.sort_unstable();
                let agreed = if tally.agreed == Some(at) {
                    " (agreed)"
                } else {
                    ""
                };
                let said = self.agreement.said(&answer.key, &answer.output.1);
                (voters[0], format!("{said} by {}{agreed}", numbers(&voters)))
            })
            .collect();
        answers.sort_unstable_by_key(|(first, _)| *first);
        let mut failed: Vec<usize> = tally
            .ballots
            .iter()
            .filter(|(_, ballot)| ballot.is_err())
            .map(|(index, _)| *index)
            .collect();
        failed.sort_unstable();
        let mut parts: Vec<String> = answers.into_iter().map(|(_, text)| text).collect();
        if !failed.is_empty() {
            parts.push(format!("failed {}", numbers(&failed)));
        }
        monitor.note("votes", &parts.join(", "));
    }
}

/// `#0 #2`.
fn numbers(indices: &[usize]) -> String {
    let numbers: Vec<String> = indices.iter().map(|index| format!("#{index}")).collect();
    numbers.join(" ")
}

impl<O, A> GroupPolicy<O> for QuorumPolicy<A>
where
    O: Send,
    A: Agreement<O>,
{
    type State = Tally<A::Key, O>;
    type Out = Quorum<O>;

    fn begin(&self, branches: usize) -> Self::State {
        Tally {
            total: None,
            answers: Vec::new(),
            by_hash: HashMap::new(),
            hasher: RandomState::new(),
            ballots: Vec::with_capacity(branches),
            most: 0,
            agreed: None,
        }
    }

    fn counted(&self, tally: &mut Self::State, branches: usize) -> ControlFlow<()> {
        tally.total = Some(branches);
        tally.hopeless(self.k)
    }

    fn finished(
        &self,
        tally: &mut Self::State,
        index: usize,
        outcome: Result<O, PlanError>,
    ) -> ControlFlow<()> {
        let output = match outcome {
            Ok(output) => output,
            Err(err) => {
                tally.ballots.push((index, Err(err)));
                return tally.hopeless(self.k);
            }
        };
        let key = self.agreement.key(&output);
        let hash = self.agreement.hash(&key, &output, &tally.hasher);
        let same = tally.by_hash.entry(hash).or_default();
        let found = same.iter().copied().find(|&at| {
            let answer = &tally.answers[at];
            self.agreement
                .agree((&answer.key, &answer.output.1), (&key, &output))
        });
        let at = match found {
            Some(at) => {
                let answer = &mut tally.answers[at];
                answer.voters.push(index);
                if index < answer.output.0 {
                    answer.output = (index, output);
                }
                at
            }
            None => {
                same.push(tally.answers.len());
                tally.answers.push(Answer {
                    key,
                    output: (index, output),
                    voters: vec![index],
                });
                tally.answers.len() - 1
            }
        };
        tally.ballots.push((index, Ok(at)));
        let votes = tally.answers[at].voters.len();
        tally.most = tally.most.max(votes);
        if votes >= self.k {
            tally.agreed = Some(at);
            return ControlFlow::Break(());
        }
        tally.hopeless(self.k)
    }

    fn end<C>(
        &self,
        mut tally: Self::State,
        branches: &Branches<'_>,
        cut_off: Option<&CutOff<'_>>,
        cx: &Cx<'_, C>,
    ) -> Result<Quorum<O>, PlanError> {
        self.note(&tally, cx);
        if let Some(at) = tally.agreed {
            let Answer {
                output: (_, output),
                mut voters,
                ..
            } = tally.answers.swap_remove(at);
            voters.sort_unstable();
            return Ok(Quorum { output, voters });
        }
        tally.ballots.sort_unstable_by_key(|(index, _)| *index);
        let answers = &tally.answers;
        let cast = tally.ballots.into_iter().map(|(index, ballot)| Vote {
            index,
            branch: branches.name(index),
            ballot: match ballot {
                Ok(at) => {
                    Ballot::Said(self.agreement.said(&answers[at].key, &answers[at].output.1))
                }
                Err(err) => Ballot::Failed(err),
            },
        });
        let votes = Votes {
            needed: self.k,
            branches: tally.total.unwrap_or(branches.len()),
            cast: cast.collect(),
        };
        Err(match cut_off {
            Some(cut_off) => cut_off.group_timed_out_with(votes),
            None => PlanError::NoQuorum {
                node: NodeRef::current(cx).into(),
                votes: Box::new(votes),
            },
        })
    }
}
