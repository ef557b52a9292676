//! What both OpenAI APIs' request bodies share: the body encoded once, straight to the bytes
//! sent, and serializers that write borrowed request data without building a copy of it.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::{ContentPart, ImageSource, LlmError};

/// The body as the bytes sent; they are shared by every retry of the call.
pub(super) fn encode(body: &impl Serialize) -> Result<bytes::Bytes, LlmError> {
    serde_json::to_vec(body)
        .map(bytes::Bytes::from)
        .map_err(|e| LlmError::BadRequest(format!("cannot encode the request: {e}")))
}

/// A slice written as a JSON array of the wire form `to` gives each element, without
/// collecting those forms first.
pub(super) struct Mapped<'a, T, W> {
    items: &'a [T],
    to: fn(&'a T) -> W,
}

impl<'a, T, W> Mapped<'a, T, W> {
    pub(super) fn new(items: &'a [T], to: fn(&'a T) -> W) -> Mapped<'a, T, W> {
        Mapped { items, to }
    }
}

impl<'a, T, W: Serialize> Serialize for Mapped<'a, T, W> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.items.iter().map(self.to))
    }
}

/// An image as one URL string: its address, or its bytes as a `data:` URL written straight
/// into the body (images are the largest strings of a request).
pub(super) struct ImageUrl<'a>(pub(super) &'a ImageSource);

impl Serialize for ImageUrl<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ImageSource::Url { url } => serializer.serialize_str(url),
            ImageSource::Base64 { media_type, data } => {
                serializer.collect_str(&format_args!("data:{media_type};base64,{data}"))
            }
        }
    }
}

/// The text parts of a content joined by newlines (what `Content::text` returns), written as
/// one string without joining them first.
pub(super) struct JoinedText<'a>(pub(super) &'a [ContentPart]);

impl fmt::Display for JoinedText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts = self.0.iter().filter_map(|part| match part {
            ContentPart::Text { text } => Some(text),
            ContentPart::Image { .. } => None,
        });
        for (i, text) in texts.enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(text)?;
        }
        Ok(())
    }
}

impl Serialize for JoinedText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// For `skip_serializing_if` on flags sent only when set (`stream`).
pub(super) fn is_false(value: &bool) -> bool {
    !value
}
