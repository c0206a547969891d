//! `Redactor`: the secrets a tool sent, and what scrubs them from the text it shows.
//!
//! A server may echo what it got — a 401 body quoting the request's headers and query, a proxy
//! error page showing the URL — and a tool puts that text into its errors. The HTTP and model
//! clients collect every value they send as secret into a `Redactor` and pass every error's
//! text through it before the error exists, so that the error's `Display` and `Debug`, the
//! `PlanError` holding it, a run report (serde, timeline, Chrome trace: they take the error's
//! text) and a tracing event that prints it never show one.
//!
//! A secret is replaced by `[redacted]` in each form a server is likely to echo it in: as it
//! is, JSON-escaped (as serde_json writes it, with `/` also written `\/`, and with non-ASCII
//! characters as `\u` escapes), and percent-encoded (upper- and lower-case hex, a space as
//! `%20` or `+`, and as the URL actually sent spelled it). A short secret is still a secret
//! and is scrubbed too — which can also hide unrelated text that happens to spell it: a
//! one-character password hides that character everywhere in an error.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderName};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Every byte but the URL-unreserved ones (`A-Z a-z 0-9 - . _ ~`): the strictest encoding.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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

/// Query parameter names whose values are credentials even when not given as secret.
const SENSITIVE_QUERY: [&str; 11] = [
    "api_key",
    "apikey",
    "api-key",
    "key",
    "token",
    "access_token",
    "auth",
    "password",
    "secret",
    "client_secret",
    "signature",
];

/// Secret values, and [`Redactor::scrub`] to replace them — in every form listed in the
/// [module](self) docs — with `[redacted]`. Its `Debug` shows how many secrets it holds, never
/// one of them. Cheap to clone.
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
    secrets: usize,
    /// Every form of every secret, longest first: a form that contains a shorter one (the
    /// JSON-escaped form contains pieces of the raw one) is replaced whole.
    forms: Vec<String>,
}

impl Redactor {
    /// A redactor with no secrets: [`Redactor::scrub`] changes nothing.
    pub fn new() -> Self {
        Redactor::default()
    }

    /// The same, also scrubbing `value` (an empty value is ignored).
    pub fn secret(mut self, value: &str) -> Self {
        self.add(value);
        self
    }

    /// Adds `value` to the secrets (an empty value is ignored).
    pub fn add(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        self.secrets += 1;
        for form in forms(value) {
            if !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.forms
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// Whether there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every form of every secret replaced by `[redacted]`.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut text = Cow::Borrowed(text);
        for form in &self.forms {
            if text.contains(form.as_str()) {
                text = Cow::Owned(text.replace(form.as_str(), REDACTED));
            }
        }
        text
    }

    /// Scrubs `text` in place.
    pub(crate) fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(scrubbed) = self.scrub(text) {
            *text = scrubbed;
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
            if SENSITIVE_QUERY.contains(&name.to_ascii_lowercase().as_str()) || secret(&name) {
                self.add(value);
                self.add(&form_decoded(value));
            }
        }
    }

    /// Adds the values of the headers in `headers` that are credentials: those with a
    /// [sensitive name](SENSITIVE_HEADERS), and those `secret` says are. A value with an
    /// authentication scheme (`Bearer TOKEN`) also adds the token alone, and a cookie header
    /// each cookie's value.
    pub(crate) fn add_headers(&mut self, headers: &HeaderMap, secret: impl Fn(&HeaderName) -> bool) {
        for (name, value) in headers {
            if !(SENSITIVE_HEADERS.contains(&name.as_str()) || secret(name)) {
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
        let plural = if self.secrets == 1 { "" } else { "s" };
        write!(f, "Redactor({} secret{plural})", self.secrets)
    }
}

/// `value` and the forms a server may echo it in.
fn forms(value: &str) -> Vec<String> {
    let json = json_escaped(value);
    let ascii = json_ascii_escaped(&json);
    let upper = utf8_percent_encode(value, ENCODED).to_string();
    let lower = lower_hex(&upper);
    let mut forms = vec![value.to_owned()];
    for escaped in [json, upper_unicode_escapes(&ascii), ascii] {
        forms.push(escaped.replace('/', "\\/"));
        forms.push(escaped);
    }
    for encoded in [upper, lower] {
        forms.push(encoded.replace("%20", "+"));
        forms.push(encoded);
    }
    forms
}

/// `value` as serde_json writes it inside a string, without the quotes.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// A JSON-escaped text with every non-ASCII character as `\u` escapes (as Python's `json`
/// writes by default).
fn json_ascii_escaped(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// A JSON-escaped text with the hex digits of its `\u` escapes in upper case.
fn upper_unicode_escapes(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut chars = json.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\\' {
            match chars.next() {
                Some('u') => {
                    out.push('u');
                    out.extend(chars.by_ref().take(4).map(|h| h.to_ascii_uppercase()));
                }
                Some(escaped) => out.push(escaped),
                None => {}
            }
        }
    }
    out
}

/// A percent-encoding with its hex digits in lower case.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A query's part decoded as a form does: `+` is a space, then percent-decoding.
fn form_decoded(part: &str) -> String {
    percent_decode_str(&part.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// `url` for `Debug`: its user name and password, if any, shown as `[redacted]`.
pub(crate) fn url_for_debug(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        // Not a URL: its text up to a possible `user:password@` can still be cut off.
        return match url.split_once('@') {
            Some((_, rest)) => format!("[redacted]@{rest}"),
            None => url.to_owned(),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_scrubbed() {
        let secret = "a b/c\"é+&";
        let secrets = Redactor::new().secret(secret);
        for form in [
            secret.to_owned(),
            json_escaped(secret),
            json_escaped(secret).replace('/', "\\/"),
            r#"a b\/c\"\u00e9+&"#.to_owned(),
            r#"a b/c\"\u00E9+&"#.to_owned(),
            "a%20b%2Fc%22%C3%A9%2B%26".to_owned(),
            "a+b%2fc%22%c3%a9%2b%26".to_owned(),
        ] {
            assert_eq!(secrets.scrub(&format!("<{form}>")), "<[redacted]>", "{form}");
        }
        // Upper-casing an escape does not upper-case the secret: "AB" is someone else's.
        assert_eq!(Redactor::new().secret("ab").scrub("AB ab"), "AB [redacted]");
        assert_eq!(Redactor::new().scrub("as is"), "as is");
    }

    #[test]
    fn urls_and_headers_give_their_credentials() {
        let url = reqwest::Url::parse(
            "http://us%40er:p%40ss@h/x?q=kept&api_key=k%2B1&token=t+1&Key=K",
        )
        .unwrap();
        let mut secrets = Redactor::new();
        secrets.add_url(&url, |_| false);
        let text = "us@er p@ss k+1 t 1 K q kept";
        assert_eq!(
            secrets.scrub(text),
            "[redacted] [redacted] [redacted] [redacted] [redacted] q kept"
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
    }
}
