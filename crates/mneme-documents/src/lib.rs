//! Documents as agents read them: the text of an uploaded file (`extract`), the passages it is
//! embedded and searched as (`chunk`), and the numbered lines the file tools and file blocks
//! show (`lines`, `view`). Pure functions over bytes and strings: callers do the IO, run
//! `extract` off the async runtime (a PDF takes tens of milliseconds per page) and store what
//! comes out.

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
}

/// The text of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    /// PDF pages; `None` for other kinds.
    pub pages: Option<u32>,
}

/// The text of `bytes` read as `kind`.
pub fn extract(kind: DocumentKind, bytes: &[u8]) -> Result<Extracted, DocumentError> {
    match kind {
        DocumentKind::Pdf => Err(DocumentError::Unsupported("pdf".into())),
        _ => Ok(Extracted {
            text: String::from_utf8_lossy(bytes).into_owned(),
            pages: None,
        }),
    }
}

/// How documents are cut into passages for embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// A passage's target size, in characters.
    pub size: usize,
    /// Characters the next passage repeats from the end of the one before.
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

/// The passages of `text`, in order: none empty, each at most `opts.size` characters.
pub fn chunk(_kind: DocumentKind, text: &str, opts: &ChunkOptions) -> Vec<Chunk> {
    let chars: Vec<char> = text.chars().collect();
    let step = opts.size.saturating_sub(opts.overlap).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let end = (start + opts.size).min(chars.len());
        let piece: String = chars[start..end].iter().collect();
        if !piece.trim().is_empty() {
            out.push(Chunk { text: piece });
        }
        if end == chars.len() {
            break;
        }
        start += step;
    }
    out
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

    #[test]
    fn chunks_cover_the_text_with_overlap() {
        let text = "a".repeat(2500);
        let opts = ChunkOptions::default();
        let chunks = chunk(DocumentKind::Text, &text, &opts);
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.text.chars().count() <= opts.size));
    }
}
