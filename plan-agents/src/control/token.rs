//! The control API's bearer token: the one secret that admits a client.

use std::fmt;

use subtle::ConstantTimeEq;

/// The secret a client shows to use the control API, as `Authorization: Bearer TOKEN` or
/// `?token=TOKEN`.
///
/// At least 16 characters, each URL-safe (`A-Z a-z 0-9 - . _ ~`), so that it goes in a query
/// as it is. Its `Debug` and `Display` print `[redacted]`; [`Token::expose`] gives the text.
///
/// ```
/// use plan_agents::control::Token;
///
/// let token = Token::new("correct-horse-battery-staple")?;
/// assert_eq!(token.expose(), "correct-horse-battery-staple");
/// assert_eq!(format!("{token:?} {token}"), "[redacted] [redacted]");
/// assert!(Token::new("short").is_err());
/// # Ok::<_, plan_agents::control::TokenError>(())
/// ```
#[derive(Clone)]
pub struct Token(String);

/// Why a text is not a [`Token`]. It never holds the text itself.
///
/// ```
/// use plan_agents::control::{Token, TokenError};
///
/// let error = Token::new("no spaces in tokens").unwrap_err();
/// assert_eq!(error, TokenError::Character { at: 2 });
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Fewer than 16 characters.
    #[error("a control token has at least {min} characters; this one has {0}", min = Token::MIN_LEN)]
    TooShort(usize),
    /// A character that is not URL-safe, at this position (counted from 0).
    #[error(
        "a control token has only the characters A-Z a-z 0-9 - . _ ~ (so that `?token=` needs no escaping); character {at} is not one"
    )]
    Character {
        /// Its position, counted in characters from 0.
        at: usize,
    },
    /// The environment variable is set but is not Unicode.
    #[error("${0} is not Unicode")]
    NotUnicode(String),
    /// The environment variable holds what is not a token.
    #[error("${var}: {error}")]
    InVar {
        /// The variable.
        var: String,
        /// What is wrong with its value.
        error: Box<TokenError>,
    },
}

impl Token {
    /// The fewest characters a token has: 16, which random tokens far exceed.
    ///
    /// ```
    /// use plan_agents::control::Token;
    ///
    /// assert!(Token::new("x".repeat(Token::MIN_LEN)).is_ok());
    /// assert!(Token::new("x".repeat(Token::MIN_LEN - 1)).is_err());
    /// ```
    pub const MIN_LEN: usize = 16;

    /// `text` as a token, if it has at least [`Token::MIN_LEN`] characters, all URL-safe.
    ///
    /// ```
    /// use plan_agents::control::{Token, TokenError};
    ///
    /// assert!(Token::new("0123456789abcdef").is_ok());
    /// assert_eq!(Token::new("0123456789").unwrap_err(), TokenError::TooShort(10));
    /// ```
    pub fn new(text: impl Into<String>) -> Result<Token, TokenError> {
        let text = text.into();
        if let Some(at) = text.chars().position(|c| !url_safe(c)) {
            return Err(TokenError::Character { at });
        }
        // Every character is ASCII now, so bytes are characters.
        if text.len() < Token::MIN_LEN {
            return Err(TokenError::TooShort(text.len()));
        }
        Ok(Token(text))
    }

    /// A new token of 32 random bytes from the operating system, as 64 hex digits.
    ///
    /// Panics only if the operating system has no random numbers to give, which no server
    /// should run without.
    ///
    /// ```
    /// use plan_agents::control::Token;
    ///
    /// let (a, b) = (Token::random(), Token::random());
    /// assert_eq!(a.expose().len(), 64);
    /// assert_ne!(a.expose(), b.expose());
    /// ```
    pub fn random() -> Token {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random number generator");
        Token(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The token in the environment variable `var`, or `None` if it is not set.
    ///
    /// ```
    /// use plan_agents::control::Token;
    ///
    /// assert!(Token::from_env("PLAN_DOCTEST_NO_SUCH_VARIABLE")?.is_none());
    /// # Ok::<_, plan_agents::control::TokenError>(())
    /// ```
    pub fn from_env(var: &str) -> Result<Option<Token>, TokenError> {
        match std::env::var(var) {
            Ok(text) => Token::new(text)
                .map(Some)
                .map_err(|error| TokenError::InVar {
                    var: var.to_owned(),
                    error: Box::new(error),
                }),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(TokenError::NotUnicode(var.to_owned())),
        }
    }

    /// The token's text, to give to a client.
    ///
    /// ```
    /// use plan_agents::control::Token;
    ///
    /// let token = Token::new("0123456789abcdef")?;
    /// let url = format!("ws://127.0.0.1:7070/rpc?token={}", token.expose());
    /// assert!(url.ends_with("=0123456789abcdef"));
    /// # Ok::<_, plan_agents::control::TokenError>(())
    /// ```
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this token, in a time that does not tell how much of it matched.
    pub(super) fn admits(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

/// The characters RFC 3986 leaves unreserved: a query carries them unescaped.
fn url_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_only_itself() {
        let token = Token::new("0123456789abcdef").unwrap();
        assert!(token.admits("0123456789abcdef"));
        assert!(!token.admits("0123456789abcdeF"));
        assert!(!token.admits("0123456789abcde"));
        assert!(!token.admits(""));
    }

    #[test]
    fn errors_never_hold_the_text() {
        let error = Token::new("secret-but-has a space").unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
