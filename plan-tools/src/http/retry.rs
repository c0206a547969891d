//! When an HTTP call is tried again, and after how long.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::cut::cut;

/// How [`Http`](super::Http) retries: up to `attempts` in all, waiting an exponential backoff
/// with jitter between them, or what the server's `Retry-After` asks for.
///
/// Only transient failures are retried: a connection that could not be made or that broke
/// once the request was sent (reset, cut off mid-answer), and the statuses 429, 502, 503 and
/// 504. 400, 401, 403, 404, 500 and every other status are final, and a request the server
/// may have acted on is retried only if it is idempotent (see [`Request`](super::Request)).
/// A timeout is final: the time it took is the time a retry would take again.
///
/// ```
/// use std::time::Duration;
/// use plan_tools::http::RetryPolicy;
///
/// let policy = RetryPolicy::new(4).backoff(Duration::from_millis(200));
/// assert_eq!(policy.attempts(), 4);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, 100 ms backoff doubling up to 10 s, `Retry-After` up to a minute.
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Up to `attempts` attempts in all (1: no retry; 0 is taken as 1).
    pub fn new(attempts: u32) -> Self {
        RetryPolicy {
            attempts: attempts.max(1),
            ..RetryPolicy::default()
        }
    }

    /// No retries.
    pub fn none() -> Self {
        RetryPolicy::new(1)
    }

    /// The first backoff; it doubles per retry, with "equal jitter" (a uniformly random wait
    /// between half and all of it, so that clients failing together spread out).
    pub fn backoff(mut self, base: Duration) -> Self {
        self.backoff = base;
        self
    }

    /// The longest backoff.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// The longest `Retry-After` honoured: a server asking for more — however it writes it: a
    /// number of seconds, even one too large for any clock, or a far date — gets no retry,
    /// and the call fails with [`HttpError::RetryAfterTooLong`](super::HttpError::RetryAfterTooLong).
    /// A `Retry-After` that is neither a number nor a date is ignored (the backoff applies).
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Attempts in all.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The wait before retry number `retry` (1 for the first): the server's `Retry-After` if
    /// it sent one, else the backoff; or the server asks for longer than
    /// [`RetryPolicy::max_retry_after`].
    pub(super) fn wait(&self, retry: u32, headers: Option<&HeaderMap>) -> Wait {
        match headers.and_then(|h| retry_after(h, SystemTime::now())) {
            Some(Asked::For(asked)) if asked <= self.max_retry_after => Wait::After(asked),
            Some(_) => Wait::TooLong {
                asked: asked_text(headers),
                limit: self.max_retry_after,
            },
            None => Wait::After(self.backoff_for(retry)),
        }
    }

    fn backoff_for(&self, retry: u32) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(1 << retry.saturating_sub(1).min(30));
        let full = doubled.min(self.max_backoff);
        // A fresh `RandomState` is a new random key: enough randomness for jitter.
        let unit = RandomState::new().hash_one(retry) as f64 / u64::MAX as f64;
        full.mul_f64(0.5 + unit / 2.0)
    }
}

/// What the policy says to do before a retry.
#[derive(Debug, PartialEq)]
pub(super) enum Wait {
    /// Wait this long, then retry.
    After(Duration),
    /// The server asked for more than `limit`: do not retry.
    TooLong {
        /// The `Retry-After` value as written, cut to a length an error can show.
        asked: String,
        limit: Duration,
    },
}

/// What a `Retry-After` header asks for.
#[derive(Debug, PartialEq)]
pub(super) enum Asked {
    /// A wait (zero for a date in the past).
    For(Duration),
    /// A number of seconds too large to hold: longer than any cap.
    Forever,
}

/// The `Retry-After` value as written, for an error: at most 64 characters.
fn asked_text(headers: Option<&HeaderMap>) -> String {
    let value = headers.and_then(|h| h.get(RETRY_AFTER));
    let text = value.map_or_else(String::new, |v| {
        String::from_utf8_lossy(v.as_bytes()).trim().to_owned()
    });
    cut(&text, 64)
}

/// Whether a status is worth another attempt.
pub(super) fn transient(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// What `Retry-After` asks for, in either of its forms: a number of seconds (digits only, as
/// the standard writes it; one too large for a `u64` asks for ever), or an HTTP date (a date
/// in the past asks for no wait). `None`: no header, or one that is neither.
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Asked> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(match value.parse::<u64>() {
            Ok(seconds) => Asked::For(Duration::from_secs(seconds)),
            // All digits, so the only failure is overflow.
            Err(_) => Asked::Forever,
        });
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(Asked::For(at.duration_since(now).unwrap_or(Duration::ZERO)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let asks = |value: &str| retry_after(&with_retry_after(value), now);
        assert_eq!(asks("7"), Some(Asked::For(Duration::from_secs(7))));
        assert_eq!(
            asks(" 18446744073709551615 "),
            Some(Asked::For(Duration::from_secs(u64::MAX)))
        );
        assert_eq!(asks("18446744073709551616"), Some(Asked::Forever));
        assert_eq!(asks(&"9".repeat(4000)), Some(Asked::Forever));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(asks(&later), Some(Asked::For(Duration::from_secs(90))));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(asks(&earlier), Some(Asked::For(Duration::ZERO)));
        for garbage in ["soon", "+5", "-5", "1e9", "5 s", ""] {
            assert_eq!(asks(garbage), None, "{garbage}");
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for status in [429, 502, 503, 504] {
            assert!(transient(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 409, 500, 501] {
            assert!(!transient(status), "{status}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap() {
        let policy = RetryPolicy::new(10)
            .backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(350));
        for (retry, full) in [(1, 100), (2, 200), (3, 350), (8, 350)] {
            let full = Duration::from_millis(full);
            for _ in 0..50 {
                let Wait::After(wait) = policy.wait(retry, None) else {
                    panic!("no backoff")
                };
                assert!(wait >= full / 2 && wait <= full, "{retry}: {wait:?}");
            }
        }
        let too_long = |asked: &str| Wait::TooLong {
            asked: asked.to_owned(),
            limit: Duration::from_secs(60),
        };
        let huge = "99999999999999999999";
        for asked in ["3600", huge, "Fri, 31 Dec 9999 23:59:59 GMT"] {
            let wait = policy.wait(1, Some(&with_retry_after(asked)));
            assert_eq!(wait, too_long(asked));
        }
        let long = "9".repeat(100);
        let wait = policy.wait(1, Some(&with_retry_after(&long)));
        assert_eq!(wait, too_long(&format!("{}…", &long[..64])));
        assert_eq!(
            policy.wait(1, Some(&with_retry_after("2"))),
            Wait::After(Duration::from_secs(2))
        );
    }
}
