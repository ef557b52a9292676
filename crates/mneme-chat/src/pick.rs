//! Which agent to chat with: the one named on the command line (an id or an exact name), the
//! server's only agent, one chosen from a numbered list, or a new one (`--create MODEL`).

use std::io::{self, Write};

use mneme_types::AgentId;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::api::AgentSummary;
use crate::session::Conn;
use crate::{ChatError, views};

/// The agent to start with; `None` when the user left the choice (Ctrl-C, Ctrl-D).
pub(crate) fn choose(
    conn: &Conn,
    editor: &mut DefaultEditor,
    agent: Option<&str>,
    create: Option<&str>,
) -> Result<Option<AgentSummary>, ChatError> {
    if let Some(model) = create {
        let name = agent.unwrap_or("chat");
        let created = conn.call(conn.api.create_agent(name, model))?;
        conn.note(&format!(
            "created agent {} ({}) with {}",
            created.name,
            created.id,
            created.model()
        ))?;
        return Ok(Some(created));
    }
    if let Some(who) = agent {
        return find(conn, editor, who);
    }
    let mut all = conn.call(conn.api.agents(None))?;
    match all.len() {
        0 => Err(ChatError::NoAgents {
            url: conn.api.base_url().to_owned(),
        }),
        1 => Ok(all.pop()),
        _ => ask(conn, editor, &all),
    }
}

/// The agent `who` names, by id or exact name; a choice when several share the name.
pub(crate) fn find(
    conn: &Conn,
    editor: &mut DefaultEditor,
    who: &str,
) -> Result<Option<AgentSummary>, ChatError> {
    let mut matches = match who.parse::<AgentId>() {
        Ok(id) => match conn.call(conn.api.agent(&id)) {
            Ok(agent) => vec![agent],
            Err(ChatError::Api { status: 404, .. }) => Vec::new(),
            Err(e) => return Err(e),
        },
        Err(_) => conn.call(conn.api.agents(Some(who)))?,
    };
    match matches.len() {
        0 => Err(ChatError::NoSuchAgent {
            who: who.to_owned(),
            url: conn.api.base_url().to_owned(),
        }),
        1 => Ok(matches.pop()),
        _ => ask(conn, editor, &matches),
    }
}

/// Lists `agents` numbered and reads the user's pick: a number, a name or an id.
fn ask(
    conn: &Conn,
    editor: &mut DefaultEditor,
    agents: &[AgentSummary],
) -> Result<Option<AgentSummary>, ChatError> {
    {
        let mut out = io::stdout().lock();
        views::agents(agents, None, conn.style, &mut out)?;
        out.flush()?;
    }
    let prompt = format!("which agent? [1-{}] ", agents.len());
    loop {
        match editor.readline(&prompt) {
            Ok(answer) => match pick(agents, answer.trim()) {
                Some(agent) => return Ok(Some(agent.clone())),
                None => conn.note("type a number from the list, or an agent's name or id")?,
            },
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

fn pick<'a>(agents: &'a [AgentSummary], answer: &str) -> Option<&'a AgentSummary> {
    if let Ok(n) = answer.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| agents.get(i));
    }
    agents
        .iter()
        .find(|a| a.name == answer || a.id.to_string() == answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pick_is_a_number_a_name_or_an_id() {
        let agents: Vec<AgentSummary> = serde_json::from_value(serde_json::json!([
            {"id": "agent-00000000-0000-4000-8000-000000000001", "name": "one"},
            {"id": "agent-00000000-0000-4000-8000-000000000002", "name": "two"},
        ]))
        .unwrap();
        assert_eq!(pick(&agents, "2").map(|a| a.name.as_str()), Some("two"));
        assert_eq!(pick(&agents, "one").map(|a| a.name.as_str()), Some("one"));
        let id = "agent-00000000-0000-4000-8000-000000000002";
        assert_eq!(pick(&agents, id).map(|a| a.name.as_str()), Some("two"));
        assert!(pick(&agents, "0").is_none());
        assert!(pick(&agents, "3").is_none());
        assert!(pick(&agents, "three").is_none());
    }
}
