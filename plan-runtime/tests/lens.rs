//! Lenses: `#[derive(Lens)]`, `Type::field`, `.then(..)`, `lens(get, get_mut)`,
//! `focus(lens) { body }`, and the lens laws, property-tested.

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use plan_runtime::NodeKind;
use plan_runtime::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

#[derive(Clone, Debug, Default, PartialEq, Lens)]
struct Memory {
    notes: Vec<String>,
    turns: u32,
}

/// Neither `Clone` nor `Default` nor `PartialEq`: a focus on another field must leave it as it
/// is — same heap allocation, never dropped and rebuilt.
#[derive(Debug)]
struct Handle {
    id: Box<u64>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Lens)]
struct Agent {
    name: String,
    memory: Memory,
    handle: Handle,
}

#[derive(Clone, Debug, Default, PartialEq, Lens)]
struct Profile {
    label: String,
    score: i64,
    memory: Memory,
}

/// A generic struct, with a bound.
#[derive(Clone, Debug, Default, PartialEq, Lens)]
struct Tagged<T: Clone> {
    value: T,
    tag: u8,
}

/// Const generics and a lifetime.
#[derive(Debug, Lens)]
struct Window<'a, const N: usize> {
    data: [u8; N],
    label: &'a str,
}

fn agent(drops: &Arc<AtomicUsize>) -> Agent {
    Agent {
        name: "ada".into(),
        memory: Memory {
            notes: vec!["hello".into()],
            turns: 1,
        },
        handle: Handle {
            id: Box::new(7),
            drops: Arc::clone(drops),
        },
    }
}

fn remember(mut m: Memory) -> Memory {
    m.notes.push(format!("turn {}", m.turns));
    m.turns = m.turns.wrapping_add(1);
    m
}

async fn remember_later(m: Memory) -> Memory {
    tokio::task::yield_now().await;
    remember(m)
}

fn add_one(x: u32) -> u32 {
    x + 1
}

fn shout(s: String) -> String {
    s.to_uppercase()
}

// ---------------------------------------------------------------------------------------------
// The lenses themselves.

#[test]
fn derived_lenses_get_get_mut_and_set() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut a = agent(&drops);
    assert_eq!(Agent::name.get(&a), "ada");
    assert_eq!(Agent::memory.get(&a).turns, 1);
    assert_eq!(*Agent::handle.get(&a).id, 7);

    Agent::memory.get_mut(&mut a).turns += 10;
    assert_eq!(a.memory.turns, 11);
    Agent::name.set(&mut a, "grace".into());
    assert_eq!(a.name, "grace");
    assert_eq!(a.memory.notes, vec!["hello".to_owned()]);
    assert_eq!(drops.load(Ordering::SeqCst), 0);

    // Lenses are small copyable values with a readable Debug.
    let l = Agent::memory;
    let l2 = l;
    assert_eq!(l.get(&a), l2.get(&a));
    assert_eq!(format!("{:?}", Agent::memory), "Agent::memory");
    assert_eq!(std::mem::size_of_val(&Agent::memory), 0);
}

#[test]
fn derived_lenses_on_generic_structs() {
    let mut t = Tagged {
        value: "x".to_owned(),
        tag: 3,
    };
    assert_eq!(Tagged::value.get(&t), "x");
    Tagged::value.set(&mut t, "y".to_owned());
    Tagged::<String>::tag.set(&mut t, 4);
    assert_eq!(
        t,
        Tagged {
            value: "y".to_owned(),
            tag: 4
        }
    );

    let mut n = Tagged {
        value: 1.5_f64,
        tag: 0,
    };
    *Tagged::value.get_mut(&mut n) *= 2.0;
    assert_eq!(n.value, 3.0);

    let mut w = Window::<3> {
        data: [1, 2, 3],
        label: "w",
    };
    Window::data.get_mut(&mut w)[0] = 9;
    assert_eq!(Window::data.get(&w), &[9, 2, 3]);
    assert_eq!(*Window::label.get(&w), "w");
}

#[test]
fn composed_lenses_with_then() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut a = agent(&drops);
    let turns = Agent::memory.then(Memory::turns);
    assert_eq!(*turns.get(&a), 1);
    turns.set(&mut a, 5);
    assert_eq!(a.memory.turns, 5);
    assert_eq!(a.memory.notes, vec!["hello".to_owned()]);

    let notes = Agent::memory.then(Memory::notes);
    notes.get_mut(&mut a).push("more".into());
    assert_eq!(a.memory.notes, vec!["hello".to_owned(), "more".to_owned()]);

    // Three deep, mixing derived and hand-made lenses.
    let mut nested = Tagged {
        value: Profile::default(),
        tag: 1,
    };
    let deep = Tagged::value
        .then(Profile::memory)
        .then(lens(|m: &Memory| &m.turns, |m: &mut Memory| &mut m.turns));
    deep.set(&mut nested, 42);
    assert_eq!(nested.value.memory.turns, 42);
    assert_eq!(*deep.get(&nested), 42);
}

#[test]
fn lens_from_two_functions() {
    let second = lens(|t: &(u8, String)| &t.1, |t: &mut (u8, String)| &mut t.1);
    let mut pair = (1, "a".to_owned());
    assert_eq!(second.get(&pair), "a");
    second.set(&mut pair, "b".to_owned());
    assert_eq!(pair, (1, "b".to_owned()));
    second.get_mut(&mut pair).push('c');
    assert_eq!(pair, (1, "bc".to_owned()));
}

// ---------------------------------------------------------------------------------------------
// focus.

#[tokio::test]
async fn focus_changes_only_the_focused_part() {
    let drops = Arc::new(AtomicUsize::new(0));
    let a = agent(&drops);
    let handle_at: *const u64 = &*a.handle.id;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = {
        let seen = Arc::clone(&seen);
        move |m: Memory| {
            seen.lock().unwrap().push(m.clone());
            m
        }
    };

    let p = plan! { focus(Agent::memory) { record >> remember >> remember_later } };
    let out = p.run(a).await.unwrap();

    // The body saw exactly the focused part.
    assert_eq!(
        *seen.lock().unwrap(),
        vec![Memory {
            notes: vec!["hello".into()],
            turns: 1
        }]
    );
    assert_eq!(
        out.memory,
        Memory {
            notes: vec!["hello".into(), "turn 1".into(), "turn 2".into()],
            turns: 3,
        }
    );
    // A field of another type is as it was.
    assert_eq!(out.name, "ada");
    // The non-Clone sibling was neither cloned nor rebuilt: same allocation, never dropped.
    assert_eq!(&*out.handle.id as *const u64, handle_at);
    assert_eq!(*out.handle.id, 7);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(out);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn focus_inside_a_chain_and_on_a_string_field() {
    let drops = Arc::new(AtomicUsize::new(0));
    let p = plan! { focus(Agent::name) { shout } >> focus(Agent::memory) { remember } };
    let out = p.run(agent(&drops)).await.unwrap();
    assert_eq!(out.name, "ADA");
    assert_eq!(out.memory.turns, 2);
    assert_eq!(*out.handle.id, 7);
}

#[tokio::test]
async fn nested_focus_through_then() {
    let drops = Arc::new(AtomicUsize::new(0));
    let p = plan! { focus(Agent::memory.then(Memory::turns)) { add_one >> add_one } };
    let out = p.run(agent(&drops)).await.unwrap();
    assert_eq!(out.memory.turns, 3);
    assert_eq!(out.memory.notes, vec!["hello".to_owned()]);
    assert_eq!(out.name, "ada");
    assert_eq!(drops.load(Ordering::SeqCst), 0);

    // The same, written as nested focus blocks.
    let p = plan! { focus(Agent::memory) { focus(Memory::turns) { add_one } >> remember } };
    let out = p.run(agent(&drops)).await.unwrap();
    assert_eq!(
        out.memory,
        Memory {
            notes: vec!["hello".into(), "turn 2".into()],
            turns: 3,
        }
    );
    assert_eq!(out.name, "ada");
}

#[tokio::test]
async fn focus_with_a_lens_from_two_functions_and_a_generic_struct() {
    let p = plan! {
        focus(lens(|t: &(u8, Memory)| &t.1, |t: &mut (u8, Memory)| &mut t.1)) { remember }
    };
    let (n, m) = p.run((9, Memory::default())).await.unwrap();
    assert_eq!(n, 9);
    assert_eq!(
        m,
        Memory {
            notes: vec!["turn 0".into()],
            turns: 1
        }
    );

    let p = plan! { focus(Tagged::value) { add_one } };
    let out = p
        .run(Tagged {
            value: 1_u32,
            tag: 5,
        })
        .await
        .unwrap();
    assert_eq!(out, Tagged { value: 2, tag: 5 });
}

#[tokio::test]
async fn an_error_in_a_focus_body_propagates_naming_the_body_step() {
    fn fail_on_two(m: Memory) -> Result<Memory, String> {
        if m.turns == 2 {
            Err("two turns".into())
        } else {
            Ok(m)
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let p = plan! { focus(Agent::memory) { remember >> fail_on_two } };
    let err = p.run(agent(&drops)).await.unwrap_err();
    assert_eq!(err.node().name, "fail_on_two");
    assert_eq!(err.node().kind, NodeKind::Step);
    assert_eq!(err.node().path, "0/1");
    assert!(err.to_string().contains("two turns"), "{err}");
    // The failed run's state was dropped with it, exactly once.
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------------
// Lens laws, property-tested.

/// get-set: putting back what you got changes nothing.
fn get_set<S, L>(l: &L, s: &S) -> Result<(), TestCaseError>
where
    S: Clone + PartialEq + Debug,
    L: Lens<S>,
    L::Target: Clone,
{
    let mut whole = s.clone();
    let part = l.get(&whole).clone();
    l.set(&mut whole, part);
    prop_assert_eq!(&whole, s);
    Ok(())
}

/// set-get: you get what you set.
fn set_get<S, L>(l: &L, s: &S, v: &L::Target) -> Result<(), TestCaseError>
where
    S: Clone,
    L: Lens<S>,
    L::Target: Clone + PartialEq + Debug,
{
    let mut whole = s.clone();
    l.set(&mut whole, v.clone());
    prop_assert_eq!(l.get(&whole), v);
    Ok(())
}

/// set-set: the second set wins, as if the first never happened.
fn set_set<S, L>(l: &L, s: &S, v1: &L::Target, v2: &L::Target) -> Result<(), TestCaseError>
where
    S: Clone + PartialEq + Debug,
    L: Lens<S>,
    L::Target: Clone,
{
    let mut twice = s.clone();
    l.set(&mut twice, v1.clone());
    l.set(&mut twice, v2.clone());
    let mut once = s.clone();
    l.set(&mut once, v2.clone());
    prop_assert_eq!(twice, once);
    Ok(())
}

fn laws<S, L>(l: L, s: &S, v1: &L::Target, v2: &L::Target) -> Result<(), TestCaseError>
where
    S: Clone + PartialEq + Debug,
    L: Lens<S>,
    L::Target: Clone + PartialEq + Debug,
{
    get_set(&l, s)?;
    set_get(&l, s, v1)?;
    set_get(&l, s, v2)?;
    set_set(&l, s, v1, v2)?;
    Ok(())
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..6).prop_map(String::from_iter)
}

fn notes() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..4)
}

fn memory() -> impl Strategy<Value = Memory> {
    (notes(), any::<u32>()).prop_map(|(notes, turns)| Memory { notes, turns })
}

fn profile() -> impl Strategy<Value = Profile> {
    (text(), any::<i64>(), memory()).prop_map(|(label, score, memory)| Profile {
        label,
        score,
        memory,
    })
}

fn memory_turns_by_hand() -> impl Lens<Memory, Target = u32> {
    lens(|m: &Memory| &m.turns, |m: &mut Memory| &mut m.turns)
}

proptest! {
    #[test]
    fn laws_hold_for_derived_lenses(
        p in profile(), l1 in text(), l2 in text(), s1 in any::<i64>(), s2 in any::<i64>(),
        m1 in memory(), m2 in memory(),
    ) {
        laws(Profile::label, &p, &l1, &l2)?;
        laws(Profile::score, &p, &s1, &s2)?;
        laws(Profile::memory, &p, &m1, &m2)?;
    }

    #[test]
    fn laws_hold_for_derived_lenses_on_generic_structs(
        v in any::<i32>(), tag in any::<u8>(), a in any::<i32>(), b in any::<i32>(),
        t1 in any::<u8>(), t2 in any::<u8>(),
    ) {
        let t = Tagged { value: v, tag };
        laws(Tagged::value, &t, &a, &b)?;
        laws(Tagged::tag, &t, &t1, &t2)?;
    }

    #[test]
    fn laws_hold_for_composed_lenses(
        p in profile(), n1 in notes(), n2 in notes(), u1 in any::<u32>(), u2 in any::<u32>(),
        tag in any::<u8>(),
    ) {
        laws(Profile::memory.then(Memory::notes), &p, &n1, &n2)?;
        laws(Profile::memory.then(Memory::turns), &p, &u1, &u2)?;
        let t = Tagged { value: p.clone(), tag };
        laws(Tagged::value.then(Profile::memory).then(Memory::turns), &t, &u1, &u2)?;
        laws(Profile::memory.then(memory_turns_by_hand()), &p, &u1, &u2)?;
    }

    #[test]
    fn laws_hold_for_lenses_from_two_functions(
        n in any::<u8>(), m in memory(), m1 in memory(), m2 in memory(),
        u1 in any::<u32>(), u2 in any::<u32>(),
    ) {
        let second = lens(|t: &(u8, Memory)| &t.1, |t: &mut (u8, Memory)| &mut t.1);
        laws(second, &(n, m.clone()), &m1, &m2)?;
        laws(memory_turns_by_hand(), &m, &u1, &u2)?;
        let second = lens(|t: &(u8, Memory)| &t.1, |t: &mut (u8, Memory)| &mut t.1);
        laws(second.then(Memory::notes), &(n, m), &m1.notes, &m2.notes)?;
    }

    /// `focus(l) { body }` is `set(s, body(get(s)))`, and leaves the rest of `s` alone.
    #[test]
    fn focus_agrees_with_get_and_set(p in profile()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let plan = plan! { focus(Profile::memory) { remember } };
        let got = rt.block_on(plan.run(p.clone())).unwrap();
        let mut expected = p.clone();
        Profile::memory.set(&mut expected, remember(Profile::memory.get(&p).clone()));
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(&got.label, &p.label);
        prop_assert_eq!(got.score, p.score);
    }
}

/// `#[derive(Lens)]` keeps the struct's `where` clause on the lenses it makes.
#[derive(Lens)]
struct Bounded<T>
where
    T: Clone,
{
    item: T,
}

#[test]
fn derive_keeps_where_clauses() {
    let mut bounded = Bounded { item: 5u8 };
    Bounded::<u8>::item.set(&mut bounded, 9);
    assert_eq!(*Bounded::<u8>::item.get(&bounded), 9);
}
