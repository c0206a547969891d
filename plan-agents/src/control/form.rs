//! [`Form`]: the shape of the answer a question waits for, for the page to draw as a form and
//! for the server to check the answer against.

use serde::Serialize;
use serde_json::Value;

use crate::echo;

/// The fields of an answer: each a name (the answer type's field, as serde names it), a label
/// for the person, and a type — yes/no, text, number or one of some choices. The page draws
/// one input per field; an answer is an object with exactly these fields, each of its type,
/// which the answer type then deserializes from.
///
/// A description of our own rather than a JSON Schema: four kinds of field cover the
/// questions a run asks a person, a schema generator would be one more dependency for every
/// user of the control API, and the page stays small.
///
/// ```
/// use plan_agents::control::Form;
/// use serde_json::json;
///
/// let form = Form::new()
///     .yes_no("approved", "Publish it?")
///     .choice("tone", "Tone", ["formal", "casual"])
///     .number("words", "Words at most")
///     .text("note", "A note for the writer");
/// assert!(form.check(&json!({ "approved": true, "tone": "casual", "words": 300, "note": "" })).is_ok());
/// assert_eq!(
///     form.check(&json!({ "approved": "yes", "tone": "casual", "words": 300, "note": "" })).unwrap_err(),
///     "`approved` is true or false, not \"yes\""
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Form {
    fields: Vec<Field>,
}

/// One field of a [`Form`].
#[derive(Clone, Debug, PartialEq, Serialize)]
struct Field {
    name: String,
    label: String,
    #[serde(flatten)]
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Kind {
    YesNo,
    Text,
    Number,
    Choice { options: Vec<String> },
}

impl Form {
    /// No fields yet.
    pub fn new() -> Self {
        Form::default()
    }

    /// With a yes/no field `name` (a `bool`), asked as `label`.
    pub fn yes_no(self, name: impl Into<String>, label: impl Into<String>) -> Self {
        self.field(name, label, Kind::YesNo)
    }

    /// With a text field `name` (a `String`).
    pub fn text(self, name: impl Into<String>, label: impl Into<String>) -> Self {
        self.field(name, label, Kind::Text)
    }

    /// With a number field `name` (any JSON number; the answer type says which).
    pub fn number(self, name: impl Into<String>, label: impl Into<String>) -> Self {
        self.field(name, label, Kind::Number)
    }

    /// With a field `name` that is one of `options` (a `String`, or a unit enum's variant).
    pub fn choice<O: Into<String>>(
        self,
        name: impl Into<String>,
        label: impl Into<String>,
        options: impl IntoIterator<Item = O>,
    ) -> Self {
        let options = options.into_iter().map(Into::into).collect();
        self.field(name, label, Kind::Choice { options })
    }

    fn field(mut self, name: impl Into<String>, label: impl Into<String>, kind: Kind) -> Self {
        self.fields.push(Field {
            name: name.into(),
            label: label.into(),
            kind,
        });
        self
    }

    /// Whether `answer` fits: an object with every field, each of its type, and no other;
    /// else what is wrong, naming the field.
    pub fn check(&self, answer: &Value) -> Result<(), String> {
        let Value::Object(answer) = answer else {
            let answer = echo::name(&answer.to_string());
            return Err(format!("an answer is an object of fields, not {answer}"));
        };
        if let Some(unknown) = answer
            .keys()
            .find(|key| !self.fields.iter().any(|f| &f.name == *key))
        {
            return Err(format!(
                "`{}` is not a field of the form",
                echo::name(unknown)
            ));
        }
        for field in &self.fields {
            let Some(value) = answer.get(&field.name) else {
                return Err(format!("`{}` is missing", field.name));
            };
            let fits = match &field.kind {
                Kind::YesNo => value.is_boolean(),
                Kind::Text => value.is_string(),
                Kind::Number => value.is_number(),
                Kind::Choice { options } => value
                    .as_str()
                    .is_some_and(|chosen| options.iter().any(|o| o == chosen)),
            };
            if !fits {
                let wanted = match &field.kind {
                    Kind::YesNo => "true or false".to_owned(),
                    Kind::Text => "a string".to_owned(),
                    Kind::Number => "a number".to_owned(),
                    Kind::Choice { options } => format!("one of {}", options.join(", ")),
                };
                let value = echo::name(&value.to_string());
                return Err(format!("`{}` is {wanted}, not {value}", field.name));
            }
        }
        Ok(())
    }
}
