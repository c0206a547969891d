//! The command line.

use std::path::PathBuf;

use crate::agent::Pause;

pub const USAGE: &str = "usage: research [--store sqlite:PATH] [--run-id ID] [--budget-requests N] \
                         [--base-url URL --model NAME] [--graph] [--pause-after plan|tools]";

pub struct Options {
    /// The SQLite file holding the durable runs and the agent's memory.
    pub store: PathBuf,
    /// `None`: a new run.
    pub run_id: Option<String>,
    pub budget_requests: u64,
    /// A real model server and model; `None`: the scripted one.
    pub model: Option<(String, String)>,
    /// Print the plan as a Mermaid graph.
    pub graph: bool,
    pub pause_after: Option<Pause>,
}

/// The options, or the problem with them (empty for `--help`).
pub fn parse(mut args: impl Iterator<Item = String>, target: PathBuf) -> Result<Options, String> {
    let mut options = Options {
        store: target.join("research.db"),
        run_id: None,
        budget_requests: 40,
        model: None,
        graph: false,
        pause_after: None,
    };
    let (mut base_url, mut model) = (None, None);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{arg} needs {what}"));
        match arg.as_str() {
            "--store" => {
                let spec = value("sqlite:PATH")?;
                let path = spec
                    .strip_prefix("sqlite:")
                    .filter(|path| !path.is_empty())
                    .ok_or(format!("--store: `{spec}` is not sqlite:PATH"))?;
                options.store = PathBuf::from(path);
            }
            "--run-id" => options.run_id = Some(value("an id")?),
            "--budget-requests" => {
                let n = value("a number")?;
                options.budget_requests = n
                    .parse()
                    .map_err(|_| format!("--budget-requests: `{n}` is not a number"))?;
            }
            "--base-url" => base_url = Some(value("a URL")?),
            "--model" => model = Some(value("a model name")?),
            "--graph" => options.graph = true,
            "--pause-after" => {
                options.pause_after = Some(match value("plan or tools")?.as_str() {
                    "plan" => Pause::Plan,
                    "tools" => Pause::Tools,
                    other => return Err(format!("--pause-after: `{other}` is not plan or tools")),
                })
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    options.model = match (base_url, model) {
        (Some(url), Some(model)) => Some((url, model)),
        (None, None) => None,
        _ => return Err("--base-url and --model go together".to_owned()),
    };
    Ok(options)
}
