//! An agent's `response_format` between the requests that set it (top level or inside
//! `model_settings`) and the stored settings.

use mneme_store::AgentSettings;
use mneme_types::{CreateAgent, FormatChange, ResponseFormat, UpdateAgent};
use serde_json::Value;

/// The stored response format. Agents written before formats were checked may hold one that
/// does not parse: they are treated as free text rather than made unreadable.
pub(crate) fn stored_format(settings: &AgentSettings) -> Option<ResponseFormat> {
    let stored = settings.response_format.clone()?;
    serde_json::from_value(stored).ok()
}

pub(crate) fn format_value(format: Option<ResponseFormat>) -> Option<Value> {
    format.and_then(|f| serde_json::to_value(f).ok())
}

/// A new agent's format: the one inside `model_settings` when it names one, else the
/// top-level (deprecated) field.
pub(crate) fn created_format(req: &CreateAgent, change: FormatChange) -> Option<ResponseFormat> {
    match change {
        FormatChange::Set(Some(format)) => Some(format),
        FormatChange::Set(None) | FormatChange::Keep => req.response_format.clone(),
    }
}

/// What a PATCH does to the format: `None` leaves it; settings without a format clear it,
/// unless the request sets one at the top level.
pub(crate) fn updated_format(
    req: &UpdateAgent,
    change: FormatChange,
) -> Option<Option<ResponseFormat>> {
    match (change, &req.response_format) {
        (FormatChange::Set(Some(format)), _) => Some(Some(format)),
        (_, Some(top)) => Some(Some(top.clone())),
        (FormatChange::Set(None), None) => Some(None),
        (FormatChange::Keep, None) => None,
    }
}
