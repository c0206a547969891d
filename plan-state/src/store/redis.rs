//! [`Redis`]: state shared by processes, over a connection that reconnects by itself.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Conflict, Expect, Key, Store, StoreError, Versioned};

/// Redis, through redis-rs's `ConnectionManager`: one multiplexed connection that reconnects
/// when the server goes away and comes back. A key `K` is the hash `plan-state:K` with the
/// fields `version` and `value`; a compare-and-set is one Lua script, so atomic for every
/// process sharing the server.
///
/// A server that is down or unreachable makes every operation fail within a few seconds,
/// never hang: each connection attempt gives up after 1 s, each reply after 2 s, and a lost
/// connection is retried twice (after at most 0.5 s each) before the operation fails; the
/// next operation tries again.
#[derive(Clone)]
pub struct Redis {
    connection: ConnectionManager,
    write: redis::Script,
    /// `redis HOST:PORT` (and `/DB` when not 0): never the URL, which may hold a password.
    name: Arc<str>,
}

/// How long a connection attempt may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a reply may take: a generous bound for a script over a large value.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How many times a lost connection is retried before an operation fails.
const RECONNECTIONS: usize = 2;
/// The longest wait between two connection attempts.
const MAX_RECONNECTION_DELAY: Duration = Duration::from_millis(500);

/// Where this store's keys live in the server's keyspace.
const NAMESPACE: &str = "plan-state:";

/// Writes `ARGV[2]` under `KEYS[1]` if its version is `ARGV[1]` (`""`: any, `"0"`: none);
/// returns `{new version}`, `{"conflict", version, value}` for a conflict, or `{}` when the
/// stored version is not a number (written by another client): nothing is written then.
const WRITE: &str = r"
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version == nil then
    return {}
end
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= version then
    return {'conflict', version, redis.call('HGET', KEYS[1], 'value') or ''}
end
redis.call('HSET', KEYS[1], 'version', version + 1, 'value', ARGV[2])
return {version + 1}
";

impl Redis {
    /// The store on the server at `url` (`redis://127.0.0.1:6379`, `redis://:PASSWORD@HOST`),
    /// named `redis HOST:PORT`. A server that does not answer is an error within a few
    /// seconds ([`StoreError::Open`]).
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use plan_state::store::{Redis, Store};
    ///
    /// let store = Redis::connect("redis://:hunter2@127.0.0.1:6379/2").await.unwrap();
    /// assert_eq!(store.name(), "redis 127.0.0.1:6379/2"); // no password
    /// # });
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // An unparsable URL is not shown at all: the password in it may be where it failed.
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::open("redis at a URL that does not parse", e.to_string()))?;
        let info = client.get_connection_info();
        let name: Arc<str> = match info.redis_settings().db() {
            0 => format!("redis {}", info.addr()),
            db => format!("redis {}/{db}", info.addr()),
        }
        .into();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RECONNECTIONS)
            .set_max_delay(MAX_RECONNECTION_DELAY);
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| StoreError::open(&name, e))?;
        Ok(Redis {
            connection,
            write: redis::Script::new(WRITE),
            name,
        })
    }

    fn failed(
        &self,
        operation: &'static str,
        key: &str,
    ) -> impl FnOnce(redis::RedisError) -> StoreError {
        move |e| StoreError::backend(&self.name, operation, key, e)
    }

    fn parse(&self, key: &Key, text: &str) -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::corrupt(&self.name, key.as_str(), e))
    }
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Redis").field(&self.name).finish()
    }
}

impl Store for Redis {
    fn name(&self) -> &str {
        &self.name
    }

    async fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> Result<Result<u64, Conflict>, StoreError> {
        let expected_arg = match expect {
            Expect::Anything => String::new(),
            Expect::Version(version) => version.unwrap_or(0).to_string(),
        };
        let mut connection = self.connection.clone();
        let reply: Vec<redis::Value> = self
            .write
            .key(format!("{NAMESPACE}{key}"))
            .arg(expected_arg)
            .arg(value.to_string())
            .invoke_async(&mut connection)
            .await
            .map_err(self.failed("write", key.as_str()))?;
        let corrupt = |reason: &str| StoreError::corrupt(&self.name, key.as_str(), reason);
        let version = |v: &redis::Value| match v {
            redis::Value::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        };
        match reply.as_slice() {
            [written] => version(written)
                .filter(|&v| v > 0)
                .map(Ok)
                .ok_or_else(|| corrupt("unexpected reply to a write")),
            [conflict, found, value] if version(conflict).is_none() => {
                let found = version(found).ok_or_else(|| corrupt("its version is not a number"))?;
                let current = if found == 0 {
                    None
                } else {
                    let text: String = redis::from_redis_value(value.clone())
                        .map_err(|e| corrupt(&e.to_string()))?;
                    Some(Versioned {
                        value: self.parse(key, &text)?,
                        version: found,
                    })
                };
                let expected = match expect {
                    Expect::Version(version) => version,
                    Expect::Anything => None,
                };
                Ok(Err(Conflict { expected, current }))
            }
            _ => Err(corrupt("its version is not a number")),
        }
    }

    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let mut connection = self.connection.clone();
        let (version, value): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(format!("{NAMESPACE}{key}"))
            .arg("version")
            .arg("value")
            .query_async(&mut connection)
            .await
            .map_err(self.failed("read", key.as_str()))?;
        let corrupt = |reason: &str| StoreError::corrupt(&self.name, key.as_str(), reason);
        match (version, value) {
            (None, None) => Ok(None),
            (Some(version), Some(text)) => Ok(Some(Versioned {
                version: version
                    .parse()
                    .ok()
                    .filter(|&v| v > 0)
                    .ok_or_else(|| corrupt("its version is not a number"))?,
                value: self.parse(key, &text)?,
            })),
            // Half a value is not "no value": something other than this store wrote it.
            (None, Some(_)) => Err(corrupt("it has no version")),
            (Some(_), None) => Err(corrupt("it has a version but no value")),
        }
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let removed: u64 = redis::cmd("DEL")
            .arg(format!("{NAMESPACE}{key}"))
            .query_async(&mut connection)
            .await
            .map_err(self.failed("delete", key.as_str()))?;
        Ok(removed > 0)
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        // Keys hold no glob characters (`*?[]\`), so the prefix needs no escaping; a prefix
        // that is not a valid key's start matches nothing anyway.
        if prefix.contains(['*', '?', '[', ']', '\\']) {
            return Ok(Vec::new());
        }
        let mut connection = self.connection.clone();
        let pattern = format!("{NAMESPACE}{prefix}*");
        let mut cursor = 0u64;
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(200)
                .query_async(&mut connection)
                .await
                .map_err(self.failed("list", prefix))?;
            for name in batch {
                if let Some(key) = name.strip_prefix(NAMESPACE) {
                    // A key written by another client may be one this crate would refuse.
                    let valid =
                        Key::new(key).map_err(|e| StoreError::corrupt(&self.name, key, e))?;
                    keys.push(valid);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}
