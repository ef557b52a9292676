//! The chat loop: read a line, run it as a command or send it, show the answer, again.
//!
//! The loop is synchronous (rustyline blocks on the terminal); each request runs on a
//! current-thread tokio runtime, raced against Ctrl-C. While a line is read the terminal is
//! in raw mode and Ctrl-C is a key rustyline reports; while a reply streams it is a signal,
//! which cancels the reply and its run on the server.

use std::future::Future;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use tokio::runtime::Runtime;

use crate::api::{AgentSummary, Api};
use crate::commands::{self, Command};
use crate::render::Renderer;
use crate::sse::{SseParser, decode};
use crate::text::Style;
use crate::{ChatError, pick, views};

/// How long a cancel request may take before the chat gives up on it.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of history kept.
const HISTORY_SIZE: usize = 1000;

/// The server and how to talk to it.
pub(crate) struct Conn {
    pub(crate) rt: Runtime,
    pub(crate) api: Api,
    pub(crate) style: Style,
}

impl Conn {
    /// Runs one request to its end, or until Ctrl-C (then `ChatError::Interrupted`).
    pub(crate) fn call<T>(
        &self,
        request: impl Future<Output = Result<T, ChatError>>,
    ) -> Result<T, ChatError> {
        self.rt.block_on(async {
            tokio::select! {
                result = request => result,
                // A failure to watch for Ctrl-C disables this branch; the request still runs.
                Ok(()) = tokio::signal::ctrl_c() => Err(ChatError::Interrupted),
            }
        })
    }

    /// Prints an error in red; the chat goes on.
    pub(crate) fn error(&self, e: &ChatError) -> io::Result<()> {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", self.style.red(&format!("error: {e}")))?;
        out.flush()
    }

    /// Prints a dim note.
    pub(crate) fn note(&self, text: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", self.style.dim(text))?;
        out.flush()
    }
}

/// A line editor with history (duplicates of the line before are not kept).
pub(crate) fn editor() -> Result<DefaultEditor, ChatError> {
    let config = rustyline::Config::builder()
        .max_history_size(HISTORY_SIZE)?
        .history_ignore_dups(true)?
        .auto_add_history(false)
        .build();
    Ok(DefaultEditor::with_config(config)?)
}

pub(crate) struct Session {
    conn: Conn,
    editor: DefaultEditor,
    agent: AgentSummary,
    stream_tokens: bool,
    history: Option<PathBuf>,
}

/// Whether the loop goes on after a line.
enum Flow {
    Continue,
    Quit,
}

impl Session {
    pub(crate) fn new(
        conn: Conn,
        editor: DefaultEditor,
        agent: AgentSummary,
        stream_tokens: bool,
        history: Option<PathBuf>,
    ) -> Session {
        Session {
            conn,
            editor,
            agent,
            stream_tokens,
            history,
        }
    }

    pub(crate) fn run(mut self) -> Result<(), ChatError> {
        self.load_history();
        self.banner()?;
        let prompt = ("you> ", self.conn.style.bold("you> "));
        loop {
            let line = match self.editor.readline(&prompt) {
                Ok(line) => line,
                // Ctrl-C at the prompt drops the line being typed, as shells do.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(e.into()),
            };
            if line.trim().is_empty() {
                continue;
            }
            // Memory only: a full history is not a reason to refuse a line.
            let _ = self.editor.add_history_entry(line.trim());
            if let Flow::Quit = self.line(&line)? {
                break;
            }
        }
        self.save_history()
    }

    /// Runs one line; a failed command or message is printed, and the chat goes on.
    fn line(&mut self, line: &str) -> Result<Flow, ChatError> {
        let done = match commands::parse(line) {
            Some(Command::Quit) => return Ok(Flow::Quit),
            Some(command) => self.command(command),
            None => self.send(commands::message_text(line)),
        };
        match done {
            Ok(()) => {}
            Err(ChatError::Interrupted) => self.conn.note("\r  interrupted")?,
            // The terminal failing is the one error the chat cannot print.
            Err(e @ ChatError::Io(_)) => return Err(e),
            Err(e) => self.conn.error(&e)?,
        }
        Ok(Flow::Continue)
    }

    fn banner(&self) -> Result<(), ChatError> {
        let style = self.conn.style;
        let mut out = io::stdout().lock();
        writeln!(
            out,
            "{} {} {}",
            style.bold(&self.agent.name),
            style.dim(&format!("({})", self.agent.id)),
            style.dim(&format!(
                "· {} · {}",
                self.agent.model(),
                self.conn.api.base_url()
            ))
        )?;
        writeln!(
            out,
            "{}",
            style.dim("Type a message; /help lists the commands; Ctrl-D leaves.")
        )?;
        Ok(out.flush()?)
    }

    fn command(&mut self, command: Command) -> Result<(), ChatError> {
        let (conn, id, style) = (&self.conn, self.agent.id, self.conn.style);
        let mut out = io::stdout().lock();
        match command {
            Command::Help => views::help(style, &mut out)?,
            Command::Memory => {
                let blocks = conn.call(conn.api.blocks(&id))?;
                views::memory(&blocks, style, &mut out)?;
            }
            Command::Context => {
                let counts = conn.call(conn.api.context(&id))?;
                views::context(&counts, style, &mut out)?;
            }
            Command::Reset => {
                conn.call(conn.api.reset(&id))?;
                let text = format!(
                    "  {}'s messages were cleared; its memory blocks stay",
                    self.agent.name
                );
                writeln!(out, "{}", style.dim(&text))?;
            }
            Command::Agents => {
                let list = conn.call(conn.api.agents(None))?;
                views::agents(&list, Some(&id), style, &mut out)?;
            }
            Command::Agent(who) => {
                drop(out);
                return self.switch(&who);
            }
            Command::Export(file) => {
                drop(out);
                return self.export(file);
            }
            Command::Invalid(why) => writeln!(out, "{}", style.yellow(&why))?,
            Command::Quit => {}
        }
        Ok(out.flush()?)
    }

    fn switch(&mut self, who: &str) -> Result<(), ChatError> {
        if let Some(agent) = pick::find(&self.conn, &mut self.editor, who)? {
            self.agent = agent;
            self.banner()?;
        }
        Ok(())
    }

    /// Writes the agent's Agent File to `file`, or `<agent name>.af` here.
    fn export(&self, file: Option<PathBuf>) -> Result<(), ChatError> {
        let path =
            file.unwrap_or_else(|| PathBuf::from(format!("{}.af", file_name(&self.agent.name))));
        let text = self.conn.call(self.conn.api.export(&self.agent.id))?;
        std::fs::write(&path, &text).map_err(|source| ChatError::Write {
            path: path.clone(),
            source,
        })?;
        let shown = std::path::absolute(&path).unwrap_or(path);
        let kb = text.len().div_ceil(1024);
        self.conn.note(&format!(
            "  exported {} to {} ({kb} KB)",
            self.agent.name,
            shown.display()
        ))?;
        Ok(())
    }

    /// Sends a message and shows the reply as it streams; Ctrl-C stops it and cancels the run.
    fn send(&mut self, text: &str) -> Result<(), ChatError> {
        let conn = &self.conn;
        let id = self.agent.id;
        let mut renderer = Renderer::new(conn.style);
        let mut out = io::stdout().lock();
        let started = Instant::now();
        let streamed = conn.rt.block_on(async {
            tokio::select! {
                result = stream(&conn.api, &id, text, self.stream_tokens, &mut renderer, &mut out) => Some(result),
                Ok(()) = tokio::signal::ctrl_c() => None,
            }
        });
        match streamed {
            Some(Ok(())) => renderer.finish(started.elapsed(), &mut out)?,
            Some(Err(e)) => {
                renderer.abort(&mut out)?;
                return Err(e);
            }
            None => {
                renderer.abort(&mut out)?;
                drop(out);
                return self.cancel(renderer.run_ids());
            }
        }
        Ok(out.flush()?)
    }

    /// Asks the server to stop the runs of the reply that was interrupted.
    fn cancel(&self, run_ids: &[String]) -> Result<(), ChatError> {
        let conn = &self.conn;
        let cancel = async {
            match tokio::time::timeout(CANCEL_TIMEOUT, conn.api.cancel(&self.agent.id, run_ids))
                .await
            {
                Ok(result) => result,
                Err(_) => Err(ChatError::Http("the cancel request timed out".into())),
            }
        };
        // `\r`: the terminal echoed `^C` at the start of the line; the note writes over it.
        match conn.rt.block_on(cancel) {
            Ok(()) => conn.note("\r  cancelled")?,
            Err(e) => conn.note(&format!(
                "\r  stopped reading the reply; the server did not confirm the cancel ({e})"
            ))?,
        }
        Ok(())
    }

    fn load_history(&mut self) {
        if let Some(path) = &self.history {
            // A first run has no history file yet; an unreadable one starts the history afresh.
            let _ = self.editor.load_history(path);
        }
    }

    /// Saves the history, best effort: a failure is said, not fatal.
    fn save_history(&mut self) -> Result<(), ChatError> {
        let Some(path) = self.history.clone() else {
            return Ok(());
        };
        if let Err(e) = save(&mut self.editor, &path) {
            self.conn.note(&format!(
                "could not save the history to {}: {e}",
                path.display()
            ))?;
        }
        Ok(())
    }
}

fn save(editor: &mut DefaultEditor, path: &Path) -> Result<(), ChatError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    Ok(editor.save_history(path)?)
}

/// Reads the reply's stream to its end, rendering each frame as it arrives.
async fn stream(
    api: &Api,
    id: &mneme_types::AgentId,
    text: &str,
    stream_tokens: bool,
    renderer: &mut Renderer,
    out: &mut impl Write,
) -> Result<(), ChatError> {
    let mut response = api.stream(id, text, stream_tokens).await?;
    let mut parser = SseParser::default();
    while let Some(bytes) = response
        .chunk()
        .await
        .map_err(|e| ChatError::Http(format!("the reply's stream broke: {e}")))?
    {
        for frame in parser.push(&bytes) {
            renderer.on_event(decode(&frame), out)?;
        }
        out.flush()?;
    }
    if let Some(frame) = parser.finish() {
        renderer.on_event(decode(&frame), out)?;
    }
    Ok(())
}

/// An agent's name as a file name: path separators and other awkward characters become `_`.
fn file_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| match c.is_alphanumeric() || "-_. ".contains(c) {
            true => c,
            false => '_',
        })
        .collect();
    match safe.trim_matches(['.', ' ']) {
        "" => "agent".to_owned(),
        s => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_become_safe_file_names() {
        assert_eq!(file_name("chat"), "chat");
        assert_eq!(file_name("a/b:c"), "a_b_c");
        assert_eq!(file_name(".."), "agent");
        assert_eq!(file_name("my agent"), "my agent");
    }
}
