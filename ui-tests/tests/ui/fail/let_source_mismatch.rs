use plan_runtime::prelude::*;

fn parse(text: String) -> u32 {
    text.len() as u32
}
fn shout(text: String) -> String {
    text.to_uppercase()
}

#[tokio::main]
async fn main() {
    let plan = plan! {
        let n = parse;
        let loud = n >> shout;
        loud
    };
    let _ = plan.run("hi".to_owned()).await;
}
