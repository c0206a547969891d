//! Where the run's lines go: stdout, above the live progress bar (which draws on stderr, and
//! only on a terminal), so that neither garbles the other; or nowhere, for the `chaos`
//! example, which runs the agent many times and prints a line per run.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget};

/// The output of a run, shared by the steps, the sources and the progress display.
#[derive(Clone)]
pub struct Console {
    bar: ProgressBar,
    quiet: bool,
}

impl Console {
    /// Lines printed above `bar`; or, `quiet`, nothing printed at all.
    pub fn new(bar: ProgressBar, quiet: bool) -> Self {
        Console { bar, quiet }
    }

    /// The progress bar, for the progress display.
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// Prints `text` as a line of its own.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        self.bar.suspend(|| println!("{text}"));
    }

    /// Prints `header`, then gets out of the way of a text streamed after it: the bar would
    /// redraw in the middle of the text's lines, so it is cleared and drawn no more.
    pub fn start_stream(&self, header: &str) {
        self.bar.finish_and_clear();
        self.bar.set_draw_target(ProgressDrawTarget::hidden());
        if !self.quiet {
            println!("{header}");
        }
    }

    /// Prints a piece of a streamed text as it arrives.
    pub fn stream(&self, piece: &str) {
        if self.quiet {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(piece.as_bytes());
        let _ = out.flush();
    }
}

/// An error and every cause under it, on one line: the budget's refusal is a cause.
pub fn with_causes(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !line.contains(&text) {
            line += &format!(": {text}");
        }
        cause = inner.source();
    }
    one_line(&line)
}

/// `text` with its runs of white space, new lines among them, as single spaces.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
