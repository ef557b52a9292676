//! Identities: the people, organisations or other parties that agents and blocks belong to
//! (`Identity`, `IdentityCreate`, `IdentityUpsert`, `IdentityUpdate`, `IdentityProperty`).

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Number, Value};

use crate::{AgentId, BlockId, IdentityId};

/// `IdentityType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IdentityType {
    Org,
    User,
    Other,
}

impl IdentityType {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityType::Org => "org",
            IdentityType::User => "user",
            IdentityType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<IdentityType> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

/// `IdentityPropertyType`: what a property's `value` must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IdentityPropertyType {
    String,
    Number,
    Boolean,
    Json,
}

/// A property's value; its variant is its `type`, so a property whose value does not match
/// its declared type cannot be built (nor read from a request: a 422).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PropertyValue {
    String(String),
    /// An integer stays an integer and a float a float, as Letta hands them back.
    Number(Number),
    Boolean(bool),
    Json(Map<String, Value>),
}

impl PropertyValue {
    pub fn property_type(&self) -> IdentityPropertyType {
        match self {
            PropertyValue::String(_) => IdentityPropertyType::String,
            PropertyValue::Number(_) => IdentityPropertyType::Number,
            PropertyValue::Boolean(_) => IdentityPropertyType::Boolean,
            PropertyValue::Json(_) => IdentityPropertyType::Json,
        }
    }

    /// `value` as a property of type `kind`, or why it cannot be one.
    pub fn typed(kind: IdentityPropertyType, value: Value) -> Result<PropertyValue, String> {
        use IdentityPropertyType as T;
        match (kind, value) {
            (T::String, Value::String(s)) => Ok(PropertyValue::String(s)),
            (T::Number, Value::Number(n)) => Ok(PropertyValue::Number(n)),
            (T::Boolean, Value::Bool(b)) => Ok(PropertyValue::Boolean(b)),
            (T::Json, Value::Object(m)) => Ok(PropertyValue::Json(m)),
            (kind, value) => Err(format!(
                "a property of type '{}' needs {}, got {}",
                type_name(kind),
                expected(kind),
                json_kind(&value)
            )),
        }
    }
}

/// `IdentityProperty`: `{key, value, type}` on the wire, in that order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "WireProperty")]
pub struct IdentityProperty {
    pub key: String,
    pub value: PropertyValue,
}

impl Serialize for IdentityProperty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("IdentityProperty", 3)?;
        st.serialize_field("key", &self.key)?;
        st.serialize_field("value", &self.value)?;
        st.serialize_field("type", &self.value.property_type())?;
        st.end()
    }
}

/// A property as a request spells it, before its value is checked against its type.
#[derive(Deserialize)]
struct WireProperty {
    key: String,
    value: Value,
    #[serde(rename = "type")]
    kind: IdentityPropertyType,
}

impl TryFrom<WireProperty> for IdentityProperty {
    type Error = String;

    fn try_from(w: WireProperty) -> Result<Self, String> {
        let value = PropertyValue::typed(w.kind, w.value)
            .map_err(|why| format!("property '{}': {why}", w.key))?;
        Ok(IdentityProperty { key: w.key, value })
    }
}

/// `Identity` as the API returns it. `agent_ids` and `block_ids` are always empty, as Letta
/// 0.16.7 answers them (it stopped loading them; `/v1/identities/{id}/agents` and `/blocks`
/// list the links); `organization_id` is the one built-in organization's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Identity {
    pub id: IdentityId,
    pub identifier_key: String,
    pub name: String,
    pub identity_type: IdentityType,
    pub project_id: Option<String>,
    pub agent_ids: Vec<AgentId>,
    pub block_ids: Vec<BlockId>,
    pub organization_id: Option<String>,
    pub properties: Vec<IdentityProperty>,
}

/// `IdentityCreate` (and `IdentityUpsert`, the same fields). Unknown keys are ignored, as for
/// every request here (newer SDKs add fields).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
pub struct IdentityCreate {
    pub identifier_key: String,
    pub name: String,
    pub identity_type: IdentityType,
    pub project_id: Option<String>,
    pub agent_ids: Option<Vec<AgentId>>,
    pub block_ids: Option<Vec<BlockId>>,
    pub properties: Option<Vec<IdentityProperty>>,
}

/// `IdentityUpsert`: the body of `PUT /v1/identities/`.
pub type IdentityUpsert = IdentityCreate;

/// `IdentityUpdate` (PATCH): absent and `null` both leave a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
pub struct IdentityUpdate {
    pub identifier_key: Option<String>,
    pub name: Option<String>,
    pub identity_type: Option<IdentityType>,
    pub agent_ids: Option<Vec<AgentId>>,
    pub block_ids: Option<Vec<BlockId>>,
    pub properties: Option<Vec<IdentityProperty>>,
}

fn type_name(kind: IdentityPropertyType) -> &'static str {
    match kind {
        IdentityPropertyType::String => "string",
        IdentityPropertyType::Number => "number",
        IdentityPropertyType::Boolean => "boolean",
        IdentityPropertyType::Json => "json",
    }
}

fn expected(kind: IdentityPropertyType) -> &'static str {
    match kind {
        IdentityPropertyType::String => "a string",
        IdentityPropertyType::Number => "a number",
        IdentityPropertyType::Boolean => "true or false",
        IdentityPropertyType::Json => "a JSON object",
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_keep_letta_field_order_and_number_kinds() {
        let text = r#"[{"key":"age","value":36,"type":"number"},{"key":"h","value":1.5,"type":"number"},{"key":"n","value":"Ada","type":"string"},{"key":"ok","value":true,"type":"boolean"},{"key":"j","value":{"a":[1]},"type":"json"}]"#;
        let props: Vec<IdentityProperty> = serde_json::from_str(text).unwrap();
        assert_eq!(props[0].value, PropertyValue::Number(36.into()));
        assert_eq!(serde_json::to_string(&props).unwrap(), text);
    }

    #[test]
    fn a_value_of_another_type_is_refused_with_its_key() {
        for (kind, value) in [
            ("number", json!("36")),
            ("string", json!(36)),
            ("boolean", json!("true")),
            ("json", json!([1, 2])),
            ("number", json!(true)),
            ("string", json!(null)),
        ] {
            let body = json!({"key": "k", "value": value, "type": kind});
            let err = serde_json::from_value::<IdentityProperty>(body).unwrap_err();
            assert!(err.to_string().contains("property 'k'"), "{err}");
        }
        let unknown = json!({"key": "k", "value": 1, "type": "integer"});
        assert!(serde_json::from_value::<IdentityProperty>(unknown).is_err());
    }

    #[test]
    fn an_identity_round_trips_in_letta_field_order() {
        let text = r#"{"id":"identity-1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e","identifier_key":"ada","name":"Ada","identity_type":"user","project_id":null,"agent_ids":[],"block_ids":[],"organization_id":"org-00000000-0000-4000-8000-000000000000","properties":[{"key":"plan","value":"pro","type":"string"}]}"#;
        let identity: Identity = serde_json::from_str(text).unwrap();
        assert_eq!(identity.identity_type, IdentityType::User);
        assert_eq!(serde_json::to_string(&identity).unwrap(), text);
    }

    #[test]
    fn identity_types_parse_as_spelled() {
        for kind in [IdentityType::Org, IdentityType::User, IdentityType::Other] {
            assert_eq!(IdentityType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(IdentityType::parse("team"), None);
    }
}
