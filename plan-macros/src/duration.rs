//! Durations in plans: a literal with a unit (`250ms`, `1.5s`) or any `Duration` expression.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Lit};

use crate::source::source_text;
use crate::typed::typed;

/// A parsed duration argument.
pub enum DurationArg {
    /// A literal, converted to nanoseconds at expansion time.
    Literal { nanos: u128, span: Span },
    /// A Rust expression of type `Duration`, and its source text.
    Expr { expr: Box<Expr>, source: String },
}

const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

const HINT: &str = "write a number with a unit (`250ms`, `2s`, `1.5s`, `1m`, `10us`; units: ns, us, ms, s, m, h) or a `Duration` expression such as `cfg.deadline`";

impl Parse for DurationArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if !input.peek(Lit) {
            let (start, span) = (input.cursor(), input.span());
            let expr = input.parse()?;
            let source = source_text(start, input.cursor(), span);
            return Ok(DurationArg::Expr {
                expr: Box::new(expr),
                source,
            });
        }
        let lit: Lit = input.parse()?;
        let (digits, suffix) = match &lit {
            Lit::Int(int) => (int.base10_digits().to_owned(), int.suffix().to_owned()),
            Lit::Float(float) => (float.base10_digits().to_owned(), float.suffix().to_owned()),
            _ => {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("expected a duration: {HINT}"),
                ));
            }
        };
        if suffix.is_empty() {
            return Err(syn::Error::new(
                lit.span(),
                format!("this duration has no unit: {HINT}"),
            ));
        }
        let Some(&(_, scale)) = UNITS.iter().find(|(unit, _)| *unit == suffix) else {
            let hint = meant_unit(&suffix)
                .map(|unit| format!("; did you mean `{digits}{unit}`?"))
                .unwrap_or_default();
            return Err(syn::Error::new(
                lit.span(),
                format!("unknown duration unit `{suffix}`{hint} ({HINT})"),
            ));
        };
        let nanos = scaled(&digits, scale).ok_or_else(|| {
            syn::Error::new(
                lit.span(),
                format!("`{digits}{suffix}` is not a whole number of nanoseconds or is too large"),
            )
        })?;
        Ok(DurationArg::Literal {
            nanos,
            span: lit.span(),
        })
    }
}

/// The unit a misspelled `suffix` stands for: the usual long forms (`sec`, `msec`, `mins`,
/// `hours`, `µs`), then the closest unit by spelling.
fn meant_unit(suffix: &str) -> Option<&'static str> {
    const LONG: &[(&str, &str)] = &[
        ("nsec", "ns"),
        ("nanos", "ns"),
        ("usec", "us"),
        ("micros", "us"),
        ("µs", "us"),
        ("msec", "ms"),
        ("millis", "ms"),
        ("sec", "s"),
        ("secs", "s"),
        ("second", "s"),
        ("seconds", "s"),
        ("min", "m"),
        ("mins", "m"),
        ("minute", "m"),
        ("minutes", "m"),
        ("hr", "h"),
        ("hrs", "h"),
        ("hour", "h"),
        ("hours", "h"),
    ];
    let lower = suffix.to_lowercase();
    LONG.iter()
        .find(|(long, _)| *long == lower)
        .map(|&(_, unit)| unit)
        .or_else(|| {
            let units: Vec<&str> = UNITS.iter().map(|(unit, _)| *unit).collect();
            crate::suggest::closest(&lower, &units)
        })
}

/// `digits` (decimal, maybe with a fraction) times `scale`, exactly; `None` if not whole.
fn scaled(digits: &str, scale: u128) -> Option<u128> {
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole.checked_mul(scale)?;
    let mut place = scale;
    for digit in fraction.chars() {
        let digit = u128::from(digit.to_digit(10)?);
        if !place.is_multiple_of(10) {
            // A fractional nanosecond: only zeros may follow.
            if digit != 0 {
                return None;
            }
            continue;
        }
        place /= 10;
        nanos = nanos.checked_add(digit * place)?;
    }
    // At most `u64::MAX` nanoseconds (584 years): then any unit's count fits the `u64` that
    // `Duration::from_*` takes.
    u64::try_from(nanos).ok()?;
    Some(nanos)
}

impl DurationArg {
    /// An expression of type `::core::time::Duration`, in the most readable unit.
    pub fn to_tokens(&self) -> TokenStream {
        match self {
            DurationArg::Expr { expr, source } => typed(
                expr,
                source,
                (quote!(::core::time::Duration), "Duration"),
                "a duration",
                "write a number with a unit (`250ms`, `2s`) or make a `Duration`: `Duration::from_millis(..)`, `Duration::from_secs(..)`",
            ),
            DurationArg::Literal { nanos, span } => {
                let (ctor, value) = if nanos.is_multiple_of(1_000_000_000) {
                    ("from_secs", nanos / 1_000_000_000)
                } else if nanos.is_multiple_of(1_000_000) {
                    ("from_millis", nanos / 1_000_000)
                } else if nanos.is_multiple_of(1_000) {
                    ("from_micros", nanos / 1_000)
                } else {
                    ("from_nanos", *nanos)
                };
                let ctor = syn::Ident::new(ctor, *span);
                let value = proc_macro2::Literal::u128_unsuffixed(value);
                quote_spanned!(*span=> ::core::time::Duration::#ctor(#value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scaled;

    #[test]
    fn scales_exactly() {
        assert_eq!(scaled("250", 1_000_000), Some(250_000_000));
        assert_eq!(scaled("1.5", 1_000_000_000), Some(1_500_000_000));
        assert_eq!(scaled("1", 60_000_000_000), Some(60_000_000_000));
        assert_eq!(scaled("0.001", 1_000), Some(1));
        assert_eq!(scaled("0.0001", 1_000), None);
        assert_eq!(scaled("1.50", 1), None);
        assert_eq!(scaled("1.0", 1), Some(1));
        assert_eq!(scaled("99999999999999999999999", 1_000_000_000), None);
        // 2^64 + 1 milliseconds must not wrap to 1 ms.
        assert_eq!(scaled("18446744073709551617", 1_000_000), None);
        assert_eq!(
            scaled("18446744073", 1_000_000_000),
            Some(18_446_744_073_000_000_000)
        );
    }
}
