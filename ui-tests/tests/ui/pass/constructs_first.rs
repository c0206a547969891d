//! Every construct may open a plan, before anything fixes the plan's input type.

use plan_runtime::prelude::*;

#[derive(Clone, Default, Lens)]
struct Doc {
    title: String,
}

fn shout(s: String) -> String {
    s.to_uppercase()
}
fn small(n: &u32) -> bool {
    *n < 10
}
fn inc(n: u32) -> u32 {
    n + 1
}
fn even(n: &u32) -> bool {
    n % 2 == 0
}
fn half(n: u32) -> u32 {
    n / 2
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let focus = plan! { focus(Doc::title) { shout } };
    let doc = rt.block_on(focus.run(Doc { title: "hi".into() })).unwrap();
    assert_eq!(doc.title, "HI");
    let counting = plan! { loop(while = small, max = 20) { inc } >> par(all) { inc, half } };
    assert_eq!(rt.block_on(counting.run(1)).unwrap(), (11, 5));
    let choice = plan! { choose { if even => half, else => inc } };
    assert_eq!(rt.block_on(choice.run(4)).unwrap(), 2);
    let each = plan! { each(all, limit = 2) { inc } };
    assert_eq!(rt.block_on(each.run(vec![1, 2])).unwrap(), vec![2, 3]);
}
