//! An HTTP call in a durable run: `#![durable]` over `lookup >> http >> body` journals the
//! request and the response, so a finished run run again calls the service nothing, against
//! an axum server that counts the requests it gets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use axum::extract::Query;
use axum::http::header::SET_COOKIE;
use axum::routing::get;
use plan_runtime::prelude::*;
use plan_state::runs::Runs;
use plan_state::store::{Sqlite, Store};
use plan_tools::http::{Http, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
struct Search {
    q: String,
}

#[tokio::test]
async fn a_finished_durable_run_calls_the_service_nothing_again() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/search",
        get(move |Query(search): Query<Search>| {
            let n = counter.fetch_add(1, SeqCst) + 1;
            async move {
                // A session cookie: a credential the journal must not keep.
                (
                    [(SET_COOKIE, "session=s3cr3t-cookie")],
                    format!("{} result(s) for {} (call {n})", 3, search.q),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let lookup = move |q: String| Request::get(format!("{base}/search?q={q}"));
    let body = |r: Response| r.text();
    let http = Http::new();
    let search = plan! { #![durable] lookup >> (http.clone()) >> body };
    let runs = Runs::new(Sqlite::open_in_memory().await.unwrap());
    let first = runs
        .run(&search, "search-1", "tokio".to_owned())
        .await
        .unwrap();
    assert_eq!(
        first.done().as_deref(),
        Some("3 result(s) for tokio (call 1)")
    );
    let again = runs
        .run(&search, "search-1", "tokio".to_owned())
        .await
        .unwrap();
    assert_eq!(
        again.done().as_deref(),
        Some("3 result(s) for tokio (call 1)")
    );
    assert_eq!(calls.load(SeqCst), 1, "the service was called again");
    // The journal holds the response, without the cookie the service set.
    let mut journal = String::new();
    for key in runs.store().keys("").await.unwrap() {
        let value = runs.store().get(&key).await.unwrap().unwrap().value;
        journal.push_str(&value.to_string());
    }
    assert!(journal.contains("(call 1)"), "{journal}");
    assert!(!journal.contains("s3cr3t-cookie"), "{journal}");
    // Another run calls it again.
    let other = runs
        .run(&search, "search-2", "tokio".to_owned())
        .await
        .unwrap();
    assert_eq!(
        other.done().as_deref(),
        Some("3 result(s) for tokio (call 2)")
    );
}
