//! The numbered lines the file tools show, cut the way Letta's line chunker cuts them so an
//! agent sees the same numbering and headers it would see on Letta.

use crate::DocumentKind;

/// What a file's numbered units are called in view headers and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineUnit {
    Lines,
    /// Markdown is read as prose: one unit per sentence.
    Sentences,
}

impl LineUnit {
    pub fn of(kind: DocumentKind) -> LineUnit {
        match kind {
            DocumentKind::Markdown => LineUnit::Sentences,
            _ => LineUnit::Lines,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LineUnit::Lines => "lines",
            LineUnit::Sentences => "sentences",
        }
    }
}

/// Why a window of a file cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// `offset` (0-based) is at or past the last unit.
    #[error("the file has only {total} {}, but requested offset {} is out of range", unit.as_str(), offset + 1)]
    OutOfRange {
        total: usize,
        offset: usize,
        unit: LineUnit,
    },
    #[error("length must be >= 1, got 0")]
    ZeroLength,
}

impl ViewError {
    /// The error as Letta words it for the file `file_name`, for tool returns.
    pub fn message(&self, file_name: &str) -> String {
        match self {
            ViewError::OutOfRange {
                total,
                offset,
                unit,
            } => format!(
                "File {file_name} has only {total} {}, but requested offset {} is out of range",
                unit.as_str(),
                offset + 1
            ),
            ViewError::ZeroLength => format!("Length for file {file_name} must be >= 1, got 0"),
        }
    }
}

/// The units of `text` for the file tools: Markdown split into sentences (at `.`, `!` or `?`
/// followed by space and a capital letter, inner whitespace collapsed), code and HTML split
/// into lines that keep their indentation, everything else into lines stripped at both ends.
/// Empty units are dropped.
pub fn lines(kind: DocumentKind, text: &str) -> Vec<String> {
    match kind {
        DocumentKind::Markdown => sentences(text),
        DocumentKind::Code | DocumentKind::Html => split_lines(text)
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        DocumentKind::Text | DocumentKind::Json | DocumentKind::Csv | DocumentKind::Pdf => {
            split_lines(text)
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        }
    }
}

/// `lines` numbered from 1 under a `[Viewing …]` header: the whole file when `offset` is
/// `None` (as Letta, a `length` without an `offset` is ignored), else `length` units (to the
/// end when `None` or past it) from the 0-based `offset`.
pub fn view(
    kind: DocumentKind,
    lines: &[String],
    offset: Option<usize>,
    length: Option<usize>,
) -> Result<String, ViewError> {
    let unit = LineUnit::of(kind).as_str();
    let total = lines.len();
    let Some(start) = offset else {
        let header = format!("[Viewing file start (out of {total} {unit})]");
        return Ok(numbered(header, lines, 0));
    };
    if length == Some(0) {
        return Err(ViewError::ZeroLength);
    }
    if start >= total {
        return Err(ViewError::OutOfRange {
            total,
            offset: start,
            unit: LineUnit::of(kind),
        });
    }
    let header = match length {
        Some(length) => {
            let end = start.saturating_add(length).min(total);
            let shown = &lines[start..end];
            let header = format!(
                "[Viewing {unit} {} to {end} (out of {total} {unit})]",
                start + 1
            );
            return Ok(numbered(header, shown, start));
        }
        None => format!(
            "[Viewing {unit} {} to end (out of {total} {unit})]",
            start + 1
        ),
    };
    Ok(numbered(header, &lines[start..], start))
}

fn numbered(header: String, lines: &[String], first: usize) -> String {
    let mut out = header;
    for (i, line) in lines.iter().enumerate() {
        out.push('\n');
        out.push_str(&format!("{}: {line}", first + i + 1));
    }
    out
}

/// Lines split at every break Python's `str.splitlines` knows (`\r\n` counting as one), so
/// numbering matches Letta's on files with form feeds or Unicode separators.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split([
        '\n', '\r', '\u{0B}', '\u{0C}', '\u{1C}', '\u{1D}', '\u{1E}', '\u{85}', '\u{2028}',
        '\u{2029}',
    ])
}

/// Sentences of prose: split where whitespace follows `.`, `!` or `?` and precedes an ASCII
/// capital, each with its whitespace runs collapsed to single spaces.
fn sentences(text: &str) -> Vec<String> {
    let text = text.trim();
    let mut out = Vec::new();
    let mut from = 0;
    let mut prev: Option<char> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c.is_whitespace() && matches!(prev, Some('.' | '!' | '?')) {
            let mut gap_end = i + c.len_utf8();
            while let Some(&(j, w)) = iter.peek().filter(|(_, w)| w.is_whitespace()) {
                gap_end = j + w.len_utf8();
                iter.next();
            }
            if iter.peek().is_some_and(|(_, n)| n.is_ascii_uppercase()) {
                push_sentence(&mut out, &text[from..i]);
                from = gap_end;
            }
            prev = Some(' ');
            continue;
        }
        prev = Some(c);
    }
    push_sentence(&mut out, &text[from..]);
    out
}

fn push_sentence(out: &mut Vec<String>, raw: &str) {
    let sentence = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if !sentence.is_empty() {
        out.push(sentence);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn text_lines_are_stripped_and_blank_ones_dropped() {
        let text = "  first  \r\n\n\tsecond\rthird\u{2028}fourth\n   \n";
        assert_eq!(
            lines(DocumentKind::Text, text),
            owned(&["first", "second", "third", "fourth"])
        );
        assert_eq!(
            lines(DocumentKind::Csv, "a,b\n\n1,2\n"),
            owned(&["a,b", "1,2"])
        );
    }

    #[test]
    fn code_keeps_indentation() {
        let text = "def f():\n    return 1   \n\n";
        assert_eq!(
            lines(DocumentKind::Code, text),
            owned(&["def f():", "    return 1"])
        );
    }

    #[test]
    fn markdown_is_cut_into_sentences() {
        let text =
            "# Title\n\nMemGPT pages   memory. It works!\nDoes it? yes. e.g. Not here.3 Then";
        assert_eq!(
            lines(DocumentKind::Markdown, text),
            owned(&[
                "# Title MemGPT pages memory.",
                "It works!",
                "Does it? yes. e.g.",
                "Not here.3 Then"
            ])
        );
    }

    #[test]
    fn views_have_letta_headers_and_offset_aware_numbers() {
        let ls = owned(&["a", "b", "c", "d"]);
        let text = DocumentKind::Text;
        assert_eq!(
            view(text, &ls, None, None),
            Ok("[Viewing file start (out of 4 lines)]\n1: a\n2: b\n3: c\n4: d".into())
        );
        assert_eq!(
            view(text, &ls, Some(1), Some(2)),
            Ok("[Viewing lines 2 to 3 (out of 4 lines)]\n2: b\n3: c".into())
        );
        assert_eq!(
            view(text, &ls, Some(2), Some(10)),
            Ok("[Viewing lines 3 to 4 (out of 4 lines)]\n3: c\n4: d".into())
        );
        assert_eq!(
            view(text, &ls, Some(3), None),
            Ok("[Viewing lines 4 to end (out of 4 lines)]\n4: d".into())
        );
        assert_eq!(
            view(DocumentKind::Markdown, &ls[..1], Some(0), Some(1)),
            Ok("[Viewing sentences 1 to 1 (out of 1 sentences)]\n1: a".into())
        );
    }

    #[test]
    fn out_of_range_views_are_errors_in_letta_words() {
        let ls = owned(&["a", "b"]);
        let err = view(DocumentKind::Text, &ls, Some(2), Some(1));
        assert_eq!(
            err.as_ref().map_err(|e| e.message("notes.txt")),
            Err("File notes.txt has only 2 lines, but requested offset 3 is out of range".into())
        );
        assert_eq!(
            view(DocumentKind::Text, &ls, Some(0), Some(0)),
            Err(ViewError::ZeroLength)
        );
        assert_eq!(
            view(DocumentKind::Text, &[], None, None),
            Ok("[Viewing file start (out of 0 lines)]".into())
        );
    }
}
