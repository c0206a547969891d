//! Where outcomes go: a store and a topic, each behind an object-safe trait so that a
//! reactor's type does not grow a parameter per option. Each costs one boxed future per
//! event, next to a plan run and a write.

use futures::future::BoxFuture;
use plan_state::store::{Conflict, Key, Store, StoreError, Versioned};

use crate::bus::{Bus, BusError, Message, Name};

/// The part of a [`Store`] that a reactor uses.
pub(super) trait Records: Send + Sync {
    fn name(&self) -> &str;

    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Versioned>, StoreError>>;

    /// Writes `value` only if `key` is at version `expected` (`None`: has no value).
    fn write_if<'a>(
        &'a self,
        key: &'a Key,
        expected: Option<u64>,
        value: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<Result<u64, Conflict>, StoreError>>;
}

impl<S: Store> Records for S {
    fn name(&self) -> &str {
        Store::name(self)
    }

    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Versioned>, StoreError>> {
        Box::pin(Store::get(self, key))
    }

    fn write_if<'a>(
        &'a self,
        key: &'a Key,
        expected: Option<u64>,
        value: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<Result<u64, Conflict>, StoreError>> {
        Box::pin(self.compare_and_set(key, expected, value))
    }
}

/// Counts a loop under `key`: 1 for the first loop of a reactor on this store. A
/// compare-and-set, so that loops starting at once, in any process sharing the store, each
/// get a number of their own.
pub(super) async fn count_loop(records: &dyn Records, key: &Key) -> Result<u64, StoreError> {
    loop {
        let (count, version) = match records.get(key).await? {
            None => (0, None),
            Some(current) => {
                let count = current.value.as_u64().ok_or_else(|| StoreError::Corrupt {
                    store: records.name().to_owned(),
                    key: key.to_string(),
                    reason: format!("a count of loops is a number, not {}", current.value),
                })?;
                (count, Some(current.version))
            }
        };
        let next = count + 1;
        if records.write_if(key, version, &next.into()).await?.is_ok() {
            return Ok(next);
        }
    }
}

/// A topic on a bus, to publish outcomes on.
pub(super) trait Outlet: Send + Sync {
    fn topic(&self) -> &Name;

    fn publish(&self, message: Message) -> BoxFuture<'_, Result<(), BusError>>;
}

pub(super) struct Publisher<B> {
    pub(super) bus: B,
    pub(super) topic: Name,
}

impl<B: Bus> Outlet for Publisher<B> {
    fn topic(&self) -> &Name {
        &self.topic
    }

    fn publish(&self, message: Message) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(self.bus.publish(&self.topic, message))
    }
}
