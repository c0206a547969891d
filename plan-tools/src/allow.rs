//! A host and port allowlist: where a tool may connect. A call anywhere else — or a redirect
//! there — fails before a connection is made.
//!
//! An entry names a host and, optionally, a port: `api.example.com`, `api.example.com:8443`,
//! `127.0.0.1:*`, `[::1]:8080`. **An entry without a port admits the scheme's default port
//! only** (80 for `http`, 443 for `https`): allowing a host does not open every service it
//! runs. `host:*` admits every port of the host, and says so where it is written.

use std::fmt;
use std::sync::Arc;

/// Where a tool may connect: hosts by exact name (`api.openai.com`, `127.0.0.1`, `[::1]`) or
/// as whole subdomain trees (`*.example.com`, which also admits `example.com` itself), each
/// with a port (`:8080`), every port (`:*`), or — without one — the scheme's default port only.
/// Names compare without case; a trailing dot is ignored. An entry that cannot be read (a port
/// that is not a number up to 65535 or `*`, an empty host) admits nothing, and shows in
/// `Debug` as `invalid(..)`. Cheap to clone.
///
/// ```
/// use plan_tools::allow::Allowlist;
///
/// let allow = Allowlist::new(["api.openai.com", "*.internal.example:8443", "127.0.0.1:*"]);
/// assert!(allow.admits("https://API.openai.com/v1"));
/// assert!(!allow.admits("https://api.openai.com:8443/v1")); // not the default port
/// assert!(allow.admits("https://search.internal.example:8443/"));
/// assert!(!allow.admits("https://search.internal.example/")); // 443, not 8443
/// assert!(allow.admits("http://127.0.0.1:3000/"));
/// assert!(!allow.admits("https://openai.com/"));
/// assert!(!allow.admits("not a url"));
/// ```
#[derive(Clone)]
pub struct Allowlist {
    entries: Arc<[Entry]>,
}

#[derive(Debug)]
enum Entry {
    Valid {
        host: Host,
        port: Port,
    },
    /// As written: it admits nothing.
    Invalid(String),
}

#[derive(Debug)]
enum Host {
    Exact(String),
    /// `*.suffix`: the suffix itself and any name ending in `.suffix`.
    Subdomains(String),
}

#[derive(Debug)]
enum Port {
    /// No port written: the scheme's default.
    Default,
    Is(u16),
    /// `:*`.
    Any,
}

impl Allowlist {
    /// An allowlist of `entries`, each `host`, `host:port` or `host:*` (an IPv6 address in
    /// brackets when it has a port: `[::1]:8080`).
    pub fn new<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Self {
        let entries = entries
            .into_iter()
            .map(|entry| parse(entry.as_ref()))
            .collect();
        Allowlist { entries }
    }

    /// Whether a call to `url` may be made (a string that is not a URL may not).
    pub fn admits(&self, url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|url| self.admits_url(&url))
    }

    /// Whether a call to `url` may be made: its host and port are on the list (a URL without
    /// a host may not).
    ///
    /// ```
    /// use plan_tools::allow::Allowlist;
    ///
    /// let allow = Allowlist::new(["localhost:8080"]);
    /// let url = reqwest::Url::parse("http://localhost:8080/v1").unwrap();
    /// assert!(allow.admits_url(&url));
    /// ```
    pub fn admits_url(&self, url: &reqwest::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = normalize(host);
        self.entries.iter().any(|entry| match entry {
            Entry::Valid { host: name, port } => name.admits(&host) && port.admits(url),
            Entry::Invalid(_) => false,
        })
    }
}

impl Host {
    fn admits(&self, host: &str) -> bool {
        match self {
            Host::Exact(name) => name == host,
            Host::Subdomains(suffix) => {
                host == suffix
                    || host
                        .strip_suffix(suffix.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            }
        }
    }
}

impl Port {
    fn admits(&self, url: &reqwest::Url) -> bool {
        match self {
            // `url` drops a port that is its scheme's default: `http://h:80/` has none.
            Port::Default => url.port().is_none(),
            Port::Is(port) => url.port_or_known_default() == Some(*port),
            Port::Any => true,
        }
    }
}

/// Reads one entry.
fn parse(entry: &str) -> Entry {
    let invalid = || Entry::Invalid(entry.to_owned());
    let entry_text = entry.trim();
    let (host, port) = if let Some(bracketed) = entry_text.strip_prefix('[') {
        // `[v6]` or `[v6]:port`.
        let Some((host, rest)) = bracketed.split_once(']') else {
            return invalid();
        };
        match rest {
            "" => (host, None),
            _ => match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return invalid(),
            },
        }
    } else {
        match entry_text.split_once(':') {
            // One colon: `host:port`. More: an IPv6 address written without brackets.
            Some((host, port)) if !port.contains(':') => (host, Some(port)),
            _ => (entry_text, None),
        }
    };
    let port = match port {
        None => Port::Default,
        Some("*") => Port::Any,
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            match port.parse() {
                Ok(port) => Port::Is(port),
                Err(_) => return invalid(),
            }
        }
        Some(_) => return invalid(),
    };
    let host = normalize(host);
    let host = match host.strip_prefix("*.") {
        Some(suffix) => Host::Subdomains(suffix.to_owned()),
        None => Host::Exact(host),
    };
    match &host {
        Host::Exact(name) | Host::Subdomains(name) if name.is_empty() => invalid(),
        _ => Entry::Valid { host, port },
    }
}

fn normalize(host: &str) -> String {
    // `[::1]` in a URL is `::1` to the list's writer.
    let host = host.trim_end_matches('.');
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.to_ascii_lowercase()
}

impl fmt::Debug for Allowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for entry in self.entries.iter() {
            match entry {
                Entry::Valid { host, port } => {
                    let (stars, name) = match host {
                        Host::Exact(name) => ("", name),
                        Host::Subdomains(suffix) => ("*.", suffix),
                    };
                    let name = if name.contains(':') {
                        format!("[{name}]")
                    } else {
                        name.clone()
                    };
                    match port {
                        Port::Default => list.entry(&format_args!("{stars}{name}")),
                        Port::Is(port) => list.entry(&format_args!("{stars}{name}:{port}")),
                        Port::Any => list.entry(&format_args!("{stars}{name}:*")),
                    };
                }
                Entry::Invalid(text) => {
                    list.entry(&format_args!("invalid({text:?})"));
                }
            }
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_ports_and_subdomain_trees() {
        let allow = Allowlist::new([
            "127.0.0.1",
            "*.Example.com.",
            "[::1]:8080",
            "localhost:*",
            "10.0.0.1:443",
        ]);
        for url in [
            "http://127.0.0.1/",
            "http://127.0.0.1:80/",
            "https://127.0.0.1/",
            "http://example.com/",
            "https://a.b.example.com/",
            "http://EXAMPLE.COM./",
            "http://[::1]:8080/",
            "http://localhost:1/",
            "http://localhost:65535/",
            "https://10.0.0.1/",
            "http://10.0.0.1:443/",
        ] {
            assert!(allow.admits(url), "{url}");
        }
        for url in [
            "http://127.0.0.1:22/",
            "http://127.0.0.1:443/",
            "http://127.0.0.2/",
            "http://badexample.com/",
            "http://example.com.evil/",
            "http://example.com:8080/",
            "http://[::1]/",
            "http://[::1]:8081/",
            "http://10.0.0.1/",
            "data:text/plain,hi",
            "",
        ] {
            assert!(!allow.admits(url), "{url}");
        }
        assert_eq!(
            format!("{allow:?}"),
            "[127.0.0.1, *.example.com, [::1]:8080, localhost:*, 10.0.0.1:443]"
        );
    }

    #[test]
    fn unreadable_entries_admit_nothing() {
        let allow = Allowlist::new(["h:x", "h:65536", "[::1", ":80", "h:", "::1"]);
        for url in ["http://h/", "http://h:80/", "http://[::1]/"] {
            assert_eq!(allow.admits(url), url == "http://[::1]/", "{url}");
        }
        assert_eq!(
            format!("{allow:?}"),
            r#"[invalid("h:x"), invalid("h:65536"), invalid("[::1"), invalid(":80"), invalid("h:"), [::1]]"#
        );
    }
}
