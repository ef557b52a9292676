//! The chat's slash commands, read from a typed line.

use std::path::PathBuf;

/// A line that starts with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Help,
    Memory,
    Context,
    Reset,
    Agents,
    /// `/agent NAME|ID`.
    Agent(String),
    /// `/export [FILE]`.
    Export(Option<PathBuf>),
    Quit,
    /// A command that needs an argument it did not get, or one that does not exist: what to
    /// tell the user.
    Invalid(String),
}

/// The command on `line`, or `None` when the line is a message (it does not start with `/`,
/// or starts with `//`, which sends the rest with one `/` as it is).
pub(crate) fn parse(line: &str) -> Option<Command> {
    let rest = line.trim().strip_prefix('/')?;
    if rest.starts_with('/') {
        return None;
    }
    let (name, arg) = match rest.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, arg.trim()),
        None => (rest, ""),
    };
    Some(match (name, arg) {
        ("help" | "h" | "?", _) => Command::Help,
        ("memory" | "mem", _) => Command::Memory,
        ("context" | "ctx", _) => Command::Context,
        ("reset", _) => Command::Reset,
        ("agents", _) => Command::Agents,
        ("agent", "") => Command::Invalid("say which agent: /agent NAME or /agent ID".into()),
        ("agent", who) => Command::Agent(who.to_owned()),
        ("export", "") => Command::Export(None),
        ("export", file) => Command::Export(Some(PathBuf::from(file))),
        ("quit" | "exit" | "q", _) => Command::Quit,
        (other, _) => Command::Invalid(format!("unknown command /{other}; /help lists them")),
    })
}

/// The text to send for a line that is not a command: `//x` sends `/x`.
pub(crate) fn message_text(line: &str) -> &str {
    let t = line.trim();
    match t.starts_with("//") {
        true => &t[1..],
        false => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_messages() {
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("/memory"), Some(Command::Memory));
        assert_eq!(
            parse("  /agent  my agent "),
            Some(Command::Agent("my agent".into()))
        );
        assert!(matches!(parse("/agent"), Some(Command::Invalid(_))));
        assert_eq!(parse("/export"), Some(Command::Export(None)));
        assert_eq!(
            parse("/export out/a.af"),
            Some(Command::Export(Some(PathBuf::from("out/a.af"))))
        );
        assert_eq!(parse("/exit"), Some(Command::Quit));
        assert_eq!(
            parse("/nope"),
            Some(Command::Invalid(
                "unknown command /nope; /help lists them".into()
            ))
        );
        assert_eq!(parse("//etc/hosts is a file"), None);
        assert_eq!(message_text("//etc/hosts"), "/etc/hosts");
        assert_eq!(message_text(" hi "), "hi");
    }
}
