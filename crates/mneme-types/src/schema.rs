//! JSON Schemas of the types whose serde form is written by hand (the flat `LettaMessage`
//! union, the stream's payloads, ordered maps, typed properties): each describes what the
//! hand-written `Serialize` writes, so the OpenAPI document cannot drift from the wire.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use crate::agent_file::MessageSchema;
use crate::letta_message::{
    ApprovalItem, ApprovalResponseMessage, ApprovalReturn, AssistantMessage, EventMessage,
    HiddenReasoningMessage, LettaMessage, ReasoningMessage, SummaryMessage, SystemMessage,
    ToolCallMessage, ToolReturn, ToolReturnMessage, UserMessage,
};
use crate::letta_response::{
    LettaErrorMessage, LettaPing, LettaStopReason, LettaStreamingResponse, LettaUsageStatistics,
};
use crate::run::CancelledRuns;
use crate::{IdentityProperty, IdentityPropertyType, MessageId, RunId, RunStatus, StepId};

/// Stores `schema` as the definition `name` and answers a reference to it.
fn define(generator: &mut SchemaGenerator, name: &str, schema: Schema) -> Schema {
    let path = generator
        .settings()
        .definitions_path
        .trim_start_matches('/')
        .to_owned();
    generator
        .definitions_mut()
        .insert(name.to_owned(), schema.to_value());
    json_schema!({ "$ref": format!("#/{path}/{name}") })
}

/// The fields every member of the union (and a ping) starts with, in wire order, with the
/// member's `message_type` as a constant.
fn common_fields(generator: &mut SchemaGenerator, message_type: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut add = |name: &str, schema: Schema| fields.insert(name.to_owned(), schema.to_value());
    add("id", generator.subschema_for::<MessageId>());
    add(
        "date",
        json_schema!({ "type": "string", "format": "date-time" }),
    );
    add("name", generator.subschema_for::<Option<String>>());
    add(
        "message_type",
        json_schema!({ "type": "string", "const": message_type }),
    );
    add("otid", generator.subschema_for::<Option<String>>());
    add("sender_id", generator.subschema_for::<Option<String>>());
    add("step_id", generator.subschema_for::<Option<StepId>>());
    add("is_err", generator.subschema_for::<Option<bool>>());
    add("seq_id", generator.subschema_for::<Option<u64>>());
    add("run_id", generator.subschema_for::<Option<RunId>>());
    fields
}

/// One flat member: the common fields, then the body's own (`T`'s properties).
fn member<T: JsonSchema>(generator: &mut SchemaGenerator, message_type: &str) -> Schema {
    let mut properties = common_fields(generator, message_type);
    let body = T::json_schema(generator).to_value();
    let own = body.get("properties").and_then(Value::as_object);
    for (name, schema) in own.into_iter().flatten() {
        properties.insert(name.clone(), schema.clone());
    }
    let mut required = vec![json_str("id"), json_str("date"), json_str("message_type")];
    let own_required = body.get("required").and_then(Value::as_array);
    required.extend(own_required.into_iter().flatten().cloned());
    json_schema!({
        "type": "object",
        "properties": properties,
        "required": required,
    })
}

fn json_str(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// The union's members by Letta's schema name and `message_type`.
fn members(generator: &mut SchemaGenerator) -> Vec<Schema> {
    type Member = (
        &'static str,
        &'static str,
        fn(&mut SchemaGenerator, &str) -> Schema,
    );
    const MEMBERS: [Member; 11] = [
        ("SystemMessage", "system_message", member::<SystemMessage>),
        ("UserMessage", "user_message", member::<UserMessage>),
        (
            "ReasoningMessage",
            "reasoning_message",
            member::<ReasoningMessage>,
        ),
        (
            "HiddenReasoningMessage",
            "hidden_reasoning_message",
            member::<HiddenReasoningMessage>,
        ),
        (
            "ToolCallMessage",
            "tool_call_message",
            member::<ToolCallMessage>,
        ),
        (
            "ToolReturnMessage",
            "tool_return_message",
            member::<ToolReturnMessage>,
        ),
        (
            "AssistantMessage",
            "assistant_message",
            member::<AssistantMessage>,
        ),
        (
            "ApprovalRequestMessage",
            "approval_request_message",
            member::<ToolCallMessage>,
        ),
        (
            "ApprovalResponseMessage",
            "approval_response_message",
            member::<ApprovalResponseMessage>,
        ),
        (
            "SummaryMessage",
            "summary_message",
            member::<SummaryMessage>,
        ),
        ("EventMessage", "event_message", member::<EventMessage>),
    ];
    MEMBERS
        .iter()
        .map(|(name, kind, build)| {
            let schema = build(generator, kind);
            define(generator, name, schema)
        })
        .collect()
}

fn one_of(members: Vec<Schema>) -> Schema {
    let members: Vec<Value> = members.into_iter().map(Schema::to_value).collect();
    json_schema!({ "oneOf": members })
}

impl JsonSchema for LettaMessage {
    fn schema_name() -> Cow<'static, str> {
        "LettaMessageUnion".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        one_of(members(generator))
    }
}

impl JsonSchema for ApprovalItem {
    fn schema_name() -> Cow<'static, str> {
        "ApprovalItem".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        one_of(vec![
            generator.subschema_for::<ApprovalReturn>(),
            generator.subschema_for::<ToolReturn>(),
        ])
    }
}

impl JsonSchema for LettaPing {
    fn schema_name() -> Cow<'static, str> {
        "LettaPing".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut properties = common_fields(generator, "ping");
        // A ping is no stored message: its id is its own.
        let id = json_schema!({ "type": "string", "pattern": "^ping-[0-9a-f-]{36}$" });
        properties.insert("id".to_owned(), id.to_value());
        json_schema!({
            "type": "object",
            "properties": properties,
            "required": ["id", "date", "message_type"],
        })
    }
}

impl JsonSchema for LettaStreamingResponse {
    fn schema_name() -> Cow<'static, str> {
        "LettaStreamingResponse".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut all = members(generator);
        all.push(generator.subschema_for::<LettaPing>());
        all.push(generator.subschema_for::<LettaStopReason>());
        all.push(generator.subschema_for::<LettaUsageStatistics>());
        all.push(generator.subschema_for::<LettaErrorMessage>());
        one_of(all)
    }
}

impl JsonSchema for CancelledRuns {
    fn schema_name() -> Cow<'static, str> {
        "CancelledRuns".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let status = generator.subschema_for::<RunStatus>().to_value();
        json_schema!({
            "type": "object",
            "description": "Each run asked about, by id, with its status now.",
            "additionalProperties": status,
        })
    }
}

impl JsonSchema for IdentityProperty {
    fn schema_name() -> Cow<'static, str> {
        "IdentityProperty".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let kind = generator.subschema_for::<IdentityPropertyType>().to_value();
        json_schema!({
            "type": "object",
            "description": "A typed property: `value` must be of its `type`.",
            "properties": {
                "key": { "type": "string" },
                "value": {},
                "type": kind,
            },
            "required": ["key", "value", "type"],
        })
    }
}

/// Read from any generation (see `agent_file::message`), so only what every one has is promised.
impl JsonSchema for MessageSchema {
    fn schema_name() -> Cow<'static, str> {
        "MessageSchema".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "description": "One message of an agent in an Agent File, with its file-local id.",
            "properties": {
                "id": { "type": "string" },
                "role": { "type": "string" },
            },
            "required": ["id", "role"],
        })
    }
}
