//! The largest tuples: `plan!` takes 12 branches in a `par`, 12 sources in a binding and a
//! chain of any length, and the runtime implements each. `plan-macros` refuses 13 branches or
//! sources with its own copy of the limit; these plans fail to build if the runtime's limit
//! (`arity::MAX_ARITY`) ever falls below it.

use plan_runtime::prelude::*;

fn plus(n: u32) -> u32 {
    n + 1
}

#[tokio::test]
async fn a_par_runs_twelve_branches() {
    let plan = plan! { par(all) { plus, plus, plus, plus, plus, plus, plus, plus, plus, plus, plus, plus } };
    assert_eq!(
        plan.run(1).await.unwrap(),
        (2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)
    );
}

#[tokio::test]
async fn a_binding_reads_twelve_sources() {
    fn sum(
        (a, b, c, d, e, f, g, h, i, j, k, l): (
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
            u32,
        ),
    ) -> u32 {
        a + b + c + d + e + f + g + h + i + j + k + l
    }
    let plan = plan! {
        let a = plus;
        let b = plus;
        let c = plus;
        let d = plus;
        let e = plus;
        let f = plus;
        let g = plus;
        let h = plus;
        let i = plus;
        let j = plus;
        let k = plus;
        let l = plus;
        (a, b, c, d, e, f, g, h, i, j, k, l) >> sum
    };
    assert_eq!(plan.run(1).await.unwrap(), 24);
}

#[tokio::test]
async fn a_chain_of_twelve_and_of_thirteen_steps_runs_in_turn() {
    let twelve = plan! { plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus };
    let thirteen = plan! { plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus >> plus };
    assert_eq!(twelve.run(0).await.unwrap(), 12);
    assert_eq!(thirteen.run(0).await.unwrap(), 13);
}
