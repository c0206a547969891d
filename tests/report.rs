mod common;
use common::*;
use plan_runtime::prelude::*;

async fn a(x: u32) -> u32 {
    tokio::time::sleep(ms(10)).await;
    x
}
async fn b(x: u32) -> u32 {
    tokio::time::sleep(ms(40)).await;
    x
}
async fn c(x: u32) -> u32 {
    tokio::time::sleep(ms(30)).await;
    x
}
async fn d((x, y): (u32, u32)) -> u32 {
    tokio::time::sleep(ms(5)).await;
    x + y
}
async fn slow(x: u32) -> u32 {
    tokio::time::sleep(ms(100)).await;
    x
}
fn boom(_x: u32) -> u32 {
    panic!("boom")
}

#[tokio::test(start_paused = true)]
async fn explore() {
    let p = plan! { a >> par(all) { b, c } >> d };
    let (out, r) = p.run_reported(1).await;
    println!("{out:?}\n{r}\n{r:#?}");
    let inner = plan! { a >> #[timeout(5ms)] b };
    let p = plan! { a >> inner >> a };
    let (out, r) = p.run_reported(1).await;
    println!("{out:?}\n{r}");
    let p =
        plan! { a >> par(first) { b, c, (|_x: u32| async { Err::<u32, String>("x".into()) }) } };
    let (out, r) = p.run_reported(1).await;
    println!("{out:?}\n{r}");
    let p = plan! { a >> par(all, timeout = 35ms) { b, c } };
    let (out, r) = p.run_reported(1).await;
    println!("{out:?}\n{r}");
    let p = plan! { a >> par(settled) { b, boom } };
    let (out, r) = p.run_reported(1).await;
    println!("{out:?}\n{r}");
    let p = plan! { boom };
    let (out, r) = p.run_reported(1).await;
    println!("{out:?}\n{r}");
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    let p = plan! { par(all) { slow, a } };
    let (_, r) = p.run_reported(1).await;
    println!(
        "{}",
        serde_json::to_string_pretty(&r.chrome_trace()).unwrap()
    );
}
