//! [`NatsStore`]: state shared by processes on one machine or several, in a NATS JetStream
//! key-value bucket, replicated over a cluster.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::{GetStreamError, GetStreamErrorKind, KeyValueError};
use async_nats::jetstream::kv::UpdateErrorKind;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind};
use async_nats::jetstream::{self, ErrorCode, kv};
use async_nats::{HeaderMap, ServerAddr};
use bytes::Bytes;
use futures::TryStreamExt as _;
use serde::Deserialize;

use plan_state::store::{Conflict, Expect, Key, Store, StoreError, Versioned, version};

/// How a [`NatsStore`] store is set up.
///
/// ```
/// use std::time::Duration;
/// use plan_remote::nats::NatsStoreConfig;
///
/// let config = NatsStoreConfig { replicas: 3, ..NatsStoreConfig::default() };
/// assert_eq!((config.bucket.as_str(), config.timeout), ("plan-state", Duration::from_secs(5)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsStoreConfig {
    /// The key-value bucket: ASCII letters, digits, `_` and `-`; made if missing. Stores on
    /// one server (or cluster) with the same bucket are one store. Default `plan-state`.
    pub bucket: String,
    /// On how many servers of a cluster the bucket keeps each value, 1 to 5, when it is made;
    /// a bucket that exists keeps its own. Default 1.
    pub replicas: usize,
    /// How long connecting, opening the bucket, and each operation may take before it fails.
    /// Within it, an operation whose request fails (a node lost, a stream's leader being
    /// elected) tries again, each request taking at most a fifth of it: give a cluster's
    /// store time for an election (the `cluster` example gives 30 s). Default 5 s.
    pub timeout: Duration,
}

impl Default for NatsStoreConfig {
    fn default() -> Self {
        NatsStoreConfig {
            bucket: "plan-state".to_owned(),
            replicas: 1,
            timeout: Duration::from_secs(5),
        }
    }
}

impl NatsStoreConfig {
    /// Why the server would refuse this configuration, if it would.
    fn check(&self) -> Result<(), String> {
        let bucket = &self.bucket;
        if bucket.is_empty()
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!(
                "bad bucket name `{}`: a bucket is named with ASCII letters, digits, `_` and `-`",
                bucket.escape_debug()
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return Err(format!("{} replicas: a bucket has 1 to 5", self.replicas));
        }
        if self.timeout.is_zero() {
            return Err("a timeout of zero: no operation could succeed".to_owned());
        }
        Ok(())
    }
}

/// A NATS JetStream key-value bucket (`nats-server -js`), for state shared by processes on
/// several machines; with [`NatsStoreConfig::replicas`] 3 on a cluster of three, every value is
/// kept on three servers and the store goes on while any two of them run.
///
/// A key's entry holds `{"version": N, "value": ..}`, as a [`JsonFiles`](plan_state::store::JsonFiles)
/// file does: the bucket's own revision is a sequence over the whole bucket, not the
/// per-key version every store counts (1 for a key's first write, again 1 after a delete).
/// Each write reads the key's entry and writes only if the entry's revision is still the
/// one read (`kv.update`, and for a key with nothing under it, the revision of its delete
/// marker or 0, as `kv.create` does): so compare-and-set is exact across every process
/// sharing the bucket, and a write that lost a race reads again. Reads go to the bucket's
/// stream leader (not a direct get, which any replica may answer from behind), so that a
/// read after a write sees it. A delete purges the key (its history with it).
///
/// Keys are NATS subjects, which allow fewer characters than a [`Key`]: each byte but ASCII
/// letters, digits, `_`, `-` and `/` is written `=XX` (its hex), `:` as `=3A`, `.` as `=2E`,
/// `=` as `=3D`. The code keeps prefixes, so [`keys`](Store::keys) reads the bucket's keys
/// (all of them: NATS filters whole `.`-separated tokens only) and keeps those that start
/// with the prefix's code.
///
/// A server that is down or unreachable makes every operation fail within
/// [`NatsStoreConfig::timeout`], never hang; the connection reconnects by itself (to any server
/// given) when one is back. A write that fails that way may still have been made.
///
/// ```
/// use plan_state::store::{Key, Store};
/// use plan_remote::nats::NatsStore;
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let server = test_support::nats::NatsServer::start();
/// # let url = server.url();
/// let store = NatsStore::connect(&url).await.unwrap();
/// let key = Key::new("agents/ada:1").unwrap(); // `agents/ada=3A1` in the bucket
/// let v1 = store.put(&key, &json!({ "turns": 1 })).await.unwrap();
/// assert_eq!(v1, 1);
/// // A write that assumes an older version is refused, and says what is there.
/// let conflict = store.compare_and_set(&key, None, &json!({})).await.unwrap().unwrap_err();
/// assert_eq!(conflict.current.unwrap().version, v1);
/// assert_eq!(store.keys("agents/ada:").await.unwrap(), [key]);
/// # });
/// ```
#[derive(Clone)]
pub struct NatsStore {
    kv: kv::Store,
    timeout: Duration,
    /// `nats HOST:PORT bucket B`: never the URL, which may hold a password.
    name: Arc<str>,
}

impl std::fmt::Debug for NatsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Nats").field(&self.name).finish()
    }
}

/// A key's entry, as the store writes it.
#[derive(Deserialize)]
struct Entry<V> {
    version: u64,
    value: V,
}

/// What a key's subject holds last.
struct Last {
    /// The revision of its last entry (its delete marker's, if deleted); 0 if none.
    revision: u64,
    /// Its value, unless deleted.
    value: Option<Bytes>,
}

impl NatsStore {
    /// The store in the default [`NatsStoreConfig`]'s bucket on the server at `url`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        NatsStore::connect_with(url, NatsStoreConfig::default()).await
    }

    /// The store on the server at `url` (`nats://127.0.0.1:4222`, `nats://USER:PASS@HOST`;
    /// the servers of a cluster separated by `,`), in `config`'s bucket, made if missing;
    /// named `nats HOST:PORT bucket B` (`HOST:PORT,HOST:PORT` for several). A server that does
    /// not answer, or runs without JetStream, is an error within `config.timeout`
    /// ([`StoreError::Open`]).
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use plan_remote::nats::{NatsStore, NatsStoreConfig};
    /// use plan_state::store::Store;
    ///
    /// let urls = "nats://app:hunter2@10.0.0.1:4222,nats://app:hunter2@10.0.0.2:4222";
    /// let config = NatsStoreConfig { bucket: "agents".into(), replicas: 3, ..NatsStoreConfig::default() };
    /// let store = NatsStore::connect_with(urls, config).await.unwrap();
    /// assert_eq!(store.name(), "nats 10.0.0.1:4222,10.0.0.2:4222 bucket agents"); // no password
    /// # });
    /// ```
    pub async fn connect_with(url: &str, config: NatsStoreConfig) -> Result<Self, StoreError> {
        let servers =
            servers(url).map_err(|e| StoreError::open("nats at a URL that does not parse", e))?;
        let at = hosts(&servers);
        let name = format!("nats {at} bucket {}", config.bucket);
        config.check().map_err(|e| StoreError::open(&name, e))?;
        let options = async_nats::ConnectOptions::new()
            .name("plan-state")
            .connection_timeout(config.timeout);
        let connecting = with_credentials(options, &servers)
            .map_err(|e| StoreError::open(&name, e))?
            .connect(servers);
        // The connection timeout bounds one attempt; this bounds them all, and name lookups.
        let client = tokio::time::timeout(config.timeout, connecting)
            .await
            .map_err(|_| StoreError::open(&name, no_answer(config.timeout)))?
            .map_err(|e| StoreError::open(&name, e))?;
        NatsStore::open(client, config, name.into()).await
    }

    /// The store in `config`'s bucket, over a connection of the caller's (one connection for
    /// a process's store and its other NATS work); named `nats HOST:PORT bucket B` after the
    /// server it is connected to, as that server gives its address.
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use plan_remote::nats::{NatsStore, NatsStoreConfig};
    ///
    /// let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
    /// let store = NatsStore::with_client(client.clone(), NatsStoreConfig::default()).await.unwrap();
    /// # });
    /// ```
    pub async fn with_client(
        client: async_nats::Client,
        config: NatsStoreConfig,
    ) -> Result<Self, StoreError> {
        let server = client.server_info();
        let at = address(&server.host, server.port);
        let name = format!("nats {at} bucket {}", config.bucket);
        config.check().map_err(|e| StoreError::open(&name, e))?;
        NatsStore::open(client, config, name.into()).await
    }

    /// Opens `config`'s bucket, made if missing, over `client`.
    async fn open(
        client: async_nats::Client,
        config: NatsStoreConfig,
        name: Arc<str>,
    ) -> Result<Self, StoreError> {
        // One request may take a fraction of an operation's time: an operation tries again
        // within its timeout when a request fails (a node lost, a leader being elected).
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(request_timeout(config.timeout))
            .build(client);
        let opening = async {
            // The account's JetStream info, asked for as JSON: an error, or no responder, means
            // no JetStream. (`query_account` would parse it into fields a 2.9 server lacks.)
            let info: serde_json::Value = jetstream
                .request("INFO", &())
                .await
                .map_err(|e| format!("no JetStream: {e}"))?;
            if let Some(error) = info.get("error") {
                return Err(format!("no JetStream: {error}"));
            }
            match jetstream.get_key_value(&config.bucket).await {
                Ok(kv) => return Ok(kv),
                Err(e) if !is_missing(&e) => return Err(e.to_string()),
                Err(_) => {}
            }
            // Made as `create_key_value` would make it, which cannot on a 2.9 server: it
            // reads the account's info with `query_account` first.
            let made = jetstream.create_stream(bucket_stream(&config)).await;
            // Another process may have made it in between, with a configuration of its own.
            jetstream
                .get_key_value(&config.bucket)
                .await
                .map_err(|e| match made {
                    Err(made) => made.to_string(),
                    Ok(_) => e.to_string(),
                })
        };
        let kv = tokio::time::timeout(config.timeout, opening)
            .await
            .map_err(|_| StoreError::open(&name, no_answer(config.timeout)))?
            .map_err(|e| StoreError::open(&name, e))?;
        Ok(NatsStore {
            kv,
            timeout: config.timeout,
            name,
        })
    }

    /// `work` on `key`, failed as `operation` if it takes longer than the store's timeout:
    /// a request the server does not answer has its own timeout, but a connection that is
    /// down also holds up what waits for it to come back (a listing's consumer).
    async fn bounded<T>(
        &self,
        operation: &'static str,
        key: &str,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| Err(self.failed(operation, key)(no_answer(self.timeout))))
    }

    fn failed<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
        &self,
        operation: &'static str,
        key: &str,
    ) -> impl FnOnce(E) -> StoreError {
        move |e| StoreError::backend(&self.name, operation, key, e)
    }

    /// What `key`'s subject (`code`, the key's code) holds last, read from the stream leader.
    async fn last(
        &self,
        operation: &'static str,
        key: &Key,
        code: &str,
    ) -> Result<Last, StoreError> {
        let subject = format!("{}{code}", self.kv.prefix);
        match self
            .kv
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
        {
            Ok(message) => Ok(Last {
                revision: message.sequence,
                value: (!is_removal(&message.headers)).then_some(message.payload),
            }),
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(Last {
                revision: 0,
                value: None,
            }),
            Err(e) => Err(self.failed(operation, key.as_str())(e)),
        }
    }

    /// `last`, tried again after a failed request until it succeeds: an operation's
    /// timeout ([`NatsStore::bounded`]) ends the tries. Only for what is safe to ask again.
    async fn last_patiently(
        &self,
        operation: &'static str,
        key: &Key,
        code: &str,
    ) -> Result<Last, StoreError> {
        loop {
            match self.last(operation, key, code).await {
                Ok(last) => return Ok(last),
                Err(e) => {
                    tracing::debug!(store = %self.name, error = %e, "trying again");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    /// `key`'s entry, read whole.
    fn parse(&self, key: &Key, bytes: &[u8]) -> Result<Versioned, StoreError> {
        let entry: Entry<serde_json::Value> = self.entry(key, bytes)?;
        Ok(Versioned {
            value: entry.value,
            version: entry.version,
        })
    }

    /// `key`'s entry, with its version checked; its value is checked as JSON, and made
    /// into what `V` makes of it (nothing, for [`serde::de::IgnoredAny`]).
    fn entry<'de, V: Deserialize<'de>>(
        &self,
        key: &Key,
        bytes: &'de [u8],
    ) -> Result<Entry<V>, StoreError> {
        let corrupt = |reason: String| StoreError::corrupt(&self.name, key.as_str(), reason);
        let entry: Entry<V> = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if !version::is_valid(entry.version) {
            return Err(corrupt(format!("its version is {}", entry.version)));
        }
        Ok(entry)
    }
}

impl Store for NatsStore {
    fn name(&self) -> &str {
        &self.name
    }

    async fn get(&self, key: &Key) -> Result<Option<Versioned>, StoreError> {
        let code = encode(key.as_str());
        self.bounded("read", key.as_str(), async {
            let last = self.last_patiently("read", key, &code).await?;
            last.value.map(|bytes| self.parse(key, &bytes)).transpose()
        })
        .await
    }

    async fn write(
        &self,
        key: &Key,
        expect: Expect,
        value: &serde_json::Value,
    ) -> Result<Result<u64, Conflict>, StoreError> {
        let code = encode(key.as_str());
        self.bounded("write", key.as_str(), async {
            // A write whose request failed may still have been applied: if what it wrote is
            // there when it looks again, it was.
            let mut unsure: Option<(u64, String)> = None;
            loop {
                let last = self.last_patiently("write", key, &code).await?;
                if let (Some((version, sent)), Some(bytes)) = (&unsure, &last.value)
                    && bytes.as_ref() == sent.as_bytes()
                {
                    return Ok(Ok(*version));
                }
                // Only the version, as SQLite does: reading a large value costs more than
                // writing the new one; it is checked when it is read.
                let found = match &last.value {
                    Some(bytes) => Some(self.entry::<serde::de::IgnoredAny>(key, bytes)?.version),
                    None => None,
                };
                if let Expect::Version(expected) = expect
                    && expected != found
                {
                    let current = last
                        .value
                        .map(|bytes| self.parse(key, &bytes))
                        .transpose()?;
                    return Ok(Err(Conflict { expected, current }));
                }
                let next = version::next(found)
                    .map_err(|reason| StoreError::corrupt(&self.name, key.as_str(), reason))?;
                let entry = format!(r#"{{"version":{next},"value":{value}}}"#);
                match self
                    .kv
                    .update(&code, entry.clone().into(), last.revision)
                    .await
                {
                    Ok(_) => return Ok(Ok(next)),
                    // Another write came between this one's read and its write: read again.
                    Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => continue,
                    Err(e) => {
                        tracing::debug!(store = %self.name, error = %e, "trying again");
                        unsure = Some((next, entry));
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
        })
        .await
    }

    async fn delete(&self, key: &Key) -> Result<bool, StoreError> {
        let code = encode(key.as_str());
        self.bounded("delete", key.as_str(), async {
            // A purge whose request failed may still have been applied.
            let mut unsure = false;
            loop {
                let last = self.last_patiently("delete", key, &code).await?;
                if last.value.is_none() {
                    return Ok(unsure);
                }
                match self
                    .kv
                    .purge_expect_revision(&code, Some(last.revision))
                    .await
                {
                    Ok(()) => return Ok(true),
                    // Written in between: what is there now is what to delete.
                    Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => continue,
                    Err(e) => {
                        tracing::debug!(store = %self.name, error = %e, "trying again");
                        unsure = true;
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
        })
        .await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        let wanted = encode(prefix);
        self.bounded("list", prefix, async {
            let codes: Vec<String> = loop {
                let listed = async {
                    let keys = self.kv.keys().await.map_err(self.failed("list", prefix))?;
                    keys.try_collect()
                        .await
                        .map_err(self.failed("list", prefix))
                };
                match listed.await {
                    Ok(codes) => break codes,
                    Err(e) => {
                        tracing::debug!(store = %self.name, error = %e, "trying again");
                        tokio::time::sleep(RETRY).await;
                    }
                }
            };
            let mut keys = Vec::new();
            for code in codes.iter().filter(|code| code.starts_with(&wanted)) {
                // A key another client wrote may be no code of a key at all.
                let key = decode(code)
                    .ok_or_else(|| "it is not a key this store writes".to_owned())
                    .and_then(|key| Key::new(key).map_err(|e| e.to_string()))
                    .map_err(|reason| StoreError::corrupt(&self.name, code, reason))?;
                keys.push(key);
            }
            keys.sort();
            Ok(keys)
        })
        .await
    }
}

/// The stream of `config`'s bucket, as a key-value bucket has it: one entry per key (its
/// last), rollups for purges, writes refused when full rather than old entries dropped.
fn bucket_stream(config: &NatsStoreConfig) -> stream::Config {
    stream::Config {
        name: format!("KV_{}", config.bucket),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: 1,
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: config.replicas,
        storage: stream::StorageType::File,
        ..stream::Config::default()
    }
}

/// The servers of `url`: one URL, or several separated by `,`. An unparsable URL is not
/// shown at all: the password in it may be where it failed.
pub(super) fn servers(url: &str) -> Result<Vec<ServerAddr>, &'static str> {
    url.split(',')
        .map(|url| url.trim().parse::<ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "a server is `nats://HOST:PORT`, several are separated by `,`")
}

/// `HOST:PORT,HOST:PORT` of `servers`: never their credentials.
pub(super) fn hosts(servers: &[ServerAddr]) -> String {
    servers
        .iter()
        .map(|server| address(server.host(), server.port()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `options` with the credentials of the first of `servers` that has some: `USER:PASS`, or
/// a token alone. async-nats leaves a URL's credentials out of what it sends the server
/// (nats.rs issue 1623), so they are given as options, as NATS's other clients read them.
pub(super) fn with_credentials(
    options: async_nats::ConnectOptions,
    servers: &[ServerAddr],
) -> Result<async_nats::ConnectOptions, &'static str> {
    let Some(server) = servers.iter().find(|server| server.username().is_some()) else {
        return Ok(options);
    };
    // Percent-encoded in the URL. Never shown, not even where they fail.
    let decoded = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| "the credentials in the URL are not UTF-8 once percent-decoded")
    };
    let user = decoded(server.username().unwrap_or_default())?;
    Ok(match server.password() {
        Some(password) => options.user_and_password(user, decoded(password)?),
        None => options.token(user),
    })
}

/// `HOST:PORT`, an IPv6 host in brackets.
fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The wait before a failed request is tried again.
const RETRY: Duration = Duration::from_millis(100);

/// How long one request may take, within an operation's `timeout`: a fifth of it, at least
/// 200 ms (so that an operation tries a few times before it fails).
fn request_timeout(timeout: Duration) -> Duration {
    (timeout / 5).max(Duration::from_millis(200)).min(timeout)
}

fn no_answer(timeout: Duration) -> String {
    format!("no answer within {timeout:?}")
}

/// Whether getting a bucket failed because there is none.
fn is_missing(error: &KeyValueError) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<GetStreamError>())
        .is_some_and(|e| {
            matches!(e.kind(), GetStreamErrorKind::JetStream(e)
                if e.error_code() == ErrorCode::STREAM_NOT_FOUND)
        })
}

/// Whether a key's entry marks it deleted or purged: by the key-value operation header,
/// or by the marker reason of a server that removed it itself.
fn is_removal(headers: &HeaderMap) -> bool {
    let operation = headers.get("KV-Operation").map(|v| v.as_str());
    matches!(operation, Some("DEL" | "PURGE")) || headers.get("Nats-Marker-Reason").is_some()
}

/// Whether `byte` stands for itself in a key's code.
fn is_kept(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'/')
}

/// The code of `key` (or of a prefix): a NATS key-value key, each byte but those kept
/// written `=XX`. Every byte's code is one kept byte or three starting with `=`, so no
/// byte's code starts another's: `encode(a)` starts with `encode(b)` exactly when `a`
/// starts with `b`.
fn encode(key: &str) -> String {
    let mut code = String::with_capacity(key.len());
    for byte in key.bytes() {
        if is_kept(byte) {
            code.push(char::from(byte));
        } else {
            code.push_str(&format!("={byte:02X}"));
        }
    }
    code
}

/// The key whose code is `code`, if it is the code of one.
fn decode(code: &str) -> Option<String> {
    let mut bytes = code.bytes();
    let mut key = Vec::with_capacity(code.len());
    while let Some(byte) = bytes.next() {
        if is_kept(byte) {
            key.push(byte);
            continue;
        }
        if byte != b'=' {
            return None;
        }
        let hex = [bytes.next()?, bytes.next()?];
        // Upper-case hex only, and only for bytes that are escaped: one code per key.
        if !hex
            .iter()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
        {
            return None;
        }
        let escaped = u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?;
        if is_kept(escaped) {
            return None;
        }
        key.push(escaped);
    }
    String::from_utf8(key).ok()
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};
    use proptest::prelude::*;

    #[test]
    fn codes_are_nats_keys_and_decode_to_the_key() {
        for (key, code) in [
            ("agents/ada/state", "agents/ada/state"),
            ("a:b", "a=3Ab"),
            ("v1.", "v1=2E"),
            ("a..b", "a=2E=2Eb"),
            ("=", "=3D"),
            ("é", "=C3=A9"),
        ] {
            assert_eq!(encode(key), code);
            assert_eq!(decode(code).as_deref(), Some(key));
        }
        // Not the code of any key: a byte NATS allows that the code never keeps, bad hex,
        // lower-case or needless escapes, a cut escape, bytes that are not UTF-8.
        for code in ["a.b", "a=3a", "=41", "a=3", "=zz", "=FF", "a b"] {
            assert_eq!(decode(code), None, "{code}");
        }
    }

    proptest! {
        #[test]
        fn every_string_round_trips_and_prefixes_are_kept(a in ".{0,12}", b in ".{0,12}") {
            let code = encode(&a);
            prop_assert!(code.bytes().all(|c| c.is_ascii_alphanumeric() || b"_-/=".contains(&c)));
            prop_assert_eq!(decode(&code), Some(a.clone()));
            prop_assert_eq!(encode(&a).starts_with(&encode(&b)), a.starts_with(&b));
            let joined = format!("{b}{a}");
            prop_assert!(encode(&joined).starts_with(&encode(&b)));
        }
    }
}
