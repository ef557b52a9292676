//! Each agent's in-context messages kept in memory between turns, so that a turn reads from
//! the store only what is bounded (the agent row, its blocks and tools, counts: the
//! `AgentFrame`) and not the history, which is what grows.
//!
//! An entry is valid while the agent's `message_ids_version` and `messages_edited` are the
//! ones it was taken at and its ids are the agent's: every write that changes the in-context
//! ids bumps the first (steps, resets, compactions, PATCHes) and every other change to a
//! stored message's content bumps the second (message edits, recompiles), both in the
//! database, so a change made by any request or process is seen at the next turn. A turn takes
//! its agent's entry out (turns of one agent are serialised) and puts back what it committed;
//! a preview gives back what it took, unless a turn put an entry meanwhile.
//! Entries beyond the byte budget are dropped, least recently used first.

use std::collections::HashMap;
use std::sync::Mutex;

use mneme_store::{Agent, Message};
use mneme_types::Thread;

use crate::tokens::{ContextTokens, content_bytes};

/// Default bound on the text held (about 64 MB).
pub(crate) const DEFAULT_BUDGET_BYTES: usize = 64 << 20;

/// The in-context messages of one agent as of `(ids_version, edits)`.
pub(crate) struct CachedContext {
    ids_version: u64,
    edits: u64,
    messages: Vec<Message>,
    /// Their token counts, so that a turn counts only its new messages.
    tokens: ContextTokens,
}

impl CachedContext {
    /// What a turn leaves: its agent's state after its last commit, with the counts of its
    /// messages (counts of messages no longer in context are dropped).
    pub(crate) fn new(
        agent: &Agent,
        messages: Vec<Message>,
        mut tokens: ContextTokens,
    ) -> CachedContext {
        tokens.retain(&agent.message_ids);
        CachedContext {
            ids_version: agent.message_ids_version,
            edits: agent.messages_edited,
            messages,
            tokens,
        }
    }

    /// The messages and their counts, if they are still what the store holds for `agent`.
    pub(crate) fn valid_for(self, agent: &Agent) -> Option<(Vec<Message>, ContextTokens)> {
        let same = self.ids_version == agent.message_ids_version
            && self.edits == agent.messages_edited
            && self.messages.len() == agent.message_ids.len()
            && self
                .messages
                .iter()
                .zip(&agent.message_ids)
                .all(|(m, id)| m.id == *id);
        same.then_some((self.messages, self.tokens))
    }

    fn bytes(&self) -> usize {
        self.messages.iter().map(approx_bytes).sum()
    }
}

/// A rough size of a message in memory: its texts and the record around them.
fn approx_bytes(m: &Message) -> usize {
    256 + content_bytes(m)
}

struct Slot {
    context: CachedContext,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct Slots {
    by_agent: HashMap<Thread, Slot>,
    bytes: usize,
    clock: u64,
}

/// The cache of every agent's in-context messages in this process.
pub(crate) struct ContextCache {
    slots: Mutex<Slots>,
    budget: usize,
}

impl Default for ContextCache {
    fn default() -> Self {
        ContextCache::new(DEFAULT_BUDGET_BYTES)
    }
}

impl ContextCache {
    pub(crate) fn new(budget_bytes: usize) -> ContextCache {
        ContextCache {
            slots: Mutex::new(Slots::default()),
            budget: budget_bytes,
        }
    }

    /// Takes the agent's entry out (the caller checks it with `valid_for`).
    pub(crate) fn take(&self, agent: Thread) -> Option<CachedContext> {
        let mut slots = self.lock();
        let slot = slots.by_agent.remove(&agent)?;
        slots.bytes -= slot.bytes;
        Some(slot.context)
    }

    /// Keeps `context` for the agent's next turn, dropping the least recently used entries
    /// past the budget (an entry larger than the budget is not kept).
    pub(crate) fn put(&self, agent: Thread, context: CachedContext) {
        self.insert(agent, context, true);
    }

    /// Gives back an entry taken by a reader that changed nothing (a preview), unless a turn
    /// put one meanwhile, which is as new or newer.
    pub(crate) fn restore(&self, agent: Thread, context: CachedContext) {
        self.insert(agent, context, false);
    }

    fn insert(&self, agent: Thread, context: CachedContext, replace: bool) {
        let bytes = context.bytes();
        if bytes > self.budget {
            return;
        }
        let mut slots = self.lock();
        if !replace && slots.by_agent.contains_key(&agent) {
            return;
        }
        slots.clock += 1;
        let used = slots.clock;
        if let Some(old) = slots.by_agent.insert(
            agent,
            Slot {
                context,
                bytes,
                used,
            },
        ) {
            slots.bytes -= old.bytes;
        }
        slots.bytes += bytes;
        while slots.bytes > self.budget {
            let Some(oldest) = slots
                .by_agent
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some(gone) = slots.by_agent.remove(&oldest) {
                slots.bytes -= gone.bytes;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_store::Role;
    use mneme_types::AgentId;
    use mneme_types::MessageId;

    fn agent_with(messages: &[Message]) -> Agent {
        let mut agent = mneme_store::conformance::new_agent("a", vec![]).agent;
        agent.message_ids = messages.iter().map(|m| m.id).collect();
        agent
    }

    fn msg(agent: AgentId, text: &str) -> Message {
        Message::new(agent, Role::User, text, mneme_types::time::now())
    }

    #[test]
    fn an_entry_is_valid_only_for_the_versions_and_ids_it_was_taken_at() {
        let id = AgentId::new();
        let messages = vec![msg(id, "system"), msg(id, "hi")];
        let mut agent = agent_with(&messages);
        let fresh = || {
            CachedContext::new(
                &agent_with(&messages),
                messages.clone(),
                ContextTokens::new(),
            )
        };
        assert_eq!(fresh().valid_for(&agent).map(|(m, _)| m.len()), Some(2));
        agent.message_ids_version += 1;
        assert!(fresh().valid_for(&agent).is_none(), "ids rewritten");
        agent.message_ids_version -= 1;
        agent.messages_edited += 1;
        assert!(fresh().valid_for(&agent).is_none(), "a message edited");
        agent.messages_edited -= 1;
        agent.message_ids.push(MessageId::new());
        assert!(fresh().valid_for(&agent).is_none(), "other ids");
    }

    #[test]
    fn the_least_recently_used_entries_leave_past_the_budget() {
        let (a, b, c) = (AgentId::new(), AgentId::new(), AgentId::new());
        let entry = |id| {
            let messages = vec![msg(id, &"x".repeat(1000))];
            CachedContext::new(&agent_with(&messages), messages, ContextTokens::new())
        };
        let cache = ContextCache::new(3000);
        cache.put(Thread::default_of(a), entry(a));
        cache.put(Thread::default_of(b), entry(b));
        cache.put(Thread::default_of(c), entry(c));
        assert!(
            cache.take(Thread::default_of(a)).is_none(),
            "the oldest went"
        );
        assert!(cache.take(Thread::default_of(b)).is_some());
        assert!(cache.take(Thread::default_of(c)).is_some());
        assert!(
            cache.take(Thread::default_of(c)).is_none(),
            "taking removes"
        );
        let huge = vec![msg(a, &"x".repeat(4000))];
        let entry = CachedContext::new(&agent_with(&huge), huge, ContextTokens::new());
        cache.put(Thread::default_of(a), entry);
        assert!(
            cache.take(Thread::default_of(a)).is_none(),
            "larger than the budget: not kept"
        );
    }

    #[test]
    fn a_restored_entry_never_replaces_one_put_meanwhile() {
        let id = AgentId::new();
        let entry = |text: &str| {
            let messages = vec![msg(id, text)];
            CachedContext::new(&agent_with(&messages), messages, ContextTokens::new())
        };
        let cache = ContextCache::new(1 << 20);
        let thread = Thread::default_of(id);
        cache.restore(thread, entry("taken"));
        assert_eq!(cache.take(thread).unwrap().messages[0].text, "taken");
        cache.put(thread, entry("newer"));
        cache.restore(thread, entry("taken"));
        assert_eq!(cache.take(thread).unwrap().messages[0].text, "newer");
    }
}
