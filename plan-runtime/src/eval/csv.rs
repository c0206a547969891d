//! The CSV the results are written as: RFC 4180 fields, a header row, `\n` line ends.

use std::fmt::Write;

/// Rows of CSV being written.
#[derive(Default)]
pub(super) struct Csv {
    text: String,
}

impl Csv {
    /// Appends one row.
    pub(super) fn row<S: AsRef<str>>(&mut self, fields: impl IntoIterator<Item = S>) {
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                self.text.push(',');
            }
            let field = field.as_ref();
            // A field with a separator, a quote or a line break is quoted, its quotes doubled;
            // any other is written as it is.
            if field.contains([',', '"', '\n', '\r']) {
                let _ = write!(self.text, "\"{}\"", field.replace('"', "\"\""));
            } else {
                self.text.push_str(field);
            }
        }
        self.text.push('\n');
    }

    pub(super) fn finish(self) -> String {
        self.text
    }
}
