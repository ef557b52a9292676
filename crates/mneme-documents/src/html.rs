//! HTML to the text a reader sees. A single forward pass, not a DOM: uploads need the words in
//! reading order with sensible line breaks, and a standards-complete parser (html5ever) would
//! be the heaviest dependency of the crate for no gain in the passages.

use crate::extract::collapse_blank_lines;

/// Elements whose content is never shown as text.
const HIDDEN: &[&str] = &["script", "style", "noscript", "template", "svg", "iframe"];

/// Elements that start and end a paragraph of their own.
const PARAGRAPHS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "dl",
    "figure",
    "hr",
    "title",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "aside",
    "nav",
];

/// Elements that sit on lines of their own.
const LINES: &[&str] = &[
    "br",
    "div",
    "li",
    "tr",
    "dt",
    "dd",
    "caption",
    "figcaption",
    "form",
    "address",
    "details",
    "summary",
    "thead",
    "tbody",
    "tfoot",
    "option",
    "body",
    "html",
    "head",
];

/// The readable text of `html`: hidden elements, comments and tags dropped, block elements
/// turned into line breaks, entities decoded, whitespace collapsed outside `<pre>`.
pub(crate) fn to_text(html: &str) -> String {
    let mut out = Text::default();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_text(&rest[..lt]);
        rest = out.markup(&rest[lt..]);
    }
    out.push_text(rest);
    collapse_blank_lines(&out.buf)
}

#[derive(Default)]
struct Text {
    buf: String,
    /// Open `<pre>` elements: whitespace inside them is kept.
    pre: usize,
}

impl Text {
    fn push_text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        if self.pre > 0 {
            self.buf.push_str(&decoded);
            return;
        }
        for c in decoded.chars() {
            if c.is_whitespace() {
                if !self.buf.is_empty() && !self.buf.ends_with(char::is_whitespace) {
                    self.buf.push(' ');
                }
            } else {
                self.buf.push(c);
            }
        }
    }

    /// Ends the current line so that `count` line breaks separate it from what follows;
    /// breaks already there count, so `</li><li>` is one break, not two.
    fn newline(&mut self, count: usize) {
        let kept = self.buf.trim_end_matches([' ', '\t']).len();
        self.buf.truncate(kept);
        if self.buf.is_empty() {
            return;
        }
        let have = self.buf.len() - self.buf.trim_end_matches('\n').len();
        for _ in have..count {
            self.buf.push('\n');
        }
    }

    /// Consumes the markup at the start of `s` (which begins with `<`) and returns what
    /// follows it.
    fn markup<'a>(&mut self, s: &'a str) -> &'a str {
        if let Some(body) = s.strip_prefix("<!--") {
            return body.find("-->").map_or("", |end| &body[end + 3..]);
        }
        let tag = match Tag::parse(s) {
            Parsed::Tag(tag) => tag,
            Parsed::Text => {
                // A `<` that opens no tag (`a < b`) is text.
                self.push_text("<");
                return &s[1..];
            }
            Parsed::Unterminated => {
                // No `>` closes it, so none closes any later tag either: the rest is text
                // (and rescanning it from every later `<` would be quadratic).
                self.push_text(s);
                return "";
            }
        };
        let after = &s[tag.len..];
        if !tag.closing && HIDDEN.contains(&tag.name.as_str()) {
            return skip_element(after, &tag.name);
        }
        self.apply(&tag);
        after
    }

    fn apply(&mut self, tag: &Tag) {
        let name = tag.name.as_str();
        if name == "pre" {
            self.pre = if tag.closing {
                self.pre.saturating_sub(1)
            } else {
                self.pre + 1
            };
        }
        if PARAGRAPHS.contains(&name) {
            self.newline(2);
        } else if LINES.contains(&name) {
            self.newline(1);
        } else if name == "td" || name == "th" {
            self.push_text(" ");
        }
        if name == "li" && !tag.closing {
            self.buf.push_str("- ");
        }
    }
}

enum Parsed {
    Tag(Tag),
    /// Not markup: a lone `<`.
    Text,
    /// A tag that never ends.
    Unterminated,
}

/// A start or end tag, or a declaration (`<!DOCTYPE …>`, `<?xml …?>`, with an empty name).
struct Tag {
    name: String,
    closing: bool,
    /// Bytes from `<` through `>`.
    len: usize,
}

impl Tag {
    fn parse(s: &str) -> Parsed {
        let inner = &s[1..];
        let declaration = inner.starts_with('!') || inner.starts_with('?');
        let closing = inner.starts_with('/');
        let name_start = usize::from(closing || declaration);
        let name: String = inner[name_start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let starts_with_letter = name.starts_with(|c: char| c.is_ascii_alphabetic());
        if !declaration && !starts_with_letter {
            return Parsed::Text;
        }
        let Some(end) = tag_end(inner) else {
            return Parsed::Unterminated;
        };
        Parsed::Tag(Tag {
            name: if declaration { String::new() } else { name },
            closing,
            len: 1 + end,
        })
    }
}

/// Offset just past the `>` that ends the tag starting `inner`, skipping quoted attribute
/// values (which may contain `>`).
fn tag_end(inner: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in inner.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// What follows the end tag of a hidden element whose content starts `s`; the rest of the
/// document when it is never closed. Scans only to that end tag (no lowercased copy of the
/// rest), so a page of many scripts stays linear.
fn skip_element<'a>(s: &'a str, name: &str) -> &'a str {
    let mut from = 0;
    while let Some(at) = s[from..].find("</") {
        let tag = &s[from + at..];
        let matches = tag
            .get(2..2 + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name));
        if matches {
            return tag.find('>').map_or("", |end| &tag[end + 1..]);
        }
        from += at + 2;
    }
    ""
}

/// `&amp;`, `&#233;` and `&#xE9;` and the common named entities decoded; anything else is
/// left as written.
fn decode_entities(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let candidate = &rest[amp + 1..];
        let decoded = candidate
            .find(';')
            .filter(|&semi| semi <= 10)
            .and_then(|semi| entity(&candidate[..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &candidate[semi + 1..];
            }
            None => {
                out.push('&');
                rest = candidate;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "middot" => '·',
        "bull" => '•',
        "deg" => '°',
        "times" => '×',
        "euro" => '€',
        "pound" => '£',
        "sect" => '§',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "ccedil" => 'ç',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "szlig" => 'ß',
        _ => return None,
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_becomes_its_readable_text() {
        let html = r#"<!DOCTYPE html>
<html><head><title>Memory &amp; Agents</title>
<style>body { color: red; }</style>
<script type="text/javascript">if (a < b && c > d) { alert("<p>no</p>"); }</script>
</head>
<body>
  <!-- a comment with <b>tags</b> -->
  <h1>Virtual   context</h1>
  <p>MemGPT pages data<br>between tiers &mdash; like an <a href="/os?a=1&amp;b=2" title="x > y">OS</a>.</p>
  <ul><li>main context</li><li>external&#160;context &#x2014; &#233;t&eacute;&bogus;</li></ul>
  <pre>fn main() {
    paged();
}</pre>
  <p>3 &lt; 4 and a < b</p>
</body></html>"#;
        let text = to_text(html);
        assert_eq!(
            text,
            "Memory & Agents\n\nVirtual context\n\nMemGPT pages data\nbetween tiers — like an OS.\n\n\
             - main context\n- external context — été&bogus;\n\nfn main() {\n    paged();\n}\n\n\
             3 < 4 and a < b"
        );
    }

    #[test]
    fn unclosed_markup_does_not_lose_or_loop() {
        assert_eq!(to_text("before <script>never closed"), "before");
        assert_eq!(to_text("text <b unterminated"), "text <b unterminated");
        assert_eq!(to_text("x <a \"open quote <b>y"), "x <a \"open quote <b>y");
        assert_eq!(to_text("a <!-- open comment"), "a");
        assert_eq!(to_text("&unknown; & &#xZZ;"), "&unknown; & &#xZZ;");
    }
}
