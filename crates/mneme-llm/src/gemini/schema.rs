//! JSON schemas cut down to the OpenAPI subset Gemini accepts for function parameters and
//! `responseSchema`: `$ref`s inlined from `$defs`, and the keywords it refuses (the list Letta
//! strips) removed; a type list such as `["string", "null"]` becomes one type and `nullable`.

use serde_json::{Map, Value};

/// Keywords Gemini answers 400 to.
const REFUSED: [&str; 7] = [
    "default",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "additionalProperties",
    "$schema",
    "const",
    "$ref",
];

/// String formats Gemini accepts; any other `format` on a string is dropped.
const STRING_FORMATS: [&str; 2] = ["enum", "date-time"];

/// How deep `$ref`s are followed: a recursive definition is cut there rather than looping.
const MAX_DEPTH: usize = 16;

/// The schema as Gemini takes it.
pub(crate) fn clean(schema: &Value) -> Value {
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    clean_at(schema, &defs, 0)
}

fn clean_at(schema: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
    match schema {
        Value::Object(object) => {
            if let Some(target) = resolve(object, defs).filter(|_| depth < MAX_DEPTH) {
                return clean_at(target, defs, depth + 1);
            }
            clean_object(object, defs, depth)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| clean_at(item, defs, depth))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The definition a `{"$ref": "#/$defs/Name"}` points at.
fn resolve<'a>(object: &Map<String, Value>, defs: &'a Map<String, Value>) -> Option<&'a Value> {
    let reference = object.get("$ref")?.as_str()?;
    let name = reference
        .strip_prefix("#/$defs/")
        .or_else(|| reference.strip_prefix("#/definitions/"))?;
    defs.get(name)
}

fn clean_object(object: &Map<String, Value>, defs: &Map<String, Value>, depth: usize) -> Value {
    let mut out = Map::new();
    for (key, value) in object {
        if REFUSED.contains(&key.as_str()) || key == "$defs" || key == "definitions" {
            continue;
        }
        let cleaned = match key.as_str() {
            // Property names are not schemas: clean each value, keep the names.
            "properties" => match value {
                Value::Object(properties) => Value::Object(
                    properties
                        .iter()
                        .map(|(name, schema)| (name.clone(), clean_at(schema, defs, depth)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" | "anyOf" | "allOf" | "oneOf" => clean_at(value, defs, depth),
            _ => value.clone(),
        };
        out.insert(key.clone(), cleaned);
    }
    single_type(&mut out);
    let is_string = out.get("type").and_then(Value::as_str) == Some("string");
    let format_refused = out
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| !STRING_FORMATS.contains(&f));
    if is_string && format_refused {
        out.remove("format");
    }
    Value::Object(out)
}

/// `"type": ["string", "null"]` → `"type": "string", "nullable": true` (Gemini's `type` is one
/// value).
fn single_type(object: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = object.get("type") else {
        return;
    };
    let nullable = types.iter().any(|t| t == "null");
    let first = types.iter().find(|t| *t != "null").cloned();
    match first {
        Some(kind) => {
            object.insert("type".to_owned(), kind);
        }
        None => {
            object.remove("type");
        }
    }
    if nullable {
        object.insert("nullable".to_owned(), Value::Bool(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refused_keywords_go_at_every_level() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "default": {"type": "string", "default": "x", "format": "email"},
                "when": {"type": "string", "format": "date-time"},
                "n": {"type": "integer", "exclusiveMinimum": 0, "const": 3},
                "tags": {"type": "array", "items": {"type": "string", "default": ""}},
                "either": {"anyOf": [{"type": "string", "default": "a"}, {"type": "null"}]},
            },
            "required": ["n"],
        });
        assert_eq!(
            clean(&schema),
            json!({
                "type": "object",
                "properties": {
                    "default": {"type": "string"},
                    "when": {"type": "string", "format": "date-time"},
                    "n": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "either": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
                "required": ["n"],
            })
        );
    }

    #[test]
    fn refs_are_inlined_and_type_lists_become_nullable() {
        let schema = json!({
            "type": "object",
            "$defs": {"Pet": {"type": "object", "properties": {"name": {"type": ["string", "null"]}}}},
            "properties": {"pet": {"$ref": "#/$defs/Pet"}, "other": {"$ref": "#/$defs/Nope"}},
        });
        assert_eq!(
            clean(&schema),
            json!({
                "type": "object",
                "properties": {
                    "pet": {"type": "object", "properties": {"name": {"type": "string", "nullable": true}}},
                    "other": {},
                },
            })
        );
    }

    #[test]
    fn recursive_refs_stop() {
        let schema = json!({
            "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
            "$ref": "#/$defs/Node",
        });
        let cleaned = clean(&schema).to_string();
        assert!(cleaned.contains("\"next\""), "{cleaned}");
        assert!(!cleaned.contains("$ref"), "{cleaned}");
    }
}
