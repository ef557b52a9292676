//! From an MCP tool's `inputSchema` to the function schema Letta stores for it, with Letta's
//! repairs (`normalize_mcp_schema` in Letta's schema generator) and its verdict on whether
//! OpenAI's strict mode would take it (Letta's `validate_complete_json_schema`):
//!
//! - a missing top-level `type` becomes `object`, missing `properties` and `required` empty;
//! - every object schema without `additionalProperties` gets `false`;
//! - a `$ref` without a `type` gets the referenced definition's type, or `object`;
//! - `$ref`s inside properties are inlined from `$defs`, and duplicate `anyOf` options dropped.
//!
//! Unlike Letta, the stored schema has no `request_heartbeat`: mneme adds it when it sends
//! tools to heartbeat agents, as for every other tool.

use serde_json::{Map, Value, json};

use crate::McpTool;

/// Letta's keys for the verdict inside the stored schema.
pub const SCHEMA_STATUS_KEY: &str = "mcp:SCHEMA_STATUS";
pub const SCHEMA_WARNINGS_KEY: &str = "mcp:SCHEMA_WARNINGS";

/// How far `$ref` chains are followed (Letta's limit; cycles stop there).
const MAX_REF_DEPTH: usize = 10;

/// Letta's schema health: whether OpenAI's strict mode (or any function calling) accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaHealth {
    StrictCompliant,
    NonStrictOnly,
    Invalid,
}

impl SchemaHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaHealth::StrictCompliant => "STRICT_COMPLIANT",
            SchemaHealth::NonStrictOnly => "NON_STRICT_ONLY",
            SchemaHealth::Invalid => "INVALID",
        }
    }
}

/// The stored `json_schema` of `tool` (`name`, `description`, `parameters`, and the verdict
/// under Letta's two `mcp:` keys), and the verdict itself.
pub fn letta_schema(tool: &McpTool) -> (Value, SchemaHealth) {
    let mut params = tool.input_schema.clone();
    params
        .entry("type")
        .or_insert_with(|| Value::String("object".into()));
    params
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    let mut params = Value::Object(params);
    normalize(&mut params);
    if let Some(obj) = params.as_object_mut() {
        obj.entry("required").or_insert_with(|| json!([]));
    }
    let defs = params.get("$defs").cloned().unwrap_or(Value::Null);
    if let Some(props) = params.get_mut("properties").and_then(Value::as_object_mut) {
        for prop in props.values_mut() {
            *prop = inline_refs(prop, &defs, 0);
        }
    }
    let (health, reasons) = check(&params);
    let schema = json!({
        "name": tool.name,
        "description": tool.description,
        "parameters": params,
        SCHEMA_STATUS_KEY: health.as_str(),
        SCHEMA_WARNINGS_KEY: reasons,
    });
    (schema, health)
}

/// Letta's verdict on a schema and its reasons.
pub type HealthVerdict = (SchemaHealth, Vec<String>);

/// An `inputSchema` as Letta shows it when listing a server's tools: repaired by
/// `normalize_mcp_schema`, with the verdict and its reasons. An empty schema is shown as it is,
/// without a verdict (Letta checks only schemas that have something in them).
pub fn listed_schema(input: &Map<String, Value>) -> (Map<String, Value>, Option<HealthVerdict>) {
    if input.is_empty() {
        return (Map::new(), None);
    }
    let mut schema = Value::Object(input.clone());
    normalize(&mut schema);
    let verdict = check(&schema);
    match schema {
        Value::Object(map) => (map, Some(verdict)),
        // `normalize` keeps an object an object.
        _ => (input.clone(), Some(verdict)),
    }
}

/// Letta's `normalize_mcp_schema`: definitions first, then the schema itself.
fn normalize(schema: &mut Value) {
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    if let Some(map) = schema.get_mut("$defs").and_then(Value::as_object_mut) {
        for def in map.values_mut() {
            normalize_object(def, &defs);
        }
    }
    normalize_object(schema, &defs);
}

fn normalize_object(node: &mut Value, defs: &Value) {
    let Some(obj) = node.as_object_mut() else {
        return;
    };
    if obj.get("type").and_then(Value::as_str) == Some("object") {
        obj.entry("additionalProperties")
            .or_insert(Value::Bool(false));
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for prop in props.values_mut() {
            if prop.get("$ref").is_some() {
                // The referenced definition carries additionalProperties; the reference must not.
                type_ref(prop, defs);
                continue;
            }
            match prop.get("type").and_then(Value::as_str) {
                Some("object") => normalize_object(prop, defs),
                Some("array") => {
                    if let Some(items) = prop.get_mut("items").filter(|i| i.is_object()) {
                        type_ref(items, defs);
                        if is_object_type(items) {
                            normalize_object(items, defs);
                        }
                    }
                }
                _ => {}
            }
            if let Some(options) = prop.get_mut("anyOf").and_then(Value::as_array_mut) {
                for option in options {
                    type_ref(option, defs);
                    if is_object_type(option) {
                        normalize_object(option, defs);
                    }
                }
            }
        }
    }
    if let Some(items) = obj.get_mut("items").filter(|i| is_object_type(i)) {
        normalize_object(items, defs);
    }
}

fn is_object_type(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("object")
}

/// Gives a `$ref` node without a `type` its definition's type, or `object`.
fn type_ref(node: &mut Value, defs: &Value) {
    let Some(obj) = node.as_object_mut() else {
        return;
    };
    if obj.contains_key("type") {
        return;
    }
    let Some(reference) = obj.get("$ref").and_then(Value::as_str) else {
        return;
    };
    let kind = definition(reference, defs)
        .and_then(|d| d.get("type"))
        .cloned()
        .unwrap_or_else(|| Value::String("object".into()));
    obj.insert("type".into(), kind);
}

fn definition<'a>(reference: &str, defs: &'a Value) -> Option<&'a Value> {
    defs.get(reference.strip_prefix("#/$defs/")?)
}

/// Letta's `inline_ref`: replaces `$ref`s by their definitions (keys already present win) in
/// the node, its `anyOf` options, properties and items.
fn inline_refs(node: &Value, defs: &Value, depth: usize) -> Value {
    let Some(obj) = node.as_object().filter(|_| depth <= MAX_REF_DEPTH) else {
        return node.clone();
    };
    let mut out = obj.clone();
    let resolved = out
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| definition(r, defs))
        .and_then(Value::as_object)
        .cloned();
    if let Some(def) = resolved {
        out.remove("$ref");
        for (k, v) in def {
            out.entry(k).or_insert(v);
        }
        return inline_refs(&Value::Object(out), defs, depth + 1);
    }
    if let Some(options) = out.get("anyOf").and_then(Value::as_array) {
        let inlined = options
            .iter()
            .map(|o| inline_refs(o, defs, depth + 1))
            .collect();
        out.insert("anyOf".into(), Value::Array(dedupe_any_of(inlined)));
    }
    if let Some(props) = out.get("properties").and_then(Value::as_object) {
        let inlined = props
            .iter()
            .map(|(k, v)| (k.clone(), inline_refs(v, defs, depth + 1)))
            .collect();
        out.insert("properties".into(), Value::Object(inlined));
    }
    if let Some(items) = out.get("items") {
        let inlined = inline_refs(items, defs, depth + 1);
        out.insert("items".into(), inlined);
    }
    Value::Object(out)
}

/// Letta's `deduplicate_anyof`: exact duplicates go; of two options with the same type, the one
/// with a `format` (or, both alike, the larger) stays.
fn dedupe_any_of(options: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    'next: for item in options {
        let kind = item.get("type").filter(|t| !t.is_null());
        let format = item.get("format");
        for existing in out.iter_mut() {
            if *existing == item {
                continue 'next;
            }
            if kind.is_some() && existing.get("type") == kind {
                match (format, existing.get("format")) {
                    (Some(_), None) => *existing = item.clone(),
                    (None, Some(_)) => {}
                    (a, b) if a == b => {
                        if len(&item) >= len(existing) {
                            *existing = item.clone();
                        }
                    }
                    _ => continue,
                }
                continue 'next;
            }
        }
        out.push(item);
    }
    out
}

fn len(v: &Value) -> usize {
    v.as_object().map_or(0, Map::len)
}

/// Letta's `validate_complete_json_schema`: the verdict and its reasons.
pub fn check(schema: &Value) -> (SchemaHealth, Vec<String>) {
    let mut v = Verdict {
        health: SchemaHealth::StrictCompliant,
        reasons: Vec::new(),
    };
    if !schema.is_object() {
        return (
            SchemaHealth::Invalid,
            vec!["Top-level schema must be a dict".into()],
        );
    }
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        v.invalid("Top-level schema 'type' must be 'object' for OpenAI tools".into());
    }
    v.walk(schema, "root");
    (v.health, v.reasons)
}

struct Verdict {
    health: SchemaHealth,
    reasons: Vec<String>,
}

impl Verdict {
    fn invalid(&mut self, reason: String) {
        self.health = SchemaHealth::Invalid;
        self.reasons.push(reason);
    }

    fn non_strict(&mut self, reason: String) {
        if self.health == SchemaHealth::StrictCompliant {
            self.health = SchemaHealth::NonStrictOnly;
        }
        self.reasons.push(reason);
    }

    fn walk(&mut self, node: &Value, path: &str) {
        let has = |k: &str| node.get(k).is_some();
        let kind = match node.get("type") {
            Some(Value::String(s)) => Kind::Named(s),
            Some(Value::Array(list)) => Kind::List(list),
            Some(_) => Kind::Untyped,
            None if has("properties") || has("additionalProperties") => Kind::Named("object"),
            None if has("items") => Kind::Named("array"),
            None if has("anyOf") || has("oneOf") || has("allOf") => Kind::Untyped,
            None => {
                self.invalid(format!("{path}: Missing 'type'"));
                return;
            }
        };
        match kind {
            Kind::Named("object") => self.object(node, path),
            Kind::Named("array") => match node.get("items") {
                None => self.invalid(format!(
                    "{path}: 'items' must be defined for arrays in strict mode"
                )),
                Some(items) if !items.is_object() => {
                    self.invalid(format!("{path}: 'items' must be a schema dict for arrays"))
                }
                Some(items) => self.walk(items, &format!("{path}.items")),
            },
            Kind::List(types) => {
                let known = [
                    "string", "number", "integer", "boolean", "null", "array", "object",
                ];
                for t in types {
                    if !t.as_str().is_some_and(|t| known.contains(&t)) {
                        self.invalid(format!("{path}: Invalid type '{t}' in type array"));
                    }
                }
            }
            Kind::Named(_) | Kind::Untyped => {}
        }
        for kw in ["anyOf", "oneOf", "allOf"] {
            match node.get(kw) {
                None => {}
                Some(Value::Array(options)) => {
                    for (i, option) in options.iter().enumerate() {
                        if option.is_object() {
                            self.walk(option, &format!("{path}.{kw}[{i}]"));
                        } else {
                            self.invalid(format!("{path}.{kw}[{i}]: Not a valid schema dict"));
                        }
                    }
                }
                Some(_) => self.invalid(format!("{path}: '{kw}' must be a list")),
            }
        }
    }

    fn object(&mut self, node: &Value, path: &str) {
        let props = node.get("properties");
        if props.is_some_and(|p| !p.is_object()) {
            self.invalid(format!("{path}: 'properties' must be a dict for objects"));
            return;
        }
        match node.get("additionalProperties") {
            None => self.non_strict(format!("{path}: 'additionalProperties' not explicitly set")),
            Some(Value::Bool(false)) => {}
            Some(_) => self.non_strict(format!(
                "{path}: 'additionalProperties' is not false (free-form object)"
            )),
        }
        let props = props.and_then(Value::as_object);
        let required = match node.get("required") {
            None => Vec::new(),
            Some(Value::Array(r)) => r.clone(),
            Some(_) => {
                self.invalid(format!("{path}: 'required' must be a list if present"));
                Vec::new()
            }
        };
        for key in required.iter().filter_map(Value::as_str) {
            let Some(props) = props.filter(|p| !p.is_empty()) else {
                continue;
            };
            match props.get(key) {
                None => self.invalid(format!(
                    "{path}: required contains '{key}' not found in properties"
                )),
                Some(schema) => {
                    if allows_empty_object(schema) {
                        self.invalid(format!(
                            "{path}: required property '{key}' allows empty object (OpenAI will reject)"
                        ));
                    }
                    if allows_empty_array(schema) {
                        self.invalid(format!(
                            "{path}: required property '{key}' allows empty array (OpenAI will reject)"
                        ));
                    }
                }
            }
        }
        for (name, prop) in props.into_iter().flatten() {
            if prop.is_object() {
                self.walk(prop, &format!("{path}.properties.{name}"));
            } else {
                self.invalid(format!("{path}.properties.{name}: Not a valid schema dict"));
            }
        }
    }
}

/// A schema node's `type`, or what its keywords imply.
enum Kind<'a> {
    Named(&'a str),
    List(&'a Vec<Value>),
    Untyped,
}

fn allows_empty_object(s: &Value) -> bool {
    is_object_type(s)
        && s.get("required")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        && s.get("additionalProperties") == Some(&Value::Bool(false))
}

fn allows_empty_array(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("array")
        && s.get("minItems").and_then(Value::as_u64).unwrap_or(0) == 0
        && s.get("items").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(schema: Value) -> McpTool {
        McpTool {
            name: "t".into(),
            description: Some("does t".into()),
            input_schema: schema.as_object().unwrap().clone(),
            ..McpTool::default()
        }
    }

    #[test]
    fn a_plain_schema_is_kept_and_closed() {
        let (schema, health) = letta_schema(&tool(json!({
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        })));
        assert_eq!(health, SchemaHealth::StrictCompliant);
        assert_eq!(schema["name"], "t");
        assert_eq!(schema["description"], "does t");
        assert_eq!(schema["parameters"]["additionalProperties"], false);
        assert_eq!(schema["parameters"]["required"], json!(["a", "b"]));
        assert_eq!(schema[SCHEMA_STATUS_KEY], "STRICT_COMPLIANT");
        assert_eq!(schema[SCHEMA_WARNINGS_KEY], json!([]));
    }

    #[test]
    fn missing_parts_are_filled_in() {
        let (schema, health) = letta_schema(&tool(json!({})));
        assert_eq!(
            schema["parameters"],
            json!({"type": "object", "properties": {}, "additionalProperties": false, "required": []})
        );
        assert_eq!(health, SchemaHealth::StrictCompliant);
    }

    #[test]
    fn refs_are_typed_and_inlined() {
        let (schema, health) = letta_schema(&tool(json!({
            "type": "object",
            "$defs": {
                "Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
            },
            "properties": {
                "at": {"$ref": "#/$defs/Point"},
                "path": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
                "maybe": {"anyOf": [{"$ref": "#/$defs/Point"}, {"type": "null"}, {"type": "null"}]},
            },
            "required": ["at"],
        })));
        let props = &schema["parameters"]["properties"];
        assert_eq!(props["at"]["type"], "object");
        assert_eq!(props["at"]["properties"]["x"]["type"], "number");
        assert!(props["at"].get("$ref").is_none());
        assert_eq!(props["at"]["additionalProperties"], false);
        assert_eq!(props["path"]["items"]["required"], json!(["x"]));
        assert_eq!(props["maybe"]["anyOf"].as_array().unwrap().len(), 2);
        assert_eq!(health, SchemaHealth::StrictCompliant, "{schema}");
    }

    #[test]
    fn loose_and_broken_schemas_are_graded() {
        let (_, loose) = letta_schema(&tool(json!({
            "type": "object",
            "properties": {"opts": {"type": "object", "additionalProperties": true}},
        })));
        assert_eq!(loose, SchemaHealth::NonStrictOnly);
        let (schema, broken) = letta_schema(&tool(json!({
            "type": "object",
            "properties": {"x": {"description": "no type"}},
            "required": ["x", "y"],
        })));
        assert_eq!(broken, SchemaHealth::Invalid);
        let reasons = schema[SCHEMA_WARNINGS_KEY].to_string();
        assert!(reasons.contains("'y' not found"), "{reasons}");
        assert!(reasons.contains("Missing 'type'"), "{reasons}");
    }

    #[test]
    fn any_of_keeps_the_most_specific_option() {
        let kept = dedupe_any_of(vec![
            json!({"type": "string"}),
            json!({"type": "string", "format": "date"}),
            json!({"type": "integer"}),
        ]);
        assert_eq!(
            kept,
            vec![
                json!({"type": "string", "format": "date"}),
                json!({"type": "integer"})
            ]
        );
    }
}
