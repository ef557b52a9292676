//! Bytes to text, by kind.

use std::panic::{AssertUnwindSafe, catch_unwind};

use unicode_normalization::UnicodeNormalization;

use crate::{DocumentError, DocumentKind, Extracted, html};

/// The largest upload `extract` reads: 64 MiB. PDF parsing holds the whole object graph in
/// memory, several times the file's size, so the cap bounds what one upload can cost; text is
/// capped the same way so every kind behaves alike.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// The text of `bytes` read as `kind`. Never panics: a parser failure on malformed or hostile
/// input is [`DocumentError::Corrupt`].
pub fn extract(kind: DocumentKind, bytes: &[u8]) -> Result<Extracted, DocumentError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge {
            size: bytes.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    match kind {
        DocumentKind::Pdf => pdf(bytes),
        DocumentKind::Html => Ok(Extracted {
            text: html::to_text(&decode(bytes)),
            pages: None,
        }),
        DocumentKind::Text
        | DocumentKind::Markdown
        | DocumentKind::Json
        | DocumentKind::Csv
        | DocumentKind::Code => Ok(Extracted {
            text: decode(bytes),
            pages: None,
        }),
    }
}

/// UTF-8 with invalid sequences replaced (as Letta reads text uploads), without a leading
/// byte-order mark, with Windows and old Mac line ends made `\n`.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.into_owned()
    }
}

fn pdf(bytes: &[u8]) -> Result<Extracted, DocumentError> {
    // pdf-extract and the font parsers under it index and unwrap freely on malformed input;
    // a panic there must become an error for this one upload, not take the worker down.
    let pages = catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem_by_pages(bytes)
    }))
    .map_err(|_| DocumentError::Corrupt("the PDF parser failed on this file".into()))?
    .map_err(|e| DocumentError::Corrupt(format!("not a readable PDF: {e}")))?;
    if pages.is_empty() {
        return Err(DocumentError::Corrupt(
            "the PDF has no readable pages".into(),
        ));
    }
    let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    Ok(Extracted {
        text: normalise_pdf_text(&pages.join("\n\n")),
        pages: Some(count),
    })
}

/// Cleans the raw text of a PDF: compatibility characters folded (NFKC turns the `ﬁ`
/// ligature into `fi` so the word is searchable), words hyphenated at a line end joined, line
/// ends trimmed, and runs of blank lines collapsed to one.
pub(crate) fn normalise_pdf_text(raw: &str) -> String {
    let folded: String = raw.replace("\r\n", "\n").nfkc().collect();
    let joined = join_hyphenated(&folded);
    collapse_blank_lines(&joined)
}

/// `revolu-\ntionized` becomes `revolutionized` when the letters on both sides are lowercase;
/// anything else (`LLM-\nBased`, `1-\n2`) keeps its hyphen and break, since it may be a real
/// compound or a range.
fn join_hyphenated(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '-' && i > 0 && chars[i - 1].is_lowercase() && chars.get(i + 1) == Some(&'\n') {
            // The next line may start with layout spaces (` tory`).
            let mut next = i + 2;
            while chars.get(next).is_some_and(|n| *n == ' ' || *n == '\t') {
                next += 1;
            }
            if chars.get(next).is_some_and(|n| n.is_lowercase()) {
                i = next;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Trailing spaces off every line, at most one blank line in a row, none at either end.
pub(crate) fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = false;
    for line in text.split('\n') {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run = !out.is_empty();
            continue;
        }
        if blank_run {
            out.push_str("\n\n");
        } else if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
        blank_run = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(kind: DocumentKind, bytes: &[u8]) -> String {
        match extract(kind, bytes) {
            Ok(e) => e.text,
            Err(e) => panic!("extract failed: {e}"),
        }
    }

    #[test]
    fn text_kinds_are_utf8_without_bom_and_with_unix_line_ends() {
        let bytes = b"\xEF\xBB\xBFname,age\r\nAda,36\r\nbad \xFF byte\rend";
        for kind in [
            DocumentKind::Text,
            DocumentKind::Markdown,
            DocumentKind::Json,
            DocumentKind::Csv,
            DocumentKind::Code,
        ] {
            assert_eq!(
                text_of(kind, bytes),
                "name,age\nAda,36\nbad \u{FFFD} byte\nend"
            );
        }
    }

    #[test]
    fn code_keeps_its_indentation_and_blank_lines() {
        let src = "fn main() {\n\n    println!(\"hi\");\n}\n";
        assert_eq!(text_of(DocumentKind::Code, src.as_bytes()), src);
    }

    #[test]
    fn pdf_text_is_folded_dehyphenated_and_collapsed() {
        let raw = "Large language models have revolution-\nized AI, his-\n tory.\n\n\n\nThe \u{FB01}rst LLM-\nBased step,\n1-\n2  \n";
        assert_eq!(
            normalise_pdf_text(raw),
            "Large language models have revolutionized AI, history.\n\nThe first LLM-\nBased step,\n1-\n2"
        );
    }

    #[test]
    fn random_bytes_named_pdf_are_corrupt_not_a_panic() {
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(matches!(
            extract(DocumentKind::Pdf, &junk),
            Err(DocumentError::Corrupt(_))
        ));
        assert!(matches!(
            extract(DocumentKind::Pdf, b"%PDF-1.5\n%garbage"),
            Err(DocumentError::Corrupt(_))
        ));
    }

    #[test]
    fn inputs_over_the_cap_are_refused() {
        let big = vec![b'a'; MAX_DOCUMENT_BYTES + 1];
        assert_eq!(
            extract(DocumentKind::Text, &big),
            Err(DocumentError::TooLarge {
                size: MAX_DOCUMENT_BYTES + 1,
                limit: MAX_DOCUMENT_BYTES
            })
        );
    }
}
