//! A run's budget and counters with model calls: a fake model that counts the calls it gets
//! and answers with a fixed usage, in parallel branches sharing one budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use futures::future::BoxFuture;
use plan_runtime::prelude::*;
use plan_tools::budget::{Budget, BudgetExceeded, Price, PriceTable, Spent};
use plan_tools::http::{Http, HttpError, Request, RetryPolicy};
use plan_tools::llm::{Chat, ChatRequest, Completion, Llm, LlmError, OpenAi, Usage};

/// Answers every prompt with 5 prompt tokens and 50 completion tokens, counting calls.
#[derive(Clone, Default)]
struct Fake {
    calls: Arc<AtomicUsize>,
}

impl Llm for Fake {
    fn complete(&self, request: ChatRequest) -> BoxFuture<'_, Result<Completion, LlmError>> {
        self.calls.fetch_add(1, SeqCst);
        let usage = Usage {
            prompt_tokens: 5,
            completion_tokens: 50,
            total_tokens: 55,
            ..Usage::estimate(0, 0)
        };
        let text = format!("{} messages", request.messages.len());
        Box::pin(async move {
            Ok(Completion::from_text(
                text,
                Usage {
                    estimated: false,
                    ..usage
                },
            ))
        })
    }
}

fn prompt(topic: &'static str) -> ChatRequest {
    ChatRequest::from(topic).model("small").max_tokens(50)
}

#[tokio::test]
async fn a_call_over_the_run_s_token_budget_fails_before_it_is_sent() {
    let model = Fake::default();
    let chat = Chat::new(model.clone());
    let drafts = plan! {
        prompt >> par(settled) {
            #[name = "first"] (chat.clone()),
            #[name = "second"] (chat.clone()),
            #[name = "third"] (chat.clone()),
        }
    };
    // A call is estimated at its prompt (about 9 tokens) and `max_tokens` (50), and spends
    // 55: after two, 110 are spent and a third call's 59 would pass the 120.
    let budget = Budget::new()
        .tokens(120)
        .prices(PriceTable::new().model("small", Price::per_million(1.0, 2.0)));
    let (out, report) = drafts.run("plans").with(&budget).reported().await;
    let (a, b, c) = out.unwrap();
    let results = [a, b, c];
    let refused: Vec<&PlanError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(refused.len(), 1, "{results:?}");
    assert!(matches!(
        refused[0].step_error::<BudgetExceeded>(),
        Some(BudgetExceeded::Tokens {
            limit: 120,
            spent: 110,
            ..
        })
    ));
    assert!(
        refused[0]
            .to_string()
            .contains("the run's budget of 120 tokens would be exceeded: 110 spent")
    );
    assert_eq!(model.calls.load(SeqCst), 2);
    assert_eq!(
        budget.spent(),
        Spent {
            tokens: 110,
            dollars: 2.0 * (5.0 * 1.0 + 50.0 * 2.0) / 1e6,
            requests: 2
        }
    );
    // Spend per node, and for the run.
    for name in ["first", "second", "third"] {
        let record = report.find(name).unwrap();
        let ok = results
            .iter()
            .zip(["first", "second", "third"])
            .any(|(r, n)| n == name && r.is_ok());
        if ok {
            assert_eq!(
                record.counters[..4],
                [
                    ("requests", 1.0),
                    ("requests_ok", 1.0),
                    ("tokens_in", 5.0),
                    ("tokens_out", 50.0)
                ]
            );
            assert_eq!(record.counters[4].0, "dollars");
        } else {
            assert!(record.counters.is_empty());
        }
    }
    let totals = report.totals();
    assert_eq!(
        totals[..4],
        [
            ("requests", 2.0),
            ("requests_ok", 2.0),
            ("tokens_in", 10.0),
            ("tokens_out", 100.0)
        ]
    );
}

#[tokio::test]
async fn without_a_budget_every_call_is_made_and_counted() {
    let model = Fake::default();
    let chat = Chat::new(model.clone());
    let two = plan! { prompt >> par(all) { (chat.clone()), (chat.clone()) } };
    let (out, report) = two.run("x").reported().await;
    let (a, _) = out.unwrap();
    assert_eq!(a.text(), Some("1 messages"));
    assert_eq!(model.calls.load(SeqCst), 2);
    assert!(report.to_string().contains("counted: requests 2 · requests_ok 2 · tokens_in 10 · tokens_out 100 · success rate 100 %"), "{report}");
}

/// A port of 127.0.0.1 that nothing listens on: a connection to it is refused.
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_http_request_never_sent_spends_nothing() {
    let budget = Budget::new().requests(2);
    let http = Http::builder().retry(RetryPolicy::none()).build();
    let down = format!("http://127.0.0.1:{}/", refused_port());
    for _ in 0..2 {
        let error = http
            .send_within(Request::get(&down), Some(&budget))
            .await
            .unwrap_err();
        assert!(matches!(error, HttpError::Connection { .. }), "{error}");
    }
    assert_eq!(budget.spent().requests, 0);

    // Both requests are left for a server that answers, and no more.
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            counter.fetch_add(1, SeqCst);
            async { "up" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    for _ in 0..2 {
        http.send_within(Request::get(&up), Some(&budget))
            .await
            .unwrap();
    }
    let over = http.send_within(Request::get(&up), Some(&budget)).await;
    assert!(matches!(over, Err(HttpError::OverBudget(_))), "{over:?}");
    assert_eq!((budget.spent().requests, served.load(SeqCst)), (2, 2));
}

#[tokio::test]
async fn a_model_call_never_sent_spends_nothing() {
    let model = OpenAi::new(format!("http://127.0.0.1:{}/v1", refused_port()), "small");
    let ask = plan! { prompt >> (model.clone()) };
    let budget = Budget::new().requests(1).tokens(1_000);
    for _ in 0..2 {
        let error = ask.run("plans").with(&budget).await.unwrap_err();
        assert!(
            matches!(error.step_error::<LlmError>(), Some(LlmError::Connect(_))),
            "{error}"
        );
    }
    assert_eq!(budget.spent(), Spent::default());
}

// ---------------------------------------------------------------------------------------------
// The budget is asked before the limits: a refused call takes no slot and no probe.

#[tokio::test(start_paused = true)]
async fn a_call_the_budget_refuses_takes_no_rate_limit_slot() {
    use plan_tools::limit::{Limits, RateLimit};
    use tokio::time::Instant;

    let model = Fake::default();
    let chat = Chat::new(model.clone());
    // One call a second.
    let limits = Limits::new().rate(RateLimit::every(Duration::from_secs(1)));
    let ask = plan! { prompt >> #[name = "model"] #[layer(limits)] (chat.clone()) };
    let budget = Budget::new().requests(1);
    let start = Instant::now();
    ask.run("first").with(&budget).await.unwrap();

    // The budget is spent: the second call is refused at once, without waiting for the rate
    // limit's next slot (at 1 s) or taking it.
    let refused = ask.run("second").with(&budget).await.unwrap_err();
    assert_eq!(
        refused.step_error::<BudgetExceeded>(),
        Some(&BudgetExceeded::Requests { limit: 1 }),
        "{refused}"
    );
    assert_eq!(refused.node().name, "model");
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(model.calls.load(SeqCst), 1);

    // The slot at 1 s is still free: a call with a budget of its own takes it, not the one
    // after it.
    let fresh = Budget::new().requests(1);
    ask.run("third").with(&fresh).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(model.calls.load(SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_model_call_whose_tokens_are_spent_is_refused_before_the_rate_limit_wait() {
    use plan_tools::budget::Charge;
    use plan_tools::limit::{Limits, RateLimit};
    use tokio::time::Instant;

    let model = Fake::default();
    let chat = Chat::new(model.clone());
    // One call a second, and a model call spends at least a token.
    let limits = Limits::new()
        .rate(RateLimit::every(Duration::from_secs(1)))
        .charge(Charge::tokens(1, 0));
    let ask = plan! { prompt >> #[name = "model"] #[layer(limits)] (chat.clone()) };
    // Requests to spare, but every token spent.
    let budget = Budget::new().tokens(55);
    budget
        .admit(&Charge::tokens(55, 0))
        .unwrap()
        .settle(&Charge::tokens(55, 0));
    let start = Instant::now();
    let refused = ask.run("first").with(&budget).await.unwrap_err();
    assert_eq!(
        refused.step_error::<BudgetExceeded>(),
        Some(&BudgetExceeded::Tokens {
            limit: 55,
            spent: 55,
            needs: 1
        }),
        "{refused}"
    );
    assert_eq!(refused.node().name, "model");
    // Refused by `Limits` at once, taking no slot: the next call takes the one at 0 s.
    ask.run("second").with(&Budget::new()).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(model.calls.load(SeqCst), 1);

    // Without the charge, `Limits` asks for one request, which the budget has: the call
    // waits for the next slot, at 1 s, and is refused only when it is sent.
    let plain = Limits::new().rate(RateLimit::every(Duration::from_secs(1)));
    let ask = plan! { prompt >> #[name = "model"] #[layer(plain)] (chat.clone()) };
    ask.run("third").with(&Budget::new()).await.unwrap();
    assert!(ask.run("fourth").with(&budget).await.is_err());
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(model.calls.load(SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_call_the_budget_refuses_takes_no_circuit_breaker_probe() {
    use plan_tools::limit::{BreakerState, CircuitBreaker, Limits};

    let model = Fake::default();
    let chat = Chat::new(model.clone());
    let breaker = CircuitBreaker::new(1, Duration::from_secs(10));
    let limits = Limits::new().breaker(breaker.clone());
    let ask = plan! { prompt >> #[name = "model"] #[layer(limits)] (chat.clone()) };
    let budget = Budget::new().requests(1);
    ask.run("first").with(&budget).await.unwrap();

    // The service failed once (the breaker opens), and its cool-down has passed: the next
    // call is the breaker's probe.
    breaker.admit().unwrap().failed();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen);

    // A call the budget refuses does not take the probe, and its refusal is no failure of the
    // service: the breaker stays half-open, its probe left for a call that can be made.
    let refused = ask.run("second").with(&budget).await.unwrap_err();
    assert!(
        refused.step_error::<BudgetExceeded>().is_some(),
        "{refused}"
    );
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    let fresh = Budget::new().requests(1);
    ask.run("third").with(&fresh).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(model.calls.load(SeqCst), 2);
}

/// Answers after 100 ms, counting calls.
#[derive(Clone, Default)]
struct Slow {
    calls: Arc<AtomicUsize>,
}

impl Llm for Slow {
    fn complete(&self, _: ChatRequest) -> BoxFuture<'_, Result<Completion, LlmError>> {
        self.calls.fetch_add(1, SeqCst);
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(Completion::from_text("done", Usage::estimate(0, 0)))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_the_budget_refuses_after_waiting_is_no_failure_of_the_service() {
    use plan_tools::limit::{BreakerState, CircuitBreaker, ConcurrencyLimit, Limits};

    let model = Slow::default();
    let chat = Chat::new(model.clone());
    // One failure opens the breaker; one call at a time.
    let breaker = CircuitBreaker::new(1, Duration::from_secs(60));
    let limits = Limits::new()
        .breaker(breaker.clone())
        .concurrency(ConcurrencyLimit::new(1));
    let model_step = plan! { #[name = "model"] #[layer(limits)] (chat.clone()) };
    let three = plan! {
        prompt >> par(settled) { (&model_step), (&model_step), (&model_step) }
    };
    // Two requests for three calls: all three find the budget open when they arrive, the third
    // finds it spent once its turn comes, after 200 ms in line.
    let budget = Budget::new().requests(2);
    let (first, second, third) = three.run("topic").with(&budget).await.unwrap();
    first.unwrap();
    second.unwrap();
    let refused = third.unwrap_err();
    assert_eq!(
        refused.step_error::<BudgetExceeded>(),
        Some(&BudgetExceeded::Requests { limit: 2 }),
        "{refused}"
    );
    assert_eq!(model.calls.load(SeqCst), 2);
    // The refusal was the budget's, not the service's: the breaker is still closed.
    assert_eq!(breaker.state(), BreakerState::Closed);
}
