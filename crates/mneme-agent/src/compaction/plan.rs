//! Which messages a compaction summarises and which it keeps: a pure function of the
//! in-context messages and their token counts.
//!
//! A plan is a cut `c`: `messages[1..c]` are summarised, `messages[c..]` kept after the system
//! message and the summary. A cut is valid only where it separates nothing that belongs
//! together: never between an assistant's tool call and its return, never between an approval
//! request and its answer, never inside a pending approval at the end (nor between it and the
//! assistant message of the same step). The newest turn is kept whenever keeping it fits.

use mneme_store::{Message, Role};

use super::transcript::is_summary;

/// What a plan is made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanInput<'a> {
    /// The in-context messages, the system message first.
    pub messages: &'a [Message],
    /// Tokens of each message (`tokens[0]` the system prompt as sent).
    pub tokens: &'a [u64],
    /// Tokens sent besides the messages: tool schemas, the request's inputs not stored yet.
    pub fixed: u64,
    pub window: u64,
    /// Where the newest turn starts (`messages.len()` when it is not stored yet).
    pub newest_turn: usize,
    /// The smallest cut worth making: 2 replaces one message by a summary (worth it for a
    /// large one), 3 at least two (the summarize route, which must shrink the count).
    pub min_cut: usize,
}

/// How to choose the cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Strategy {
    /// Everything before the newest turn (past it only if the rest would not fit `goal`).
    All { goal: u64 },
    /// The fewest oldest messages whose removal brings the rest under
    /// `(1 - percentage) × window`, trying cuts at `percentage + 10%`, `+ 20%`, ... of the
    /// messages (Letta's search); none if no such cut keeps the newest turn.
    Sliding { percentage: f64 },
}

/// The cut, or `None` when no valid cut meets the strategy.
pub(crate) fn plan(input: &PlanInput<'_>, strategy: Strategy) -> Option<usize> {
    // A cut that would summarise nothing but earlier summaries gains nothing.
    let first_new = input
        .messages
        .iter()
        .skip(1)
        .position(|m| !is_summary(m))
        .map_or(input.messages.len(), |i| i + 1);
    let mut cuts = valid_cuts(input.messages);
    cuts.retain(|&c| c > first_new && c >= input.min_cut);
    let estimate = Estimate::new(input);
    let preferred: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c <= input.newest_turn)
        .collect();
    match strategy {
        Strategy::All { goal } => match preferred.last() {
            Some(&c) if estimate.after(c) < goal => Some(c),
            _ => cuts.last().copied(),
        },
        Strategy::Sliding { percentage } => sliding(input, &preferred, &estimate, percentage),
    }
}

/// The tokens of what is sent after a cut (without the summary, which is not written yet).
pub(crate) struct Estimate {
    /// `suffix[i]`: tokens of `messages[i..]`.
    suffix: Vec<u64>,
    base: u64,
}

impl Estimate {
    pub(crate) fn new(input: &PlanInput<'_>) -> Estimate {
        let mut suffix = vec![0; input.tokens.len() + 1];
        for i in (0..input.tokens.len()).rev() {
            suffix[i] = suffix[i + 1] + input.tokens[i];
        }
        let system = input.tokens.first().copied().unwrap_or(0);
        Estimate {
            suffix,
            base: system + input.fixed,
        }
    }

    /// Tokens sent when `messages[1..cut]` are gone.
    pub(crate) fn after(&self, cut: usize) -> u64 {
        self.base + self.suffix.get(cut.max(1)).copied().unwrap_or(0)
    }
}

fn sliding(
    input: &PlanInput<'_>,
    preferred: &[usize],
    estimate: &Estimate,
    percentage: f64,
) -> Option<usize> {
    let n = input.messages.len();
    let goal = ((1.0 - percentage) * input.window as f64) as u64;
    let mut share = percentage;
    // Ten percent more of the messages each try, as Letta does, until all of them.
    while share < 1.0 - 1e-9 {
        share = (share + 0.1).min(1.0);
        let target = ((share * n as f64).round() as usize).min(n);
        let Some(&cut) = preferred.iter().rev().find(|&&c| c <= target) else {
            continue;
        };
        if estimate.after(cut) < goal {
            return Some(cut);
        }
    }
    None
}

/// Every cut that separates nothing that belongs together, ascending; each at least 2 (one
/// message summarised at least) and at most `messages.len()` (all of them).
pub(crate) fn valid_cuts(messages: &[Message]) -> Vec<usize> {
    let n = messages.len();
    let limit = pending_tail(messages);
    let mut blocked = vec![false; n + 1];
    for (i, m) in messages.iter().enumerate() {
        // A return whose call is earlier: no cut between them.
        for r in &m.tool_returns {
            if let Some(k) = caller(messages, i, &r.tool_call_id) {
                blocked[k + 1..=i].iter_mut().for_each(|b| *b = true);
            }
        }
    }
    (2..=limit)
        .filter(|&c| !blocked[c] && (c == n || starts_a_part(&messages[c])))
        .collect()
}

/// Whether the kept part may begin with `m`: not a tool message (its call would be gone) and
/// not an approval answer (its request would be).
fn starts_a_part(m: &Message) -> bool {
    match m.role {
        Role::Tool => false,
        Role::Approval => !m.tool_calls.is_empty(),
        Role::System | Role::User | Role::Assistant | Role::Summary => true,
    }
}

/// The message before `before` that made the call `id`.
fn caller(messages: &[Message], before: usize, id: &str) -> Option<usize> {
    messages[..before]
        .iter()
        .rposition(|m| m.tool_calls.iter().any(|c| c.id == id))
}

/// The largest cut that keeps a pending approval request at the end (with the assistant
/// message of its step, whose calls wait with it): the index where that tail starts, else the
/// message count.
fn pending_tail(messages: &[Message]) -> usize {
    let n = messages.len();
    let Some(last) = messages.last() else {
        return 0;
    };
    if last.role != Role::Approval || last.tool_calls.is_empty() {
        return n;
    }
    let request = n - 1;
    match messages.get(request.wrapping_sub(1)) {
        Some(prev)
            if prev.role == Role::Assistant
                && !prev.tool_calls.is_empty()
                && prev.step_id.is_some()
                && prev.step_id == last.step_id =>
        {
            request - 1
        }
        _ => request,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
