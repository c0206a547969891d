//! Agents across processes, with the `agents_restart` example that `cargo test` builds next to
//! this test: killed with SIGKILL and run again on the same SQLite file, each agent carries on
//! where it was. The job a kill cut off runs again as its next attempt, no job is lost, the
//! sleeper wakes at the time it fell asleep for (not before), and the ticker's count of ticks
//! goes on. With leases, a second process on the same file takes the agents of the one
//! killed over, and carries on the same way.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use test_support::processes::{example, kill_when, succeeded};
use test_support::{TempDir, temp_dir};

/// One scenario's files: the store and the effects file.
struct Scenario {
    dir: TempDir,
}

/// A line of the effects file: `start|end AGENT TASK attempt N at MS`.
#[derive(Debug, PartialEq)]
struct Line {
    end: bool,
    agent: String,
    task: String,
    attempt: u32,
    at_ms: u128,
}

impl Scenario {
    fn new(name: &str) -> Self {
        let dir = temp_dir(&format!("agents-{name}"));
        Scenario { dir }
    }

    fn spawn(&self) -> Child {
        self.spawn_with(&[])
    }

    /// The example, with `args` after the store and the effects file.
    fn spawn_with(&self, args: &[&str]) -> Child {
        Command::new(example("agents_restart"))
            .arg("--store")
            .arg(self.dir.path().join("agents.db"))
            .arg("--effects")
            .arg(self.dir.path().join("effects"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts")
    }

    /// Runs the example to the end; what it printed.
    fn finish(&self) -> String {
        let stdout = succeeded(self.spawn());
        assert_eq!(stdout.lines().last(), Some("done"), "{stdout}");
        stdout
    }

    /// Runs the example until the effects file has a line starting with `prefix`, then kills
    /// it with SIGKILL; what it printed.
    fn kill_at(&self, prefix: &str) -> String {
        let what = format!("`{prefix}`");
        kill_when(self.spawn(), &what, || {
            self.lines().iter().any(|l| l.starts_with(prefix))
        })
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("effects"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn parsed(&self) -> Vec<Line> {
        self.lines()
            .iter()
            .map(|line| {
                let words: Vec<&str> = line.split(' ').collect();
                let [edge, agent, task, "attempt", attempt, "at", ms] = words[..] else {
                    panic!("a malformed effects line: {line}");
                };
                Line {
                    end: edge == "end",
                    agent: agent.to_owned(),
                    task: task.to_owned(),
                    attempt: attempt.parse().unwrap(),
                    at_ms: ms.parse().unwrap(),
                }
            })
            .collect()
    }
}

/// The wake time the first process printed.
fn wake_time(stdout: &str) -> u128 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("sleeper wakes at "))
        .expect("the first run prints the sleeper's wake time")
        .parse()
        .unwrap()
}

/// What every run, killed or not, must end with: every job and the sleeper's task done; a
/// task started and never ended by an attempt was started again as the next attempt; the
/// sleeper started no earlier than its wake time; at least three ticks.
fn check_the_end(scenario: &Scenario, wakes_at: u128) {
    let lines = scenario.parsed();
    let mut ended: BTreeMap<(String, String), u32> = BTreeMap::new();
    for line in lines.iter().filter(|l| l.end) {
        *ended
            .entry((line.agent.clone(), line.task.clone()))
            .or_default() += 1;
    }
    for job in 1..=6 {
        let key = ("worker".to_owned(), format!("job-{job}"));
        assert!(
            ended.contains_key(&key),
            "job-{job} never ended: {lines:#?}"
        );
    }
    for start in lines.iter().filter(|l| !l.end && l.agent != "ticker") {
        let ended_it = lines.iter().any(|l| {
            l.end && l.agent == start.agent && l.task == start.task && l.attempt == start.attempt
        });
        if !ended_it {
            let again = lines.iter().any(|l| {
                !l.end
                    && l.agent == start.agent
                    && l.task == start.task
                    && l.attempt == start.attempt + 1
            });
            assert!(
                again,
                "{start:?} was cut off and never tried again: {lines:#?}"
            );
        }
    }
    let woke = lines
        .iter()
        .find(|l| l.agent == "sleeper" && !l.end)
        .expect("the sleeper woke");
    assert!(
        woke.at_ms >= wakes_at,
        "the sleeper woke at {}, before its time {wakes_at}",
        woke.at_ms
    );
    let ticks = ended.get(&("ticker".to_owned(), "tick".to_owned()));
    assert!(ticks.is_some_and(|&n| n >= 3), "{ticks:?}");
}

#[test]
fn an_uninterrupted_run_does_every_task_once() {
    let scenario = Scenario::new("uninterrupted");
    let stdout = scenario.finish();
    check_the_end(&scenario, wake_time(&stdout));
    let lines = scenario.parsed();
    assert!(lines.iter().all(|l| l.attempt == 1), "{lines:#?}");
    // And a finished set of agents, run again, has nothing left but its ticks.
    scenario.finish();
    let again = scenario.parsed();
    assert!(
        again[lines.len()..].iter().all(|l| l.agent == "ticker"),
        "{again:#?}"
    );
}

#[test]
fn a_job_cut_off_by_sigkill_runs_again_as_its_next_attempt_and_nothing_is_lost() {
    let scenario = Scenario::new("mid-job");
    let stdout = scenario.kill_at("start worker job-2 attempt 1");
    let wakes_at = wake_time(&stdout);
    let killed: Vec<Line> = scenario.parsed();
    scenario.finish();
    check_the_end(&scenario, wakes_at);
    let lines = scenario.parsed();
    let cut_off = !killed.iter().any(|l| l.end && l.task == "job-2");
    if cut_off {
        assert!(
            lines
                .iter()
                .any(|l| !l.end && l.task == "job-2" && l.attempt == 2),
            "{lines:#?}"
        );
    }
    // Job 1 was done before the kill: it is not done again.
    let job1 = lines.iter().filter(|l| l.task == "job-1").count();
    assert_eq!(job1, 2, "{lines:#?}");
}

#[test]
fn a_sleeper_killed_in_its_sleep_wakes_at_its_first_wake_time_after_a_restart() {
    let scenario = Scenario::new("asleep");
    // Once the worker's last job starts, the sleeper has about a second of sleep left.
    let stdout = scenario.kill_at("start worker job-6");
    let wakes_at = wake_time(&stdout);
    let killed_at = scenario.parsed().last().unwrap().at_ms;
    assert!(
        !scenario.lines().iter().any(|l| l.contains("sleeper")),
        "the sleeper woke before the kill"
    );
    // Killed twice: the second time, early in the restarted process's life.
    let mut child = scenario.spawn();
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    scenario.finish();
    check_the_end(&scenario, wakes_at);
    let woke = scenario
        .parsed()
        .into_iter()
        .find(|l| l.agent == "sleeper")
        .unwrap();
    assert!(woke.at_ms > killed_at, "{woke:?}");
}

/// What `child` prints, line by line, as it prints it.
fn printed(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("stdout is piped");
    let into = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line);
        }
    });
    lines
}

fn has(lines: &Mutex<Vec<String>>, prefix: &str) -> bool {
    lines.lock().unwrap().iter().any(|l| l.starts_with(prefix))
}

/// Waits (up to 60 s) until `ready` holds.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "no {what} within 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_second_process_takes_over_the_agents_of_their_owner_killed_with_sigkill() {
    let scenario = Scenario::new("lease");
    let mut owner = scenario.spawn_with(&["--lease", "one"]);
    let owner_printed = printed(&mut owner);
    wait_for("setup by the owner", || {
        has(&owner_printed, "sleeper wakes at ")
    });
    let mut second = scenario.spawn_with(&["--lease", "two"]);
    let second_printed = printed(&mut second);
    wait_for("start of the second process", || {
        has(&second_printed, "two owns ")
    });
    assert!(has(&owner_printed, "one owns 0 agents"));
    assert!(
        has(&second_printed, "two owns 0 agents"),
        "the owner's leases are held"
    );

    wait_for("`start worker job-2 attempt 1`", || {
        scenario
            .lines()
            .iter()
            .any(|l| l.starts_with("start worker job-2 attempt 1"))
    });
    owner.kill().unwrap(); // SIGKILL
    owner.wait().unwrap();
    let killed_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let killed: Vec<Line> = scenario.parsed();

    // The second process takes each agent over once its lease expires, and finishes the work.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the second process did not end within 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let shown = second_printed.lock().unwrap().join("\n");
    assert!(status.success(), "{shown}");
    for agent in ["worker", "sleeper", "ticker"] {
        assert!(
            shown.contains(&format!("took over {agent} from one")),
            "{shown}"
        );
    }
    assert!(shown.ends_with("done"), "{shown}");

    let wakes_at = wake_time(&owner_printed.lock().unwrap().join("\n"));
    check_the_end(&scenario, wakes_at);
    // What the owner had not begun, the second process began after the kill; what the kill
    // cut off it began again as its next attempt.
    let lines = scenario.parsed();
    for line in lines[killed.len()..].iter().filter(|l| !l.end) {
        assert!(line.at_ms >= killed_at, "{line:?} began before the kill");
    }
    let job2_ended = killed.iter().any(|l| l.end && l.task == "job-2");
    if !job2_ended {
        assert!(
            lines
                .iter()
                .any(|l| !l.end && l.task == "job-2" && l.attempt == 2),
            "{lines:#?}"
        );
    }
    let job1 = lines.iter().filter(|l| l.task == "job-1").count();
    assert_eq!(
        job1, 2,
        "job-1, done before the kill, is not done again: {lines:#?}"
    );
}
