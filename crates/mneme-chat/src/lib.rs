//! The terminal chat (`mneme chat`): a client of the public Letta API.
//!
//! It talks to a server only through the Letta REST routes under `/v1` (agents, core-memory
//! blocks, the context overview, the message stream, cancel, reset and export), so it works
//! against any Letta-compatible server, mneme or Letta itself. It knows nothing of mneme's
//! storage or service crates.
//!
//! `run` picks the agent (`pick`), then `session` reads lines (rustyline) and either runs a
//! slash command (`commands`, printed by `views`) or sends a message and shows the reply as
//! its SSE stream arrives (`sse` cuts and decodes frames, `render` prints them).

mod api;
mod commands;
mod pick;
mod render;
mod session;
mod sse;
mod text;
mod views;

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::api::Api;
use crate::session::{Conn, Session};
use crate::text::Style;

/// Letta's port, where a server listens unless told otherwise.
const DEFAULT_BASE_URL: &str = "http://localhost:8283";

/// `mneme chat`'s arguments.
#[derive(clap::Args)]
pub struct ChatArgs {
    /// The agent: its id (`agent-...`) or its exact name. Without it: the server's only agent,
    /// or a choice among them.
    agent: Option<String>,
    /// The server's address [default: http://localhost:8283; also read from LETTA_BASE_URL].
    #[arg(long, env = "MNEME_BASE_URL")]
    base_url: Option<String>,
    /// Letta's variable for the server's address, read when `--base-url` is not given.
    #[arg(long = "letta-base-url", env = "LETTA_BASE_URL", hide = true)]
    letta_base_url: Option<String>,
    /// The API key, sent as `Authorization: Bearer KEY`.
    #[arg(long, env = "LETTA_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Show each reply message whole when its step is done, not token by token.
    #[arg(long)]
    no_stream_tokens: bool,
    /// Create an agent with this model (a handle such as `openai/gpt-4o-mini`), named AGENT or
    /// "chat", with human and persona blocks, and chat with it.
    #[arg(long, value_name = "MODEL")]
    create: Option<String>,
    /// No colours (also off when NO_COLOR is set or the output is not a terminal).
    // NO_COLOR is set to anything (`1`, `true`), so any value but a false one turns colours off.
    #[arg(long, env = "NO_COLOR", value_parser = clap::builder::FalseyValueParser::new())]
    no_color: bool,
    /// Where the line history is kept (`chat_history` in it) [default: ~/.mneme].
    #[arg(long, env = "MNEME_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

/// What can stop a command or the chat. Inside the chat every one is printed and the prompt
/// comes back; only a failure to pick an agent, or of the terminal, ends it.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("the server answered {status}: {detail}")]
    Api { status: u16, detail: String },
    #[error("cannot reach the server at {url} ({why}); is it running? `mneme server` starts one")]
    Unreachable { url: String, why: String },
    #[error("talking to the server: {0}")]
    Http(String),
    #[error("the server's answer is not what a Letta server sends: {0}")]
    Decode(String),
    #[error("no agent '{who}' on {url} (neither an agent's id nor its exact name)")]
    NoSuchAgent { who: String, url: String },
    #[error(
        "no agents on {url} yet: create one in the web UI at {url}/ or start the chat with `mneme chat --create MODEL` (a model handle, e.g. openai/gpt-4o-mini)"
    )]
    NoAgents { url: String },
    #[error("interrupted")]
    Interrupted,
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
    #[error("line editor: {0}")]
    Editor(#[from] rustyline::error::ReadlineError),
}

/// Runs the chat until the user leaves: Ctrl-D or `/quit`.
pub fn run(args: ChatArgs) -> Result<(), ChatError> {
    let base_url = args
        .base_url
        .or(args.letta_base_url)
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let style = Style {
        color: !args.no_color && std::io::stdout().is_terminal(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let conn = Conn {
        rt,
        api: Api::new(&base_url, args.api_key)?,
        style,
    };
    let mut editor = session::editor()?;
    let chosen = pick::choose(
        &conn,
        &mut editor,
        args.agent.as_deref(),
        args.create.as_deref(),
    )?;
    let Some(agent) = chosen else {
        return Ok(());
    };
    let history = args
        .data_dir
        .or_else(|| std::env::home_dir().map(|h| h.join(".mneme")))
        .map(|dir| dir.join("chat_history"));
    Session::new(conn, editor, agent, !args.no_stream_tokens, history).run()
}
