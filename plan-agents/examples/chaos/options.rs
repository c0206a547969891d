//! The command line.

use std::time::Duration;

pub const USAGE: &str = "usage: chaos [--seed S] [--runs N] [--fault-rate R] [--deadline-ms MS] \
                         [--spike-ms MS] [--retry-after-s S] [--budget-requests N]";

pub struct Options {
    /// Seeds the faults: the model server's schedule is drawn from it, the sources' from
    /// `seed + 1`.
    pub seed: u64,
    /// Runs of each agent.
    pub runs: usize,
    /// The share of requests each server answers with a fault, spread evenly over the kinds.
    pub fault_rate: f64,
    /// Each run's deadline.
    pub deadline: Duration,
    /// The latency spike of a slow answer.
    pub spike: Duration,
    /// The `Retry-After` of a 429.
    pub retry_after: Duration,
    /// Each run's budget of requests (its tokens and money are limited too, see `budget`).
    pub budget_requests: u64,
}

/// The options, or the problem with them (empty for `--help`).
pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        seed: 7,
        runs: 10,
        fault_rate: 0.2,
        deadline: Duration::from_secs(10),
        spike: Duration::from_millis(200),
        retry_after: Duration::from_secs(1),
        budget_requests: 30,
    };
    while let Some(arg) = args.next() {
        let mut number = |what: &str| -> Result<u64, String> {
            let text = args.next().ok_or(format!("{arg} needs {what}"))?;
            text.parse()
                .map_err(|_| format!("{arg}: `{text}` is not {what}"))
        };
        match arg.as_str() {
            "--seed" => options.seed = number("a whole number")?,
            "--runs" => {
                options.runs = usize::try_from(number("a number of runs")?)
                    .ok()
                    .filter(|&runs| runs > 0)
                    .ok_or("--runs: give at least 1")?;
            }
            "--fault-rate" => {
                let text = args.next().ok_or("--fault-rate needs a rate from 0 to 1")?;
                options.fault_rate = text
                    .parse()
                    .ok()
                    .filter(|rate| (0.0..=1.0).contains(rate))
                    .ok_or(format!("--fault-rate: `{text}` is not a rate from 0 to 1"))?;
            }
            "--deadline-ms" => {
                options.deadline = Duration::from_millis(number("a number of milliseconds")?);
            }
            "--spike-ms" => {
                options.spike = Duration::from_millis(number("a number of milliseconds")?);
            }
            "--retry-after-s" => {
                options.retry_after = Duration::from_secs(number("a number of seconds")?);
            }
            "--budget-requests" => options.budget_requests = number("a number of requests")?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}
