//! A domain allowlist: the hosts a tool may reach. A call to any other host — or a redirect to
//! one — fails before a connection is made.

use std::fmt;
use std::sync::Arc;

/// The hosts a tool may call: exact names (`api.openai.com`, `127.0.0.1`) and whole subdomain
/// trees (`*.example.com`, which also admits `example.com` itself). Names compare without
/// case; a trailing dot is ignored. Cheap to clone.
///
/// ```
/// use plan_tools::allow::Allowlist;
///
/// let allow = Allowlist::new(["api.openai.com", "*.internal.example"]);
/// assert!(allow.admits("API.openai.com"));
/// assert!(allow.admits("search.internal.example"));
/// assert!(allow.admits("internal.example"));
/// assert!(!allow.admits("openai.com"));
/// assert!(!allow.admits("evil-internal.example"));
/// ```
#[derive(Clone)]
pub struct Allowlist {
    patterns: Arc<[Pattern]>,
}

#[derive(Debug)]
enum Pattern {
    Exact(String),
    /// `*.suffix`: the suffix itself and any name ending in `.suffix`.
    Subdomains(String),
}

impl Allowlist {
    /// An allowlist of `hosts`.
    pub fn new<S: AsRef<str>>(hosts: impl IntoIterator<Item = S>) -> Self {
        let patterns = hosts
            .into_iter()
            .map(|host| {
                let host = normalize(host.as_ref());
                match host.strip_prefix("*.") {
                    Some(suffix) => Pattern::Subdomains(suffix.to_owned()),
                    None => Pattern::Exact(host),
                }
            })
            .collect();
        Allowlist { patterns }
    }

    /// Whether `host` may be called.
    pub fn admits(&self, host: &str) -> bool {
        let host = normalize(host);
        self.patterns.iter().any(|pattern| match pattern {
            Pattern::Exact(name) => *name == host,
            Pattern::Subdomains(suffix) => {
                host == *suffix
                    || host
                        .strip_suffix(suffix.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            }
        })
    }

    /// Whether `url`'s host may be called (a URL without a host may not).
    pub fn admits_url(&self, url: &reqwest::Url) -> bool {
        url.host_str().is_some_and(|host| self.admits(host))
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
        for pattern in self.patterns.iter() {
            match pattern {
                Pattern::Exact(name) => list.entry(name),
                Pattern::Subdomains(suffix) => list.entry(&format_args!("*.{suffix}")),
            };
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_subdomain_trees() {
        let allow = Allowlist::new(["127.0.0.1", "*.Example.com.", "[::1]"]);
        for host in [
            "127.0.0.1",
            "example.com",
            "a.b.example.com",
            "EXAMPLE.COM.",
            "::1",
        ] {
            assert!(allow.admits(host), "{host}");
        }
        for host in [
            "127.0.0.2",
            "badexample.com",
            "example.com.evil",
            "localhost",
            "",
        ] {
            assert!(!allow.admits(host), "{host}");
        }
        assert_eq!(
            format!("{allow:?}"),
            r#"["127.0.0.1", *.example.com, "::1"]"#
        );
    }

    #[test]
    fn urls_are_judged_by_their_host() {
        let allow = Allowlist::new(["localhost"]);
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(allow.admits_url(&url("http://localhost:8080/v1")));
        assert!(!allow.admits_url(&url("http://localhost.evil:8080/")));
        assert!(!allow.admits_url(&url("data:text/plain,hi")));
    }
}
