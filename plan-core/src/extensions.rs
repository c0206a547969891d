//! Values a run carries for the tools inside it — a budget shared by every branch, a journal —
//! found by type.

use std::any::Any;
use std::fmt;

/// Values a run carries, each found by its type with [`Cx::extension`](crate::Cx::extension):
/// what a tool needs from the run that calls it rather than from its own configuration (a
/// budget every branch of this run spends from). A run without extensions pays nothing.
///
/// ```
/// use plan_core::{Cx, Describe, Extensions, Plan, PlanError};
///
/// struct Quota(u32);
///
/// struct ReadQuota;
/// impl Describe for ReadQuota {}
/// impl Plan<()> for ReadQuota {
///     type Out = Option<u32>;
///     async fn call(&self, _: (), cx: Cx<'_, ()>) -> Result<Option<u32>, PlanError> {
///         Ok(cx.extension::<Quota>().map(|q| q.0))
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let quota = Quota(7);
/// let extensions = Extensions::new().with(&quota);
/// let cx = Cx::root(&()).extended(&extensions);
/// assert_eq!(ReadQuota.call((), cx).await.unwrap(), Some(7));
/// assert_eq!(ReadQuota.call((), Cx::root(&())).await.unwrap(), None);
/// # });
/// ```
#[derive(Default)]
pub struct Extensions<'a> {
    values: Vec<&'a (dyn Any + Sync)>,
}

impl<'a> Extensions<'a> {
    /// No extensions.
    pub fn new() -> Self {
        Extensions::default()
    }

    /// These extensions and `value` (which shadows an earlier value of its type).
    pub fn with<T: Any + Sync>(mut self, value: &'a T) -> Self {
        self.values.push(value);
        self
    }

    /// These extensions and `value`, whose type is known only at run time (a value an owned
    /// set of options holds).
    pub fn with_dyn(mut self, value: &'a (dyn Any + Sync)) -> Self {
        self.values.push(value);
        self
    }

    /// These extensions and all of `other`'s, which shadow these.
    pub fn with_all(mut self, other: &Extensions<'a>) -> Self {
        self.values.extend_from_slice(&other.values);
        self
    }

    /// The value of type `T`, if the run carries one.
    pub fn get<T: Any>(&self) -> Option<&'a T> {
        self.values
            .iter()
            .rev()
            .find_map(|value| (*value as &dyn Any).downcast_ref::<T>())
    }
}

impl fmt::Debug for Extensions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Extensions({} values)", self.values.len())
    }
}
