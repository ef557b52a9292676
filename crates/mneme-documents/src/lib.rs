//! Documents as agents read them: the text of an uploaded file (`extract`), the passages it is
//! embedded and searched as (`chunk`), and the numbered lines the file tools and file blocks
//! show (`lines`, `view`). Pure functions over bytes and strings: callers do the IO, run
//! `extract` off the async runtime (a PDF takes a few milliseconds per page) and store what
//! comes out.
//!
//! - **Extraction.** Text-like kinds (plain text, Markdown, CSV, JSON, code) are decoded as
//!   UTF-8, invalid sequences replaced, a byte-order mark dropped and `\r\n` turned into `\n`.
//!   HTML is reduced to its readable text by a small hand-written pass (no DOM crate: uploads
//!   only need the words, and a tree builder would be the largest dependency here). PDFs go
//!   through `pdf-extract`, then a normaliser: NFKC (ligatures such as `ﬁ` become `fi`), a word
//!   hyphenated across a line break is joined when both sides are lowercase letters, and runs of
//!   blank lines collapse to one. Inputs above [`MAX_DOCUMENT_BYTES`] are refused, and a parser
//!   that panics on hostile input is caught: the result is [`DocumentError::Corrupt`], never a
//!   panic in the caller.
//! - **Passages.** [`chunk`] cuts text into passages of at most [`ChunkOptions::size`]
//!   characters, preferring paragraph breaks, then sentence ends, then any space, with
//!   consecutive passages repeating about [`ChunkOptions::overlap`] characters. The defaults,
//!   1200 and 200 characters, stand for Letta's 300 tokens with 50 of overlap at about four
//!   characters a token.
//! - **Lines.** [`lines`] splits text the way Letta's line chunker does for the file tools
//!   (Markdown into sentences, code keeping its indentation, everything else into stripped
//!   lines; empty ones dropped), and [`view`] numbers a window of them under Letta's
//!   `[Viewing …]` header.

mod chunk;
mod extract;
mod html;
mod lines;

pub use chunk::chunk;
pub use extract::{MAX_DOCUMENT_BYTES, extract};
pub use lines::{LineUnit, ViewError, lines, view};

/// What a file is, by its name (and MIME type when the upload gave one): it decides how the
/// text is extracted and how it is cut into lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Text,
    Markdown,
    Json,
    Csv,
    Html,
    Pdf,
    /// Source code: lines keep their indentation.
    Code,
}

impl DocumentKind {
    /// The kind of `file_name`, `None` for a file this server cannot read (a clear `error`
    /// status, not a guess).
    pub fn detect(file_name: &str, mime: Option<&str>) -> Option<DocumentKind> {
        let ext = file_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let by_ext = match ext.as_str() {
            "txt" | "text" | "log" | "rst" => Some(DocumentKind::Text),
            "md" | "markdown" | "mdx" => Some(DocumentKind::Markdown),
            "json" | "jsonl" => Some(DocumentKind::Json),
            "csv" | "tsv" => Some(DocumentKind::Csv),
            "html" | "htm" => Some(DocumentKind::Html),
            "pdf" => Some(DocumentKind::Pdf),
            "py" | "rs" | "js" | "ts" | "tsx" | "jsx" | "go" | "java" | "c" | "h" | "cpp"
            | "hpp" | "rb" | "sh" | "sql" | "yaml" | "yml" | "toml" | "xml" => {
                Some(DocumentKind::Code)
            }
            _ => None,
        };
        by_ext.or_else(|| match mime? {
            m if m.starts_with("text/") => Some(DocumentKind::Text),
            "application/json" => Some(DocumentKind::Json),
            "application/pdf" => Some(DocumentKind::Pdf),
            _ => None,
        })
    }
}

/// Why a file's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("unsupported file type: {0}")]
    Unsupported(String),
    #[error("the file could not be read: {0}")]
    Corrupt(String),
    #[error("the file is {size} bytes, more than the {limit} bytes this server reads")]
    TooLarge { size: usize, limit: usize },
}

/// The text of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    /// PDF pages; `None` for other kinds.
    pub pages: Option<u32>,
}

/// How documents are cut into passages for embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// A passage's largest size, in characters (at least 1 is used).
    pub size: usize,
    /// Characters the next passage repeats from the end of the one before (at most half of
    /// `size` is used, so every passage moves on).
    pub overlap: usize,
}

impl Default for ChunkOptions {
    fn default() -> ChunkOptions {
        // Letta's 300 tokens with 50 of overlap, at about four characters a token.
        ChunkOptions {
            size: 1200,
            overlap: 200,
        }
    }
}

/// One passage of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_name_then_the_mime_type() {
        assert_eq!(DocumentKind::detect("a.PDF", None), Some(DocumentKind::Pdf));
        assert_eq!(
            DocumentKind::detect("notes", Some("text/plain")),
            Some(DocumentKind::Text)
        );
        assert_eq!(DocumentKind::detect("x.bin", None), None);
    }
}
