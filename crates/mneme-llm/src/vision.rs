//! Which models take images. The others get a placeholder text in each image's place, so a
//! conversation with images still reaches them.

use mneme_types::LlmConfig;

use crate::{Content, ContentPart};

/// What a model that does not take images reads where an image was.
pub const IMAGE_PLACEHOLDER: &str = "[Image omitted: this model does not accept images]";

/// Model name fragments of families known to take images, on any provider that serves them
/// (Ollama, vLLM, OpenRouter, Together ... name models after their family).
const VISION_FAMILIES: &[&str] = &[
    "gpt-4o",
    "gpt-4.1",
    "gpt-4-turbo",
    "gpt-4-vision",
    "gpt-5",
    "chatgpt-4o",
    "claude",
    "gemini",
    "vision",
    "llava",
    "bakllava",
    "pixtral",
    "-vl",
    "vl-",
    "gemma3",
    "gemma-3",
    "llama4",
    "llama-4",
    "minicpm-v",
    "moondream",
    "grok-4",
    "mistral-small-3",
    "mistral-medium",
];

/// OpenAI's reasoning models that take images (`o1-mini` and `o3-mini` do not).
const OPENAI_VISION_REASONERS: &[&str] = &["o1", "o3", "o4-mini"];

/// Whether the model of `config` accepts image input.
pub fn accepts_images(config: &LlmConfig) -> bool {
    let model = config.model.to_ascii_lowercase();
    // The name after any `org/` or `provider/` prefix (OpenRouter, Together, vLLM).
    let base = model.rsplit('/').next().unwrap_or(&model);
    match config.model_endpoint_type.as_str() {
        "anthropic" | "google_ai" | "google_vertex" => true,
        _ if OPENAI_VISION_REASONERS
            .iter()
            .any(|r| base == *r || base.starts_with(&format!("{r}-20"))) =>
        {
            true
        }
        _ => VISION_FAMILIES.iter().any(|f| base.contains(f)),
    }
}

/// `content` as a model that takes no images must see it: each image replaced by the
/// placeholder, and the parts joined into one text.
pub fn without_images(content: Content) -> Content {
    match content {
        Content::Text(text) => Content::Text(text),
        Content::Parts(parts) => Content::Text(
            parts
                .into_iter()
                .map(|p| match p {
                    ContentPart::Text { text } => text,
                    ContentPart::Image { .. } => IMAGE_PLACEHOLDER.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ImageSource;

    fn config(endpoint: &str, model: &str) -> LlmConfig {
        serde_json::from_value(serde_json::json!({
            "model": model, "model_endpoint_type": endpoint, "context_window": 8000
        }))
        .unwrap()
    }

    #[test]
    fn vision_families_accept_images_and_text_models_do_not() {
        for (endpoint, model) in [
            ("openai", "gpt-4o-mini"),
            ("openai", "gpt-4.1"),
            ("openai", "o3"),
            ("openai", "o1-2024-12-17"),
            ("anthropic", "claude-haiku-4-5"),
            ("google_ai", "gemini-2.5-flash"),
            ("ollama", "llava:13b"),
            ("vllm", "Qwen/Qwen2.5-VL-7B-Instruct"),
            ("openrouter", "meta-llama/llama-4-scout"),
        ] {
            assert!(accepts_images(&config(endpoint, model)), "{model}");
        }
        for (endpoint, model) in [
            ("openai", "gpt-3.5-turbo"),
            ("openai", "o3-mini"),
            ("openai", "o1-mini"),
            ("ollama", "llama3.1:8b"),
            ("deepseek", "deepseek-chat"),
            ("vllm", "Qwen/Qwen2.5-7B-Instruct"),
        ] {
            assert!(!accepts_images(&config(endpoint, model)), "{model}");
        }
    }

    #[test]
    fn images_become_placeholders_in_one_text() {
        let content = Content::Parts(vec![
            ContentPart::Text {
                text: "look:".into(),
            },
            ContentPart::Image {
                source: ImageSource::Url {
                    url: "https://x/cat.png".into(),
                },
            },
        ]);
        assert_eq!(
            without_images(content),
            Content::Text(format!("look:\n{IMAGE_PLACEHOLDER}"))
        );
    }
}
