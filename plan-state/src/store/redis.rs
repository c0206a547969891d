//! [`Redis`]: state shared by processes, over a connection that reconnects by itself.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Conflict, Expect, Key, Store, StoreError, Versioned, version};

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
/// `ARGV[3]` is the largest version a store keeps.
/// Replies `{"written", new version}`, `{"conflict", version, value}`, `{"invalid"}` when
/// the stored version is not one this store writes (another client's), or `{"max"}` when it
/// is the largest a store keeps; nothing is written then.
///
/// Versions stay decimal text, compared and raised as text: Lua's numbers are doubles, exact
/// only up to 2^53, so that `tonumber` would take two versions past it for one.
const WRITE: &str = r"
local function raised(digits)
    local i = #digits
    while i > 0 and string.sub(digits, i, i) == '9' do
        i = i - 1
    end
    if i == 0 then
        return '1' .. string.rep('0', #digits)
    end
    local next = string.char(string.byte(digits, i) + 1)
    return string.sub(digits, 1, i - 1) .. next .. string.rep('0', #digits - i)
end
local version = '0'
local stored = redis.call('HGET', KEYS[1], 'version')
if stored then
    local max = ARGV[3]
    if not string.match(stored, '^[1-9][0-9]*$') or #stored > #max
        or (#stored == #max and stored > max) then
        return {'invalid'}
    end
    version = stored
end
if ARGV[1] ~= '' and ARGV[1] ~= version then
    return {'conflict', version, redis.call('HGET', KEYS[1], 'value') or ''}
end
if version == ARGV[3] then
    return {'max'}
end
local next = raised(version)
redis.call('HSET', KEYS[1], 'version', next, 'value', ARGV[2])
return {'written', next}
";

/// A version as this store writes it in a hash: decimal digits without a leading zero, within
/// the versions a store keeps.
fn parse_version(text: &str) -> Option<u64> {
    if text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&v| version::is_valid(v))
}

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
            .arg(version::MAX.to_string())
            .invoke_async(&mut connection)
            .await
            .map_err(self.failed("write", key.as_str()))?;
        let corrupt = |reason: &str| StoreError::corrupt(&self.name, key.as_str(), reason);
        // Text, all of it; a value another client wrote may not be UTF-8.
        let reply: Vec<String> = reply
            .into_iter()
            .map(redis::from_redis_value)
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt(&e.to_string()))?;
        let parsed = |text: &str| {
            parse_version(text).ok_or_else(|| corrupt(&format!("its version is {text}")))
        };
        match reply
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["written", written] => parsed(written).map(Ok),
            ["conflict", "0", _] => Ok(Err(Conflict {
                expected: expected(expect),
                current: None,
            })),
            ["conflict", found, value] => Ok(Err(Conflict {
                expected: expected(expect),
                current: Some(Versioned {
                    version: parsed(found)?,
                    value: self.parse(key, value)?,
                }),
            })),
            ["invalid"] => Err(corrupt("its version is not a number")),
            ["max"] => Err(corrupt(&version::at_max())),
            _ => Err(corrupt("unexpected reply to a write")),
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
                version: parse_version(&version)
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

/// The version a write expected, for its conflict.
fn expected(expect: Expect) -> Option<u64> {
    match expect {
        Expect::Version(version) => version,
        Expect::Anything => None,
    }
}
