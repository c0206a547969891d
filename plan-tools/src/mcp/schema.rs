//! A tool's arguments checked against its input schema before the call: a small, documented
//! subset of JSON Schema.
//!
//! A full validator (the `jsonschema` crate) brings in two regex engines, big-number
//! arithmetic and a second `syn`, even with its default features off; the schemas MCP tools
//! publish are almost always a flat object of typed, possibly required properties. So this
//! checks the keywords that catch the mistakes a plan or a model makes with arguments, and
//! leaves everything else to the server, which validates too:
//!
//! * `type` — one name or a list: `object`, `array`, `string`, `number`, `integer` (a number
//!   with no fractional part, `1.0` included), `boolean`, `null`;
//! * `enum` and `const`;
//! * `properties`, `required`, and `additionalProperties` (`false`, or a schema for the
//!   others);
//! * `items` (one schema for every item), `minItems`, `maxItems`;
//! * `minLength`, `maxLength` (in characters), `minimum`, `maximum`, `exclusiveMinimum`,
//!   `exclusiveMaximum` (the numeric form);
//! * `allOf`, `anyOf`, `oneOf`, `not`; the schemas `true` and `false`.
//!
//! Other keywords — `$ref`, `pattern`, `format`, `if`/`then`, `dependentRequired`, … — are
//! ignored: a value they would reject gets through to the server, which is then the one to
//! refuse it. Nothing here rejects a value that a full validator would accept.

use serde_json::{Map, Value};

use super::McpError;
use super::error::{LISTED, NAME_CHARS, listed};
use crate::cut::cut;

/// The longest message of a mismatch, in characters: the schema and the arguments come from
/// outside (a server, a model), and their names and lists are cut to fit.
const MAX_MESSAGE: usize = 1000;

/// Checks `arguments` against a tool's input `schema` — the subset of JSON Schema listed on
/// [`McpTool`](super::McpTool) — as an `McpTool` does before each call, and gives
/// them as the object MCP sends (`null` is no arguments: `{}`). A mismatch is
/// [`McpError::InvalidArguments`] naming `tool` and the first mismatch, where it is, in at
/// most a thousand characters.
///
/// ```
/// use plan_tools::mcp::{McpError, check_arguments};
/// use serde_json::json;
///
/// let schema = json!({
///     "type": "object",
///     "properties": { "city": { "type": "string" } },
///     "required": ["city"]
/// });
/// assert!(check_arguments("weather", &schema, json!({ "city": "Oslo" })).is_ok());
/// let err = check_arguments("weather", &schema, json!({ "city": 7 })).unwrap_err();
/// assert!(matches!(err, McpError::InvalidArguments { .. }));
/// assert_eq!(
///     err.to_string(),
///     "invalid arguments for tool `weather`: `city` must be a string, not a number (7)"
/// );
/// ```
pub fn check_arguments(
    tool: &str,
    schema: &Value,
    arguments: Value,
) -> Result<Map<String, Value>, McpError> {
    let invalid = |problem: String| McpError::InvalidArguments {
        tool: cut(tool, NAME_CHARS),
        problem: cut(&problem, MAX_MESSAGE),
    };
    // `null` is "no arguments", which a tool taking none expects as `{}`.
    let arguments = match arguments {
        Value::Null => Value::Object(Map::new()),
        other => other,
    };
    check(schema, &arguments).map_err(invalid)?;
    match arguments {
        Value::Object(arguments) => Ok(arguments),
        // MCP sends arguments as an object, whatever the schema says.
        _ => Err(invalid("the arguments must be a JSON object".to_owned())),
    }
}

/// Checks `value` against `schema`; the first mismatch, as a sentence naming where it is.
fn check(schema: &Value, value: &Value) -> Result<(), String> {
    check_at(schema, value, &mut Path(Vec::new()))
}

/// Where in the arguments a value is: `b`, `items[2].name`.
struct Path(Vec<Step>);

enum Step {
    Key(String),
    Index(usize),
}

impl Path {
    fn shown(&self) -> String {
        if self.0.is_empty() {
            return "the arguments".to_owned();
        }
        let mut shown = String::new();
        for step in &self.0 {
            match step {
                Step::Key(key) if shown.is_empty() => shown.push_str(&cut(key, 40)),
                Step::Key(key) => {
                    shown.push('.');
                    shown.push_str(&cut(key, 40));
                }
                Step::Index(i) => shown.push_str(&format!("[{i}]")),
            }
        }
        format!("`{shown}`")
    }

    fn within<T>(&mut self, step: Step, f: impl FnOnce(&mut Self) -> T) -> T {
        self.0.push(step);
        let out = f(self);
        self.0.pop();
        out
    }
}

fn check_at(schema: &Value, value: &Value, path: &mut Path) -> Result<(), String> {
    let schema = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{} is not allowed here", path.shown())),
        Value::Object(schema) => schema,
        // Not a schema at all: nothing to check against (the server will complain).
        _ => return Ok(()),
    };
    if let Some(types) = schema.get("type") {
        check_type(types, value, path)?;
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.iter().any(|a| same(a, value))
    {
        return Err(format!(
            "{} is {}, not one of {}",
            path.shown(),
            short(value),
            listed(allowed.iter().map(short))
        ));
    }
    if let Some(constant) = schema.get("const")
        && !same(constant, value)
    {
        return Err(format!(
            "{} must be {}, not {}",
            path.shown(),
            short(constant),
            short(value)
        ));
    }
    match value {
        Value::Object(object) => check_object(schema, object, path)?,
        Value::Array(items) => check_array(schema, items, path)?,
        Value::String(text) => check_string(schema, text, path)?,
        Value::Number(number) => {
            if let Some(x) = number.as_f64() {
                check_number(schema, x, path)?;
            }
        }
        _ => {}
    }
    check_combinators(schema, value, path)
}

fn check_type(types: &Value, value: &Value, path: &mut Path) -> Result<(), String> {
    let names: Vec<&str> = match types {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    if names.iter().any(|name| is_type(name, value)) {
        return Ok(());
    }
    Err(format!(
        "{} must be {}, not {}",
        path.shown(),
        names
            .iter()
            .take(LISTED)
            .map(|name| article(&cut(name, 40)))
            .collect::<Vec<_>>()
            .join(" or "),
        describe(value)
    ))
}

fn is_type(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|x| x.fract() == 0.0)
            }
            _ => false,
        },
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        // A type this subset does not know: do not reject on its account.
        _ => true,
    }
}

fn check_object(
    schema: &Map<String, Value>,
    object: &Map<String, Value>,
    path: &mut Path,
) -> Result<(), String> {
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                let within = if path.0.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", path.shown())
                };
                let name = cut(name, 40);
                return Err(format!("missing required argument `{name}`{within}"));
            }
        }
    }
    let properties = match schema.get("properties") {
        Some(Value::Object(properties)) => Some(properties),
        _ => None,
    };
    let additional = schema.get("additionalProperties");
    for (key, item) in object {
        match properties.and_then(|p| p.get(key)) {
            Some(property) => path.within(Step::Key(key.clone()), |path| {
                check_at(property, item, path)
            })?,
            None => match additional {
                Some(Value::Bool(false)) => {
                    let known = match properties {
                        Some(p) if !p.is_empty() => {
                            listed(p.keys().map(|k| format!("`{}`", cut(k, 40))))
                        }
                        _ => "none".to_owned(),
                    };
                    let shown = path.within(Step::Key(key.clone()), |path| path.shown());
                    return Err(format!(
                        "unexpected argument {shown} (the tool takes: {known})"
                    ));
                }
                Some(extra @ Value::Object(_)) => {
                    path.within(Step::Key(key.clone()), |path| check_at(extra, item, path))?
                }
                _ => {}
            },
        }
    }
    Ok(())
}

fn check_array(
    schema: &Map<String, Value>,
    items: &[Value],
    path: &mut Path,
) -> Result<(), String> {
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        return Err(format!(
            "{} must have at least {min} item(s), not {}",
            path.shown(),
            items.len()
        ));
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && items.len() as u64 > max
    {
        return Err(format!(
            "{} must have at most {max} item(s), not {}",
            path.shown(),
            items.len()
        ));
    }
    // Only the one-schema form: the tuple form (`items` as a list, or `prefixItems`) is left
    // to the server.
    if let Some(item_schema @ (Value::Object(_) | Value::Bool(_))) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            path.within(Step::Index(i), |path| check_at(item_schema, item, path))?;
        }
    }
    Ok(())
}

fn check_string(schema: &Map<String, Value>, text: &str, path: &mut Path) -> Result<(), String> {
    let chars = text.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && chars < min
    {
        return Err(format!(
            "{} must be at least {min} character(s) long",
            path.shown()
        ));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && chars > max
    {
        return Err(format!(
            "{} must be at most {max} character(s) long",
            path.shown()
        ));
    }
    Ok(())
}

fn check_number(schema: &Map<String, Value>, x: f64, path: &mut Path) -> Result<(), String> {
    type Holds = fn(f64, f64) -> bool;
    let bounds: [(&str, Holds, &str); 4] = [
        ("minimum", |x, limit| x >= limit, "at least"),
        ("maximum", |x, limit| x <= limit, "at most"),
        ("exclusiveMinimum", |x, limit| x > limit, "more than"),
        ("exclusiveMaximum", |x, limit| x < limit, "less than"),
    ];
    for (key, holds, words) in bounds {
        if let Some(limit) = schema.get(key).and_then(Value::as_f64)
            && !holds(x, limit)
        {
            return Err(format!("{} must be {words} {limit}, not {x}", path.shown()));
        }
    }
    Ok(())
}

fn check_combinators(
    schema: &Map<String, Value>,
    value: &Value,
    path: &mut Path,
) -> Result<(), String> {
    if let Some(Value::Array(all)) = schema.get("allOf") {
        for sub in all {
            check_at(sub, value, path)?;
        }
    }
    if let Some(Value::Array(any)) = schema.get("anyOf") {
        let mut first = None;
        for sub in any {
            match check_at(sub, value, path) {
                Ok(()) => {
                    first = None;
                    break;
                }
                Err(err) => {
                    first.get_or_insert(err);
                }
            }
        }
        if let Some(err) = first {
            return Err(format!(
                "{} matches none of the allowed forms (first: {err})",
                path.shown()
            ));
        }
    }
    if let Some(Value::Array(one)) = schema.get("oneOf") {
        let matching = one
            .iter()
            .filter(|sub| check_at(sub, value, path).is_ok())
            .count();
        if matching != 1 {
            return Err(format!(
                "{} must match exactly one of the allowed forms, and matches {matching}",
                path.shown()
            ));
        }
    }
    if let Some(not) = schema.get("not")
        && check_at(not, value, path).is_ok()
    {
        return Err(format!("{} has a form that is not allowed", path.shown()));
    }
    Ok(())
}

/// JSON Schema equality: numbers by value (`1` and `1.0` are the same), the rest as JSON.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn article(name: &str) -> String {
    match name {
        "object" | "array" | "integer" => format!("an {name}"),
        "null" => "null".to_owned(),
        _ => format!("a {name}"),
    }
}

/// A value's type and, for a scalar, the value: `a string ("x")`, `an array`.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => format!("a boolean ({value})"),
        Value::Number(_) => format!("a number ({value})"),
        Value::String(_) => format!("a string ({})", short(value)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A value as JSON, cut short for a message.
fn short(value: &Value) -> String {
    cut(&value.to_string(), 40)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::check;

    fn add_schema() -> serde_json::Value {
        json!({
            "type": "object",
            "properties": {
                "a": {"type": "number"},
                "b": {"type": "integer", "minimum": 0},
                "op": {"enum": ["add", "sub"]},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                "inner": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "minLength": 1}},
                    "required": ["name"]
                },
            },
            "required": ["a", "b"],
            "additionalProperties": false
        })
    }

    #[test]
    fn accepts_what_matches() {
        let schema = add_schema();
        for ok in [
            json!({"a": 1.5, "b": 2}),
            json!({"a": 1, "b": 2.0, "op": "sub"}),
            json!({"a": 0, "b": 0, "tags": ["x", "y"], "inner": {"name": "n"}}),
        ] {
            assert_eq!(check(&schema, &ok), Ok(()), "{ok}");
        }
        // No schema keywords at all, and the schemas `true` and `{}`, accept anything.
        assert_eq!(check(&json!(true), &json!([1])), Ok(()));
        assert_eq!(check(&json!({}), &json!("x")), Ok(()));
    }

    #[test]
    fn names_the_first_mismatch() {
        let schema = add_schema();
        let cases = [
            (json!({"a": 1}), "missing required argument `b`"),
            (
                json!({"a": "1", "b": 2}),
                "`a` must be a number, not a string (\"1\")",
            ),
            (
                json!({"a": 1, "b": 2.5}),
                "`b` must be an integer, not a number (2.5)",
            ),
            (json!({"a": 1, "b": -1}), "`b` must be at least 0, not -1"),
            (
                json!({"a": 1, "b": 2, "op": "mul"}),
                "`op` is \"mul\", not one of \"add\", \"sub\"",
            ),
            (
                json!({"a": 1, "b": 2, "c": 3}),
                "unexpected argument `c` (the tool takes: `a`, `b`, `inner`, `op`, `tags`)",
            ),
            (
                json!({"a": 1, "b": 2, "tags": ["x", 3]}),
                "`tags[1]` must be a string, not a number (3)",
            ),
            (
                json!({"a": 1, "b": 2, "tags": ["x", "y", "z"]}),
                "`tags` must have at most 2 item(s), not 3",
            ),
            (
                json!({"a": 1, "b": 2, "inner": {}}),
                "missing required argument `name` in `inner`",
            ),
            (
                json!({"a": 1, "b": 2, "inner": {"name": ""}}),
                "`inner.name` must be at least 1 character(s) long",
            ),
            (
                json!([1, 2]),
                "the arguments must be an object, not an array",
            ),
        ];
        for (args, problem) in cases {
            assert_eq!(check(&schema, &args), Err(problem.to_owned()), "{args}");
        }
    }

    #[test]
    fn combinators_and_type_lists() {
        let schema = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        assert_eq!(check(&schema, &json!("x")), Ok(()));
        assert_eq!(check(&schema, &json!(3)), Ok(()));
        assert!(
            check(&schema, &json!(1.5))
                .unwrap_err()
                .contains("none of the allowed forms")
        );
        let schema = json!({"type": ["string", "null"]});
        assert_eq!(check(&schema, &json!(null)), Ok(()));
        assert_eq!(
            check(&schema, &json!(false)),
            Err("the arguments must be a string or null, not a boolean (false)".to_owned())
        );
        let schema = json!({"oneOf": [{"type": "number"}, {"type": "integer"}]});
        assert!(
            check(&schema, &json!(2)).is_err(),
            "2 is both a number and an integer"
        );
        assert_eq!(check(&schema, &json!(2.5)), Ok(()));
    }

    #[test]
    fn ignores_what_it_does_not_know() {
        // `$ref` and `pattern` are left to the server: nothing is rejected on their account.
        let schema = json!({
            "type": "object",
            "properties": {"id": {"$ref": "#/$defs/id"}, "code": {"type": "string", "pattern": "^[0-9]+$"}},
        });
        assert_eq!(check(&schema, &json!({"id": [], "code": "abc"})), Ok(()));
    }
}
