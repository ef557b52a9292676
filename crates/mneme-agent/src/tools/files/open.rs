//! `open_files` (and the older `open_file` / `close_file`): views of files put in context.

use chrono::Utc;
use mneme_store::Agent;
use serde_json::Value;

use super::{FileReader, attached_list, opt_count, text_of};
use crate::files::{FileLimits, LineRange, OpenFiles, stored_view};
use crate::tools::args::Args;

/// One file to open: 0-based `offset` and `length` in lines, both optional.
struct Request {
    name: String,
    offset: Option<usize>,
    length: Option<usize>,
}

impl Request {
    /// What is stored: 1-based first line, exclusive end (Letta's `start_line`/`end_line`).
    fn range(&self) -> LineRange {
        let start = self.offset;
        LineRange {
            start: start.map(|s| s as u32 + 1),
            end: start
                .zip(self.length)
                .map(|(s, l)| (s + l).min(u32::MAX as usize) as u32),
        }
    }

    /// How the result names the file and its range.
    fn summary(&self) -> String {
        match (self.offset, self.length) {
            (Some(o), Some(l)) => format!("{} (lines {}-{})", self.name, o + 1, o + l),
            (Some(o), None) => format!("{} (lines {}-end)", self.name, o + 1),
            _ => self.name.clone(),
        }
    }
}

/// `open_files(file_requests, close_all_others?)`. Every request is checked and every view
/// read before anything changes, so a bad request opens nothing.
pub(super) async fn open_files(
    reader: &dyn FileReader,
    agent: &Agent,
    files: &mut OpenFiles,
    args: &Args,
) -> Result<String, String> {
    let limits = FileLimits::of(agent);
    let requests = requests(args)?;
    if requests.len() > limits.max_open {
        return Err(format!(
            "Cannot open {} files: exceeds configured maximum limit of {} files",
            requests.len(),
            limits.max_open
        ));
    }
    if requests.is_empty() {
        return Err("No file requests provided".into());
    }
    let mut views = Vec::with_capacity(requests.len());
    for r in &requests {
        views.push(view_of(reader, files, r, limits).await?);
    }
    let mut notes = Vec::new();
    if args.flag("close_all_others") {
        let keep: Vec<String> = requests.iter().map(|r| r.name.clone()).collect();
        let closed = files.close_all_except(&keep);
        if !closed.is_empty() {
            notes.push(format!(
                "Note: Closed {} file(s) due to close_all_others=True: {}",
                closed.len(),
                closed.join(", ")
            ));
        }
    }
    let now = Utc::now();
    let mut evicted = Vec::new();
    let mut summaries = Vec::new();
    for (r, view) in requests.iter().zip(views) {
        let opened = files
            .open(&r.name, view, r.range(), limits.max_open, now)
            .ok_or_else(|| not_attached(&r.name, files))?;
        evicted.extend(opened.closed);
        summaries.push(format!("{}{}", r.summary(), previously(opened.previous)));
    }
    if !evicted.is_empty() {
        notes.push(format!(
            "Note: Closed {} least recently used file(s) due to open file limit: {}",
            evicted.len(),
            evicted.join(", ")
        ));
    }
    Ok(opened_message(&summaries, &notes))
}

/// Letta's result: what was opened, then a note per kind of file closed.
fn opened_message(summaries: &[String], notes: &[String]) -> String {
    let mut message = match summaries {
        [one] => format!("* Opened {one}"),
        _ => format!(
            "* Opened {} files: {}",
            summaries.len(),
            summaries.join(", ")
        ),
    };
    for note in notes {
        message.push('\n');
        message.push_str(note);
    }
    message
}

/// `open_file(file_name, view_range?)`, Letta's older tool: `view_range` is `[start, end)` in
/// 0-based lines.
pub(super) async fn open_file(
    reader: &dyn FileReader,
    agent: &Agent,
    files: &mut OpenFiles,
    args: &Args,
) -> Result<String, String> {
    let name = args.string("file_name")?;
    let range = match args.value("view_range") {
        Some(Value::Array(v)) if v.len() == 2 => {
            let n = |x: &Value| x.as_u64().map(|n| n as usize);
            match (n(&v[0]), n(&v[1])) {
                (Some(s), Some(e)) if s < e => Some((s, e)),
                _ => {
                    return Err(format!(
                        "Provided view range {} is invalid, starting range must be less than ending range.",
                        super::super::py_repr(&Value::Array(v.clone()))
                    ));
                }
            }
        }
        None | Some(Value::Null) => None,
        Some(other) => return Err(format!("view_range must be two line numbers, got {other}")),
    };
    let request = Request {
        name: name.clone(),
        offset: range.map(|r| r.0),
        length: range.map(|r| r.1 - r.0),
    };
    let limits = FileLimits::of(agent);
    let view = view_of(reader, files, &request, limits).await?;
    files
        .open(&name, view, request.range(), limits.max_open, Utc::now())
        .ok_or_else(|| not_attached(&name, files))?;
    let shown = |x: Option<usize>| x.map_or_else(|| "None".to_owned(), |n| n.to_string());
    Ok(format!(
        "Successfully opened file {name}, lines {} to {} are now visible in memory block <{name}>",
        shown(range.map(|r| r.0)),
        shown(range.map(|r| r.1))
    ))
}

/// `close_file(file_name)`, Letta's older tool.
pub(super) fn close_file(files: &mut OpenFiles, args: &Args) -> Result<String, String> {
    let name = args.string("file_name")?;
    let id = files
        .by_name(&name)
        .map(|f| f.id)
        .ok_or_else(|| not_attached(&name, files))?;
    files.close(id);
    Ok(format!(
        "Successfully closed file {name}, use function calls to re-open file"
    ))
}

fn requests(args: &Args) -> Result<Vec<Request>, String> {
    let items = match args.value("file_requests") {
        Some(Value::Array(items)) => items.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            return Err(format!(
                "file_requests must be a list of {{file_name, offset, length}} objects, got {other}"
            ));
        }
    };
    items.into_iter().map(request).collect()
}

fn request(item: Value) -> Result<Request, String> {
    let args = match item {
        Value::String(name) => {
            return Ok(Request {
                name,
                offset: None,
                length: None,
            });
        }
        other => Args::new(other),
    };
    let name = args.string("file_name")?;
    let offset = opt_count(&args, "offset")?;
    let length = opt_count(&args, "length")?;
    if let Some(o) = offset.filter(|o| *o < 0) {
        return Err(format!(
            "Offset for file {name} must be >= 0 (0-indexed), got {o}"
        ));
    }
    if let Some(l) = length.filter(|l| *l < 1) {
        return Err(format!("Length for file {name} must be >= 1, got {l}"));
    }
    Ok(Request {
        name,
        offset: offset.map(|o| o as usize),
        length: length.map(|l| l as usize),
    })
}

/// The line-numbered view the request asks for.
async fn view_of(
    reader: &dyn FileReader,
    files: &OpenFiles,
    r: &Request,
    limits: FileLimits,
) -> Result<String, String> {
    let file = files
        .by_name(&r.name)
        .ok_or_else(|| not_attached(&r.name, files))?;
    let text = text_of(reader, file).await?;
    let lines = mneme_documents::lines(text.kind, &text.text);
    let view = mneme_documents::view(text.kind, &lines, r.offset, r.length)
        .map_err(|e| e.message(&r.name))?;
    Ok(stored_view(view, limits))
}

fn not_attached(name: &str, files: &OpenFiles) -> String {
    format!(
        "{name} not attached - did you get the filename correct? Currently you have the following files attached: {}",
        attached_list(files)
    )
}

fn previously(range: Option<LineRange>) -> String {
    match range {
        None => String::new(),
        Some(LineRange {
            start: Some(s),
            end: Some(e),
        }) => format!(" (previously lines {s}-{e})"),
        Some(LineRange { start: Some(s), .. }) => format!(" (previously lines {s}-end)"),
        Some(_) => " (previously full file)".into(),
    }
}
