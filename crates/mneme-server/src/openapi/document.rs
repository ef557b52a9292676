//! Assembles the OpenAPI 3.1 document from the route table.
//!
//! Schemas come from two generators: responses as serde writes them, requests as serde reads
//! them (a field with a default is optional in a request, always present in a response). A
//! type whose two schemas differ appears twice, the request one as `<Name>Input`.

use std::collections::HashMap;

use schemars::generate::{Contract, SchemaSettings};
use schemars::{Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::describe::{Body, Parts, Reply};
use super::{Operation, SchemaFn};

const COMPONENTS: &str = "/components/schemas";
const REF_PREFIX: &str = "#/components/schemas/";

fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = COMPONENTS.into();
            s.contract = contract;
        })
        .into_generator()
}

struct Generators {
    reads: SchemaGenerator,
    writes: SchemaGenerator,
}

/// One operation, its request side kept apart until the `Input` names are known.
struct Built {
    path: &'static str,
    method: &'static str,
    operation: Map<String, Value>,
    request: Map<String, Value>,
}

/// The document, as the bytes `GET /openapi.json` answers.
pub(super) fn build(operations: &[Operation]) -> Vec<u8> {
    let mut gens = Generators {
        reads: generator(Contract::Deserialize),
        writes: generator(Contract::Serialize),
    };
    let built: Vec<Built> = operations.iter().map(|o| operation(o, &mut gens)).collect();
    let writes = gens.writes.take_definitions(true);
    let reads = gens.reads.take_definitions(true);
    let (schemas, renames) = merge(writes, reads);
    let mut paths = Map::new();
    for mut b in built {
        let mut request = Value::Object(b.request);
        rename_refs(&mut request, &renames);
        if let Value::Object(request) = request {
            b.operation.extend(request);
        }
        let item = paths.entry(b.path).or_insert_with(|| json!({}));
        if let Value::Object(item) = item {
            item.insert(b.method.to_owned(), Value::Object(b.operation));
        }
    }
    let mut schemas = schemas;
    schemas.extend(error_schemas());
    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "mneme",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A server of Letta's V1 REST API.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
            },
        },
        "security": [{ "bearer": [] }, {}],
    });
    serde_json::to_vec(&document).unwrap_or_default()
}

fn operation(o: &Operation, gens: &mut Generators) -> Built {
    let mut parts = Parts::default();
    (o.describe)(&mut parts);
    let mut operation = Map::new();
    operation.insert("operationId".into(), json!(o.op.id));
    operation.insert("summary".into(), json!(o.op.summary));
    operation.insert("tags".into(), json!([tag(o.path)]));
    let mut request = Map::new();
    let parameters = parameters(o.path, &parts, &mut gens.reads);
    let takes_input = !parameters.is_empty() || parts.body.is_some();
    if !parameters.is_empty() {
        request.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(body) = parts.body {
        request.insert("requestBody".into(), request_body(body, &mut gens.reads));
    }
    let responses = responses(o, parts.reply, takes_input, &mut gens.writes);
    operation.insert("responses".into(), responses);
    Built {
        path: o.path,
        method: o.method,
        operation,
        request,
    }
}

/// The group an operation is listed under: its path's first segment after `/v1/`.
fn tag(path: &str) -> &str {
    let rest = path
        .strip_prefix("/v1/")
        .unwrap_or(path.trim_start_matches('/'));
    rest.split('/').next().unwrap_or(rest)
}

/// The names in a path template, in order.
pub(super) fn path_names(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn parameters(path: &str, parts: &Parts, reads: &mut SchemaGenerator) -> Vec<Value> {
    let names = path_names(path);
    let typed = parts.path.map(|f| f(reads).to_value());
    let mut out: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let schema = path_schema(typed.as_ref(), i, name, names.len());
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect();
    for query in &parts.query {
        out.extend(query_parameters(query, reads));
    }
    out
}

/// The schema of the `i`th of `count` path parameters, from the handler's `ApiPath` type: a
/// tuple (one item each), a struct (by name) or a single value.
fn path_schema(typed: Option<&Value>, i: usize, name: &str, count: usize) -> Value {
    let string = json!({ "type": "string" });
    let Some(typed) = typed else {
        return string;
    };
    if let Some(items) = typed.get("prefixItems").and_then(Value::as_array) {
        return items.get(i).cloned().unwrap_or(string);
    }
    if let Some(props) = typed.get("properties").and_then(Value::as_object) {
        return props.get(name).cloned().unwrap_or(string);
    }
    if count == 1 { typed.clone() } else { string }
}

fn query_parameters(query: &SchemaFn, reads: &mut SchemaGenerator) -> Vec<Value> {
    let object = query(reads).to_value();
    let required: Vec<&str> = (object.get("required").and_then(Value::as_array))
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties = object.get("properties").and_then(Value::as_object);
    (properties.into_iter().flatten())
        .map(|(name, schema)| {
            let mut p = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": schema,
            });
            // A list is sent as repeated keys (`tags=a&tags=b`).
            if schema
                .get("type")
                .is_some_and(|t| t.to_string().contains("array"))
            {
                p["explode"] = json!(true);
            }
            p
        })
        .collect()
}

fn request_body(body: Body, reads: &mut SchemaGenerator) -> Value {
    match body {
        Body::Json(f) => json!({
            "content": { "application/json": { "schema": f(reads).to_value() } },
        }),
        Body::Multipart => json!({
            "required": true,
            "content": { "multipart/form-data": { "schema": {
                "type": "object",
                "properties": { "file": { "type": "string", "format": "binary" } },
                "required": ["file"],
            } } },
        }),
    }
}

fn responses(
    o: &Operation,
    reply: Reply,
    takes_input: bool,
    writes: &mut SchemaGenerator,
) -> Value {
    let mut out = Map::new();
    let (status, content) = success(o, reply, writes);
    let mut ok = json!({ "description": "Success" });
    if let Some(content) = content {
        ok["content"] = content;
    }
    out.insert(status.into(), ok);
    if takes_input {
        // The list form when the request cannot be read, a message when it is refused.
        let either = json!({ "anyOf": [
            { "$ref": format!("{REF_PREFIX}HTTPValidationError") },
            { "$ref": format!("{REF_PREFIX}ErrorResponse") },
        ] });
        out.insert(
            "422".into(),
            json!({
                "description": "The request could not be read, or was refused",
                "content": { "application/json": { "schema": either } },
            }),
        );
    }
    out.insert(
        "default".into(),
        error_response("An error", "ErrorResponse"),
    );
    Value::Object(out)
}

/// The success status and its content by media type.
fn success(
    o: &Operation,
    reply: Reply,
    writes: &mut SchemaGenerator,
) -> (&'static str, Option<Value>) {
    let json_of = |schema: Schema| json!({ "schema": schema.to_value() });
    let mut content = Map::new();
    match reply {
        Reply::Empty => return ("204", None),
        Reply::Html => {
            content.insert(
                "text/html".into(),
                json!({ "schema": { "type": "string" } }),
            );
        }
        Reply::Json(f) => {
            content.insert("application/json".into(), json_of(f(writes)));
        }
        Reply::Opaque => {
            if let Some(f) = o.op.response {
                content.insert("application/json".into(), json_of(f(writes)));
            }
        }
    }
    if let Some(f) = o.op.sse {
        let event = f(writes);
        content.insert("text/event-stream".into(), json_of(event));
    }
    if content.is_empty() {
        content.insert("application/json".into(), json!({ "schema": {} }));
    }
    ("200", Some(Value::Object(content)))
}

fn error_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("{REF_PREFIX}{schema}") } } },
    })
}

/// The error bodies, in Letta's (FastAPI's) shapes.
fn error_schemas() -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "ErrorResponse".into(),
        json!({
            "type": "object",
            "description": "An error: `detail` says what went wrong (a message, or an object for errors clients act on).",
            "properties": { "detail": {} },
            "required": ["detail"],
        }),
    );
    out.insert(
        "HTTPValidationError".into(),
        json!({
            "type": "object",
            "properties": { "detail": {
                "type": "array",
                "items": { "$ref": format!("{REF_PREFIX}ValidationError") },
            } },
        }),
    );
    out.insert(
        "ValidationError".into(),
        json!({
            "type": "object",
            "properties": {
                "loc": { "type": "array", "items": { "type": ["string", "integer"] } },
                "msg": { "type": "string" },
                "type": { "type": "string" },
            },
            "required": ["loc", "msg", "type"],
        }),
    );
    out
}

/// The components: every written schema, and each read schema under its own name when it is
/// the same, else as `<Name>Input`. Answers the renames to apply to request-side references.
fn merge(
    mut writes: Map<String, Value>,
    reads: Map<String, Value>,
) -> (Map<String, Value>, HashMap<String, String>) {
    let mut renames = HashMap::new();
    // Until nothing changes: a schema that refers to a renamed one differs too.
    loop {
        let before = renames.len();
        for (name, schema) in &reads {
            let differs = writes
                .get(name)
                .is_some_and(|w| *w != *schema || refers(schema, &renames));
            if differs && !renames.contains_key(name) {
                renames.insert(name.clone(), format!("{name}Input"));
            }
        }
        if renames.len() == before {
            break;
        }
    }
    for (name, mut schema) in reads {
        rename_refs(&mut schema, &renames);
        let name = renames.get(&name).cloned().unwrap_or(name);
        writes.entry(name).or_insert(schema);
    }
    (writes, renames)
}

/// Whether `value` refers to one of the renamed schemas.
fn refers(value: &Value, renames: &HashMap<String, String>) -> bool {
    let mut copy = value.clone();
    rename_refs(&mut copy, renames);
    copy != *value
}

fn rename_refs(value: &mut Value, renames: &HashMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let target = (key == "$ref")
                    .then(|| v.as_str().and_then(|r| r.strip_prefix(REF_PREFIX)))
                    .flatten()
                    .and_then(|name| renames.get(name));
                match target {
                    Some(new) => *v = json!(format!("{REF_PREFIX}{new}")),
                    None => rename_refs(v, renames),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, renames)),
        _ => {}
    }
}
