//! What an error echoes of a string given from outside: all of it if it is short, else its
//! start and its length, so that a huge name (from a client of the control API, say) makes
//! an error of a few lines, not one as large as itself.

/// How many bytes of a name (an agent's, a kind's, a task's, a header's) an error echoes.
pub(crate) const NAME: usize = 64;

/// How many bytes of a reason (a serde or cron error, which may quote the input) an error
/// echoes.
pub(crate) const REASON: usize = 512;

/// `given` as an error echoes a name: whole up to [`NAME`] bytes, else cut short.
pub(crate) fn name(given: &str) -> String {
    clip(given, NAME)
}

/// `given` as an error echoes a reason: whole up to [`REASON`] bytes, else cut short.
pub(crate) fn reason(given: &str) -> String {
    clip(given, REASON)
}

/// `given`, or its first `max` bytes at most (cut on a char boundary), `…`, and its length
/// in bytes: `aaaa… (500000 bytes)`.
fn clip(given: &str, max: usize) -> String {
    if given.len() <= max {
        return given.to_owned();
    }
    // `str::floor_char_boundary` is newer than the crate's minimum Rust.
    let end = (0..=max)
        .rev()
        .find(|&i| given.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}… ({} bytes)", &given[..end], given.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_string_is_cut_on_a_char_boundary_and_its_length_told() {
        assert_eq!(name("agent-ada"), "agent-ada");
        assert_eq!(name(&"a".repeat(64)), "a".repeat(64));
        assert_eq!(
            name(&"a".repeat(65)),
            format!("{}… (65 bytes)", "a".repeat(64))
        );
        // `é` is two bytes: the 64th byte is in the middle of the 32nd.
        let accents = format!("a{}", "é".repeat(40));
        assert_eq!(name(&accents), format!("a{}… (81 bytes)", "é".repeat(31)));
    }
}
