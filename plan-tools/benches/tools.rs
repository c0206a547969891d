//! The tools' hot paths against the libraries they wrap: a rate limit's admission against
//! `governor`'s own check, and an HTTP call through [`Http`] against the same call with a bare
//! `reqwest::Client`, both to an axum server on 127.0.0.1.
//!
//! `cargo bench -p plan-tools --bench tools`.

use std::num::NonZeroU32;

use criterion::{Criterion, criterion_group, criterion_main};
use plan_tools::http::{Http, Request};
use plan_tools::limit::RateLimit;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Admissions that never wait: the cost of the check itself.
fn rate_limit(c: &mut Criterion) {
    let rt = runtime();
    let limit = RateLimit::per_second(1_000_000_000).burst(1_000_000);
    let raw = governor::RateLimiter::direct(
        governor::Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap())
            .allow_burst(NonZeroU32::new(1_000_000).unwrap()),
    );
    let mut group = c.benchmark_group("rate_limit_admitted");
    group.bench_function("plan_tools", |b| {
        b.to_async(&rt).iter(|| async { limit.acquire().await })
    });
    group.bench_function("governor_check", |b| b.iter(|| raw.check().is_ok()));
    group.finish();
}

/// One GET of a short body.
fn http(c: &mut Criterion) {
    let rt = runtime();
    let base = rt.block_on(async {
        let app = axum::Router::new().route("/ok", axum::routing::get(|| async { "hello" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let http = Http::builder().allow([base.to_string()]).build();
    let base = format!("http://{base}/ok");
    let client = reqwest::Client::new();
    rt.block_on(async {
        assert_eq!(
            http.send(Request::get(&base)).await.unwrap().text(),
            "hello"
        );
        assert_eq!(
            client
                .get(&base)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
            "hello"
        );
    });
    let mut group = c.benchmark_group("http_get");
    group.bench_function("plan_tools", |b| {
        b.to_async(&rt)
            .iter(|| async { http.send(Request::get(&base)).await.unwrap() })
    });
    group.bench_function("reqwest", |b| {
        b.to_async(&rt).iter(|| async {
            client
                .get(&base)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, rate_limit, http);
criterion_main!(benches);
