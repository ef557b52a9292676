//! `semantic_search_files` (and the older `search_files`): the folders' passages nearest in
//! meaning to a query, grouped by file.

use chrono::Utc;
use mneme_store::Agent;

use super::{FilePassage, FileReader, opt_count};
use crate::files::OpenFiles;
use crate::tools::args::Args;

/// Most passages one search returns.
const MAX_RESULTS: i64 = 50;
/// Lines shown of each passage.
const LINES_SHOWN: usize = 20;

pub(super) async fn search(
    reader: &dyn FileReader,
    agent: &Agent,
    files: &mut OpenFiles,
    args: &Args,
    default_limit: i64,
) -> Result<String, String> {
    let query = args.string("query")?.trim().to_owned();
    if query.is_empty() {
        return Err("Empty search query provided".into());
    }
    let limit = opt_count(args, "limit")?
        .unwrap_or(default_limit)
        .clamp(1, MAX_RESULTS) as usize;
    let folders: Vec<_> = files.current().directories.iter().map(|d| d.id).collect();
    let passages = if folders.is_empty() {
        Vec::new()
    } else {
        reader
            .search_passages(agent, &folders, &query, limit)
            .await?
    };
    if passages.is_empty() {
        return Ok(format!("No semantic matches found for query: '{query}'"));
    }
    let grouped = group_by_file(files, passages.into_iter().take(limit).collect());
    let names: Vec<String> = grouped.iter().map(|(n, _)| n.clone()).collect();
    files.touch(&names, Utc::now());
    Ok(report(&query, &grouped))
}

/// Passages grouped by their file's name, files in the order their best passage ranks.
fn group_by_file(files: &OpenFiles, passages: Vec<FilePassage>) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for p in passages {
        let held = p
            .file_id
            .and_then(|id| files.current().files.iter().find(|f| f.file_id == id));
        let name = held
            .map(|f| f.file_name.clone())
            .or(p.file_name)
            .unwrap_or_else(|| "Unknown File".into());
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, texts)) => texts.push(p.text),
            None => out.push((name, vec![p.text])),
        }
    }
    out
}

fn report(query: &str, grouped: &[(String, Vec<String>)]) -> String {
    let total: usize = grouped.iter().map(|(_, t)| t.len()).sum();
    let files = grouped.len();
    let plural = if files == 1 { "" } else { "s" };
    let summary =
        format!("Found {total} semantic matches in {files} file{plural} for query: '{query}'");
    let mut out = vec![summary.clone(), "=".repeat(summary.chars().count())];
    let mut n = 0;
    for (name, texts) in grouped {
        for text in texts {
            n += 1;
            let lines: Vec<&str> = text.trim().lines().collect();
            let mut shown: Vec<String> = lines
                .iter()
                .take(LINES_SHOWN)
                .map(|l| format!("  {l}"))
                .collect();
            if lines.len() > LINES_SHOWN {
                shown.push(format!(
                    "  ... [truncated {} more lines]",
                    lines.len() - LINES_SHOWN
                ));
            }
            out.push(format!(
                "\n=== {name} (passage #{n}) ===\n{}",
                shown.join("\n")
            ));
        }
    }
    out.join("\n")
}
