//! "Did you mean": the closest known word to a misspelled one.

use syn::Ident;
use syn::ext::IdentExt;
use syn::parse::ParseStream;

/// The candidate closest to `word`, if it is close enough to be what was meant: at most one
/// edit for short words, two for longer ones, or the two share their first four letters (or
/// all of a shorter candidate: `paralel` is `par`).
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = if word.len() <= 4 { 1 } else { 2 };
    candidates
        .iter()
        .map(|&candidate| (distance(word, candidate), candidate))
        .filter(|&(d, candidate)| {
            let shared = word
                .chars()
                .zip(candidate.chars())
                .take_while(|(a, b)| a == b)
                .count();
            d <= limit || (candidate.len() >= 3 && shared >= candidate.len().min(4))
        })
        .min_by_key(|&(d, _)| d)
        .map(|(_, candidate)| candidate)
}

/// `"; did you mean `x`?"` for the closest candidate, or nothing.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!("; did you mean `{c}`?"))
}

/// The error for an unknown word where one of `candidates` was expected: `unknown {what}
/// `{word}`; did you mean `{closest}`? ({list})`, spanned on the word.
pub fn unknown(input: ParseStream, what: &str, candidates: &[&str], list: &str) -> syn::Error {
    let span = input.span();
    let word = input
        .call(Ident::parse_any)
        .map(|w| w.to_string())
        .unwrap_or_default();
    let hint = did_you_mean(&word, candidates);
    syn::Error::new(span, format!("unknown {what} `{word}`{hint} ({list})"))
}

/// Levenshtein distance, with a swap of two neighbours counting as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![(0..=b.len()).collect::<Vec<_>>()];
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (rows[i - 1][j] + 1)
                .min(row[j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(rows[i - 2][j - 2] + 1);
            }
        }
        rows.push(row);
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn finds_what_was_meant() {
        let policies = [
            "all",
            "settled",
            "first",
            "first_completed",
            "n_best",
            "best",
        ];
        assert_eq!(closest("fist", &policies), Some("first"));
        assert_eq!(closest("setled", &policies), Some("settled"));
        assert_eq!(closest("nbest", &policies), Some("n_best"));
        assert_eq!(
            closest("first_complete", &policies),
            Some("first_completed")
        );
        assert_eq!(closest("fastest", &policies), None);
        assert_eq!(closest("timout", &["timeout", "limit"]), Some("timeout"));
        assert_eq!(closest("lmit", &["timeout", "limit"]), Some("limit"));
        assert_eq!(
            closest("retries", &["timeout", "retry", "name"]),
            Some("retry")
        );
        assert_eq!(closest("paralel", &["seq", "par", "each"]), Some("par"));
        assert_eq!(closest("deadline", &["timeout", "limit"]), None);
    }
}
