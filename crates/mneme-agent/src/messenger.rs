//! What the multi-agent tools need from the server (`AgentMessenger`: run another agent's turn,
//! find agents), and the wait-for graph that keeps agents waiting on each other free of
//! deadlocks. The runtime cannot schedule turns itself (the scheduler sits above it), so the
//! service implements the messenger.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use mneme_types::{AgentId, Thread};

/// Who sends a message to another agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub id: AgentId,
    pub name: String,
}

/// Why a message could not be delivered, or its turn did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessengerError {
    #[error("Agent {0} not found")]
    NotFound(AgentId),
    /// The target refused the message (an approval pending) or its turn failed.
    #[error("{0}")]
    Failed(String),
}

/// Other agents' turns, as the multi-agent tools start them.
#[async_trait]
pub trait AgentMessenger: Send + Sync {
    /// Delivers `text` to `target`'s default conversation as a system message from `from`,
    /// runs the turn it starts to its end (a run of its own), and returns the texts of the
    /// assistant messages it answered with, in order.
    async fn ask(
        &self,
        from: &Sender,
        target: AgentId,
        text: String,
    ) -> Result<Vec<String>, MessengerError>;

    /// Delivers `text` as `ask` does, and returns once the turn's run is recorded; the turn
    /// runs on in the background.
    async fn notify(
        &self,
        from: &Sender,
        target: AgentId,
        text: String,
    ) -> Result<(), MessengerError>;

    /// The agents having every tag of `match_all` and, when `match_some` is not empty, at
    /// least one of `match_some`; oldest first.
    async fn agents_with_tags(
        &self,
        match_all: &[String],
        match_some: &[String],
    ) -> Result<Vec<AgentId>, MessengerError>;

    /// The members of the supervisor groups `supervisor` manages, each once, in group order.
    async fn supervised_agents(&self, supervisor: AgentId) -> Result<Vec<AgentId>, MessengerError>;
}

/// How deep calls may nest: A waits on B, which waits on C, ... A chain this long is a loop
/// the models will not get out of by themselves, and each level holds a thread.
pub(crate) const MAX_WAIT_DEPTH: usize = 8;

/// Why a thread may not wait on another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WaitRefused {
    /// The target already waits, directly or through others, on the caller: the threads in
    /// order, from the caller back to itself.
    Cycle(Vec<Thread>),
    /// The call would nest deeper than `MAX_WAIT_DEPTH`.
    TooDeep,
}

/// Which thread waits for which: an edge `a -> b` is a call in `a`'s turn waiting for a turn
/// of `b`. Turns are serialized per thread, so a cycle would never end; every wait is checked
/// and recorded under one lock before it starts, and one that would close a cycle is refused.
/// A waiting turn holds its thread, so a turn queued behind it waits on the same edges: the
/// graph is of threads, not of calls.
#[derive(Debug, Default)]
pub(crate) struct WaitGraph {
    /// Edge counts: a thread may wait on several threads at once (a fan-out), and on one
    /// thread twice.
    edges: Mutex<HashMap<Thread, HashMap<Thread, usize>>>,
}

impl WaitGraph {
    /// Records that `from` waits on `to` for as long as the returned guard lives.
    pub(crate) fn enter(
        self: &Arc<Self>,
        from: Thread,
        to: Thread,
    ) -> Result<WaitGuard, WaitRefused> {
        let mut edges = self.edges.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut path) = path(&edges, to, from) {
            path.insert(0, from);
            return Err(WaitRefused::Cycle(path));
        }
        if depth_into(&edges, from) + 1 > MAX_WAIT_DEPTH {
            return Err(WaitRefused::TooDeep);
        }
        *edges.entry(from).or_default().entry(to).or_default() += 1;
        Ok(WaitGuard {
            graph: self.clone(),
            from,
            to,
        })
    }

    fn leave(&self, from: Thread, to: Thread) {
        let mut edges = self.edges.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(out) = edges.get_mut(&from) else {
            return;
        };
        if let Some(count) = out.get_mut(&to) {
            *count -= 1;
            if *count == 0 {
                out.remove(&to);
            }
        }
        if out.is_empty() {
            edges.remove(&from);
        }
    }
}

/// A wait in the graph; dropping it (the call returned, failed, was cancelled or panicked)
/// removes the edge.
#[derive(Debug)]
pub(crate) struct WaitGuard {
    graph: Arc<WaitGraph>,
    from: Thread,
    to: Thread,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.graph.leave(self.from, self.to);
    }
}

type Edges = HashMap<Thread, HashMap<Thread, usize>>;

/// A path of edges from `start` to `goal` (both included; `[start]` when they are the same).
/// The graph has no cycles, so a depth-first walk ends.
fn path(edges: &Edges, start: Thread, goal: Thread) -> Option<Vec<Thread>> {
    if start == goal {
        return Some(vec![start]);
    }
    for next in edges.get(&start).into_iter().flat_map(HashMap::keys) {
        if let Some(mut rest) = path(edges, *next, goal) {
            rest.insert(0, start);
            return Some(rest);
        }
    }
    None
}

/// The number of edges on the longest chain of waits ending at `thread`.
fn depth_into(edges: &Edges, thread: Thread) -> usize {
    edges
        .iter()
        .filter(|(_, out)| out.contains_key(&thread))
        .map(|(from, _)| 1 + depth_into(edges, *from))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads(n: usize) -> Vec<Thread> {
        (0..n).map(|_| Thread::default_of(AgentId::new())).collect()
    }

    #[test]
    fn a_call_back_to_a_waiting_caller_is_refused() {
        let graph = Arc::new(WaitGraph::default());
        let t = threads(2);
        let _ab = graph.enter(t[0], t[1]).unwrap();
        assert_eq!(
            graph.enter(t[1], t[0]).unwrap_err(),
            WaitRefused::Cycle(vec![t[1], t[0], t[1]])
        );
    }

    #[test]
    fn waiting_on_oneself_is_refused() {
        let graph = Arc::new(WaitGraph::default());
        let t = threads(1);
        assert_eq!(
            graph.enter(t[0], t[0]).unwrap_err(),
            WaitRefused::Cycle(vec![t[0], t[0]])
        );
    }

    #[test]
    fn a_longer_cycle_is_found_through_every_thread() {
        let graph = Arc::new(WaitGraph::default());
        let t = threads(3);
        let _ab = graph.enter(t[0], t[1]).unwrap();
        let _bc = graph.enter(t[1], t[2]).unwrap();
        assert_eq!(
            graph.enter(t[2], t[0]).unwrap_err(),
            WaitRefused::Cycle(vec![t[2], t[0], t[1], t[2]])
        );
    }

    #[test]
    fn another_conversation_of_the_same_agent_is_another_thread() {
        let graph = Arc::new(WaitGraph::default());
        let agent = AgentId::new();
        let default = Thread::default_of(agent);
        let conversation = Thread {
            agent,
            conversation: Some(mneme_types::ConversationId::new()),
        };
        let _guard = graph.enter(conversation, default).unwrap();
    }

    #[test]
    fn a_finished_wait_allows_the_reverse_call() {
        let graph = Arc::new(WaitGraph::default());
        let t = threads(2);
        let ab = graph.enter(t[0], t[1]).unwrap();
        drop(ab);
        let _ba = graph.enter(t[1], t[0]).unwrap();
    }

    #[test]
    fn an_edge_held_twice_stays_until_both_waits_end() {
        let graph = Arc::new(WaitGraph::default());
        let t = threads(2);
        let first = graph.enter(t[0], t[1]).unwrap();
        let second = graph.enter(t[0], t[1]).unwrap();
        drop(first);
        assert!(matches!(
            graph.enter(t[1], t[0]),
            Err(WaitRefused::Cycle(_))
        ));
        drop(second);
        assert!(graph.enter(t[1], t[0]).is_ok());
    }

    #[test]
    fn fan_outs_and_shared_targets_are_no_cycle() {
        let graph = Arc::new(WaitGraph::default());
        let t = threads(3);
        let _ab = graph.enter(t[0], t[1]).unwrap();
        let _ac = graph.enter(t[0], t[2]).unwrap();
        let _bc = graph.enter(t[1], t[2]).unwrap();
        assert!(matches!(
            graph.enter(t[2], t[1]),
            Err(WaitRefused::Cycle(_))
        ));
    }

    #[test]
    fn a_panicking_waiter_leaves_no_edge() {
        let graph = Arc::new(WaitGraph::default());
        let t = threads(2);
        let held = graph.clone();
        let (a, b) = (t[0], t[1]);
        let result = std::thread::spawn(move || {
            let _guard = held.enter(a, b).unwrap();
            panic!("the call panicked");
        })
        .join();
        assert!(result.is_err());
        assert!(graph.enter(b, a).is_ok());
    }

    #[test]
    fn chains_deeper_than_the_limit_are_refused() {
        let graph = Arc::new(WaitGraph::default());
        let t = threads(MAX_WAIT_DEPTH + 2);
        let guards: Vec<WaitGuard> = (0..MAX_WAIT_DEPTH)
            .map(|i| graph.enter(t[i], t[i + 1]).unwrap())
            .collect();
        assert_eq!(guards.len(), MAX_WAIT_DEPTH);
        let last = MAX_WAIT_DEPTH;
        assert_eq!(
            graph.enter(t[last], t[last + 1]).unwrap_err(),
            WaitRefused::TooDeep
        );
        // A chain elsewhere is not limited by this one.
        let other = threads(2);
        assert!(graph.enter(other[0], other[1]).is_ok());
    }
}
