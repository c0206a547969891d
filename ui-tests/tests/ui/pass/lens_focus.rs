//! `#[derive(Lens)]` gives `Type::field` lenses; they compose with `.then`, and `lens(get,
//! get_mut)` builds one by hand. `focus` runs a body on the focused part only.

use plan_runtime::prelude::*;

#[derive(Clone, Debug, Default, Lens)]
pub struct Agent {
    pub memory: Memory,
    name: String,
    r#type: u8,
}

#[derive(Clone, Debug, Default, Lens)]
pub struct Memory {
    notes: Vec<String>,
    turns: u32,
}

#[derive(Clone, Debug, Default, Lens)]
struct Tagged<T> {
    value: T,
    tag: &'static str,
}

fn remember(mut notes: Vec<String>) -> Vec<String> {
    notes.push("seen".to_string());
    notes
}
fn count(turns: u32) -> u32 {
    turns + 1
}
fn shout(name: String) -> String {
    name.to_uppercase()
}
fn retype(t: u8) -> u8 {
    t + 1
}
fn tag_agent(agent: Agent) -> Tagged<Agent> {
    Tagged { value: agent, tag: "agent" }
}

fn main() {
    let plan = plan! {
        focus(Agent::memory) { focus(Memory::turns) { count } }
        >> focus(Agent::memory.then(Memory::notes)) { remember >> remember }
        >> focus(Agent::name) { shout }
        >> focus(Agent::r#type) { retype }
        >> focus(lens(|a: &Agent| &a.memory.turns, |a: &mut Agent| &mut a.memory.turns)) { count }
        >> tag_agent
        >> focus(Tagged::<Agent>::value) { focus(Agent::memory.then(Memory::turns)) { count } }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let agent = Agent { name: "ada".to_string(), ..Agent::default() };
    let out = rt.block_on(plan.run(agent)).unwrap();
    assert_eq!(out.value.memory.notes.len(), 2);
    assert_eq!(out.value.memory.turns, 3);
    assert_eq!(out.value.name, "ADA");
    assert_eq!(out.value.r#type, 1);
    assert_eq!(out.tag, "agent");
}
