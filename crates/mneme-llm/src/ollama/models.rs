//! Ollama's model list: `/api/tags` names the models, `/api/show` says what each can do
//! (`capabilities`) and its size (`model_info`, keys prefixed by the architecture:
//! `llama.context_length`, `nomic-bert.embedding_length`).

use serde_json::Value;

use crate::{LlmError, ModelKind, RemoteModel};

/// The model names of `/api/tags`.
pub(crate) fn parse_tags(body: &[u8]) -> Result<Vec<String>, LlmError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| LlmError::InvalidResponse(format!("not JSON: {e}")))?;
    let models = json["models"]
        .as_array()
        .ok_or_else(|| LlmError::InvalidResponse("the model list has no models".to_owned()))?;
    Ok(models
        .iter()
        .filter_map(|m| m["name"].as_str().or_else(|| m["model"].as_str()))
        .map(str::to_owned)
        .collect())
}

/// One model with what `/api/show` said. Servers too old to list capabilities list every
/// model as a chat model; with capabilities, a model that neither embeds nor calls tools is
/// left out, as Letta does (an agent always offers tools, and Ollama refuses them there).
pub(crate) fn model(name: &str, show: Option<&Value>) -> Option<RemoteModel> {
    let capabilities = show.and_then(|s| s["capabilities"].as_array());
    let has = |c: &str| capabilities.is_some_and(|caps| caps.iter().any(|x| x == c));
    let kind = match capabilities {
        Some(_) if has("embedding") => ModelKind::Embedding,
        Some(_) if !has("tools") => return None,
        _ => ModelKind::Chat,
    };
    let info = show.map(|s| &s["model_info"]);
    let number = |suffix: &str| {
        let object = info.and_then(Value::as_object)?;
        let (_, value) = object.iter().find(|(key, _)| key.ends_with(suffix))?;
        value.as_u64().and_then(|n| u32::try_from(n).ok())
    };
    Some(RemoteModel {
        name: name.to_owned(),
        kind,
        context_window: number(".context_length"),
        max_output_tokens: None,
        embedding_dim: (kind == ModelKind::Embedding)
            .then(|| number(".embedding_length"))
            .flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn capabilities_decide_the_kind_and_model_info_the_sizes() {
        let chat = json!({"capabilities": ["completion", "tools"],
            "model_info": {"general.architecture": "llama", "llama.context_length": 131072,
                           "llama.embedding_length": 3072}});
        let model = model("llama3.2:latest", Some(&chat)).unwrap();
        assert_eq!(
            (model.kind, model.context_window, model.embedding_dim),
            (ModelKind::Chat, Some(131_072), None)
        );
        let embed = json!({"capabilities": ["embedding"],
            "model_info": {"nomic-bert.context_length": 2048, "nomic-bert.embedding_length": 768}});
        let model = super::model("nomic-embed-text", Some(&embed)).unwrap();
        assert_eq!(
            (model.kind, model.embedding_dim),
            (ModelKind::Embedding, Some(768))
        );
        assert!(super::model("base", Some(&json!({"capabilities": ["completion"]}))).is_none());
        let old = super::model("old", None).unwrap();
        assert_eq!((old.kind, old.context_window), (ModelKind::Chat, None));
    }

    #[test]
    fn tags_give_names() {
        let body = br#"{"models":[{"name":"a:latest","model":"a:latest"},{"model":"b"}]}"#;
        assert_eq!(parse_tags(body).unwrap(), ["a:latest", "b"]);
        assert!(parse_tags(b"{}").is_err());
    }
}
