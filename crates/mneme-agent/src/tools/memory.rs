//! The memory-editing tools, applied to the agent's blocks as held during a request. Changes are
//! collected and written with the step that made them.

use std::collections::HashMap;

use super::args::Args;
use crate::files::OpenFiles;
use mneme_store::BlockChange;
use mneme_types::{Block, BlockId, DEFAULT_BLOCK_LIMIT};

/// The agent's blocks during a request, with what changed since the last commit.
#[derive(Debug, Clone)]
pub struct WorkingMemory {
    blocks: Vec<Block>,
    /// Value of each block as last committed, for the conflict check at commit.
    committed: HashMap<BlockId, String>,
    created: Vec<BlockId>,
    detached: Vec<Block>,
    /// Blocks whose label or description changed (their value may not have).
    renamed: Vec<BlockId>,
    /// The agent's files: the file tools open and close them.
    pub files: OpenFiles,
}

impl WorkingMemory {
    pub fn new(blocks: Vec<Block>) -> WorkingMemory {
        let committed = blocks.iter().map(|b| (b.id, b.value.clone())).collect();
        WorkingMemory {
            blocks,
            committed,
            created: Vec::new(),
            detached: Vec::new(),
            renamed: Vec::new(),
            files: OpenFiles::default(),
        }
    }

    /// This memory holding the agent's files too.
    pub fn with_files(mut self, files: mneme_store::AgentFiles) -> WorkingMemory {
        self.files = OpenFiles::new(files);
        self
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// What to write with the current step. Does not reset; call `committed` after the write.
    pub fn changes(&self) -> Vec<BlockChange> {
        let mut out = Vec::new();
        for block in &self.blocks {
            if self.created.contains(&block.id) {
                out.push(BlockChange::Create {
                    block: block.clone(),
                });
            } else if let Some(expected) = self
                .committed
                .get(&block.id)
                .filter(|v| *v != &block.value || self.renamed.contains(&block.id))
            {
                out.push(BlockChange::Update {
                    expected: expected.clone(),
                    block: block.clone(),
                });
            }
        }
        out.extend(
            self.detached
                .iter()
                .map(|b| BlockChange::Detach { id: b.id }),
        );
        out
    }

    /// Blocks this request changed whose stored value the commit checks.
    pub fn updated_ids(&self) -> Vec<BlockId> {
        self.changes()
            .iter()
            .filter_map(|c| match c {
                BlockChange::Update { block, .. } => Some(block.id),
                _ => None,
            })
            .collect()
    }

    /// The stored blocks this memory holds (not those it created).
    pub fn stored_ids(&self) -> Vec<BlockId> {
        let ids = self.blocks.iter().map(|b| b.id);
        ids.filter(|id| !self.created.contains(id)).collect()
    }

    /// Replays this request's uncommitted edits on the blocks as stored now (`current`: another
    /// writer changed some meanwhile), so that the next commit expects those values; blocks it
    /// did not edit take the stored value. `false` when no block it edited had changed, or an
    /// edit has no unambiguous place in a changed value (a real conflict); the memory is then
    /// left as it was.
    pub fn rebase(&mut self, current: &[Block]) -> bool {
        let edited = self.updated_ids();
        let mut merged = Vec::new();
        for stored in current {
            let (Some(base), Some(ours)) = (
                self.committed.get(&stored.id),
                self.blocks.iter().find(|b| b.id == stored.id),
            ) else {
                continue;
            };
            if *base == stored.value {
                continue;
            }
            match super::rebase::rebase_text(base, &ours.value, &stored.value) {
                Some(value) if value.chars().count() <= ours.limit => {
                    merged.push((stored.id, stored.value.clone(), value));
                }
                _ => return false,
            }
        }
        if !merged.iter().any(|(id, _, _)| edited.contains(id)) {
            return false;
        }
        for (id, stored, value) in merged {
            self.committed.insert(id, stored);
            if let Some(block) = self.blocks.iter_mut().find(|b| b.id == id) {
                block.value = value;
            }
        }
        true
    }

    /// Records that the current changes were written.
    pub fn mark_committed(&mut self) {
        self.committed = self
            .blocks
            .iter()
            .map(|b| (b.id, b.value.clone()))
            .collect();
        self.created.clear();
        self.detached.clear();
        self.renamed.clear();
        self.files.mark_committed();
    }

    fn find(&mut self, label: &str) -> Result<&mut Block, String> {
        let labels: Vec<String> = self.blocks.iter().filter_map(|b| b.label.clone()).collect();
        self.blocks
            .iter_mut()
            .find(|b| b.label.as_deref() == Some(label))
            .ok_or_else(|| {
                format!(
                    "'Block field {label} does not exist (available sections = {})'",
                    labels.join(", ")
                )
            })
    }

    /// Sets a block's value after the read-only and limit checks every edit must pass.
    fn write(&mut self, label: &str, value: String) -> Result<String, String> {
        let block = self.find(label)?;
        if block.read_only {
            return Err(READ_ONLY.into());
        }
        let len = value.chars().count();
        if len > block.limit {
            return Err(format!(
                "Edit failed: Exceeds {} character limit (requested {len})",
                block.limit
            ));
        }
        block.value = value.clone();
        Ok(value)
    }

    fn value(&mut self, label: &str) -> Result<String, String> {
        Ok(self.find(label)?.value.clone())
    }
}

const READ_ONLY: &str = "Error This block is read-only and cannot be edited.";

/// `core_memory_append(label, content)`: value + newline + content.
pub(super) fn core_memory_append(mem: &mut WorkingMemory, args: &Args) -> Result<String, String> {
    let label = args.string("label")?;
    let content = args.string("content")?;
    let value = mem.value(&label)?;
    mem.write(&label, format!("{value}\n{content}"))
}

/// `core_memory_replace(label, old_content, new_content)`: every occurrence.
pub(super) fn core_memory_replace(mem: &mut WorkingMemory, args: &Args) -> Result<String, String> {
    let label = args.string("label")?;
    let old = args.string("old_content")?;
    let new = args.string("new_content")?;
    let value = mem.value(&label)?;
    if old.is_empty() || !value.contains(&old) {
        return Err(format!(
            "Old content '{old}' not found in memory block '{label}'"
        ));
    }
    mem.write(&label, value.replace(&old, &new))
}

/// `memory_replace(label, old_string, new_string)`: exactly one occurrence.
pub(super) fn memory_replace(mem: &mut WorkingMemory, args: &Args) -> Result<String, String> {
    let label = args.string("label")?;
    let old = args.string("old_string")?;
    let new = args.string("new_string")?;
    guard_line_numbers(&old, "old_string")?;
    guard_line_numbers(&new, "new_string")?;
    if old.contains(crate::memory::LINE_NUMBER_WARNING) {
        return Err("old_string contains the line number warning, which is not part of the memory block's value. Do not include it when editing memory blocks.".into());
    }
    let value = mem.value(&label)?;
    let count = if old.is_empty() {
        0
    } else {
        value.matches(&old).count()
    };
    match count {
        0 => Err(format!(
            "No replacement was performed, old_string `{old}` did not appear verbatim in memory block with label `{label}`."
        )),
        1 => mem.write(&label, value.replacen(&old, &new, 1)),
        _ => {
            let lines: Vec<String> = value
                .split('\n')
                .enumerate()
                .filter(|(_, l)| l.contains(&old))
                .map(|(i, _)| (i + 1).to_string())
                .collect();
            Err(format!(
                "No replacement was performed. Multiple occurrences of old_string `{old}` in lines [{}]. Please ensure it is unique.",
                lines.join(", ")
            ))
        }
    }
}

/// `memory_insert(label, new_string, insert_line = -1)`.
pub(super) fn memory_insert(mem: &mut WorkingMemory, args: &Args) -> Result<String, String> {
    let label = args.string("label")?;
    let text = args.string("new_string")?;
    let line = args.int_or("insert_line", -1)?;
    guard_line_numbers(&text, "new_string")?;
    let value = mem.value(&label)?;
    mem.write(&label, insert_lines(&value, &text, line)?)
}

/// `memory_rethink(label, new_memory)`: replaces the whole value.
pub(super) fn memory_rethink(mem: &mut WorkingMemory, args: &Args) -> Result<String, String> {
    let label = args.string("label")?;
    let new = args.string("new_memory")?;
    guard_line_numbers(&new, "new_memory")?;
    mem.write(&label, new)
}

/// The `memory` tool, which treats blocks as files under `/memories/`.
pub(super) fn memory(mem: &mut WorkingMemory, args: &Args) -> Result<String, String> {
    let command = args.string("command")?;
    let need = |name: &str| {
        args.opt_string(name)?
            .ok_or_else(|| format!("Error: {name} is required for {command} command"))
    };
    match command.as_str() {
        "create" => {
            let label = path_label(&need("path")?);
            let description = need("description")?;
            let value = args.opt_string("file_text")?.unwrap_or_default();
            mem.create(label.clone(), description, value)?;
            Ok(format!("Successfully created memory block '{label}'."))
        }
        "str_replace" => {
            let label = path_label(&need("path")?);
            let forwarded = Args::new(serde_json::json!({
                "label": label, "old_string": need("old_string")?, "new_string": need("new_string")?,
            }));
            memory_replace(mem, &forwarded)
        }
        "insert" => {
            let label = path_label(&need("path")?);
            let text = need("insert_text")?;
            guard_line_numbers(&text, "insert_text")?;
            let line = args.int_or("insert_line", -1)?;
            let value = mem.value(&label)?;
            mem.write(&label, insert_lines(&value, &text, line)?)
        }
        "delete" => {
            let label = path_label(&need("path")?);
            mem.detach(&label)?;
            Ok(format!("Successfully deleted memory block '{label}'."))
        }
        "rename" => rename(mem, args, &command),
        other => Err(format!(
            "Error: Unknown command '{other}'. Supported commands: create, str_replace, insert, delete, rename"
        )),
    }
}

fn rename(mem: &mut WorkingMemory, args: &Args, command: &str) -> Result<String, String> {
    if let (Some(old), Some(new)) = (args.opt_string("old_path")?, args.opt_string("new_path")?) {
        let (old, new) = (path_label(&old), path_label(&new));
        if mem
            .blocks
            .iter()
            .any(|b| b.label.as_deref() == Some(new.as_str()))
        {
            return Err(format!(
                "Error: a memory block with label '{new}' already exists"
            ));
        }
        let block = mem.find(&old)?;
        block.label = Some(new.clone());
        let id = block.id;
        mem.renamed.push(id);
        return Ok(format!(
            "Successfully renamed memory block '{old}' to '{new}'."
        ));
    }
    if let (Some(path), Some(description)) =
        (args.opt_string("path")?, args.opt_string("description")?)
    {
        let label = path_label(&path);
        let block = mem.find(&label)?;
        block.description = Some(description);
        let id = block.id;
        mem.renamed.push(id);
        return Ok(format!(
            "Successfully updated the description of memory block '{label}'."
        ));
    }
    Err(format!(
        "Error: {command} needs either path and description, or old_path and new_path"
    ))
}

impl WorkingMemory {
    fn create(&mut self, label: String, description: String, value: String) -> Result<(), String> {
        if label.is_empty() {
            return Err("Error: path must name a block, e.g. /memories/notes".into());
        }
        if self
            .blocks
            .iter()
            .any(|b| b.label.as_deref() == Some(label.as_str()))
        {
            return Err(format!(
                "Error: a memory block with label '{label}' already exists"
            ));
        }
        let block: Block = serde_json::from_value(serde_json::json!({
            "id": BlockId::new(), "label": label, "value": value, "limit": DEFAULT_BLOCK_LIMIT,
            "description": description, "read_only": false, "metadata": {}, "tags": [],
            "hidden": null, "is_template": false, "template_name": null, "template_id": null,
            "base_template_id": null, "deployment_id": null, "entity_id": null,
            "project_id": null, "preserve_on_migration": false, "created_by_id": null,
            "last_updated_by_id": null
        }))
        .map_err(|e| format!("Error: {e}"))?;
        if block.value.chars().count() > block.limit {
            return Err(format!(
                "Edit failed: Exceeds {} character limit (requested {})",
                block.limit,
                block.value.chars().count()
            ));
        }
        self.created.push(block.id);
        self.blocks.push(block);
        Ok(())
    }

    fn detach(&mut self, label: &str) -> Result<(), String> {
        let pos = self
            .blocks
            .iter()
            .position(|b| b.label.as_deref() == Some(label))
            .ok_or_else(|| format!("Error: no memory block with label '{label}'"))?;
        let block = self.blocks.remove(pos);
        if !self.created.contains(&block.id) {
            self.detached.push(block);
        } else {
            self.created.retain(|id| *id != block.id);
        }
        Ok(())
    }
}

/// `/memories/notes` -> `notes`. Unlike Letta, every sub-command keeps `/` inside the label.
fn path_label(path: &str) -> String {
    let p = path.trim();
    let p = p.strip_prefix("/memories/").unwrap_or(p);
    p.trim_start_matches('/').to_owned()
}

/// Splices `text`'s lines into `value` after line `at` (0 = top, -1 = end).
fn insert_lines(value: &str, text: &str, at: i64) -> Result<String, String> {
    let mut lines: Vec<&str> = value.split('\n').collect();
    let n = lines.len() as i64;
    let at = if at == -1 { n } else { at };
    if !(0..=n).contains(&at) {
        return Err(format!(
            "Invalid `insert_line` parameter: {at}. It should be within the range of lines of the memory block: [0, {n}], or -1 to append to the end of the memory block."
        ));
    }
    let pos = at as usize;
    let new: Vec<&str> = text.split('\n').collect();
    lines.splice(pos..pos, new);
    Ok(lines.join("\n"))
}

/// Text copied from a line-numbered rendering (`12→ ...`) must not be written back.
fn guard_line_numbers(text: &str, field: &str) -> Result<(), String> {
    let numbered = text.lines().any(|line| {
        let rest = line.trim_start_matches([' ', '\t']);
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        digits > 0 && rest[digits..].starts_with('→')
    });
    if numbered {
        return Err(format!(
            "{field} contains a line number prefix, which is not allowed. Do not include line numbers when editing memory blocks; they are only shown for reference."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn mem() -> WorkingMemory {
        let block = |label: &str, value: &str, limit: usize| -> Block {
            serde_json::from_value(json!({
                "id": BlockId::new(), "label": label, "value": value, "limit": limit,
                "description": null, "read_only": false, "metadata": {}, "tags": [],
                "hidden": null, "is_template": false, "template_name": null, "template_id": null,
                "base_template_id": null, "deployment_id": null, "entity_id": null,
                "project_id": null, "preserve_on_migration": false, "created_by_id": null,
                "last_updated_by_id": null
            }))
            .unwrap()
        };
        WorkingMemory::new(vec![
            block("human", "Name: Ada\nLikes: tea", 40),
            block("persona", "", 100),
        ])
    }

    fn args(v: Value) -> Args {
        Args::new(v)
    }

    #[test]
    fn replace_needs_exactly_one_occurrence() {
        let mut m = mem();
        let ok = memory_replace(
            &mut m,
            &args(json!({"label": "human", "old_string": "tea", "new_string": "coffee"})),
        );
        assert_eq!(ok.unwrap(), "Name: Ada\nLikes: coffee");
        let none = memory_replace(
            &mut m,
            &args(json!({"label": "human", "old_string": "tea", "new_string": "x"})),
        );
        assert!(none.unwrap_err().contains("did not appear verbatim"));
        let changes = m.changes();
        assert_eq!(changes.len(), 1);
        m.mark_committed();
        assert!(m.changes().is_empty());
    }

    #[test]
    fn limits_read_only_and_unknown_labels_are_errors() {
        let mut m = mem();
        let long = "x".repeat(50);
        let err = core_memory_append(&mut m, &args(json!({"label": "human", "content": long})))
            .unwrap_err();
        assert!(err.starts_with("Edit failed: Exceeds 40 character limit"));
        assert_eq!(m.blocks()[0].value, "Name: Ada\nLikes: tea");
        let err = core_memory_append(&mut m, &args(json!({"label": "nope", "content": "x"})))
            .unwrap_err();
        assert_eq!(
            err,
            "'Block field nope does not exist (available sections = human, persona)'"
        );
        m.blocks[0].read_only = true;
        let err = memory_rethink(&mut m, &args(json!({"label": "human", "new_memory": "y"})))
            .unwrap_err();
        assert_eq!(err, READ_ONLY);
    }

    #[test]
    fn insert_lines_and_guard() {
        let mut m = mem();
        let v = memory_insert(
            &mut m,
            &args(json!({"label": "human", "new_string": "Age: 36", "insert_line": 1})),
        );
        assert_eq!(v.unwrap(), "Name: Ada\nAge: 36\nLikes: tea");
        let appended = memory_insert(
            &mut m,
            &args(json!({"label": "persona", "new_string": "terse"})),
        );
        assert_eq!(appended.unwrap(), "\nterse");
        let bad = memory_insert(
            &mut m,
            &args(json!({"label": "human", "new_string": "x", "insert_line": 9})),
        );
        assert!(bad.unwrap_err().contains("[0, 3]"));
        let numbered = memory_insert(
            &mut m,
            &args(json!({"label": "human", "new_string": "2→ Age"})),
        );
        assert!(numbered.unwrap_err().contains("line number"));
    }

    #[test]
    fn text_copied_with_the_line_number_warning_is_refused() {
        let mut m = mem();
        let old = format!("{}\nName", crate::memory::LINE_NUMBER_WARNING);
        let err = memory_replace(
            &mut m,
            &args(json!({"label": "human", "old_string": old, "new_string": "x"})),
        )
        .unwrap_err();
        assert!(err.contains("line number warning"), "{err}");
    }

    #[test]
    fn memory_tool_creates_renames_and_deletes() {
        let mut m = mem();
        memory(&mut m, &args(json!({"command": "create", "path": "/memories/notes", "description": "n", "file_text": "a"}))).unwrap();
        assert!(matches!(m.changes()[0], BlockChange::Create { .. }));
        memory(&mut m, &args(json!({"command": "rename", "old_path": "/memories/notes", "new_path": "/memories/todo"}))).unwrap();
        memory(&mut m, &args(json!({"command": "str_replace", "path": "/memories/todo", "old_string": "a", "new_string": "b"}))).unwrap();
        assert_eq!(m.blocks().last().unwrap().label.as_deref(), Some("todo"));
        assert_eq!(m.blocks().last().unwrap().value, "b");
        m.mark_committed();
        memory(
            &mut m,
            &args(json!({"command": "delete", "path": "/memories/human"})),
        )
        .unwrap();
        assert!(matches!(m.changes()[0], BlockChange::Detach { .. }));
        let err = memory(
            &mut m,
            &args(json!({"command": "insert", "path": "/memories/todo"})),
        )
        .unwrap_err();
        assert_eq!(err, "Error: insert_text is required for insert command");
    }
}
