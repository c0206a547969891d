//! Named values — a `plan!` body of `let` bindings — run as a dependency graph: every binding
//! starts the moment its own sources have produced values, with no level barriers, inside the
//! plan's task.
//!
//! `plan!` writes, per block of bindings, a struct holding the bindings' plans and a `Plan`
//! impl whose `call` makes one [`Slot`] per binding, one [`bind`] future per binding reading
//! its sources' slots, and hands the futures to [`run`], which polls each binding only once
//! its sources are done. The impl's where-clauses type every edge, so a block costs what the
//! futures it runs cost, plus one uncontended lock per value passed.
//!
//! These are the pieces the expansion uses; they are not meant to be used by hand.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use plan_core::{Cx, Describe, GraphBuilder, Plan, PlanError};

use crate::arity::for_each_arity;
use crate::group::Branch;

/// How the bindings of a block depend on each other, as `plan!` found them: for each binding
/// (in the order written, so sources always come before the bindings that read them), the
/// bindings it reads and the bindings that read it, each listed once.
#[derive(Debug)]
pub struct Dependencies {
    sources: &'static [&'static [usize]],
    consumers: &'static [&'static [usize]],
}

impl Dependencies {
    /// The dependencies of a block whose binding `k` reads `sources[k]` (none: the block's
    /// input) and is read by `consumers[k]`.
    pub const fn new(
        sources: &'static [&'static [usize]],
        consumers: &'static [&'static [usize]],
    ) -> Self {
        Dependencies { sources, consumers }
    }
}

/// Where one binding's value waits for the bindings that read it. `uses` counts the reads
/// still to come: every read but the last gets a clone, the last one the value itself, and a
/// value nobody reads (`let _audit = ..`) is dropped as soon as it is made.
#[derive(Debug)]
pub struct Slot<T> {
    state: Mutex<(Option<T>, usize)>,
}

impl<T> Slot<T> {
    /// An empty slot whose value will be read `uses` times.
    pub fn new(uses: usize) -> Self {
        Slot {
            state: Mutex::new((None, uses)),
        }
    }

    /// A slot holding `value`, to be read `uses` times: the block's input.
    pub fn with(value: T, uses: usize) -> Self {
        let slot = Slot::new(uses);
        slot.put(value);
        slot
    }

    /// Stores the binding's value (or drops it, if nobody reads it).
    pub fn put(&self, value: T) {
        let mut state = self.lock();
        if state.1 > 0 {
            state.0 = Some(value);
        }
    }

    /// The value, for its only reader.
    pub fn take(&self) -> T {
        self.lock().0.take().expect(FILLED)
    }

    /// A clone of the value, or the value itself for its last reader.
    pub fn share(&self) -> T
    where
        T: Clone,
    {
        let mut state = self.lock();
        state.1 = state.1.saturating_sub(1);
        if state.1 == 0 {
            state.0.take().expect(FILLED)
        } else {
            state.0.clone().expect(FILLED)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<T>, usize)> {
        // Only a user's `Clone` can panic under the lock; the slot's state is still sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`run`] starts a binding only once its sources are done, so their values are there.
const FILLED: &str = "a binding starts only after its sources produced their values";

/// How a binding reads one source: [`Take`] for the only reader, [`Share`] for one of several;
/// a tuple of them reads several sources into a tuple.
pub trait Read {
    /// What is read.
    type Value;
    /// Reads it. Called once, when the binding starts.
    fn read(self) -> Self::Value;
}

/// Reads a slot's value: its only reader.
#[derive(Debug)]
pub struct Take<'s, T>(pub &'s Slot<T>);

/// Reads a clone of a slot's value, or the value itself for the last of its readers.
#[derive(Debug)]
pub struct Share<'s, T>(pub &'s Slot<T>);

impl<T> Read for Take<'_, T> {
    type Value = T;
    fn read(self) -> T {
        self.0.take()
    }
}

impl<T: Clone> Read for Share<'_, T> {
    type Value = T;
    fn read(self) -> T {
        self.0.share()
    }
}

macro_rules! read_tuples {
    ($($R:ident $i:tt),+) => {
        impl<$($R: Read),+> Read for ($($R,)+) {
            type Value = ($($R::Value,)+);
            fn read(self) -> Self::Value {
                ($(self.$i.read(),)+)
            }
        }
    };
}

for_each_arity!(read_tuples);

/// One binding: when first polled — once its sources are done — it reads them with `read` and
/// runs `plan` on them with `call` (the plan's `Plan::call`); the value goes to `out`. `S`
/// says where the running plan's future lives: [`Inline`], or [`Boxed`] for large blocks.
pub fn bind<'s, S, P, R, C, F, Fut>(
    call: F,
    plan: &'s P,
    read: R,
    out: &'s Slot<<Fut::Output as PlanOutput>::Value>,
    cx: Cx<'s, C>,
) -> Bind<'s, S, P, R, C, F, Fut>
where
    S: Storage,
    R: Read,
    F: FnOnce(&'s P, R::Value, Cx<'s, C>) -> Fut,
    Fut: Future,
    Fut::Output: PlanOutput,
{
    Bind {
        start: Some((call, read)),
        plan,
        cx,
        run: None,
        out,
    }
}

/// Where a running binding's future lives.
pub trait Storage {
    /// A future `F`, stored.
    type Of<F: Future>: Future<Output = F::Output>;
    /// Stores `future`.
    fn store<F: Future>(future: F) -> Self::Of<F>;
}

/// In the block's own future: no allocation, for blocks of a few bindings.
#[derive(Debug)]
pub struct Inline;

/// On the heap, from the binding's start to its end: a block of many bindings then holds
/// only its running bindings' futures, and its own future stays small (a plan of ten nested
/// 100-binding blocks overflowed a 2 MiB stack with every binding inline).
#[derive(Debug)]
pub struct Boxed;

impl Storage for Inline {
    type Of<F: Future> = F;
    fn store<F: Future>(future: F) -> F {
        future
    }
}

impl Storage for Boxed {
    type Of<F: Future> = Pin<Box<F>>;
    fn store<F: Future>(future: F) -> Pin<Box<F>> {
        Box::pin(future)
    }
}

/// A plan's result: `Result<T, PlanError>`.
pub trait PlanOutput {
    /// The value on success.
    type Value;
    /// As a `Result`.
    fn result(self) -> Result<Self::Value, PlanError>;
}

impl<T> PlanOutput for Result<T, PlanError> {
    type Value = T;
    fn result(self) -> Self {
        self
    }
}

pin_project_lite::pin_project! {
    /// The future of one binding; see [`bind`]. A struct of small types rather than an
    /// `async` block or closure: those carry every generic parameter of the block's `Plan`
    /// impl (two per binding), and a 200-binding block took 10 s to build with them, 3 s
    /// without.
    pub struct Bind<'s, S: Storage, P, R, C, F, Fut: Future> where Fut::Output: PlanOutput {
        start: Option<(F, R)>,
        plan: &'s P,
        cx: Cx<'s, C>,
        #[pin]
        run: Option<S::Of<Fut>>,
        out: &'s Slot<<Fut::Output as PlanOutput>::Value>,
    }
}

impl<'s, S, P, R, C, F, Fut> Future for Bind<'s, S, P, R, C, F, Fut>
where
    S: Storage,
    R: Read,
    F: FnOnce(&'s P, R::Value, Cx<'s, C>) -> Fut,
    Fut: Future,
    Fut::Output: PlanOutput,
{
    type Output = Result<(), PlanError>;

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some((call, read)) = this.start.take() {
            this.run
                .set(Some(S::store(call(this.plan, read.read(), *this.cx))));
        }
        let Some(run) = this.run.as_mut().as_pin_mut() else {
            return Poll::Ready(Ok(()));
        };
        let value = std::task::ready!(run.poll(task)).result()?;
        this.run.set(None);
        this.out.put(value);
        Poll::Ready(Ok(()))
    }
}

/// A binding's future, as [`run`] takes it: pinned in the block's frame.
pub type Binding<'f> = Branch<'f, ()>;

/// Runs a block's bindings: each is first polled the moment its last source finishes, and the
/// first error is returned at once. The bindings are the caller's futures, pinned in its frame,
/// so whatever is still running is dropped with that frame, before the block's result is
/// seen.
///
/// Every wake polls the bindings that are running, skipping those before the first unfinished
/// one: a binding's sources are always earlier than it, so one pass in order starts every
/// binding that a finishing one makes ready.
pub async fn run<const N: usize>(
    deps: &'static Dependencies,
    bindings: [Binding<'_>; N],
) -> Result<(), PlanError> {
    let mut bindings = bindings.map(Some);
    let mut waiting: [usize; N] = std::array::from_fn(|k| deps.sources[k].len());
    let mut first_unfinished = 0;
    poll_fn(|task| {
        let mut done_so_far = true;
        let from = first_unfinished;
        for index in from..N {
            if waiting[index] == 0
                && let Some(binding) = bindings[index].as_mut()
                && let Poll::Ready(outcome) = binding.as_mut().poll(task)
            {
                outcome?;
                bindings[index] = None;
                for &consumer in deps.consumers[index] {
                    waiting[consumer] -= 1;
                }
            }
            done_so_far &= bindings[index].is_none();
            if done_so_far {
                first_unfinished = index + 1;
            }
        }
        if first_unfinished == N {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// The output of a block that ends in names rather than steps (`(app, ui)`): the values as
/// they are.
#[derive(Clone, Copy, Debug)]
pub struct Output;

impl Describe for Output {}

impl<T: Send, C: Sync> Plan<T, C> for Output {
    type Out = T;

    async fn call(&self, input: T, _: Cx<'_, C>) -> Result<T, PlanError> {
        Ok(input)
    }
}

/// A block's graph: each binding's nodes, with edges from the nodes its sources' data leaves
/// by (from `preds`, the block's input, for a binding without sources). Returns the last
/// binding's exits: the block's output.
pub fn describe(
    bindings: &[&dyn Describe],
    deps: &Dependencies,
    graph: &mut GraphBuilder,
    preds: &[usize],
) -> Vec<usize> {
    let mut exits: Vec<Vec<usize>> = Vec::with_capacity(bindings.len());
    for (binding, sources) in bindings.iter().zip(deps.sources) {
        let from = if sources.is_empty() {
            preds.to_vec()
        } else {
            sources
                .iter()
                .flat_map(|&s| exits[s].iter().copied())
                .collect()
        };
        exits.push(binding.describe(graph, &from));
    }
    exits.pop().unwrap_or_else(|| preds.to_vec())
}
