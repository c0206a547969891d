use plan_runtime::prelude::*;

fn start(x: u32) -> u32 {
    x
}
async fn b(x: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(100)).await;
    x + 1
}
async fn c(x: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(300)).await;
    x + 10
}
async fn d(x: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(100)).await;
    x + 100
}
fn join((c, d): (u32, u32)) -> u32 {
    c + d
}

#[tokio::test(start_paused = true)]
async fn smoke() {
    let p = plan! {
        let a = start;
        let b = a >> b;
        let c = a >> c;
        let d = b >> d;
        (c, d) >> join
    };
    let t = tokio::time::Instant::now();
    assert_eq!(p.run(1).await.unwrap(), 11 + 102);
    assert_eq!(t.elapsed(), Duration::from_millis(300));
    println!("{}", p.graph().to_mermaid());
}
