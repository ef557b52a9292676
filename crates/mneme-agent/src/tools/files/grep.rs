//! `grep_files` (and the older `grep`): a case-insensitive regular expression over the
//! numbered lines of every attached file, matches paged 20 at a time.

use std::collections::HashMap;

use chrono::Utc;
use mneme_store::AgentFile;
use regex::{Regex, RegexBuilder};

use super::{FileReader, opt_count};
use crate::files::OpenFiles;
use crate::tools::args::Args;

/// Longest pattern accepted (Letta's limit).
const MAX_PATTERN: usize = 1000;
const PAGE: usize = 20;
/// Matches collected before the search stops.
const MAX_COLLECTED: usize = 1000;
/// Files larger than this are skipped, and the search stops past the total.
const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
const MAX_TOTAL_BYTES: usize = 200 * 1024 * 1024;

struct Match {
    file: String,
    line: usize,
    context: Vec<String>,
}

struct Found {
    matches: Vec<Match>,
    skipped: usize,
    searched: usize,
}

/// `grep_files(pattern, include?, context_lines?=1, offset?)`; `legacy` is the older `grep`
/// (one line of context, first page).
pub(super) async fn grep_files(
    reader: &dyn FileReader,
    files: &mut OpenFiles,
    args: &Args,
    legacy: bool,
) -> Result<String, String> {
    let pattern = args.string("pattern")?.trim().to_owned();
    if pattern.is_empty() {
        return Err("Empty search pattern provided".into());
    }
    let regex = compile(&pattern)?;
    let include = args.opt_string("include")?.map(|i| i.trim().to_owned());
    let include = include.filter(|i| !i.is_empty());
    let (context, offset) = if legacy {
        (1, 0)
    } else {
        let context = opt_count(args, "context_lines")?.unwrap_or(1).max(0) as usize;
        (
            context,
            opt_count(args, "offset")?.unwrap_or(0).max(0) as usize,
        )
    };
    let mut targets: Vec<AgentFile> = files.current().files.clone();
    if targets.is_empty() {
        return Ok("No files are currently attached to search".into());
    }
    if let Some(include) = &include {
        let filter = compile(&glob_to_regex(include))?;
        let total = targets.len();
        targets.retain(|f| filter.is_match(&f.file_name));
        if targets.is_empty() {
            return Ok(format!(
                "No files match the filename pattern '{include}' (filtered {total} files)"
            ));
        }
    }
    let found = search(reader, &targets, &regex, context).await?;
    let mut with_matches: Vec<String> = found.matches.iter().map(|m| m.file.clone()).collect();
    with_matches.dedup();
    files.touch(&with_matches, Utc::now());
    Ok(report(&pattern, include.as_deref(), &found, offset))
}

fn compile(pattern: &str) -> Result<Regex, String> {
    if pattern.chars().count() > MAX_PATTERN {
        return Err(format!(
            "Pattern too complex: {} chars > {MAX_PATTERN} limit",
            pattern.chars().count()
        ));
    }
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .multi_line(true)
        .build()
        .map_err(|e| format!("Invalid regex pattern: {e}"))
}

/// A glob (`*.md`) as a regular expression, when it looks like one; otherwise the text is
/// already a regular expression (Letta's rule).
fn glob_to_regex(include: &str) -> String {
    let regex_chars = ['^', '$', '(', ')', '[', ']', '{', '}', '\\', '+'];
    if include.contains('*') && !include.contains(regex_chars) {
        let mut out = include
            .replace('.', r"\.")
            .replace('*', ".*")
            .replace('?', ".");
        if !out.ends_with('$') {
            out.push('$');
        }
        out
    } else {
        include.to_owned()
    }
}

async fn search(
    reader: &dyn FileReader,
    targets: &[AgentFile],
    regex: &Regex,
    context: usize,
) -> Result<Found, String> {
    let mut found = Found {
        matches: Vec::new(),
        skipped: 0,
        searched: 0,
    };
    let mut total = 0usize;
    for file in targets {
        let name = &file.file_name;
        let Some(text) = reader.file_text(file.folder_id, file.file_id).await? else {
            found.skipped += 1;
            continue;
        };
        if text.text.len() > MAX_FILE_BYTES {
            found.skipped += 1;
            continue;
        }
        total += text.text.len();
        if total > MAX_TOTAL_BYTES {
            found.skipped += 1;
            break;
        }
        found.searched += 1;
        let lines = mneme_documents::lines(text.kind, &text.text);
        collect(&mut found.matches, name, &lines, regex, context);
        if found.matches.len() >= MAX_COLLECTED {
            break;
        }
    }
    Ok(found)
}

fn collect(out: &mut Vec<Match>, name: &str, lines: &[String], regex: &Regex, context: usize) {
    for (i, line) in lines.iter().enumerate() {
        if out.len() >= MAX_COLLECTED {
            return;
        }
        if !regex.is_match(line.trim()) {
            continue;
        }
        let from = i.saturating_sub(context);
        let to = (i + context + 1).min(lines.len());
        let shown = (from..to)
            .map(|j| {
                let mark = if j == i { '>' } else { ' ' };
                format!("{mark} {}: {}", j + 1, lines[j])
            })
            .collect();
        out.push(Match {
            file: name.to_owned(),
            line: i + 1,
            context: shown,
        });
    }
}

/// Letta's report: a summary, the files by number of matches, one page of matches, and how
/// to get the next page.
fn report(pattern: &str, include: Option<&str>, found: &Found, offset: usize) -> String {
    let total = found.matches.len();
    if total == 0 {
        let mut out = format!("No matches found for pattern: '{pattern}'");
        if let Some(i) = include {
            out.push_str(&format!(" in files matching '{i}'"));
        }
        if found.skipped > 0 {
            out.push_str(&format!(
                " (searched {} files, skipped {})",
                found.searched, found.skipped
            ));
        }
        return out;
    }
    let capped = total >= MAX_COLLECTED;
    let end = (offset + PAGE).min(total);
    let counts = per_file(&found.matches);
    let of = if capped {
        format!("{MAX_COLLECTED}+")
    } else {
        total.to_string()
    };
    let shown_total = if capped {
        format!("{MAX_COLLECTED}+")
    } else {
        total.to_string()
    };
    let mut out = vec![format!(
        "Found {shown_total} total matches across {} files (showing matches {}-{end} of {of})",
        counts.len(),
        offset + 1
    )];
    if found.skipped > 0 {
        out[0].push_str(&format!(
            "\nNote: Skipped {} files due to size limits",
            found.skipped
        ));
    }
    out.push("=".repeat(80));
    out.push("\nFiles with matches:".into());
    for (name, n) in &counts {
        out.push(format!("  - {name}: {n} matches"));
    }
    out.push(String::new());
    for m in found.matches.iter().skip(offset).take(PAGE) {
        out.push(format!(
            "\n=== {}:{} ===\n{}",
            m.file,
            m.line,
            m.context.join("\n")
        ));
    }
    out.push(String::new());
    out.extend(next_page(pattern, end, total, capped));
    out.join("\n")
}

/// How to see the next page, or that there is none.
fn next_page(pattern: &str, end: usize, total: usize, capped: bool) -> Vec<String> {
    if end < total {
        let mut out = vec![format!(
            "To see more matches, call: grep_files(pattern=\"{pattern}\", offset={end})"
        )];
        if capped {
            out.push(format!("Note: Only the first {MAX_COLLECTED} matches were collected. There may be more matches beyond this limit."));
        }
        out
    } else if capped {
        vec!["Showing last page of collected matches. There may be more matches beyond the collection limit.".into()]
    } else {
        vec!["No more matches to show.".into()]
    }
}

/// Matches per file, most first (ties in the order found).
fn per_file(matches: &[Match]) -> Vec<(String, usize)> {
    let mut order: Vec<String> = Vec::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for m in matches {
        let n = counts.entry(&m.file).or_insert(0);
        if *n == 0 {
            order.push(m.file.clone());
        }
        *n += 1;
    }
    let mut out: Vec<(String, usize)> = order
        .into_iter()
        .map(|f| {
            let n = counts[f.as_str()];
            (f, n)
        })
        .collect();
    out.sort_by_key(|f| std::cmp::Reverse(f.1));
    out
}
