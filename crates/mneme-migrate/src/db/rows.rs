//! Rows as JSON objects (`row_to_json`), and turning one into a typed value of the shape the
//! HTTP path reads: the row's keys are Letta's model fields, a few spelled differently on the
//! wire (`metadata_` is `metadata` in a block's answer, `_created_by_id` is `created_by_id`).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub(crate) type Row = Map<String, Value>;

/// A string column; `None` when null or absent.
pub(crate) fn text(row: &Row, key: &str) -> Option<String> {
    row.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The row's `id` (every table read has one; a row without is unreadable and has none).
pub(crate) fn id(row: &Row) -> String {
    text(row, "id").unwrap_or_default()
}

/// Whether Letta soft-deleted the row (`is_deleted`; a schema without the column deletes
/// rows for real).
pub(crate) fn deleted(row: &Row) -> bool {
    row.get("is_deleted").and_then(Value::as_bool) == Some(true)
}

/// The row typed `T`, after `renames` (`(column, field)`); `what` names it in the error.
pub(crate) fn typed<T: DeserializeOwned>(
    row: &Row,
    renames: &[(&str, &str)],
    what: &str,
) -> Result<T, String> {
    let mut row = row.clone();
    for (column, field) in renames {
        if let Some(v) = row.remove(*column) {
            row.insert((*field).to_owned(), v);
        }
    }
    serde_json::from_value(Value::Object(row)).map_err(|e| format!("{what} cannot be read: {e}"))
}

/// One column typed `T` (`None` when null or absent), or why it cannot be read.
pub(crate) fn column<T: DeserializeOwned>(
    row: &Row,
    key: &str,
    what: &str,
) -> Result<Option<T>, String> {
    match row.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| format!("{what}: its {key} cannot be read: {e}")),
    }
}

/// A vector column: pgvector's text form `[1,2,...]` (selected as text), a `real[]` as a JSON
/// array or its text form `{1,2,...}`.
pub(crate) fn vector(v: Option<&Value>) -> Result<Option<Vec<f32>>, String> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => {
            let floats = items.iter().map(|x| x.as_f64().map(|f| f as f32));
            return floats
                .collect::<Option<Vec<f32>>>()
                .map(Some)
                .ok_or_else(|| "a vector of other than numbers".to_owned());
        }
        Some(Value::String(s)) => s.trim(),
        Some(other) => return Err(format!("a vector of an unknown form: {other}")),
    };
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .or_else(|| text.strip_prefix('{').and_then(|t| t.strip_suffix('}')))
        .ok_or_else(|| format!("a vector of an unknown form: {:.40}", text))?;
    if inner.trim().is_empty() {
        return Ok(Some(Vec::new()));
    }
    inner
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<f32>()
                .map_err(|e| format!("a vector element {x:?}: {e}"))
        })
        .collect::<Result<Vec<f32>, String>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vectors_read_in_pgvector_and_array_forms() {
        let pg = json!("[1,0.5,-2e-3]");
        assert_eq!(vector(Some(&pg)).unwrap(), Some(vec![1.0, 0.5, -0.002]));
        let arr = json!("{1,2}");
        assert_eq!(vector(Some(&arr)).unwrap(), Some(vec![1.0, 2.0]));
        let json_arr = json!([3, 4.5]);
        assert_eq!(vector(Some(&json_arr)).unwrap(), Some(vec![3.0, 4.5]));
        assert_eq!(vector(Some(&Value::Null)).unwrap(), None);
        assert!(vector(Some(&json!("(1,2)"))).is_err());
        assert!(vector(Some(&json!("[1,x]"))).is_err());
    }

    #[test]
    fn a_row_is_typed_after_its_renames() {
        #[derive(serde::Deserialize)]
        struct B {
            label: String,
            metadata: Option<Map<String, Value>>,
        }
        let row = json!({"label": "human", "metadata_": {"a": 1}, "extra": true});
        let b: B = typed(
            row.as_object().unwrap(),
            &[("metadata_", "metadata")],
            "block",
        )
        .unwrap();
        assert_eq!(
            (b.label.as_str(), b.metadata.unwrap()["a"].clone()),
            ("human", json!(1))
        );
        let e = typed::<B>(&Row::new(), &[], "block b").err().unwrap();
        assert!(e.contains("block b") && e.contains("label"), "{e}");
    }
}
