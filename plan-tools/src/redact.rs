//! `Redactor`: the secrets a tool sent, and what scrubs them from the text it shows.
//!
//! A server may echo what it got — a 401 body quoting the request's headers and query, a proxy
//! error page showing the URL — and a tool puts that text into its errors. The HTTP and model
//! clients collect every value they send as secret into a `Redactor` and pass every error's
//! text through it before the error exists, so that the error's `Display` and `Debug`, the
//! `PlanError` holding it, a run report (serde, timeline, Chrome trace: they take the error's
//! text) and a tracing event that prints it never show one.
//!
//! A secret is replaced by `[redacted]` however a server spells it: as it is, JSON-escaped
//! (`\/`, `\"`, `\u00e9`, either case of hex), percent-encoded (either case of hex, a space as
//! `%20` or `+`, whichever characters the server's encoder chose to encode) — each character
//! of the secret may be written in any of these ways. A short secret is still a secret and is
//! scrubbed too, which can also hide unrelated text that happens to spell it: a
//! one-character password hides that character everywhere in an error.
//!
//! Scrubbing takes time proportional to the text's length times the secrets' total length:
//! the tools scrub error texts and excerpts of bodies, never whole bodies.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use percent_encoding::percent_decode_str;
use reqwest::header::{HeaderMap, HeaderName};

/// What a secret is replaced with.
///
/// ```
/// use plan_tools::redact::{REDACTED, Redactor};
///
/// assert_eq!(Redactor::new().secret("k3y").scrub("key=k3y"), format!("key={REDACTED}"));
/// ```
pub const REDACTED: &str = "[redacted]";

/// Header names whose values are credentials even when not marked secret.
const SENSITIVE_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
];

/// Query parameter names whose values are credentials even when not given as secret: the
/// common ones, and those of presigned URLs (S3, Google Cloud Storage, Azure SAS), whose
/// signatures a storage server quotes back in its errors.
const SENSITIVE_QUERY: [&str; 16] = [
    "api_key",
    "apikey",
    "api-key",
    "key",
    "token",
    "access_token",
    "refresh_token",
    "auth",
    "password",
    "secret",
    "client_secret",
    "signature",
    "sig",
    "x-amz-signature",
    "x-amz-security-token",
    "x-goog-signature",
];

/// Whether a header named `name` carries a credential whatever a request says.
pub(crate) fn sensitive_header(name: &HeaderName) -> bool {
    SENSITIVE_HEADERS.contains(&name.as_str())
}

/// Whether a query parameter named `name` (decoded) carries a credential whatever a request
/// says.
pub(crate) fn sensitive_query(name: &str) -> bool {
    SENSITIVE_QUERY.contains(&name.to_ascii_lowercase().as_str())
}

/// Secret values, and [`Redactor::scrub`] to replace them — however they are spelled, see
/// the [module](self) docs — with `[redacted]`. Its `Debug` shows how many secrets it holds,
/// never one of them. Cheap to clone.
///
/// ```
/// use plan_tools::redact::Redactor;
///
/// let secrets = Redactor::new().secret("s3cret/key");
/// let echoed = r#"{"auth":"s3cret\/key"} url: /login?key=s3cret%2Fkey raw s3cret/key"#;
/// assert_eq!(
///     secrets.scrub(echoed),
///     r#"{"auth":"[redacted]"} url: /login?key=[redacted] raw [redacted]"#
/// );
/// assert_eq!(format!("{secrets:?}"), "Redactor(1 secret)");
/// ```
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor with no secrets: [`Redactor::scrub`] changes nothing.
    ///
    /// ```
    /// use plan_tools::redact::Redactor;
    ///
    /// assert_eq!(Redactor::new().scrub("key=k3y"), "key=k3y");
    /// ```
    pub fn new() -> Self {
        Redactor::default()
    }

    /// The same, also scrubbing `value` (an empty value is ignored).
    ///
    /// ```
    /// use plan_tools::redact::Redactor;
    ///
    /// let secrets = Redactor::new().secret("k3y").secret("");
    /// assert_eq!(secrets.scrub("key=k3y, or k%33y"), "key=[redacted], or [redacted]");
    /// ```
    pub fn secret(mut self, value: &str) -> Self {
        self.add(value);
        self
    }

    /// Adds `value` to the secrets (an empty value is ignored).
    ///
    /// ```
    /// use plan_tools::redact::Redactor;
    ///
    /// let mut secrets = Redactor::new();
    /// secrets.add("k3y");
    /// assert_eq!(secrets.scrub(r#"{"key":"k3y"}"#), r#"{"key":"[redacted]"}"#);
    /// ```
    pub fn add(&mut self, value: &str) {
        if !value.is_empty() && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_owned());
        }
    }

    /// Whether there is nothing to scrub.
    ///
    /// ```
    /// use plan_tools::redact::Redactor;
    ///
    /// assert!(Redactor::new().secret("").is_empty());
    /// assert!(!Redactor::new().secret("k3y").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every spelling of every secret replaced by `[redacted]`; borrowed when
    /// there is none.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use plan_tools::redact::Redactor;
    ///
    /// let secrets = Redactor::new().secret("a/b");
    /// assert_eq!(secrets.scrub(r"a\/b a%2Fb a%2fb"), "[redacted] [redacted] [redacted]");
    /// assert!(matches!(secrets.scrub("nothing secret"), Cow::Borrowed(_)));
    /// ```
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.scrub_ending(text, false)
    }

    /// [`Redactor::scrub`] for a text cut short: a start of a secret at its very end is
    /// scrubbed too, as the secret it may be.
    fn scrub_cut<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.scrub_ending(text, true)
    }

    /// The first `chars` characters of `body` as text (invalid UTF-8 replaced), scrubbed, and
    /// whether the body goes on past them: then a start of a secret at the cut is scrubbed
    /// too. Reads at most `4 * chars` bytes of `body`, whatever its size.
    pub(crate) fn excerpt(&self, body: &[u8], chars: usize) -> (String, bool) {
        // Enough bytes for the characters shown, each at most 4 bytes long.
        let read = body.len().min(chars.saturating_mul(4));
        let text = String::from_utf8_lossy(&body[..read]);
        match text.char_indices().nth(chars) {
            Some((end, _)) => (self.scrub_cut(&text[..end]).into_owned(), true),
            // As many characters as are shown, the body going on after them.
            None if read < body.len() => (self.scrub_cut(&text).into_owned(), true),
            None => (self.scrub(&text).into_owned(), false),
        }
    }

    /// Scrubs `text` in place.
    pub(crate) fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(scrubbed) = self.scrub(text) {
            *text = scrubbed;
        }
    }

    fn scrub_ending<'t>(&self, text: &'t str, cut: bool) -> Cow<'t, str> {
        if self.secrets.is_empty() {
            return Cow::Borrowed(text);
        }
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        // Copied to `out` up to here.
        let mut copied = 0;
        let mut at = 0;
        while at < bytes.len() {
            let found = self
                .secrets
                .iter()
                .filter_map(|secret| spelled(bytes, at, secret.as_bytes(), cut))
                .max();
            match found {
                Some(len) => {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    out.push_str(&text[copied..at]);
                    out.push_str(REDACTED);
                    at += len;
                    copied = at;
                }
                // To the next character: a match starts on a character boundary.
                None => at += text[at..].chars().next().map_or(1, char::len_utf8),
            }
        }
        match out {
            Some(mut out) => {
                out.push_str(&text[copied..]);
                Cow::Owned(out)
            }
            None => Cow::Borrowed(text),
        }
    }

    /// Adds what `url` carries as secret: its user name and password, and the values of its
    /// query parameters with a [well-known name](SENSITIVE_QUERY) or one `secret` says is —
    /// decoded, and as the URL spells them.
    pub(crate) fn add_url(&mut self, url: &reqwest::Url, secret: impl Fn(&str) -> bool) {
        for part in [url.username(), url.password().unwrap_or_default()] {
            self.add(part);
            self.add(&percent_decode_str(part).decode_utf8_lossy());
        }
        for pair in url.query().unwrap_or_default().split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = form_decoded(name);
            if sensitive_query(&name) || secret(&name) {
                self.add(value);
                self.add(&form_decoded(value));
            }
        }
    }

    /// Adds the values of the headers in `headers` that are credentials: those with a
    /// [sensitive name](SENSITIVE_HEADERS), and those `secret` says are. A value with an
    /// authentication scheme (`Bearer TOKEN`) also adds the token alone, and a cookie header
    /// each cookie's value.
    /// Adds the `Authorization` header reqwest makes of `url`'s user name and password (a
    /// `Basic` header, whose base64 quotes neither), if it has them. Only then is a request
    /// built to read it: a call without URL credentials pays nothing for this.
    pub(crate) fn add_url_authorization(&mut self, client: &reqwest::Client, url: &reqwest::Url) {
        if url.username().is_empty() && url.password().is_none() {
            return;
        }
        if let Ok(request) = client.get(url.clone()).build() {
            self.add_headers(request.headers(), |_| false);
        }
    }

    pub(crate) fn add_headers(
        &mut self,
        headers: &HeaderMap,
        secret: impl Fn(&HeaderName) -> bool,
    ) {
        for (name, value) in headers {
            if !(sensitive_header(name) || secret(name)) {
                continue;
            }
            let value = String::from_utf8_lossy(value.as_bytes());
            self.add(&value);
            if let Some((_, token)) = value.split_once(' ') {
                self.add(token.trim());
            }
            if name == reqwest::header::COOKIE {
                for cookie in value.split(';') {
                    if let Some((_, value)) = cookie.split_once('=') {
                        self.add(value.trim());
                    }
                }
            }
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.secrets.len();
        let plural = if count == 1 { "" } else { "s" };
        write!(f, "Redactor({count} secret{plural})")
    }
}

/// The length of the longest spelling of `secret` that starts at `text[start..]`, if one
/// does: each of its bytes written as itself, percent-encoded (`+` for a space), or
/// JSON-escaped (a character at a time for `\u` escapes). With `cut`, text that ends while it
/// still spells the secret counts (a secret cut short).
fn spelled(text: &[u8], start: usize, secret: &[u8], cut: bool) -> Option<usize> {
    let first = *text.get(start)?;
    if !(first == secret[0] || matches!(first, b'%' | b'\\' | b'+')) {
        return None;
    }
    // `%`, `\` and `+` may stand for themselves or start an escape: every reading is followed,
    // each (text position, secret position) once.
    let mut best = None;
    let mut seen = HashSet::new();
    let mut todo = vec![(start, 0)];
    while let Some((at, next)) = todo.pop() {
        if !seen.insert((at, next)) {
            continue;
        }
        if next == secret.len() {
            best = best.max(Some(at - start));
            continue;
        }
        let rest = &text[at..];
        let mut stepped = false;
        for (used, matched) in steps(rest, &secret[next..]).into_iter().flatten() {
            todo.push((at + used, next + matched));
            stepped = true;
        }
        if !stepped && cut && (at > start || !rest.is_empty()) && cut_short(rest) {
            best = best.max(Some(text.len() - start));
        }
    }
    best
}

/// The ways the start of `rest` spells the start of `secret`: (bytes of text, bytes of secret).
fn steps(rest: &[u8], secret: &[u8]) -> [Option<(usize, usize)>; 3] {
    let (Some(&byte), Some(&want)) = (rest.first(), secret.first()) else {
        return [None; 3];
    };
    let itself = (byte == want || (byte == b'+' && want == b' ')).then_some((1, 1));
    let percent = (byte == b'%' && hex(rest, 1, 2) == Some(u32::from(want))).then_some((3, 1));
    let json = (byte == b'\\')
        .then(|| json_escape(rest))
        .flatten()
        .and_then(|(used, decoded)| {
            let mut buf = [0; 4];
            let decoded = decoded.encode_utf8(&mut buf).as_bytes();
            secret.starts_with(decoded).then_some((used, decoded.len()))
        });
    [itself, percent, json]
}

/// Whether `rest`, the end of a text, is empty or the start of an escape cut off.
fn cut_short(rest: &[u8]) -> bool {
    match rest {
        [] | [b'\\'] => true,
        [b'%', digits @ ..] => digits.len() < 2 && digits.iter().all(u8::is_ascii_hexdigit),
        [b'\\', b'u', digits @ ..] => {
            digits.len() < 4 && digits.iter().all(u8::is_ascii_hexdigit)
                // A high surrogate, its low half cut off.
                || (digits.len() < 10 && hex(digits, 0, 4).is_some_and(|unit| (0xD800..0xDC00).contains(&unit)))
        }
        _ => false,
    }
}

/// The character the JSON escape at the start of `text` stands for, and the escape's length;
/// `None` for an escape that is not JSON or is cut short.
fn json_escape(text: &[u8]) -> Option<(usize, char)> {
    let simple = match text.get(1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let unit = hex(text, 2, 4)?;
            if let Some(c) = char::from_u32(unit) {
                return Some((6, c));
            }
            // A surrogate pair: `\uD83D\uDE00`.
            if text.get(6..8) != Some(b"\\u".as_slice()) {
                return None;
            }
            let low = hex(text, 8, 4)?;
            let c = char::decode_utf16([u16::try_from(unit).ok()?, u16::try_from(low).ok()?])
                .next()?
                .ok()?;
            return Some((12, c));
        }
        _ => return None,
    };
    Some((2, simple))
}

/// The value of the `digits` hex digits at `text[at..]`, if they are all there.
fn hex(text: &[u8], at: usize, digits: usize) -> Option<u32> {
    let digits = text.get(at..at + digits)?;
    digits.iter().try_fold(0, |value, &digit| {
        Some(value * 16 + char::from(digit).to_digit(16)?)
    })
}

/// A query's part decoded as a form does: `+` is a space, then percent-decoding.
fn form_decoded(part: &str) -> String {
    percent_decode_str(&part.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `url` as errors and logs show it: without credentials or a query, which may hold keys.
pub(crate) fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        // Not a URL: show where it breaks, not what it holds.
        Err(_) => without_userinfo(url.split(['?', '#']).next().unwrap_or_default()),
    }
}

/// `url` for `Debug`: its user name and password, if any, shown as `[redacted]`.
pub(crate) fn url_for_debug(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return without_userinfo(url);
    };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return url.to_owned();
    }
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    let shown = parsed.to_string();
    let prefix = format!("{}://", parsed.scheme());
    match shown.strip_prefix(&prefix) {
        Some(rest) => format!("{prefix}{REDACTED}@{rest}"),
        None => shown,
    }
}

/// `text`, a URL that does not parse, with what may be its `user:password@` shown as
/// `[redacted]@`: all of its authority up to the last `@`, as a URL parser reads it (a
/// password may hold an `@` of its own).
fn without_userinfo(text: &str) -> String {
    let start = text.find("://").map_or(0, |scheme| scheme + 3);
    let end = text[start..]
        .find(['/', '\\', '?', '#'])
        .map_or(text.len(), |end| start + end);
    match text[start..end].rfind('@') {
        Some(at) => format!("{}{REDACTED}{}", &text[..start], &text[start + at..]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_secret_is_scrubbed() {
        let secret = "a b/c\"é+&-😀";
        let secrets = Redactor::new().secret(secret);
        for spelled in [
            secret,
            r#"a b/c\"é+&-😀"#,
            r#"a b\/c\"\u00e9+&-\ud83d\ude00"#,
            r#"a b\/c\"\u00E9+&-\uD83D\uDE00"#,
            "a%20b%2Fc%22%C3%A9%2B%26%2D%F0%9F%98%80",
            "a+b%2fc%22%c3%a9%2b%26-%f0%9f%98%80",
            // Python's `quote`: `/` left as it is.
            "a%20b/c%22%C3%A9%2B%26-%F0%9F%98%80",
        ] {
            assert_eq!(
                secrets.scrub(&format!("<{spelled}>")),
                "<[redacted]>",
                "{spelled}"
            );
        }
        // Near misses are left alone; the secret's own letters keep their case.
        for text in [
            "a b/c\"é+&-",
            "A b/c\"é+&-😀",
            "a%2",
            "a\\",
            "a\\u00",
            "%zz\\x",
        ] {
            assert_eq!(secrets.scrub(text), text);
        }
        assert_eq!(Redactor::new().scrub("as is"), "as is");
        // Cut short, a text ending in the start of a secret loses that start.
        for cut in ["x a b/", "x a%2", "x a b\\", "x a b\\/c\\\"\\u00"] {
            assert_eq!(secrets.scrub_cut(cut), "x [redacted]", "{cut}");
        }
        assert_eq!(secrets.scrub("x a b/"), "x a b/");
        // An excerpt is cut where the body goes on, even when it ends on a whole character.
        let emoji = Redactor::new().secret("😀é");
        let excerpt = |body: &str| emoji.excerpt(body.as_bytes(), 2);
        assert_eq!(excerpt("😀😀é"), ("😀[redacted]".to_owned(), true));
        assert_eq!(excerpt("x😀é"), ("x[redacted]".to_owned(), true));
        assert_eq!(excerpt("😀é"), ("[redacted]".to_owned(), false));
        assert_eq!(excerpt("ab"), ("ab".to_owned(), false));
        // The longest spelling wins: a secret inside another is scrubbed with it.
        let both = Redactor::new().secret("tok").secret("tok-en");
        assert_eq!(both.scrub("tok-en tok"), "[redacted] [redacted]");
    }

    #[test]
    fn urls_and_headers_give_their_credentials() {
        let url =
            reqwest::Url::parse("http://us%40er:p%40ss@h/x?q=kept&api_key=k%2B1&token=t+1&Key=K&X-Amz-Signature=S1&sig=S2")
                .unwrap();
        let mut secrets = Redactor::new();
        secrets.add_url(&url, |_| false);
        let text = "us@er p@ss k+1 t 1 K S1 S2 q kept";
        assert_eq!(
            secrets.scrub(text),
            "[redacted] [redacted] [redacted] [redacted] [redacted] [redacted] [redacted] q kept"
        );

        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer tok-1".parse().unwrap());
        headers.insert("cookie", "a=c-1; b=c-2".parse().unwrap());
        headers.insert("x-custom", "mine".parse().unwrap());
        headers.insert("accept", "text/plain".parse().unwrap());
        let mut secrets = Redactor::new();
        secrets.add_headers(&headers, |name| name == "x-custom");
        assert_eq!(
            secrets.scrub("tok-1 c-1 c-2 mine text/plain"),
            "[redacted] [redacted] [redacted] [redacted] text/plain"
        );
    }

    #[test]
    fn debug_urls_hide_credentials() {
        assert_eq!(
            url_for_debug("http://u:p@host:8/v1?x=1"),
            "http://[redacted]@host:8/v1?x=1"
        );
        assert_eq!(url_for_debug("http://host/v1"), "http://host/v1");
        assert_eq!(url_for_debug("not a url u:p@x"), "[redacted]@x");
        // A URL that does not parse still hides its credentials, an `@` in them too.
        for broken in ["http://u:p@ss@exa mple/x@y?k=v", "http://u:p@ss@[::1/x@y"] {
            let (debug, shown) = (url_for_debug(broken), shown(broken));
            assert!(debug.starts_with("http://[redacted]@"), "{debug}");
            assert!(shown.starts_with("http://[redacted]@"), "{shown}");
            assert!(
                !debug.contains("ss") && !shown.contains("ss"),
                "{debug} {shown}"
            );
            assert!(!shown.contains("k=v"), "{shown}");
        }
    }
}
