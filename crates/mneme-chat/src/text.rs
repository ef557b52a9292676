//! How the chat's text looks: ANSI styles (or none), and values shortened to fit one line.

use serde_json::Value;

/// ANSI styling, or plain text when colours are off (`NO_COLOR`, `--no-color`, or an output
/// that is not a terminal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    pub(crate) color: bool,
}

impl Style {
    pub(crate) fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }

    pub(crate) fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }

    pub(crate) fn red(self, s: &str) -> String {
        self.paint("31", s)
    }

    pub(crate) fn green(self, s: &str) -> String {
        self.paint("32", s)
    }

    pub(crate) fn yellow(self, s: &str) -> String {
        self.paint("33", s)
    }

    pub(crate) fn cyan(self, s: &str) -> String {
        self.paint("36", s)
    }

    fn paint(self, code: &str, s: &str) -> String {
        match self.color && !s.is_empty() {
            true => format!("\x1b[{code}m{s}\x1b[0m"),
            false => s.to_owned(),
        }
    }
}

/// At most `max` characters of `s`, the last one `…` when some were cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The first line of `s`, shortened to `max` characters; `…` when anything was left out.
pub(crate) fn first_line(s: &str, max: usize) -> String {
    let trimmed = s.trim();
    let line = trimmed.lines().next().unwrap_or("");
    let more = line.len() < trimmed.len();
    let short = truncate(line, max);
    match more && !short.ends_with('…') {
        true => format!("{short}…"),
        false => short,
    }
}

/// A tool call's arguments as `key="value", n=3`, each value and the whole shortened; Letta's
/// `request_heartbeat` flag is left out (it says nothing about what the tool does).
pub(crate) fn call_arguments(arguments: &str) -> String {
    let text = match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(map)) => map
            .iter()
            .filter(|(k, _)| k.as_str() != "request_heartbeat")
            .map(|(k, v)| format!("{k}={}", short_value(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Ok(other) => short_value(&other),
        Err(_) => one_line(arguments),
    };
    truncate(&text, 100)
}

fn short_value(v: &Value) -> String {
    let text = match v {
        Value::String(s) => truncate(&one_line(s), 40),
        other => truncate(&other.to_string(), 40),
    };
    match v {
        Value::String(_) => format!("\"{text}\""),
        _ => text,
    }
}

/// Line breaks as spaces, runs of blanks as one.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 step`, `3 steps`.
pub(crate) fn plural(n: u64, word: &str) -> String {
    match n {
        1 => format!("1 {word}"),
        _ => format!("{} {word}s", thousands(n)),
    }
}

/// A bar of `width` cells, `part / whole` of it filled.
pub(crate) fn bar(part: u64, whole: u64, width: usize) -> String {
    let filled = match whole {
        0 => 0,
        _ => {
            let cells = (part as f64 / whole as f64 * width as f64).round() as usize;
            // A part that is there at all gets a cell, so it does not look absent.
            cells.clamp(usize::from(part > 0), width)
        }
    };
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_are_plain_without_colour() {
        let plain = Style { color: false };
        assert_eq!(plain.dim("x"), "x");
        let ansi = Style { color: true };
        assert_eq!(ansi.dim("x"), "\x1b[2mx\x1b[0m");
        assert_eq!(ansi.red(""), "");
    }

    #[test]
    fn truncation_and_first_lines() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(first_line("one\ntwo", 20), "one…");
        assert_eq!(first_line("  single  ", 20), "single");
        assert_eq!(first_line("abcdefgh\nx", 4), "abc…");
    }

    #[test]
    fn arguments_are_abbreviated() {
        let args =
            r#"{"label":"human","content":"likes\ngreen tea","request_heartbeat":true,"n":3}"#;
        assert_eq!(
            call_arguments(args),
            r#"label="human", content="likes green tea", n=3"#
        );
        let long = format!(r#"{{"query":"{}"}}"#, "x".repeat(80));
        assert_eq!(
            call_arguments(&long),
            format!(r#"query="{}…""#, "x".repeat(39))
        );
        assert_eq!(call_arguments("{\"partial"), "{\"partial");
    }

    #[test]
    fn numbers_and_bars() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(plural(1, "step"), "1 step");
        assert_eq!(plural(2, "step"), "2 steps");
        assert_eq!(bar(1, 2, 4), "██░░");
        assert_eq!(bar(1, 1000, 4), "█░░░");
        assert_eq!(bar(0, 0, 2), "░░");
    }
}
