//! Reactive loops on the in-process bus and tokio's paused clock: every plan step takes a
//! known time, so that concurrency shows in exact durations, and crashes (a loop's future
//! dropped) happen at known points. Stores are JSON files: their work on the blocking pool
//! holds the paused clock back, so timings stay exact.

mod rigged;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::stream;
use plan_agents::bus::{Bus, BusLimits, Consumer, Failure, InMemory, Message, Name, Subscription};
use plan_agents::reactive::{EventOutcome, Reactive, ReactiveError, Summary};
use plan_runtime::prelude::*;
use plan_state::store::{JsonFiles, Key, Store};
use rigged::Rigged;
use serde_json::json;
use test_support::{TempDir, temp_dir};
use tokio::time::{Instant, sleep};

fn name(name: &str) -> Name {
    Name::new(name).unwrap()
}

/// An event asking for a step of `ms` milliseconds, with `id` as its `id` header.
fn event(id: Option<&str>, ms: u64) -> Message {
    let message = Message::json(&ms).unwrap();
    match id {
        Some(id) => message.with_header("id", id).unwrap(),
        None => message,
    }
}

/// What the plan's runs did: how many started, finished, and ran at once.
#[derive(Default)]
struct Gauge {
    running: AtomicUsize,
    most: AtomicUsize,
    started: AtomicUsize,
    finished: AtomicUsize,
}

/// A run in progress: dropping it, finished or cancelled, ends it.
struct Running<'a>(&'a Gauge);

impl Gauge {
    fn enter(&self) -> Running<'_> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        Running(self)
    }

    fn counts(&self) -> (usize, usize, usize) {
        (
            self.started.load(Ordering::SeqCst),
            self.finished.load(Ordering::SeqCst),
            self.most.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0} ms is odd")]
struct Odd(u64);

/// Works for `ms` milliseconds; fails on an odd number of them.
async fn work(ms: u64, gauge: &Arc<Gauge>) -> Result<u64, Odd> {
    let _running = gauge.enter();
    sleep(Duration::from_millis(ms)).await;
    gauge.finished.fetch_add(1, Ordering::SeqCst);
    if ms % 2 == 1 { Err(Odd(ms)) } else { Ok(ms) }
}

/// The reactor of these tests: [`work`] with a gauge, the plan boxed so that its type can
/// be written.
type Worker = Reactive<BoxPlan<u64, u64, Arc<Gauge>>, u64, Arc<Gauge>>;

/// A reactor `work` over [`work`], and the gauge of its runs.
fn reactor() -> (Worker, Arc<Gauge>) {
    let gauge = Arc::new(Gauge::default());
    let reactor = Reactive::new(name("work"), plan! { work }.boxed()).ctx(Arc::clone(&gauge));
    (reactor, gauge)
}

/// A JSON-files store in `dir`.
fn store(dir: &TempDir) -> Arc<JsonFiles> {
    Arc::new(JsonFiles::open(dir.path()).unwrap())
}

/// The outcomes persisted by the reactor `work`, by event id.
async fn persisted(store: &impl Store) -> Vec<(String, serde_json::Value)> {
    let mut outcomes = Vec::new();
    for key in store.keys("reactive/work/events/").await.unwrap() {
        let value = store.get(&key).await.unwrap().unwrap().value;
        let id = key.as_str().trim_start_matches("reactive/work/events/");
        outcomes.push((id.to_owned(), value));
    }
    outcomes
}

/// A summary as `(succeeded, failed, duplicates, unrecorded)`.
fn counts(summary: Summary) -> (u64, u64, u64, u64) {
    (
        summary.succeeded,
        summary.failed,
        summary.duplicates,
        summary.unrecorded,
    )
}

#[tokio::test(start_paused = true)]
async fn eight_events_of_100_ms_four_at_a_time_take_200_ms_and_never_more_than_four_run() {
    let (reactor, gauge) = reactor();
    let reactor = reactor.concurrency(4);
    let events = stream::iter((0..8).map(|_| event(None, 100)));
    let start = Instant::now();
    let summary = reactor.watch(events).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(counts(summary), (8, 0, 0, 0));
    assert_eq!(gauge.counts(), (8, 8, 4));
}

#[tokio::test(start_paused = true)]
async fn by_default_events_run_one_at_a_time_in_order() {
    let (reactor, gauge) = reactor();
    let bus = InMemory::new();
    let reactor = reactor.publish(bus.clone(), name("done"));
    let mut done = bus.subscribe(&name("done")).await.unwrap();
    let events = stream::iter([30, 10, 20].map(|ms| event(Some(&format!("e{ms}")), ms * 2)));
    let start = Instant::now();
    reactor.watch(events).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(120));
    assert_eq!(gauge.counts().2, 1);
    for ms in [30, 10, 20] {
        let outcome: EventOutcome<u64> = done.recv().await.unwrap().decode().unwrap();
        assert_eq!(
            outcome,
            EventOutcome {
                event: format!("e{ms}"),
                result: Ok(ms * 2)
            }
        );
    }
}

#[tokio::test(start_paused = true)]
async fn outcomes_are_persisted_by_event_id_and_a_second_loop_runs_only_new_events() {
    let dir = temp_dir("reactive");
    let store = store(&dir);
    let (reactor, gauge) = reactor();
    let reactor = reactor.concurrency(2).persist(Arc::clone(&store));
    let events = || {
        stream::iter([
            event(Some("a"), 100),
            event(Some("b"), 101),
            event(None, 100),
            Message::new("{").with_header("id", "c").unwrap(),
        ])
    };
    let start = Instant::now();
    let summary = reactor.watch(events()).await.unwrap();
    // Two at a time, and the store's writes take no time on the paused clock.
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(counts(summary), (2, 2, 0, 0));
    let outcomes = persisted(&*store).await;
    let ids: Vec<_> = outcomes.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["a", "auto-1-3", "b", "c"]);
    assert_eq!(
        outcomes[0].1,
        json!({ "event": "a", "result": { "Ok": 100 } })
    );
    assert_eq!(
        outcomes[1].1,
        json!({ "event": "auto-1-3", "result": { "Ok": 100 } })
    );
    let failed = outcomes[2].1["result"]["Err"].as_str().unwrap();
    assert!(failed.starts_with("`work` (step at "), "{failed}");
    assert!(failed.ends_with(" failed: 101 ms is odd"), "{failed}");
    let bad = outcomes[3].1["result"]["Err"].as_str().unwrap();
    assert!(
        bad.starts_with("bad event: cannot decode the message on `(unsent)` as `u64`"),
        "{bad}"
    );

    // The same events again: those with an id are not run again; the one without is new.
    let summary = reactor.watch(events()).await.unwrap();
    assert_eq!(counts(summary), (1, 0, 3, 0));
    assert_eq!(gauge.counts().0, 4);
    let ids: Vec<_> = persisted(&*store)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["a", "auto-1-3", "auto-2-3", "b", "c"]);
    let loops = store
        .get(&Key::new("reactive/work/loops").unwrap())
        .await
        .unwrap();
    assert_eq!(loops.unwrap().value, json!(2));
}

#[tokio::test(start_paused = true)]
async fn every_outcome_is_published_with_the_event_id_and_priority() {
    let bus = InMemory::new();
    let (inbox, done) = (name("inbox"), name("done"));
    let (reactor, _) = reactor();
    let reactor = reactor.concurrency(3).publish(bus.clone(), done.clone());
    let mut outcomes = bus.subscribe(&done).await.unwrap();
    let consumer = bus.consume(&inbox).await.unwrap();
    bus.send(&inbox, event(Some("ok"), 20).with_priority(7))
        .await
        .unwrap();
    bus.send(&inbox, event(Some("odd"), 5)).await.unwrap();
    bus.send(&inbox, Message::new("[]")).await.unwrap();
    let stop = sleep(Duration::from_secs(1));
    let summary = reactor
        .watch_mailbox(consumer)
        .with_graceful_shutdown(stop)
        .await
        .unwrap();
    assert_eq!(counts(summary), (1, 2, 0, 0));
    // In the order they finished: the bad event at once, then 5 ms, then 20 ms.
    let bad = outcomes.recv().await.unwrap();
    assert_eq!(bad.header("id"), Some("auto-1-3"));
    let bad: EventOutcome<u64> = bad.decode().unwrap();
    assert!(
        bad.result
            .unwrap_err()
            .starts_with("bad event: cannot decode the message on `inbox` as `u64`")
    );
    let odd: EventOutcome<u64> = outcomes.recv().await.unwrap().decode().unwrap();
    let error = odd.result.unwrap_err();
    assert!(
        error.starts_with("`work` (step at ") && error.ends_with("failed: 5 ms is odd"),
        "{error}"
    );
    let ok = outcomes.recv().await.unwrap();
    assert_eq!((ok.header("id"), ok.priority()), (Some("ok"), 7));
    assert_eq!(ok.decode::<EventOutcome<u64>>().unwrap().result, Ok(20));
    // Each was acked: nothing is left, nothing dead.
    assert!(bus.dead_letters(&inbox).await.unwrap().is_empty());
    let mut after = bus.consume(&inbox).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(60), after.recv())
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn bad_events_are_error_outcomes_acked_once_and_the_loop_goes_on() {
    let dir = temp_dir("reactive");
    let store = store(&dir);
    let bus = InMemory::new();
    let inbox = name("inbox");
    let (reactor, gauge) = reactor();
    let reactor = reactor.persist(Arc::clone(&store));
    let consumer = bus.consume(&inbox).await.unwrap();
    bus.send(
        &inbox,
        Message::new("not json").with_header("id", "j").unwrap(),
    )
    .await
    .unwrap();
    bus.send(&inbox, event(Some("a b"), 10)).await.unwrap();
    bus.send(&inbox, event(Some("auto-9-9"), 10)).await.unwrap();
    bus.send(&inbox, event(Some("fine"), 10)).await.unwrap();
    drop(bus); // the loop ends once the mailbox is empty
    let summary = reactor.watch_mailbox(consumer).await.unwrap();
    assert_eq!(counts(summary), (1, 3, 0, 0));
    assert_eq!(gauge.counts().0, 1, "only the good event ran");
    let outcomes = persisted(&*store).await;
    let errors: Vec<_> = outcomes
        .iter()
        .map(|(id, value)| (id.as_str(), value["result"]["Err"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        errors[0],
        (
            "auto-1-2",
            "bad event: its id `a b` is refused: an id holds only ASCII letters, digits and `_ - . :`"
        )
    );
    assert_eq!(
        errors[1],
        (
            "auto-1-3",
            "bad event: its id `auto-9-9` is refused: ids starting with `auto-` are the reactor's own"
        )
    );
    assert_eq!(errors[2], ("fine", ""));
    assert_eq!(errors[3].0, "j");
    assert!(
        errors[3].1.starts_with(
            "bad event: cannot decode the message on `inbox` as `u64`: expected ident"
        ),
        "{}",
        errors[3].1
    );
}

#[tokio::test(start_paused = true)]
async fn a_loop_dropped_mid_event_cancels_its_run_and_the_next_loop_handles_the_redelivery() {
    let dir = temp_dir("reactive");
    let store = store(&dir);
    let bus = InMemory::new();
    let inbox = name("inbox");
    let (reactor, gauge) = reactor();
    let reactor = reactor.persist(Arc::clone(&store));
    bus.send(&inbox, event(Some("job"), 100)).await.unwrap();

    // The "crash": the loop's future is dropped 50 ms into the event's 100 ms.
    let first = reactor.watch_mailbox(bus.consume(&inbox).await.unwrap());
    assert!(
        tokio::time::timeout(Duration::from_millis(50), first)
            .await
            .is_err()
    );
    assert_eq!(gauge.counts(), (1, 0, 1), "started, never finished");
    assert_eq!(
        gauge.running.load(Ordering::SeqCst),
        0,
        "the run was dropped with the loop"
    );
    assert!(persisted(&*store).await.is_empty());

    // The delivery was dropped unacked: it comes again, to the next loop.
    let consumer = bus.consume(&inbox).await.unwrap();
    drop(bus);
    let start = Instant::now();
    let summary = reactor.watch_mailbox(consumer).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(counts(summary), (1, 0, 0, 0));
    assert_eq!(gauge.counts(), (2, 1, 1));
    assert_eq!(
        persisted(&*store).await,
        [(
            "job".to_owned(),
            json!({ "event": "job", "result": { "Ok": 100 } })
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn a_redelivered_event_whose_outcome_is_persisted_is_published_again_not_run_again() {
    let dir = temp_dir("reactive");
    let store = store(&dir);
    // A capacity of 1, so that one message fills the outcome topic's subscriber.
    let bus = InMemory::with_limits(BusLimits {
        capacity: 1,
        ..BusLimits::default()
    })
    .unwrap();
    let (inbox, done) = (name("inbox"), name("done"));
    let (reactor, gauge) = reactor();
    let reactor = reactor
        .persist(Arc::clone(&store))
        .publish(bus.clone(), done.clone());
    let mut outcomes = bus.subscribe(&done).await.unwrap();
    bus.publish(&done, Message::new("filler")).await.unwrap();
    bus.send(&inbox, event(Some("e-1"), 100)).await.unwrap();

    // The loop persists the outcome, then waits to publish it; the "crash" comes there.
    let first = reactor.watch_mailbox(bus.consume(&inbox).await.unwrap());
    assert!(
        tokio::time::timeout(Duration::from_secs(1), first)
            .await
            .is_err()
    );
    assert_eq!(gauge.counts().1, 1);
    assert_eq!(persisted(&*store).await.len(), 1);
    assert_eq!(outcomes.recv().await.unwrap().payload(), "filler");

    let consumer = bus.consume(&inbox).await.unwrap();
    let start = Instant::now();
    let second = reactor
        .watch_mailbox(consumer)
        .with_graceful_shutdown(sleep(Duration::from_millis(10)));
    let summary = second.await.unwrap();
    assert_eq!(counts(summary), (0, 0, 1, 0));
    assert_eq!(start.elapsed(), Duration::from_millis(10), "nothing ran");
    assert_eq!(gauge.counts().0, 1, "the plan ran once in all");
    let outcome: EventOutcome<u64> = outcomes.recv().await.unwrap().decode().unwrap();
    assert_eq!(
        outcome,
        EventOutcome {
            event: "e-1".into(),
            result: Ok(100)
        }
    );
    assert!(bus.dead_letters(&inbox).await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_event_that_arrives_while_its_id_is_in_flight_waits_and_is_not_run_twice() {
    let dir = temp_dir("reactive");
    let (reactor, gauge) = reactor();
    let reactor = reactor.concurrency(2).persist(store(&dir));
    let events = stream::iter([event(Some("x"), 100), event(Some("x"), 100)]);
    let start = Instant::now();
    let summary = reactor.watch(events).await.unwrap();
    assert_eq!(counts(summary), (1, 0, 1, 0));
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(gauge.counts(), (1, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_graceful_shutdown_finishes_the_events_in_flight_and_takes_no_more() {
    let bus = InMemory::new();
    let topic = name("jobs");
    let (reactor, gauge) = reactor();
    let reactor = reactor.concurrency(2);
    let subscription = bus.subscribe(&topic).await.unwrap();
    for _ in 0..3 {
        bus.publish(&topic, event(None, 100)).await.unwrap();
    }
    let stop = CancellationToken::new();
    let watching = reactor
        .watch_topic(subscription)
        .with_graceful_shutdown(stop.clone().cancelled_owned());
    let start = Instant::now();
    let (summary, ()) = tokio::join!(watching, async {
        sleep(Duration::from_millis(50)).await;
        stop.cancel();
    });
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(counts(summary.unwrap()), (2, 0, 0, 0));
    assert_eq!(gauge.counts(), (2, 2, 2));
}

#[tokio::test(start_paused = true)]
async fn a_topic_loop_ends_when_its_bus_is_gone() {
    let bus = InMemory::new();
    let (reactor, _) = reactor();
    let subscription = bus.subscribe(&name("jobs")).await.unwrap();
    bus.publish(&name("jobs"), event(None, 10)).await.unwrap();
    drop(bus);
    let summary = reactor.watch_topic(subscription).await.unwrap();
    assert_eq!(counts(summary), (1, 0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn an_outcome_the_store_cannot_keep_is_nacked_into_the_dead_letters_and_replayed_later() {
    let dir = temp_dir("reactive");
    let files = store(&dir);
    // JSON files whose writes of outcomes fail.
    let store = Arc::new(Rigged::over(Arc::clone(&files)));
    store.fail(Some("/events/"));
    let limits = BusLimits {
        max_deliveries: 3,
        ..BusLimits::default()
    };
    let bus = InMemory::with_limits(limits).unwrap();
    let inbox = name("inbox");
    let (reactor, gauge) = reactor();
    let reactor = reactor.persist(Arc::clone(&store));
    bus.send(&inbox, event(Some("p-1"), 10)).await.unwrap();
    let summary = reactor
        .watch_mailbox(bus.consume(&inbox).await.unwrap())
        .with_graceful_shutdown(sleep(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(counts(summary), (0, 0, 0, 3));
    assert_eq!(gauge.counts().0, 3);
    let dead = bus.dead_letters(&inbox).await.unwrap();
    assert_eq!(
        (dead.len(), dead[0].deliveries, dead[0].failure),
        (1, 3, Failure::Nacked)
    );

    // The store is back: the replayed event is handled.
    store.fail(None);
    assert_eq!(bus.replay_dead_letters(&inbox).await.unwrap(), 1);
    let consumer = bus.consume(&inbox).await.unwrap();
    drop(bus);
    let summary = reactor.watch_mailbox(consumer).await.unwrap();
    assert_eq!(counts(summary), (1, 0, 0, 0));
    assert_eq!(persisted(&*files).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_store_that_cannot_count_the_loop_fails_it_before_it_takes_an_event() {
    let dir = temp_dir("reactive");
    let store = store(&dir);
    let loops = Key::new("reactive/work/loops").unwrap();
    store.put(&loops, &json!("three")).await.unwrap();
    let (reactor, gauge) = reactor();
    let reactor = reactor.persist(Arc::clone(&store));
    let err = reactor
        .watch(stream::iter([event(None, 10)]))
        .await
        .unwrap_err();
    assert!(matches!(err, ReactiveError::Store { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "reactor `work`: cannot start a loop: the value under `reactive/work/loops` in json files at {} is not valid: a count of loops is a number, not \"three\"",
            dir.path().display()
        )
    );
    assert_eq!(gauge.counts().0, 0);
}

#[tokio::test(start_paused = true)]
async fn a_run_that_outlives_its_ack_deadline_is_not_run_again_for_the_redelivery() {
    let dir = temp_dir("reactive");
    let limits = BusLimits {
        ack_deadline: Duration::from_secs(1),
        ..BusLimits::default()
    };
    let bus = InMemory::with_limits(limits).unwrap();
    let inbox = name("inbox");
    let (reactor, gauge) = reactor();
    let reactor = reactor.concurrency(2).persist(store(&dir));
    bus.send(&inbox, event(Some("long"), 1500)).await.unwrap();
    // At 1 s the message comes again, and waits for the run of its first delivery.
    let summary = reactor
        .watch_mailbox(bus.consume(&inbox).await.unwrap())
        .with_graceful_shutdown(sleep(Duration::from_millis(1600)))
        .await
        .unwrap();
    assert_eq!(counts(summary), (1, 0, 1, 0));
    assert_eq!(gauge.counts(), (1, 1, 1));
    // The second delivery was acked in time: the message is gone.
    assert!(bus.dead_letters(&inbox).await.unwrap().is_empty());
    let mut after = bus.consume(&inbox).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(60), after.recv())
            .await
            .is_err()
    );
}
