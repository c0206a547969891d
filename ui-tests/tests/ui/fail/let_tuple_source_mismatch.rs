use plan_runtime::prelude::*;

#[derive(Clone)]
struct Tree;
struct Core;
struct Assets;
struct Bytes;

fn checkout(_: ()) -> Tree {
    Tree
}
fn compile(_: Tree) -> Core {
    Core
}
fn fetch(_: Tree) -> Bytes {
    Bytes
}
fn link(_: (Core, Assets)) -> u32 {
    0
}

#[tokio::main]
async fn main() {
    let release = plan! {
        let src = checkout;
        let core = src >> compile;
        let assets = src >> fetch;
        (core, assets) >> link
    };
    let _ = release.run(()).await;
}
