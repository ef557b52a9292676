//! The agent's files as it holds them during a request: which are open and with what view,
//! the least-recently-used rule that keeps at most `max_files_open` open, and the
//! `<directories>` section of the system message that shows them.

use std::collections::BTreeSet;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use mneme_store::{Agent, AgentFile, AgentFiles};
use mneme_types::{AgentType, FileAgentId};

/// Appended to a view cut at the per-file limit (Letta's marker, so that prompts tuned to it
/// keep working).
const TRUNCATED: &str =
    "...[TRUNCATED]\n# NOTE: This block is truncated, use functions to view the full content.";

/// How many files an agent keeps open and how many characters of each it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    pub max_open: usize,
    pub chars_per_file: usize,
}

impl FileLimits {
    /// The agent's own settings, or Letta's defaults for its context window.
    pub fn of(agent: &Agent) -> FileLimits {
        FileLimits::new(
            agent.settings.max_files_open,
            agent.settings.per_file_view_window_char_limit,
            agent.llm_config.context_window,
        )
    }

    /// The limits set (`None`: Letta's default for `context_window`).
    pub fn new(max_open: Option<u32>, chars: Option<u32>, context_window: u32) -> FileLimits {
        let (default_open, default_chars) = default_file_limits(context_window);
        FileLimits {
            max_open: max_open.unwrap_or(default_open).max(1) as usize,
            chars_per_file: chars.unwrap_or(default_chars).max(1) as usize,
        }
    }
}

/// Letta's `max_files_open` and `per_file_view_window_char_limit` for a context window: a
/// small window holds fewer and shorter open files.
pub fn default_file_limits(context_window: u32) -> (u32, u32) {
    match context_window {
        0..=8_000 => (3, 5_000),
        8_001..=32_000 => (5, 15_000),
        32_001..=128_000 => (10, 25_000),
        128_001..=200_000 => (10, 40_000),
        _ => (15, 40_000),
    }
}

/// A range of lines as stored: 1-based first line, 1-based last line (the 0-based exclusive
/// end); `None`s for the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineRange {
    pub start: Option<u32>,
    pub end: Option<u32>,
}

/// What opening one file did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Opened {
    /// Files closed to stay within the limit, least recently used first.
    pub closed: Vec<String>,
    /// The range the file showed before, when it was open with another one.
    pub previous: Option<LineRange>,
}

/// The agent's files during a request, with the rows changed since the last commit.
#[derive(Debug, Clone, Default)]
pub struct OpenFiles {
    files: AgentFiles,
    changed: BTreeSet<FileAgentId>,
}

impl OpenFiles {
    pub fn new(files: AgentFiles) -> OpenFiles {
        OpenFiles {
            files,
            changed: BTreeSet::new(),
        }
    }

    pub fn current(&self) -> &AgentFiles {
        &self.files
    }

    pub fn by_name(&self, name: &str) -> Option<&AgentFile> {
        self.files.files.iter().find(|f| f.file_name == name)
    }

    /// Names of every attached file, in order.
    pub fn names(&self) -> Vec<String> {
        self.files
            .files
            .iter()
            .map(|f| f.file_name.clone())
            .collect()
    }

    /// Opens the file named `name` with `view` of `range`, closing the least recently used
    /// others beyond `max_open`. `None` when no such file is attached.
    pub fn open(
        &mut self,
        name: &str,
        view: String,
        range: LineRange,
        max_open: usize,
        now: DateTime<Utc>,
    ) -> Option<Opened> {
        let index = self.files.files.iter().position(|f| f.file_name == name)?;
        let target = &self.files.files[index];
        let previous = (target.is_open && range_of(target) != range).then(|| range_of(target));
        let closed = self.close_least_recent(max_open.saturating_sub(1), &[index]);
        let file = &mut self.files.files[index];
        file.is_open = true;
        file.visible_content = Some(view);
        file.start_line = range.start;
        file.end_line = range.end;
        file.last_accessed_at = now;
        self.changed.insert(file.id);
        Some(Opened { closed, previous })
    }

    /// Closes every open file but those named in `keep`; returns the names closed.
    pub fn close_all_except(&mut self, keep: &[String]) -> Vec<String> {
        let ids: Vec<FileAgentId> = self
            .files
            .files
            .iter()
            .filter(|f| f.is_open && !keep.contains(&f.file_name))
            .map(|f| f.id)
            .collect();
        ids.into_iter().filter_map(|id| self.close(id)).collect()
    }

    /// Closes the file; returns its name if it was open.
    pub fn close(&mut self, id: FileAgentId) -> Option<String> {
        let file = self.files.files.iter_mut().find(|f| f.id == id)?;
        if !file.is_open {
            return None;
        }
        file.is_open = false;
        file.visible_content = None;
        file.start_line = None;
        file.end_line = None;
        self.changed.insert(file.id);
        Some(file.file_name.clone())
    }

    /// Marks these files as used now (a search found something in them).
    pub fn touch(&mut self, names: &[String], now: DateTime<Utc>) {
        for file in &mut self.files.files {
            if names.contains(&file.file_name) {
                file.last_accessed_at = now;
                self.changed.insert(file.id);
            }
        }
    }

    /// Adds newly attached files and opens them with their views, as Letta does when a folder
    /// is attached or a file lands in it: the new ones first, then the most recently used of
    /// those already open, up to `max_open`. Files already held take the new view. Returns the
    /// names left or made closed.
    pub fn attach(
        &mut self,
        new: Vec<AgentFile>,
        max_open: usize,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let mut names = Vec::new();
        for mut file in new {
            if names.contains(&file.file_name) {
                continue;
            }
            names.push(file.file_name.clone());
            file.last_accessed_at = now;
            match self
                .files
                .files
                .iter_mut()
                .find(|f| f.file_id == file.file_id)
            {
                Some(held) => {
                    held.is_open = file.is_open;
                    held.visible_content = file.visible_content;
                    held.start_line = None;
                    held.end_line = None;
                    held.last_accessed_at = now;
                    self.changed.insert(held.id);
                }
                None => {
                    self.changed.insert(file.id);
                    self.files.files.push(file);
                }
            }
        }
        let mut closed: Vec<String> = names.iter().skip(max_open).cloned().collect();
        for name in &closed {
            if let Some(id) = self.by_name(name).map(|f| f.id) {
                self.close(id);
            }
        }
        let room = max_open.saturating_sub(names.len().min(max_open));
        let protected: Vec<usize> = (0..self.files.files.len())
            .filter(|&i| names.contains(&self.files.files[i].file_name))
            .collect();
        closed.extend(self.close_least_recent(room, &protected));
        closed
    }

    /// Rows changed since the last commit, to write with the step.
    pub fn changes(&self) -> Vec<AgentFile> {
        self.files
            .files
            .iter()
            .filter(|f| self.changed.contains(&f.id))
            .cloned()
            .collect()
    }

    pub fn mark_committed(&mut self) {
        self.changed.clear();
    }

    /// Closes the least recently used open files other than those at `keep` until at most
    /// `room` others are open.
    fn close_least_recent(&mut self, room: usize, keep: &[usize]) -> Vec<String> {
        let mut open: Vec<(DateTime<Utc>, FileAgentId)> = self
            .files
            .files
            .iter()
            .enumerate()
            .filter(|(i, f)| f.is_open && !keep.contains(i))
            .map(|(_, f)| (f.last_accessed_at, f.id))
            .collect();
        open.sort();
        let excess = open.len().saturating_sub(room);
        open.into_iter()
            .take(excess)
            .filter_map(|(_, id)| self.close(id))
            .collect()
    }
}

fn range_of(f: &AgentFile) -> LineRange {
    LineRange {
        start: f.start_line,
        end: f.end_line,
    }
}

/// The view to store: at most one character past the per-file limit, so that what is shown
/// is still known to be cut, and a huge file does not weigh on every step that reads the
/// agent's files.
pub fn stored_view(view: String, limits: FileLimits) -> String {
    match view.char_indices().nth(limits.chars_per_file + 1) {
        Some((end, _)) => view[..end].to_owned(),
        None => view,
    }
}

/// The view an open file shows, cut to `limit` characters with Letta's marker.
pub fn visible_value(file: &AgentFile, limit: usize) -> String {
    let Some(view) = file.visible_content.as_deref().filter(|_| file.is_open) else {
        return String::new();
    };
    if view.chars().count() <= limit {
        return view.to_owned();
    }
    let keep = limit.saturating_sub(TRUNCATED.chars().count());
    let mut out: String = view.chars().take(keep).collect();
    out.push_str(TRUNCATED);
    out
}

/// The `<directories>` section: every attached folder with its files, open ones with their
/// views. Empty when the agent has no folders.
pub fn render_directories(agent_type: AgentType, files: &AgentFiles, limits: FileLimits) -> String {
    if files.directories.is_empty() {
        return String::new();
    }
    let react = matches!(agent_type, AgentType::ReactAgent | AgentType::WorkflowAgent);
    let values: Vec<String> = files
        .files
        .iter()
        .map(|f| visible_value(f, limits.chars_per_file))
        .collect();
    let open = values.iter().filter(|v| !v.is_empty()).count();
    let mut out = String::from("<directories>\n");
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "<file_limits>\n- current_files_open={open}\n- max_files_open={}\n</file_limits>\n",
        limits.max_open
    );
    for dir in &files.directories {
        let _ = writeln!(out, "<directory name=\"{}\">", dir.name);
        if let Some(d) = dir.description.as_deref().filter(|d| !d.is_empty()) {
            let _ = writeln!(out, "<description>{d}</description>");
        }
        if let Some(i) = dir.instructions.as_deref().filter(|i| !i.is_empty()) {
            let _ = writeln!(out, "<instructions>{i}</instructions>");
        }
        for (file, value) in files.files.iter().zip(&values) {
            if file.folder_id == dir.id {
                render_file(&mut out, &file.file_name, value, limits, react);
            }
        }
        out.push_str("</directory>\n");
    }
    out.push_str("</directories>");
    out
}

fn render_file(out: &mut String, name: &str, value: &str, limits: FileLimits, react: bool) {
    let status = if value.is_empty() { "closed" } else { "open" };
    let metadata = format!(
        "<metadata>\n- read_only=true\n- chars_current={}\n- chars_limit={}\n</metadata>\n",
        value.chars().count(),
        limits.chars_per_file
    );
    if react {
        let _ = write!(
            out,
            "<file status=\"{status}\">\n<{name}>\n<description>\n\n</description>\n{metadata}\
             <value>\n{value}\n</value>\n</{name}>\n</file>\n"
        );
        return;
    }
    let _ = write!(
        out,
        "<file status=\"{status}\" name=\"{name}\">\n{metadata}"
    );
    if !value.is_empty() {
        let _ = write!(out, "<value>\n{value}\n</value>\n");
    }
    out.push_str("</file>\n");
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
