//! The studio page in a real browser: Debian's headless `chromium`, driven over WebDriver by
//! its `chromedriver` (started by each test on a free port), against a control server on
//! 127.0.0.1. The page refuses a wrong token; shows an agent created over the API within a
//! second; keeps answering, and ends in step, through a burst of thousands of events; shows a
//! run's nodes turning done, a loop's passes counted as they begin and a swimlane for each
//! branch; the winner and cancelled losers of a `par(first)`, an `n_best`'s
//! scores and ranks, a `settled` group cut off by its deadline, a rate limit's wait, a
//! barrier, each group's branches on lanes of their own and a budget's spending (its wall time
//! too), as the run goes; a durable run resumed by an answer typed
//! into its question's form; and the `studio` example prints its three lines and serves its
//! agents and runs. The tests also save the README's
//! screenshots (`docs/studio-agents.png`, `docs/studio-run.png`, `docs/studio-question.png`).
//!
//! Needs `chromium` and `chromium-driver` (`apt-get install chromium chromium-driver`).
//! Browsers are heavy on a small machine: the tests take turns ([`TURN`]).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures::{SinkExt, StreamExt};
use hyper_util::client::legacy::connect::HttpConnector;
use plan_agents::control::{Control, Form, RunBoard, Token};
use plan_agents::session::{AgentLimits, Agents, Turn};
use plan_runtime::budget::{Budget, Charge};
use plan_runtime::prelude::*;
use plan_runtime::{Cx, NodeRef};
use plan_state::runs::{RunStatus, Runs};
use plan_state::store::InMemory;
use plan_state::wait::ask;
use plan_tools::limit::{Limits, RateLimit};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use test_support::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// How long anything that must happen may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(15);

/// One browser at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn count(mut turn: Turn<u64>) -> Turn<u64> {
    turn.state += 1;
    turn
}

async fn broken(_turn: Turn<u64>) -> Result<Turn<u64>, std::io::Error> {
    Err(std::io::Error::other(
        "the mail server refused the connection",
    ))
}

/// A control server of agents of kinds `counter` and `broken` (one attempt a task) and of
/// `board`'s runs, on a free port of 127.0.0.1.
struct Studio {
    agents: Agents<InMemory>,
    board: RunBoard,
    addr: String,
    token: String,
}

impl Studio {
    async fn start() -> Self {
        let agents = Agents::builder(Arc::new(InMemory::new()))
            .kind("counter", plan! { count })
            .kind("broken", plan! { broken })
            .limits(AgentLimits {
                max_attempts: 1,
                ..AgentLimits::default()
            })
            .start()
            .await
            .unwrap();
        let board = RunBoard::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let token = Token::random();
        let exposed = token.expose().to_owned();
        let control = Control::new(agents.clone(), token).runs(board.clone());
        tokio::spawn(control.serve(listener));
        Studio {
            agents,
            board,
            addr,
            token: exposed,
        }
    }

    fn page(&self, hash: &str) -> String {
        format!("http://{}/?token={}{hash}", self.addr, self.token)
    }

    /// Calls `method` over the control API's WebSocket, as any client would.
    async fn call(&self, method: &str, params: Value) -> Value {
        let url = format!("ws://{}/rpc?token={}", self.addr, self.token);
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        socket
            .send(Message::text(request.to_string()))
            .await
            .unwrap();
        loop {
            if let Message::Text(text) = socket.next().await.unwrap().unwrap() {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }
}

/// A headless chromium, through a chromedriver of its own; both end with it.
struct Browser {
    client: Client,
    _driver: Server,
}

impl Browser {
    async fn start() -> Self {
        let port = test_support::free_port();
        let mut driver = Command::new("chromedriver");
        driver.arg(format!("--port={port}"));
        let driver = Server::start(driver, port);
        let options = json!({
            "binary": "/usr/bin/chromium",
            // No sandbox: tests may run as root (in a container), which it refuses.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000"],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session (is `chromium` installed?)");
        Browser {
            client,
            _driver: driver,
        }
    }

    /// Opens `url` and waits until the page's WebSocket is live.
    async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        self.find(r#"#connection[data-state="live"]"#).await;
    }

    /// The element `css` matches, waiting for it up to [`PATIENCE`].
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .every(Duration::from_millis(25))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"))
    }

    /// Clicks the element `css` matches, found again if the page drew it anew in between (a
    /// list or graph re-rendered for an event makes the element found a stale one).
    async fn click(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("cannot click `{css}`: {e}"),
            }
        }
    }

    /// The text of the element `css` matches, found again if the page drew it anew in
    /// between (see [`Browser::click`]).
    async fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if e.is_stale_element_reference() && Instant::now() < deadline => {}
                Err(e) => panic!("no text of `{css}`: {e}"),
            }
        }
    }

    /// Saves a screenshot of the page as `docs/NAME` at the workspace's root.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../docs")
            .join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, png).unwrap();
    }

    async fn close(self) {
        self.client.close().await.unwrap();
    }
}

/// The status line and body of `GET path` on `addr`.
async fn get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_refuses_a_wrong_token() {
    let _turn = TURN.lock().await;
    let studio = Studio::start().await;
    for query in ["?token=not-the-token-at-all", ""] {
        let response = get(&studio.addr, &format!("/{query}")).await;
        assert!(response.starts_with("HTTP/1.1 401"), "{response}");
        assert!(!response.contains("<html"), "{response}");
    }
    let browser = Browser::start().await;
    let wrong = format!("http://{}/?token=not-the-token-at-all", studio.addr);
    browser.client.goto(&wrong).await.unwrap();
    let source = browser.client.source().await.unwrap();
    assert!(
        source.contains("the token is not this server's"),
        "{source}"
    );
    assert!(
        browser.client.find(Locator::Css("#agents")).await.is_err(),
        "no page without the token"
    );
    // The downloads ask for it too.
    let response = get(&studio.addr, "/runs/1/report.json?token=nope").await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_created_over_the_api_shows_within_a_second() {
    let _turn = TURN.lock().await;
    let studio = Studio::start().await;
    let browser = Browser::start().await;
    browser.open(&studio.page("#agents")).await;

    let created = studio
        .call("create", json!({ "name": "ada", "kind": "counter" }))
        .await;
    assert_eq!(created["result"]["state"], "idle", "{created}");
    let shown = Instant::now();
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(1))
        .every(Duration::from_millis(20))
        .for_element(Locator::Css(r#"tr[data-agent="ada"]"#))
        .await
        .unwrap_or_else(|_| panic!("ada not shown within a second"));
    assert!(shown.elapsed() <= Duration::from_secs(1));

    // More of a system, for the picture: a task done, a dead letter with its error, a sleeper.
    let agents = [
        ("babbage", "counter"),
        ("courier", "broken"),
        ("dozer", "counter"),
        ("eve", "counter"),
    ];
    for (name, kind) in agents {
        studio.agents.create(name, kind, None).await.unwrap();
    }
    studio
        .call("schedule", json!({ "agent": "ada", "task": "count" }))
        .await;
    studio
        .call("schedule", json!({ "agent": "courier", "task": "deliver" }))
        .await;
    studio
        .call("sleep", json!({ "agent": "dozer", "events": ["deploy"] }))
        .await;
    let every = json!({ "agent": "eve", "every_ms": 3_600_000, "task": "count" });
    studio.call("every", every).await;
    studio
        .call("sleep", json!({ "agent": "eve", "for_ms": 600_000 }))
        .await;
    browser
        .find(r#"#dead tr[data-agent="courier"] td.error"#)
        .await;
    let state = browser
        .text(r#"tr[data-agent="dozer"] .state[data-state="sleeping"]"#)
        .await;
    assert_eq!(state, "sleeping");

    // An action from the page: wake the sleeper.
    browser.click(r#"tr[data-agent="dozer"] button"#).await;
    browser
        .find(r#"tr[data-agent="dozer"] .state[data-state="idle"]"#)
        .await;
    browser.screenshot("studio-agents.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_events_neither_freezes_the_page_nor_leaves_it_behind() {
    let _turn = TURN.lock().await;
    let studio = Studio::start().await;
    let browser = Browser::start().await;
    browser.open(&studio.page("#agents")).await;
    let names: Vec<String> = (0..20).map(|i| format!("burst-{i:02}")).collect();
    for name in &names {
        studio.agents.create(name, "counter", None).await.unwrap();
    }
    // 1,000 tasks of no time at all: some 5,000 events within a second or two.
    for _ in 0..50 {
        for name in &names {
            let task = plan_agents::session::TaskSpec::new("count");
            studio.agents.schedule(name, task).await.unwrap();
        }
    }
    // The page answers while they come.
    let rows = tokio::time::timeout(
        PATIENCE,
        browser.client.execute(
            "return document.querySelectorAll('#agents tbody tr').length",
            vec![],
        ),
    )
    .await
    .expect("the page answers during the burst")
    .unwrap();
    assert!(rows.as_u64().unwrap() <= 20, "{rows}");
    // And it ends showing every task done, the page's subscription having most likely
    // lagged (the events' channel holds 1,024) and the page fetched everything again.
    let deadline = Instant::now() + PATIENCE;
    while studio
        .agents
        .snapshot()
        .await
        .unwrap()
        .agents
        .iter()
        .any(|a| a.done < 50)
    {
        assert!(Instant::now() < deadline, "the tasks did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let counts = browser
            .client
            .execute(
                "return [...document.querySelectorAll('#agents tbody tr td:nth-child(8)')]\
                 .map((cell) => cell.textContent)",
                vec![],
            )
            .await
            .unwrap();
        if counts == json!(vec!["50 / 0 / 0"; 20]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page stayed behind: {counts}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.close().await;
}

async fn fetch(_: ()) -> u32 {
    tokio::time::sleep(Duration::from_millis(600)).await;
    1
}

async fn left(n: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(300)).await;
    n + 1
}

async fn right(n: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(200)).await;
    n + 2
}

fn join((a, b): (u32, u32)) -> u32 {
    a + b
}

/// Lets `bump`'s passes through, one permit each, when the test says.
static PASSES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);

async fn bump(n: u32) -> u32 {
    PASSES.acquire().await.unwrap().forget();
    n + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_nodes_turn_done() {
    let _turn = TURN.lock().await;
    let studio = Studio::start().await;
    let browser = Browser::start().await;
    browser.open(&studio.page("#runs")).await;

    let plan = plan! {
        fetch
        >> #[name = "sums"] par(all) { left, right }
        >> join
        >> #[name = "polish"] loop(until = (|n: &u32| *n >= 8), max = 5) { bump }
    };
    let watch = studio.board.watch("sums", &plan);
    let id = watch.id();
    let run = tokio::spawn(async move { plan.run(()).monitor(&*watch).await.unwrap() });
    browser.click(&format!(r#"a[data-run="{id}"]"#)).await;
    // Seen before it is done: the last step waits while the first runs.
    browser
        .find(r#"g.node[data-name="join"]:not([data-state="done"])"#)
        .await;
    // The loop's passes, counted as they begin: the second waits for its permit.
    PASSES.add_permits(1);
    browser
        .find(r#"g.group[data-name="polish"][data-passes="2"]"#)
        .await;
    PASSES.add_permits(2);
    assert_eq!(run.await.unwrap(), 8);
    let polish = browser
        .text(r#"g.group[data-name="polish"][data-passes="3"] .box-label"#)
        .await;
    assert!(polish.contains("3 passes"));
    wait_for_text(&browser, "#nodes td.notes", "passes: 3").await;
    // A lane for the run, and one for each branch of the group, its steps on it.
    assert_eq!(matching(&browser, "#timeline g.lane").await, 3);
    assert_eq!(
        matching(&browser, r#"#timeline g.lane[data-group="sums"]"#).await,
        2
    );
    for (branch, step) in [(0, "left"), (1, "right")] {
        let lane = format!(r#"#timeline g.lane[data-group="sums"][data-branch="{branch}"]"#);
        browser
            .find(&format!(r#"{lane} rect.bar[data-name="{step}"]"#))
            .await;
    }
    // The faster branch waited for the slower at the barrier.
    browser
        .find(r#"#timeline g.lane[data-branch="1"] rect.barrier-wait"#)
        .await;
    for step in ["fetch", "join", "bump"] {
        browser
            .find(&format!(
                r#"#timeline g.lane[data-depth="0"] rect.bar[data-name="{step}"]"#
            ))
            .await;
    }
    for step in ["fetch", "left", "right", "join", "bump"] {
        browser
            .find(&format!(r#"g.node[data-name="{step}"][data-state="done"]"#))
            .await;
    }
    // The slower branch is on the critical path, the faster not.
    browser.find(r#"g.node.critical[data-name="left"]"#).await;
    assert!(
        browser
            .client
            .find(Locator::Css(r#"g.node.critical[data-name="right"]"#))
            .await
            .is_err()
    );
    browser.close().await;
}

async fn quick(query: String) -> String {
    tokio::time::sleep(Duration::from_millis(50)).await;
    format!("quick answer to {query}")
}

async fn slow(query: String) -> String {
    tokio::time::sleep(Duration::from_secs(30)).await;
    format!("slow answer to {query}")
}

async fn slower(query: String) -> String {
    tokio::time::sleep(Duration::from_secs(60)).await;
    format!("slower answer to {query}")
}

/// Fails its first attempt, for `#[retry]`.
async fn check(answer: String) -> Result<String, std::io::Error> {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
        return Err(std::io::Error::other("the checker was busy"));
    }
    Ok(answer)
}

// `n_best` scores each branch's output by reference, and the output is a `String`.
#[allow(clippy::ptr_arg)]
fn words(text: &String) -> usize {
    text.split(' ').count()
}

async fn cite(answer: String) -> String {
    tokio::time::sleep(Duration::from_millis(30)).await;
    format!("{answer} [1]")
}

async fn archive(answer: String) -> String {
    tokio::time::sleep(Duration::from_secs(30)).await;
    format!("{answer} [archived]")
}

/// The sources that answered in time.
fn cited((cite, archive): (Result<String, PlanError>, Result<String, PlanError>)) -> String {
    [cite, archive]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A model drafting an answer: after `ms` ms, it adds `more`, spending a call of `ms * 10`
/// output tokens from the run's budget.
struct Drafter {
    ms: u64,
    more: &'static str,
}

impl Describe for Drafter {}

impl<C: Sync> Plan<String, C> for Drafter {
    type Out = String;

    async fn call(&self, answer: String, cx: Cx<'_, C>) -> Result<String, PlanError> {
        let charge = Charge::tokens(100, self.ms * 10);
        let call = cx
            .extension::<Budget>()
            .map(|budget| budget.admit(&charge))
            .transpose()
            .map_err(|over| PlanError::step(NodeRef::current(&cx), over))?;
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        if let Some(call) = call {
            call.settle(&charge);
        }
        Ok(format!("{answer}{}", self.more))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_policies_deadline_waits_and_budget_show_as_it_goes() {
    let _turn = TURN.lock().await;
    let studio = Studio::start().await;
    // The drafts' calls, one every 200 ms: the second waits.
    let limits = &Limits::new().rate(RateLimit::per_second(5).burst(1));
    let terse = Drafter { ms: 80, more: "" };
    let wordy = Drafter {
        ms: 120,
        more: ", explained at length",
    };
    let plan = plan! {
        #![name = "search"]
        #[name = "race"] par(first) { quick, slow, slower }
        >> #[retry(2)] check
        >> #[name = "sources"] par(settled, timeout = 200ms) { cite, archive }
        >> cited
        >> #[name = "drafts"] par(n_best(1, by = words)) {
            #[name = "terse"] #[layer(*limits)] (terse),
            #[name = "wordy"] #[layer(*limits)] (wordy),
        }
    };
    let watch = studio.board.watch("search: cancellation", &plan);
    let budget = Arc::new(
        Budget::new()
            .tokens(10_000)
            .requests(10)
            .wall(Duration::from_secs(600)),
    );
    watch.budget(budget.clone());

    // The page is open on the run before it starts: what follows arrives as it happens.
    let browser = Browser::start().await;
    browser
        .open(&studio.page(&format!("#runs/{}", watch.id())))
        .await;
    browser.find(r#"g.node[data-name="quick"]"#).await;
    let out = plan
        .run("cancellation".to_owned())
        .with(&*budget)
        .monitor(&*watch)
        .await;
    assert_eq!(
        out.unwrap(),
        ["quick answer to cancellation [1], explained at length"]
    );

    browser
        .find(r#"g.node[data-name="quick"][data-state="done"][data-role="winner"]"#)
        .await;
    for loser in ["slow", "slower"] {
        browser
            .find(&format!(
                r#"g.node[data-name="{loser}"][data-state="cancelled"][data-role="loser"]"#
            ))
            .await;
    }
    // The retry's attempts, on the node.
    let badge = browser.text(r#"g.node[data-name="check"] .badge"#).await;
    assert!(badge.contains("×2"));

    // `n_best`'s ranks and scores, on its branches and, as it noted them, in the table.
    let kept = browser
        .text(r#"g.node[data-name="wordy"][data-role="kept"] .badge"#)
        .await;
    assert!(kept.contains("1st · 8"));
    let left_out = browser
        .text(r#"g.node[data-name="terse"][data-role="not-kept"] .badge"#)
        .await;
    assert!(left_out.contains("not kept · 5"));
    let notes = "ranks: branch 1: 8 (1st), branch 0: 5 (not kept)";
    wait_for_text(&browser, "#nodes td.notes", notes).await;

    // The deadline that cut the sources off: the group marked, its slow branch timed out,
    // a mark on the timeline, each branch's outcome noted.
    let sources = browser
        .text(r#"g.group[data-name="sources"][data-deadline="passed"] .box-label"#)
        .await;
    assert!(sources.contains("timed out after 200 ms"));
    browser
        .find(r#"g.node[data-name="archive"][data-state="timed-out"]"#)
        .await;
    browser
        .find(r#"#timeline line.deadline[data-name="sources"]"#)
        .await;
    wait_for_text(&browser, "#nodes td.notes", "outcomes: ok, timed out").await;

    // The rate limit's wait and the drafts' barrier, on the timeline.
    browser.find(r#"#timeline rect.wait"#).await;
    browser
        .find(r#"#timeline rect.barrier[data-name="drafts"]"#)
        .await;
    // A lane for each branch of each group, the drafts' saying their ranks.
    for (group, branches) in [("race", 3), ("sources", 2), ("drafts", 2)] {
        let lanes = format!(r#"#timeline g.lane[data-group="{group}"]"#);
        assert_eq!(matching(&browser, &lanes).await, branches, "{group}");
    }
    wait_for_text(
        &browser,
        r#"#timeline g.lane[data-group="drafts"][data-role="kept"] .lane-label"#,
        "drafts › wordy · 1st · 8",
    )
    .await;

    // The budget: two calls of 100 tokens in and 800 and 1,200 out.
    wait_for_text(
        &browser,
        r#"#budget .limit[data-limit="tokens"]"#,
        "2,200 / 10,000 (78% left)",
    )
    .await;
    wait_for_text(
        &browser,
        r#"#budget .limit[data-limit="requests"]"#,
        "2 / 10",
    )
    .await;
    wait_for_text(
        &browser,
        r#"#budget .limit[data-limit="wall_ms"]"#,
        " / 600 s",
    )
    .await;
    browser.screenshot("studio-run.png").await;

    // The downloads: the report and the Chrome trace.
    for file in ["report.json", "trace.json"] {
        let path = format!("/runs/{}/{file}?token={}", watch.id(), studio.token);
        let response = get(&studio.addr, &path).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let body = &response[response.find("\r\n\r\n").unwrap() + 4..];
        let json: Value = serde_json::from_str(body).unwrap();
        assert!(
            json["nodes"].is_array() || json["traceEvents"].is_array(),
            "{file}"
        );
    }
    browser.close().await;
}

/// How many elements `css` matches.
async fn matching(browser: &Browser, css: &str) -> u64 {
    let found = browser
        .client
        .execute(
            "return document.querySelectorAll(arguments[0]).length",
            vec![json!(css)],
        )
        .await
        .unwrap();
    found.as_u64().unwrap()
}

/// Waits until one of the elements `css` matches holds `text`.
async fn wait_for_text(browser: &Browser, css: &str, text: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = browser
            .client
            .execute(
                "return [...document.querySelectorAll(arguments[0])]\
                 .some((cell) => cell.textContent.includes(arguments[1]))",
                vec![json!(css), json!(text)],
            )
            .await
            .unwrap();
        if found == json!(true) {
            return;
        }
        let shown = browser
            .client
            .execute(
                "return [...document.querySelectorAll(arguments[0])].map((cell) => cell.textContent)",
                vec![json!(css)],
            )
            .await
            .unwrap();
        assert!(
            Instant::now() < deadline,
            "no `{css}` holds `{text}`: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the person answers.
#[derive(Debug, Serialize, Deserialize)]
struct Verdict {
    approved: bool,
    note: String,
}

fn draft(topic: String) -> String {
    format!("a post about {topic}")
}

fn publish((post, verdict): (String, Verdict)) -> String {
    match verdict.approved {
        true => format!("published {post}: {}", verdict.note),
        false => format!("shelved {post}: {}", verdict.note),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_typed_into_the_form_resumes_the_run() {
    let _turn = TURN.lock().await;
    let studio = Studio::start().await;
    let plan = plan! {
        let post = #[durable] draft;
        let verdict = post >> #[name = "approve"] (ask::<Verdict>());
        (post, verdict) >> publish
    };
    let watch = studio.board.watch("approval", &plan);
    let id = watch.id();
    let runs = Runs::new(InMemory::new());
    let run = tokio::spawn(async move {
        let form = Form::new()
            .yes_no("approved", "Publish it?")
            .text("note", "A note for the writer");
        let mut status = runs
            .run(&plan, "post-1", "plans".to_owned())
            .monitor(&*watch)
            .await
            .unwrap();
        while let RunStatus::Waiting(question) = status {
            let answer = watch.ask(&question, form.clone()).await.unwrap();
            let verdict: Verdict = serde_json::from_value(answer).unwrap();
            status = runs
                .resume(&plan, "post-1", verdict)
                .monitor(&*watch)
                .await
                .unwrap();
        }
        status.done().unwrap()
    });

    let browser = Browser::start().await;
    browser.open(&studio.page(&format!("#runs/{id}"))).await;
    browser
        .find(r#"g.node[data-name="approve"][data-state="asking"]"#)
        .await;
    browser.screenshot("studio-question.png").await;
    browser.click(r#"#answer input[name="approved"]"#).await;
    browser
        .find(r#"#answer input[name="note"]"#)
        .await
        .send_keys("ship it")
        .await
        .unwrap();
    browser.click(r#"#answer button[type="submit"]"#).await;
    let published = tokio::time::timeout(PATIENCE, run)
        .await
        .expect("the run resumed and finished")
        .unwrap();
    assert_eq!(published, "published a post about plans: ship it");
    // The page shows it going on to the end.
    browser
        .find(r#"g.node[data-name="publish"][data-state="done"]"#)
        .await;
    browser.find(r#"#question[hidden]"#).await;
    browser.close().await;
}

/// A child process, killed when dropped (a test that fails leaves none behind).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_prints_its_page_agents_and_nodes_then_serves() {
    use std::io::BufRead;

    let _turn = TURN.lock().await;
    let token = "studio-example-token-0123456789";
    let mut child = Command::new(test_support::processes::example("studio"))
        .args(["--serve", "127.0.0.1:0"])
        .env("PLAN_CONTROL_TOKEN", token)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _child = Killed(child);
    let lines = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .take(3)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    });
    let lines = tokio::time::timeout(PATIENCE, lines)
        .await
        .unwrap()
        .unwrap();
    let url = lines[0].strip_prefix("studio: ").expect("the page's line");
    let addr = url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix(&format!("/?token={token}")))
        .unwrap_or_else(|| panic!("not `studio: http://ADDR/?token=TOKEN`: {url}"));
    assert_eq!(lines[1], "agents: researcher, scout, flaky, sleeper");
    let nodes = lines[2].strip_prefix("nodes: ").expect("the nodes' line");
    for step in ["search_web", "search_papers", "fact_check", "approve"] {
        assert!(nodes.split(", ").any(|n| n == step), "{nodes}");
    }

    let response = get(addr, &format!("/?token={token}")).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response:.200}");
    let browser = Browser::start().await;
    browser.open(&format!("{url}#runs")).await;
    // The durable run that asks, and a research run, come within a few seconds.
    browser.find(r#"a[data-run]"#).await;
    browser.client.goto(&format!("{url}#agents")).await.unwrap();
    browser.find(r#"tr[data-agent="researcher"]"#).await;
    browser
        .find(r#"tr[data-agent="sleeper"] .state[data-state="sleeping"]"#)
        .await;
    browser.close().await;
}
