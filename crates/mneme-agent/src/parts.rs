//! Stored content parts (Letta's `TextContent` / `ImageContent` lists, as clients sent them)
//! as the model gets them.

use mneme_llm::{Content, ContentPart, ImageSource};
use serde_json::Value;

/// What reads in place of an image whose bytes the server does not have (a `letta` source
/// without data).
const IMAGE_UNAVAILABLE: &str = "[Image omitted: its data is not available]";

/// The parts of a stored list as the model's content; `None` unless there is a list.
pub(crate) fn content_of(stored: Option<&Value>, images: bool) -> Option<Content> {
    let parts: Vec<ContentPart> = stored?.as_array()?.iter().filter_map(part).collect();
    let content = Content::Parts(parts);
    Some(match images {
        true => content,
        false => mneme_llm::without_images(content),
    })
}

/// One part; parts the model has no use for (reasoning, tool calls) are left out.
fn part(v: &Value) -> Option<ContentPart> {
    match v.get("type").and_then(Value::as_str).unwrap_or("text") {
        "text" => Some(ContentPart::Text {
            text: v.get("text")?.as_str()?.to_owned(),
        }),
        "image" => Some(image(v.get("source")?)),
        _ => None,
    }
}

fn image(source: &Value) -> ContentPart {
    let str_of = |key: &str| source.get(key).and_then(Value::as_str).map(str::to_owned);
    let kind = source.get("type").and_then(Value::as_str).unwrap_or("");
    let found = match kind {
        "url" => str_of("url").map(|url| ImageSource::Url { url }),
        // `letta` sources are files the server stored: usable when the data came along.
        "base64" | "letta" => str_of("data").map(|data| ImageSource::Base64 {
            media_type: str_of("media_type").unwrap_or_else(|| "image/png".into()),
            data,
        }),
        _ => None,
    };
    match found {
        Some(source) => ContentPart::Image { source },
        None => ContentPart::Text {
            text: IMAGE_UNAVAILABLE.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mneme_llm::IMAGE_PLACEHOLDER;
    use serde_json::json;

    fn stored() -> Value {
        json!([
            {"type": "text", "text": "what is this?"},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}},
            {"type": "image", "source": {"type": "letta", "file_id": "file-1"}},
        ])
    }

    #[test]
    fn url_and_base64_images_become_image_parts() {
        let Some(Content::Parts(parts)) = content_of(Some(&stored()), true) else {
            panic!()
        };
        assert_eq!(
            parts,
            [
                ContentPart::Text {
                    text: "what is this?".into()
                },
                ContentPart::Image {
                    source: ImageSource::Url {
                        url: "https://example.com/cat.png".into()
                    }
                },
                ContentPart::Image {
                    source: ImageSource::Base64 {
                        media_type: "image/jpeg".into(),
                        data: "QUJD".into()
                    }
                },
                ContentPart::Text {
                    text: IMAGE_UNAVAILABLE.into()
                },
            ]
        );
    }

    #[test]
    fn models_without_vision_read_placeholders() {
        let Some(Content::Text(text)) = content_of(Some(&stored()), false) else {
            panic!()
        };
        assert_eq!(
            text,
            format!("what is this?\n{IMAGE_PLACEHOLDER}\n{IMAGE_PLACEHOLDER}\n{IMAGE_UNAVAILABLE}")
        );
        assert_eq!(content_of(Some(&json!("plain")), true), None);
        assert_eq!(content_of(None, true), None);
    }
}
