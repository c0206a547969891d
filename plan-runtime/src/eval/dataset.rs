//! [`Dataset`]: the cases an eval runs, read from JSON Lines.

use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::EvalError;

/// One case: what the plan is given, what it should produce, and what to call the case in
/// the results.
#[derive(Clone, Debug, PartialEq)]
pub struct Case<I, E> {
    /// The case's `"id"` in the dataset, else its number (from 1, in dataset order).
    pub id: String,
    /// The plan's input.
    pub input: I,
    /// What the plan should produce (or what the scorer compares its output with).
    pub expected: E,
}

/// The cases of an eval, in dataset order: JSON Lines, one `{"input": …, "expected": …}` per
/// line, with an optional `"id"` (a string or a number). Blank lines are skipped.
///
/// ```
/// use plan_runtime::eval::Dataset;
///
/// let text = r#"
/// {"input": 2, "expected": 4}
/// {"id": "big", "input": 30, "expected": 60}
/// "#;
/// let dataset: Dataset<u32, u32> = Dataset::parse(text).unwrap();
/// assert_eq!(dataset.cases().len(), 2);
/// assert_eq!(dataset.cases()[0].id, "1");
/// assert_eq!((dataset.cases()[1].id.as_str(), dataset.cases()[1].input), ("big", 30));
///
/// let err = Dataset::<u32, u32>::parse("{\"input\": 1}").unwrap_err();
/// assert!(err.to_string().starts_with("dataset line 1:"), "{err}");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<I, E> {
    cases: Vec<Case<I, E>>,
}

/// A line as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<I, E> {
    #[serde(default)]
    id: Option<Id>,
    input: I,
    expected: E,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(serde_json::Number),
}

impl<I: DeserializeOwned, E: DeserializeOwned> Dataset<I, E> {
    /// The cases of `text`, JSON Lines. A line that is not a case is an error naming the
    /// line; so is a text with no case at all.
    pub fn parse(text: &str) -> Result<Self, EvalError> {
        let mut cases = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let line: Line<I, E> =
                serde_json::from_str(line).map_err(|source| EvalError::Case {
                    line: number + 1,
                    source,
                })?;
            let id = match line.id {
                Some(Id::Text(id)) => id,
                Some(Id::Number(id)) => id.to_string(),
                None => (cases.len() + 1).to_string(),
            };
            cases.push(Case {
                id,
                input: line.input,
                expected: line.expected,
            });
        }
        if cases.is_empty() {
            return Err(EvalError::Empty);
        }
        Ok(Dataset { cases })
    }

    /// The cases of the JSON Lines file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, EvalError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
            path: path.to_owned(),
            source,
        })?;
        Dataset::parse(&text)
    }
}

impl<I, E> Dataset<I, E> {
    /// A dataset of these cases.
    pub fn new(cases: Vec<Case<I, E>>) -> Self {
        Dataset { cases }
    }

    /// The cases, in dataset order.
    pub fn cases(&self) -> &[Case<I, E>] {
        &self.cases
    }
}
