// The wiring-mismatch diagnostic of `plan!` must speak of the user's steps and types only:
// `tests/ui.rs` checks that this file's `.stderr` names none of the macro's internals. (A later
// `.run(..)` on the broken plan adds a follow-on error that prints the plan's type; see
// `wiring_mismatch.stderr`.)

use plan_runtime::prelude::*;

struct Question(String);
struct Answer(String);

fn ask(text: String) -> Question {
    Question(text)
}
fn publish(answer: Answer) -> usize {
    answer.0.len()
}

fn main() {
    let plan = plan! { ask >> publish };
    drop(plan);
}
