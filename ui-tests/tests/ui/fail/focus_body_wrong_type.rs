use plan_runtime::prelude::*;

#[derive(Default, Lens)]
struct State {
    count: u32,
}

fn load(state: State) -> State {
    state
}

fn describe(n: u32) -> String {
    n.to_string()
}

#[tokio::main]
async fn main() {
    let plan = plan! { load >> focus(State::count) { describe } };
    let _ = plan.run(State::default()).await;
}
