//! The course of one group exchange, decided without IO: who speaks next, what each speaker
//! is given, when the exchange ends, and what is left unseen at its end. Round robin and
//! dynamic groups, as Letta 0.14's managers ran them.
//!
//! Each participant is given the lines of the exchange it has not seen yet: the user's input,
//! then the other participants' replies as system messages naming their speaker. A dynamic
//! group's manager is asked before every turn to name the next speaker.

use mneme_types::{AgentId, Group, GroupId, MessageCreate};
use serde_json::Value;

/// A participant (or the manager) as the exchange needs it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) id: AgentId,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
}

/// What to do next.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Ask the manager to name the next speaker, with this message.
    Ask {
        manager: AgentId,
        message: Box<MessageCreate>,
    },
    /// Let participant `speaker` (an index into the members) speak, given these messages.
    Speak {
        speaker: usize,
        messages: Vec<MessageCreate>,
    },
    Done,
}

/// One line of the exchange and who said it (`None`: the user).
#[derive(Debug, Clone)]
struct Line {
    speaker: Option<usize>,
    message: MessageCreate,
}

/// A group exchange in progress.
#[derive(Debug)]
pub(crate) struct Chat {
    group: GroupId,
    members: Vec<Member>,
    /// The dynamic manager; round robin groups have none.
    manager: Option<Member>,
    max_turns: usize,
    termination_token: Option<String>,
    /// The lines every speaker so far was given, in order.
    history: Vec<Line>,
    /// Lines not in `history` yet: the input, then the last speaker's replies.
    fresh: Vec<Line>,
    /// Per member, how much of `history` it has seen.
    seen: Vec<usize>,
    turns: usize,
    last: Option<usize>,
    /// The manager's choice, waiting for its turn.
    chosen: Option<usize>,
    done: bool,
}

impl Chat {
    /// An exchange of `group` among `members` (its participants, in order) starting from the
    /// user's `input`. A `max_turns` of `None` or 0 is one turn per member, as in Letta.
    pub(crate) fn new(
        group: &Group,
        members: Vec<Member>,
        manager: Option<Member>,
        input: Vec<MessageCreate>,
    ) -> Chat {
        let max_turns = match group.max_turns {
            Some(n) if n > 0 => n as usize,
            _ => members.len(),
        };
        let termination_token = group.termination_token.clone();
        let group = group.id;
        let fresh = input
            .into_iter()
            .map(|mut message| {
                message.group_id = Some(group.to_string());
                Line {
                    speaker: None,
                    message,
                }
            })
            .collect();
        Chat {
            group,
            seen: vec![0; members.len()],
            members,
            manager,
            max_turns,
            termination_token: termination_token.filter(|t| !t.is_empty()),
            history: Vec::new(),
            fresh,
            turns: 0,
            last: None,
            chosen: None,
            done: false,
        }
    }

    pub(crate) fn member(&self, i: usize) -> &Member {
        &self.members[i]
    }

    /// The next step: a speaker's turn (for dynamic groups, once the manager named it).
    pub(crate) fn next(&mut self) -> Step {
        if self.done || self.turns >= self.max_turns || self.members.is_empty() {
            self.done = true;
            return Step::Done;
        }
        let speaker = match (&self.manager, self.chosen) {
            (None, _) => self.turns % self.members.len(),
            (Some(_), Some(chosen)) => chosen,
            (Some(manager), None) => {
                return Step::Ask {
                    manager: manager.id,
                    message: Box::new(self.ask()),
                };
            }
        };
        self.history.append(&mut self.fresh);
        let messages = self.history[self.seen[speaker]..]
            .iter()
            .map(|l| l.message.clone())
            .collect();
        Step::Speak { speaker, messages }
    }

    /// The manager answered `reply`: the participant it names (the earliest name in the
    /// text, the longest one at the same place, so that "Ann Lee" is not "Ann") speaks next.
    /// The question offers everyone but the last speaker, but a manager that names the last
    /// speaker anyway is followed. A reply naming nobody is an error naming the choices.
    pub(crate) fn chose(&mut self, reply: &str) -> Result<(), String> {
        let names: Vec<&str> = self.members.iter().map(|m| m.name.as_str()).collect();
        match named(reply, &names) {
            Some(k) => {
                self.chosen = Some(k);
                Ok(())
            }
            None => {
                let offered: Vec<&str> = self.options().iter().map(|i| names[*i]).collect();
                Err(format!(
                    "The manager of group {} named none of the participants ({}) in its answer: {reply:?}",
                    self.group,
                    offered.join(", ")
                ))
            }
        }
    }

    /// Participant `speaker` answered with `replies` (its assistant messages' texts); they
    /// are the next speakers' news. A reply holding the termination token ends the exchange.
    pub(crate) fn spoke(&mut self, speaker: usize, replies: Vec<String>) {
        let member = &self.members[speaker];
        let token = self.termination_token.as_deref();
        if token.is_some_and(|t| replies.iter().any(|r| r.contains(t))) {
            self.done = true;
        }
        self.fresh = replies
            .into_iter()
            .map(|text| Line {
                speaker: Some(speaker),
                message: forwarded(self.group, member, text),
            })
            .collect();
        self.seen[speaker] = self.history.len() + self.fresh.len();
        self.turns += 1;
        self.last = Some(speaker);
        self.chosen = None;
    }

    /// Participant `speaker`'s turn stopped the exchange (it waits for an approval, it was
    /// cancelled): what it was given is in its history already, so it is owed nothing more.
    pub(crate) fn halted(&mut self, speaker: usize) {
        self.seen[speaker] = self.history.len();
        self.last = Some(speaker);
        self.done = true;
    }

    /// Ends the exchange: per member that did not speak last, the lines it has not seen.
    pub(crate) fn leftovers(mut self) -> Vec<(AgentId, Vec<MessageCreate>)> {
        self.history.append(&mut self.fresh);
        (0..self.members.len())
            .filter(|i| Some(*i) != self.last && self.seen[*i] < self.history.len())
            .map(|i| {
                let lines = self.history[self.seen[i]..].iter();
                (
                    self.members[i].id,
                    lines.map(|l| l.message.clone()).collect(),
                )
            })
            .collect()
    }

    /// Who the manager may name: everyone but the last speaker, unless that is no one.
    fn options(&self) -> Vec<usize> {
        let others: Vec<usize> = (0..self.members.len())
            .filter(|i| Some(*i) != self.last)
            .collect();
        match others.is_empty() {
            true => (0..self.members.len()).collect(),
            false => others,
        }
    }

    /// The manager's question: the choices with their descriptions and the exchange so far.
    fn ask(&self) -> MessageCreate {
        let choices: Vec<String> = self
            .options()
            .iter()
            .map(|i| {
                let m = &self.members[*i];
                match m.description.as_deref().filter(|d| !d.is_empty()) {
                    Some(d) => format!("- {}: {d}", m.name),
                    None => format!("- {}", m.name),
                }
            })
            .collect();
        let transcript: Vec<String> = self
            .history
            .iter()
            .chain(&self.fresh)
            .map(|l| {
                let who = l.speaker.map(|i| self.members[i].name.as_str());
                format!("{}: {}", who.unwrap_or("user"), text_of(&l.message))
            })
            .collect();
        let text = format!(
            "You moderate a group chat between a user and other agents. Decide who should \
             speak next; do not answer the conversation yourself. Reply with the name of one \
             of these participants:\n{}\n\nThe conversation so far:\n{}",
            choices.join("\n"),
            transcript.join("\n")
        );
        message("user", text, self.group)
    }
}

/// The index of the name that `reply` mentions first (case-insensitive, as a whole word);
/// at one place, the longest name wins ("Ann Lee" over "Ann").
fn named(reply: &str, names: &[&str]) -> Option<usize> {
    let reply = reply.to_lowercase();
    let mut best: Option<(usize, usize, usize)> = None;
    for (k, name) in names.iter().enumerate() {
        let name = name.to_lowercase();
        let Some(at) = whole_word(&reply, &name) else {
            continue;
        };
        let better = match best {
            None => true,
            Some((pos, len, _)) => at < pos || (at == pos && name.len() > len),
        };
        if better {
            best = Some((at, name.len(), k));
        }
    }
    best.map(|(_, _, k)| k)
}

/// Where `word` first occurs in `text` with no letter or digit right before or after it.
fn whole_word(text: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(word).map(|(at, _)| at).find(|&at| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !alnum(before) && !alnum(after)
    })
}

/// A participant's reply as the others get it: a system message naming its speaker.
fn forwarded(group: GroupId, speaker: &Member, text: String) -> MessageCreate {
    let mut m = message("system", text, group);
    m.name = Some(speaker.name.clone());
    m.sender_id = Some(speaker.id.to_string());
    m
}

fn message(role: &str, text: String, group: GroupId) -> MessageCreate {
    MessageCreate {
        kind: None,
        role: Some(role.to_owned()),
        content: Some(Value::String(text)),
        name: None,
        otid: None,
        sender_id: None,
        group_id: Some(group.to_string()),
        approvals: None,
        approve: None,
        approval_request_id: None,
        reason: None,
        tool_returns: None,
    }
}

fn text_of(m: &MessageCreate) -> String {
    m.content
        .as_ref()
        .and_then(mneme_types::content_text)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mneme_types::ManagerConfig;

    fn members(names: &[&str]) -> Vec<Member> {
        names
            .iter()
            .map(|n| Member {
                id: AgentId::new(),
                name: (*n).to_owned(),
                description: Some(format!("{n} knows things")),
            })
            .collect()
    }

    fn round_robin(max_turns: Option<u32>) -> Group {
        Group::new(
            vec![],
            "team".into(),
            &ManagerConfig::RoundRobin { max_turns },
        )
    }

    fn input(text: &str) -> Vec<MessageCreate> {
        vec![message("user", text.to_owned(), GroupId::new())]
    }

    fn texts(messages: &[MessageCreate]) -> Vec<String> {
        messages.iter().map(text_of).collect()
    }

    fn speak(step: Step) -> (usize, Vec<String>) {
        match step {
            Step::Speak { speaker, messages } => (speaker, texts(&messages)),
            other => panic!("expected a turn, got {other:?}"),
        }
    }

    #[test]
    fn round_robin_gives_each_speaker_what_it_has_not_seen() {
        let g = round_robin(Some(3));
        let group = g.id;
        let mut chat = Chat::new(&g, members(&["a", "b"]), None, input("hi"));
        assert_eq!(speak(chat.next()), (0, vec!["hi".into()]));
        chat.spoke(0, vec!["a1".into()]);
        let step = chat.next();
        let Step::Speak { messages, .. } = &step else {
            panic!("{step:?}")
        };
        assert_eq!(messages[1].role.as_deref(), Some("system"));
        assert_eq!(messages[1].name.as_deref(), Some("a"));
        assert_eq!(messages[1].group_id, Some(group.to_string()));
        assert_eq!(speak(step), (1, vec!["hi".into(), "a1".into()]));
        chat.spoke(1, vec!["b1".into(), "b2".into()]);
        // The first speaker again: only what came after its own turn.
        assert_eq!(speak(chat.next()), (0, vec!["b1".into(), "b2".into()]));
        chat.spoke(0, vec!["a2".into()]);
        assert!(matches!(chat.next(), Step::Done));
        let left = chat.leftovers();
        assert_eq!(left.len(), 1, "the last speaker saw everything");
        assert_eq!(texts(&left[0].1), ["a2"]);
    }

    #[test]
    fn max_turns_defaults_to_one_turn_each_and_silent_members_get_everything() {
        let mut chat = Chat::new(
            &round_robin(None),
            members(&["a", "b", "c"]),
            None,
            input("hi"),
        );
        for expected in 0..3 {
            let (speaker, _) = speak(chat.next());
            assert_eq!(speaker, expected);
            chat.spoke(speaker, vec![format!("r{speaker}")]);
        }
        assert!(matches!(chat.next(), Step::Done));

        let g = round_robin(Some(1));
        let mut short = Chat::new(&g, members(&["a", "b", "c"]), None, input("hi"));
        speak(short.next());
        short.spoke(0, vec!["r0".into()]);
        assert!(matches!(short.next(), Step::Done));
        let left = short.leftovers();
        let got: Vec<Vec<String>> = left.iter().map(|(_, m)| texts(m)).collect();
        assert_eq!(got, [vec!["hi", "r0"], vec!["hi", "r0"]]);
    }

    #[test]
    fn a_halted_speaker_is_owed_nothing_and_the_others_are() {
        let g = round_robin(None);
        let mut chat = Chat::new(&g, members(&["a", "b", "c"]), None, input("hi"));
        speak(chat.next());
        chat.spoke(0, vec!["r0".into()]);
        speak(chat.next());
        chat.halted(1);
        assert!(matches!(chat.next(), Step::Done));
        let left = chat.leftovers();
        let owed: Vec<(AgentId, Vec<String>)> =
            left.into_iter().map(|(id, m)| (id, texts(&m))).collect();
        assert_eq!(owed.len(), 1, "{owed:?}");
        assert_eq!(
            owed[0].1,
            ["hi", "r0"],
            "c heard nothing yet; a had said r0 itself"
        );
    }

    #[test]
    fn a_dynamic_manager_names_the_next_speaker() {
        let team = members(&["Ann", "Ann Lee", "Bob"]);
        let boss = members(&["boss"]).remove(0);
        let config = ManagerConfig::Dynamic {
            manager_agent_id: boss.id,
            termination_token: Some("DONE!".into()),
            max_turns: Some(5),
        };
        let g = Group::new(vec![], "team".into(), &config);
        let mut chat = Chat::new(&g, team, Some(boss.clone()), input("who knows?"));
        let Step::Ask { manager, message } = chat.next() else {
            panic!("the manager is asked first")
        };
        assert_eq!(manager, boss.id);
        let asked = text_of(&message);
        assert!(asked.contains("- Bob: Bob knows things"), "{asked}");
        assert!(asked.contains("user: who knows?"), "{asked}");
        chat.chose("I think ANN LEE, then bob").unwrap();
        assert_eq!(speak(chat.next()).0, 1);
        chat.spoke(1, vec!["me".into()]);
        // The last speaker is not offered; a name inside a word does not count.
        let Step::Ask { message, .. } = chat.next() else {
            panic!()
        };
        assert!(!text_of(&message).contains("- Ann Lee"));
        assert!(text_of(&message).contains("Ann Lee: me"));
        let err = chat.chose("Bobby, or Annabel").unwrap_err();
        assert!(err.contains("Ann, Bob"), "{err}");
        chat.chose("bob.").unwrap();
        assert_eq!(speak(chat.next()).0, 2);
        chat.spoke(2, vec!["all done DONE!".into()]);
        assert!(matches!(chat.next(), Step::Done));
    }

    #[test]
    fn names_match_whole_words_earliest_first() {
        assert_eq!(named("bob then ann", &["ann", "bob"]), Some(1));
        assert_eq!(named("Annabel", &["ann"]), None);
        assert_eq!(named("ann-lee!", &["ann", "ann-lee"]), Some(1));
        assert_eq!(named("", &["ann"]), None);
        assert_eq!(named("x", &[""]), None);
    }
}
