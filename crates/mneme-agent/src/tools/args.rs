//! Tool-call arguments, parsed as leniently as Letta parses them: models produce odd JSON.

use serde_json::{Map, Value};

/// The arguments of one tool call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args(Map<String, Value>);

impl Args {
    pub fn new(v: Value) -> Args {
        match v {
            Value::Object(map) => Args(map),
            _ => Args::default(),
        }
    }

    /// Parses raw argument text: JSON encoded twice is decoded twice, and of several objects
    /// glued together (`{..}{..}`) the first is kept; anything unreadable is `{}`.
    pub fn parse(raw: &str) -> Args {
        let raw = raw.trim();
        let value = serde_json::from_str::<Value>(raw).or_else(|_| {
            let mut stream = serde_json::Deserializer::from_str(raw).into_iter::<Value>();
            stream.next().unwrap_or(Ok(Value::Null))
        });
        match value {
            Ok(Value::String(inner)) => {
                Args::new(serde_json::from_str(&inner).unwrap_or(Value::Null))
            }
            Ok(v) => Args::new(v),
            Err(_) => Args::default(),
        }
    }

    /// Sets every key of `prefill` (rule-prefilled arguments win over the model's).
    pub fn merge(&mut self, prefill: Map<String, Value>) {
        self.0.extend(prefill);
    }

    /// Removes and returns a key (`request_heartbeat`, `thinking`).
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }

    /// A key's value as the model sent it.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.to_map())
    }

    /// The arguments as a JSON object's map (keyword arguments for Python and MCP tools).
    pub fn to_map(&self) -> Map<String, Value> {
        self.0.clone()
    }

    pub fn string(&self, name: &str) -> Result<String, String> {
        self.opt_string(name)?
            .ok_or_else(|| format!("Error: missing required argument '{name}'"))
    }

    pub fn opt_string(&self, name: &str) -> Result<Option<String>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(other) => Err(format!(
                "Error: argument '{name}' must be a string, got {other}"
            )),
        }
    }

    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .ok_or_else(|| format!("Error: argument '{name}' must be an integer")),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| format!("Error: argument '{name}' must be an integer, got '{s}'")),
            Some(other) => Err(format!(
                "Error: argument '{name}' must be an integer, got {other}"
            )),
        }
    }

    pub fn strings(&self, name: &str) -> Result<Vec<String>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(format!(
                        "Error: argument '{name}' must list strings, got {other}"
                    )),
                })
                .collect(),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(other) => Err(format!(
                "Error: argument '{name}' must be a list, got {other}"
            )),
        }
    }

    /// A boolean that may arrive as `true` or as the string `"true"` (any case).
    pub fn flag(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_parsing() {
        assert_eq!(Args::parse(r#"{"a": 1}"#).to_value(), json!({"a": 1}));
        assert_eq!(Args::parse(r#""{\"a\": 1}""#).to_value(), json!({"a": 1}));
        assert_eq!(
            Args::parse(r#"{"a": 1}{"b": 2}"#).to_value(),
            json!({"a": 1})
        );
        assert_eq!(Args::parse("not json").to_value(), json!({}));
        assert_eq!(Args::parse("").to_value(), json!({}));
    }

    #[test]
    fn typed_reads() {
        let a = Args::new(json!({"n": "3", "h": "TRUE", "t": ["x"], "s": 5}));
        assert_eq!(a.int_or("n", -1).unwrap(), 3);
        assert_eq!(a.int_or("missing", -1).unwrap(), -1);
        assert!(a.flag("h"));
        assert_eq!(a.strings("t").unwrap(), ["x"]);
        assert_eq!(a.string("s").unwrap(), "5");
        assert!(a.string("missing").unwrap_err().contains("missing"));
    }
}
