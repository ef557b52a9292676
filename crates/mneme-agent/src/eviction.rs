//! Keeps a turn's context inside the model's window by moving the oldest messages out of
//! context. They stay stored and searchable (recall memory); nothing is deleted. Summarising
//! what leaves (Letta's compaction) comes with the compaction issue; until then an agent never
//! gets stuck on a full context.

use mneme_store::{AgentContext, Message, ReasoningRecord, Role};
use mneme_types::MessageId;

/// Evict when the estimate passes this share of the window...
pub(crate) const TRIGGER: f64 = 0.9;
/// ...down to this share.
pub(crate) const TARGET: f64 = 0.7;

/// A rough token estimate of a message (about four characters a token).
pub(crate) fn tokens(m: &Message) -> u64 {
    let chars = m.text.chars().count()
        + m.tool_calls
            .iter()
            .map(|c| c.name.len() + c.arguments.len())
            .sum::<usize>()
        + m.tool_returns
            .iter()
            .map(|r| r.func_response.len())
            .sum::<usize>()
        + m.reasoning
            .iter()
            .map(|r| match r {
                ReasoningRecord::Reasoning { text, .. } => text.len(),
                ReasoningRecord::Redacted { data } => data.len(),
            })
            .sum::<usize>();
    (chars as u64).div_ceil(4) + 4
}

/// Moves the oldest messages out of context when the estimate of everything sent passes
/// `trigger` of the window, down to `target` of it.
pub(crate) fn fit_context(ctx: &mut AgentContext, pending: &[Message], trigger: f64, target: f64) {
    let window = ctx.agent.llm_config.context_window as f64;
    let fixed: u64 = ctx.messages.first().map(tokens).unwrap_or(0)
        + pending.iter().map(tokens).sum::<u64>()
        + ctx
            .tools
            .iter()
            .map(|t| {
                t.json_schema
                    .as_ref()
                    .map_or(0, |s| s.to_string().len() as u64 / 4)
            })
            .sum::<u64>();
    let history: u64 = ctx.messages.iter().skip(1).map(tokens).sum();
    if ((fixed + history) as f64) <= window * trigger {
        return;
    }
    let budget = (window * target - fixed as f64).max(0.0) as u64;
    let moved = evict_oldest(&mut ctx.messages, &mut ctx.agent.message_ids, budget);
    if moved > 0 {
        tracing::info!(agent = %ctx.agent.id, moved, "moved old messages out of context");
    }
}

/// Drops the oldest messages after the system message (index 0) until the history's estimate
/// is at most `budget` tokens. Cuts only in front of a user message, so a tool call never loses
/// its return; keeps at least the last exchange. Returns how many messages left the context.
pub(crate) fn evict_oldest(
    messages: &mut Vec<Message>,
    ids: &mut Vec<MessageId>,
    budget: u64,
) -> usize {
    let total: u64 = messages.iter().skip(1).map(tokens).sum();
    if total <= budget || messages.len() <= 2 {
        return 0;
    }
    let mut dropped = 0u64;
    let mut cut = 1;
    for (i, m) in messages.iter().enumerate().skip(1) {
        let at_boundary = m.role == Role::User && i > 1;
        if at_boundary {
            cut = i;
            if total - dropped <= budget {
                break;
            }
        }
        dropped += tokens(m);
    }
    // Never cut the last exchange: the user's newest message must stay.
    let last_user = messages
        .iter()
        .rposition(|m| m.role == Role::User)
        .unwrap_or(1);
    let cut = cut.min(last_user.max(1));
    if cut <= 1 {
        return 0;
    }
    let gone: Vec<MessageId> = messages.drain(1..cut).map(|m| m.id).collect();
    ids.retain(|id| !gone.contains(id));
    gone.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_store::{ToolCallRecord, ToolReturnRecord};
    use mneme_types::AgentId;

    fn msg(role: Role, text: &str) -> Message {
        Message::new(AgentId::new(), role, text, mneme_types::time::now())
    }

    #[test]
    fn evicts_whole_exchanges_oldest_first() {
        let mut call = msg(Role::Assistant, "");
        call.tool_calls.push(ToolCallRecord {
            id: "c".into(),
            name: "t".into(),
            arguments: "{}".into(),
        });
        let mut ret = msg(Role::Tool, &"r".repeat(400));
        ret.tool_returns.push(ToolReturnRecord {
            tool_call_id: "c".into(),
            status: "success".into(),
            func_response: "r".repeat(400),
            stdout: None,
            stderr: None,
            content: None,
        });
        let mut messages = vec![
            msg(Role::System, "sys"),
            msg(Role::User, &"a".repeat(400)),
            call,
            ret,
            msg(Role::User, "second"),
            msg(Role::Assistant, "reply"),
        ];
        let mut ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
        let keep = ids[4];
        let n = evict_oldest(&mut messages, &mut ids, 50);
        assert_eq!(n, 3);
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0].role, Role::System);
        assert_eq!(ids[1], keep);
        // Under budget: nothing moves.
        assert_eq!(evict_oldest(&mut messages, &mut ids, 10_000), 0);
    }
}
