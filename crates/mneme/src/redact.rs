//! Secrets never reach the log: every line is written through a redactor that masks the
//! configured secrets (provider keys, the secret key, the server password, database
//! passwords) and what looks like a key whatever its origin: `sk-…`, `sk-ant-…`, `AIza…`,
//! `Bearer <token>`, `"api_key": "…"` (and `password`, `secret`, `token`, `authorization`),
//! a URL's `user:password@`. One scan per line, no regex engine.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;

/// What a secret is replaced with.
const MASK: &str = "***";

/// Shorter configured values are not masked: they would mask ordinary words (a test's `x`).
const MIN_SECRET: usize = 4;

/// Key names whose values are masked (`api_key=…`, `"password": "…"`), matched without case.
const KEY_NAMES: [&str; 9] = [
    "api_key",
    "secret_key",
    "api-key",
    "apikey",
    "password",
    "secret",
    "token",
    "authorization",
    "x-api-key",
];

/// Masks secrets in text; cheap to clone.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor {
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    /// A redactor of `secrets` (and of every well-known shape); short or empty ones are ignored.
    pub(crate) fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET)
            .collect();
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor {
            secrets: Arc::new(secrets),
        }
    }

    /// `text` with every secret masked.
    pub(crate) fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for secret in self.secrets.iter() {
            if text.contains(secret.as_str()) {
                text = Cow::Owned(text.replace(secret.as_str(), MASK));
            }
        }
        match mask_shapes(&text) {
            Some(masked) => Cow::Owned(masked),
            None => text,
        }
    }
}

/// `text` with each key-shaped run masked; `None` when there is none.
fn mask_shapes(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        let Some((start, end)) = secret_at(bytes, i) else {
            i += 1;
            continue;
        };
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        // Matches start and end at ASCII bytes, so these are char boundaries.
        out.push_str(&text[copied..start]);
        out.push_str(MASK);
        copied = end;
        i = end.max(i + 1);
    }
    out.map(|mut out| {
        out.push_str(&text[copied..]);
        out
    })
}

/// The range to mask when a secret's shape starts at `i`.
fn secret_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    prefixed_key(b, i)
        .or_else(|| bearer(b, i))
        .or_else(|| url_password(b, i))
        .or_else(|| keyed_value(b, i))
}

/// Characters of a key or token (base64url, base64, and the dots of JWTs).
fn token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

/// The end of the token starting at `i`.
fn token_end(b: &[u8], i: usize) -> usize {
    i + b[i..].iter().take_while(|c| token_byte(**c)).count()
}

/// Whether `i` starts a word (no letter or digit just before it).
fn word_start(b: &[u8], i: usize) -> bool {
    i == 0 || !b[i - 1].is_ascii_alphanumeric()
}

/// `sk-…` (OpenAI, Anthropic's `sk-ant-…`) and `AIza…` (Google) keys: the prefix and at least
/// 8 (`sk-`) or 20 (`AIza`) token characters.
fn prefixed_key(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !word_start(b, i) {
        return None;
    }
    let rest = &b[i..];
    let min = if rest.starts_with(b"sk-") {
        3 + 8
    } else if rest.starts_with(b"AIza") {
        4 + 20
    } else {
        return None;
    };
    let end = token_end(b, i);
    (end - i >= min).then_some((i, end))
}

/// `Bearer <token>` (any case): the token.
fn bearer(b: &[u8], i: usize) -> Option<(usize, usize)> {
    const WORD: &[u8] = b"bearer ";
    let word = b.get(i..i + WORD.len())?;
    if !word_start(b, i) || !word.eq_ignore_ascii_case(WORD) {
        return None;
    }
    let start = i
        + WORD.len()
        + b[i + WORD.len()..]
            .iter()
            .take_while(|c| **c == b' ')
            .count();
    let end = token_end(b, start);
    (end > start).then_some((start, end))
}

/// `scheme://user:password@host`: the password.
fn url_password(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if !b[i..].starts_with(b"://") {
        return None;
    }
    let start = i + 3;
    let authority = b[start..]
        .iter()
        .take_while(|c| !matches!(c, b'/' | b'"' | b'\\' | b'\'' | b' ' | b'?' | b'#'))
        .count();
    let userinfo = &b[start..start + authority];
    let at = userinfo.iter().rposition(|c| *c == b'@')?;
    let colon = userinfo[..at].iter().position(|c| *c == b':')?;
    Some((start + colon + 1, start + at))
}

/// `api_key=…`, `"password": "…"`, `authorization: Basic …` (escaped quotes too, as a JSON
/// line holds them): the value, to its closing quote or the end of its token.
fn keyed_value(b: &[u8], i: usize) -> Option<(usize, usize)> {
    // A module path's last segment (`mneme::secret: generated …`) is a log target, not a key.
    if i >= 2 && &b[i - 2..i] == b"::" {
        return None;
    }
    KEY_NAMES.iter().find_map(|name| {
        let word = b.get(i..i + name.len())?;
        if !word.eq_ignore_ascii_case(name.as_bytes()) {
            return None;
        }
        value_after(b, i + name.len(), *name == "authorization")
    })
}

/// The value after a key name ending at `i`: past quotes, `:` or `=` and spaces.
fn value_after(b: &[u8], i: usize, with_scheme: bool) -> Option<(usize, usize)> {
    const QUOTES: &[u8] = b"\"\\'";
    let mut j = skip(b, i, b"\"\\' ");
    if !matches!(b.get(j), Some(b':' | b'=')) {
        return None;
    }
    j = skip(b, j + 1, b" ");
    let quoted = skip(b, j, QUOTES) > j;
    j = skip(b, j, QUOTES);
    let end = if quoted {
        j + b[j..].iter().take_while(|c| !QUOTES.contains(c)).count()
    } else {
        let word = token_end(b, j);
        // `authorization: Basic abc`: the scheme's credentials too.
        if with_scheme && b.get(word) == Some(&b' ') {
            token_end(b, word + 1)
        } else {
            word
        }
    };
    (end > j).then_some((j, end))
}

fn skip(b: &[u8], mut i: usize, set: &[u8]) -> usize {
    while b.get(i).is_some_and(|c| set.contains(c)) {
        i += 1;
    }
    i
}

/// Writes log lines to standard error through the redactor.
#[derive(Clone)]
pub(crate) struct RedactingStderr(pub(crate) Redactor);

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            redactor: self.0.clone(),
            buffer: Vec::new(),
        }
    }
}

/// One event's text, redacted and written when dropped (the formatter writes each event to a
/// writer of its own), in one write so that concurrent lines do not interleave.
pub(crate) struct LineWriter {
    redactor: Redactor,
    buffer: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let clean = self.redactor.redact(&text);
        // Nowhere to report a failure to write the log.
        let _ = std::io::stderr().lock().write_all(clean.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::new(["configured-secret-1".to_owned(), "x".to_owned()])
            .redact(text)
            .into_owned()
    }

    #[test]
    fn configured_secrets_are_masked_and_short_ones_ignored() {
        assert_eq!(redact("key configured-secret-1 used"), "key *** used");
        assert_eq!(
            redact("INFO mneme::secret: generated the key"),
            "INFO mneme::secret: generated the key",
            "a log target is not a key"
        );
        assert_eq!(redact("x marks"), "x marks");
    }

    #[test]
    fn provider_key_shapes_are_masked() {
        assert_eq!(
            redact("openai sk-proj-AbCdEf0123456789 ok"),
            "openai *** ok"
        );
        assert_eq!(redact("k=sk-ant-api03-abcdefgh_ij"), "k=***");
        assert_eq!(
            redact("google AIzaSyA1234567890abcdefghijklmnop end"),
            "google *** end"
        );
        // Words that merely contain the prefixes stay.
        assert_eq!(
            redact("task-12345678901 disk-abc"),
            "task-12345678901 disk-abc"
        );
        assert_eq!(redact("sk-short"), "sk-short");
    }

    #[test]
    fn bearer_tokens_and_authorization_values_are_masked() {
        assert_eq!(redact("Bearer abc.def-ghi"), "Bearer ***");
        assert_eq!(
            redact(r#"{"authorization": "Bearer tok123"}"#),
            r#"{"authorization": "***"}"#
        );
        assert_eq!(
            redact("authorization: Basic dXNlcjpwYXNz next"),
            "authorization: *** next"
        );
        assert_eq!(redact("bearer  lower-case"), "bearer  ***");
    }

    #[test]
    fn keyed_values_are_masked_in_plain_and_json_escaped_text() {
        assert_eq!(
            redact(r#"{"api_key": "abc123", "model": "gpt"}"#),
            r#"{"api_key": "***", "model": "gpt"}"#
        );
        assert_eq!(
            redact(r#"{"message":"body {\"api_key\":\"abc123\"}"}"#),
            r#"{"message":"body {\"api_key\":\"***\"}"}"#
        );
        assert_eq!(
            redact("OPENAI_API_KEY=abc123 next"),
            "OPENAI_API_KEY=*** next"
        );
        assert_eq!(redact("password: hunter22"), "password: ***");
        // Names that only begin like a key name are not keys.
        assert_eq!(
            redact("prompt_tokens=12 token_count: 3"),
            "prompt_tokens=12 token_count: 3"
        );
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            redact("postgres://mneme:s3cret@db:5432/mneme"),
            "postgres://mneme:***@db:5432/mneme"
        );
        assert_eq!(
            redact(r#"url="postgresql+asyncpg://u:p%40ss@h/db""#),
            r#"url="postgresql+asyncpg://u:***@h/db""#
        );
        assert_eq!(
            redact("http://127.0.0.1:8283/v1 and postgres://u@h/db"),
            "http://127.0.0.1:8283/v1 and postgres://u@h/db"
        );
    }

    #[test]
    fn text_without_secrets_is_borrowed_and_multibyte_text_survives() {
        let r = Redactor::new(Vec::new());
        assert!(matches!(r.redact("nothing here: é ü"), Cow::Borrowed(_)));
        assert_eq!(r.redact("é sk-0123456789ab ü"), "é *** ü");
    }
}
