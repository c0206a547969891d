//! [`Redis`]: state shared by processes, over a connection that reconnects by itself.

use redis::aio::ConnectionManager;

use super::{Conflict, Expect, Key, Store, StoreError, Versioned};

/// Redis, through redis-rs's `ConnectionManager`: one multiplexed connection that reconnects
/// when the server goes away and comes back. A key `K` is the hash `plan-state:K` with the
/// fields `version` and `value`; a compare-and-set is one Lua script, so atomic for every
/// process sharing the server.
#[derive(Clone)]
pub struct Redis {
    connection: ConnectionManager,
    write: redis::Script,
}

/// Where this store's keys live in the server's keyspace.
const NAMESPACE: &str = "plan-state:";

/// Writes `ARGV[2]` under `KEYS[1]` if its version is `ARGV[1]` (`""`: any, `"0"`: none);
/// returns `{new version}`, or `{-1, version, value}` for a conflict.
const WRITE: &str = r"
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= version then
    return {-1, version, redis.call('HGET', KEYS[1], 'value') or ''}
end
redis.call('HSET', KEYS[1], 'version', version + 1, 'value', ARGV[2])
return {version + 1}
";

impl Redis {
    /// The store on the server at `url` (`redis://127.0.0.1:6379`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| backend("connect", url, e))?;
        let connection = client
            .get_connection_manager()
            .await
            .map_err(|e| backend("connect", url, e))?;
        Ok(Redis {
            connection,
            write: redis::Script::new(WRITE),
        })
    }
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redis")
    }
}

fn backend(operation: &'static str, key: &str, source: redis::RedisError) -> StoreError {
    StoreError::Backend {
        operation,
        key: key.to_owned(),
        source: Box::new(source),
    }
}

fn parse(key: &Key, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

impl Store for Redis {
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
            .map_err(|e| backend("write", key.as_str(), e))?;
        let number = |v: &redis::Value| match v {
            redis::Value::Int(n) => Some(*n),
            _ => None,
        };
        match reply.as_slice() {
            [version] => Ok(Ok(number(version).unwrap_or(0) as u64)),
            [_, version, value] => {
                let version = number(version).unwrap_or(0) as u64;
                let current = if version == 0 {
                    None
                } else {
                    let text: String = redis::from_redis_value(value.clone()).map_err(|e| {
                        StoreError::Corrupt {
                            key: key.to_string(),
                            reason: e.to_string(),
                        }
                    })?;
                    Some(Versioned {
                        value: parse(key, &text)?,
                        version,
                    })
                };
                let expected = match expect {
                    Expect::Version(version) => version,
                    Expect::Anything => None,
                };
                Ok(Err(Conflict { expected, current }))
            }
            _ => Err(StoreError::Corrupt {
                key: key.to_string(),
                reason: "unexpected reply to a write".to_owned(),
            }),
        }
    }

    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let mut connection = self.connection.clone();
        let (version, value): (Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(format!("{NAMESPACE}{key}"))
            .arg("version")
            .arg("value")
            .query_async(&mut connection)
            .await
            .map_err(|e| backend("read", key.as_str(), e))?;
        match (version, value) {
            (Some(version), Some(text)) => Ok(Some(Versioned {
                value: parse(key, &text)?,
                version,
            })),
            _ => Ok(None),
        }
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let removed: u64 = redis::cmd("DEL")
            .arg(format!("{NAMESPACE}{key}"))
            .query_async(&mut connection)
            .await
            .map_err(|e| backend("delete", key.as_str(), e))?;
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
                .map_err(|e| backend("list", prefix, e))?;
            for name in batch {
                if let Some(key) = name.strip_prefix(NAMESPACE) {
                    keys.push(Key::new(key)?);
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
