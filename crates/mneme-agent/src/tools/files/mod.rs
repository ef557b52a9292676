//! The file tools (`letta_files_core`): open, grep and semantically search the files of the
//! agent's folders. Opening and closing change the agent's files as held in the request's
//! working memory (written with the step); the files' text and passages come from a
//! `FileReader` the service provides.

mod grep;
mod open;
mod search;

use std::sync::Arc;

use async_trait::async_trait;
use mneme_documents::DocumentKind;
use mneme_store::{Agent, AgentFile};
use mneme_types::{FileId, FolderId};
use serde_json::Value;

use super::ToolOutcome;
use super::args::Args;
use crate::executor::{Invocation, ToolExecutor};
use crate::files::OpenFiles;

/// The `tool_type` of the file tools.
pub const FILES_TOOL_TYPE: &str = "letta_files_core";
/// The file tools attaching a folder gives an agent (and detaching its last one takes).
pub const FILE_TOOL_NAMES: &[&str] = &["open_files", "grep_files", "semantic_search_files"];

/// A file's extracted text and how to cut it into lines.
#[derive(Debug, Clone)]
pub struct FileText {
    pub kind: DocumentKind,
    pub text: String,
}

/// A passage of a folder's file, as a semantic search found it.
#[derive(Debug, Clone)]
pub struct FilePassage {
    pub file_id: Option<FileId>,
    pub file_name: Option<String>,
    pub text: String,
}

/// What the file tools read beyond the agent's own rows.
#[async_trait]
pub trait FileReader: Send + Sync {
    /// The text of the file in `folder`; `None` when it is gone or has none yet (still
    /// processing).
    async fn file_text(&self, folder: FolderId, file: FileId) -> Result<Option<FileText>, String>;
    /// The passages of these folders nearest in meaning to `query`, best first.
    async fn search_passages(
        &self,
        agent: &Agent,
        folders: &[FolderId],
        query: &str,
        limit: usize,
    ) -> Result<Vec<FilePassage>, String>;
}

/// The executor of the file tools.
pub struct FileTools {
    reader: Arc<dyn FileReader>,
}

impl FileTools {
    pub fn new(reader: Arc<dyn FileReader>) -> FileTools {
        FileTools { reader }
    }
}

#[async_trait]
impl ToolExecutor for FileTools {
    async fn execute(&self, call: Invocation<'_>) -> ToolOutcome {
        let files = &mut call.memory.files;
        let reader = self.reader.as_ref();
        let (result, changed) = match call.tool.name.as_str() {
            "open_files" => (
                open::open_files(reader, call.agent, files, call.args).await,
                true,
            ),
            "open_file" => (
                open::open_file(reader, call.agent, files, call.args).await,
                true,
            ),
            "close_file" => (open::close_file(files, call.args), true),
            "grep_files" => (
                grep::grep_files(reader, files, call.args, false).await,
                false,
            ),
            "grep" => (
                grep::grep_files(reader, files, call.args, true).await,
                false,
            ),
            "semantic_search_files" => (
                search::search(reader, call.agent, files, call.args, 5).await,
                false,
            ),
            "search_files" => (
                search::search(reader, call.agent, files, call.args, 10).await,
                false,
            ),
            other => (
                Err(format!("Error: tool '{other}' is not a file tool")),
                false,
            ),
        };
        let mut outcome = ToolOutcome::from(result.map(Value::String));
        outcome.memory_changed = outcome.ok && changed;
        outcome
    }

    /// The tools read the store and the index in the process: one commit per step.
    fn durable_calls(&self) -> bool {
        false
    }
}

/// Names of the attached files as Letta lists them in its errors (a Python list).
fn attached_list(files: &OpenFiles) -> String {
    let names: Vec<Value> = files.names().into_iter().map(Value::String).collect();
    super::py_repr(&Value::Array(names))
}

/// The file's text, or the error the model sees.
async fn text_of(reader: &dyn FileReader, file: &AgentFile) -> Result<FileText, String> {
    let name = &file.file_name;
    reader
        .file_text(file.folder_id, file.file_id)
        .await?
        .ok_or_else(|| format!("{name} has no readable content yet; it may still be processing"))
}

/// An argument that must be a non-negative integer when present.
fn opt_count(args: &Args, name: &str) -> Result<Option<i64>, String> {
    match args.value(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => args.int_or(name, 0).map(Some),
    }
}
