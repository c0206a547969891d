//! Text from outside (a header a server sent, a tool's name, a value a model wrote) cut short
//! for a message, so that one huge string makes an error of a line, not one as large as itself.

/// `text`, or its first `max` characters and `…`.
pub(crate) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn only_text_past_the_limit_is_cut_and_marked() {
        assert_eq!(cut("short", 5), "short");
        assert_eq!(cut("longer", 5), "longe…");
        assert_eq!(cut("ééé", 2), "éé…");
    }
}
