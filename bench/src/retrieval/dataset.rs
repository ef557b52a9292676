//! The labelled retrieval set (`bench/retrieval/dataset.json`, written by `generate.py`):
//! conversations of dated sessions, questions with their evidence turns, and the text each
//! turn is stored as (`--passage-format`).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Dataset {
    pub(crate) name: String,
    pub(crate) version: u32,
    pub(crate) conversations: Vec<Conversation>,
    pub(crate) questions: Vec<Question>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Conversation {
    pub(crate) id: String,
    pub(crate) sessions: Vec<Session>,
    pub(crate) turns: Vec<Turn>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) date_time: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Turn {
    pub(crate) id: String,
    pub(crate) session: String,
    pub(crate) speaker: String,
    pub(crate) text: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Question {
    pub(crate) id: String,
    pub(crate) conversation: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) question: String,
    pub(crate) evidence: Vec<String>,
}

/// What text a turn is stored as: the representation choices the lead compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PassageFormat {
    /// `Speaker: text`.
    Plain,
    /// `[2023-05-08] Speaker: text`: the session's date in the text.
    Dated,
    /// The previous turn of the same session, then this one (`Prev: text\nSpeaker: text`):
    /// a short answer ("Biscuit!") carries the question it answers.
    Context,
    /// `[memory entry] Speaker: text`: the same words before every turn, which tells whether
    /// `dated` helps by its dates or by diluting the speaker's name in a short turn's vector.
    Prefixed,
    /// `text` alone, without the speaker.
    Unnamed,
}

/// One turn as it goes into archival memory.
#[derive(Debug, Clone)]
pub(crate) struct Passage {
    pub(crate) turn: String,
    pub(crate) text: String,
    pub(crate) created_at: DateTime<Utc>,
}

impl Dataset {
    pub(crate) fn load(path: &Path) -> Result<Dataset> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let data: Dataset =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        data.check()?;
        Ok(data)
    }

    /// Every question's conversation and evidence exist: a typo in the set would otherwise
    /// read as a retrieval miss.
    fn check(&self) -> Result<()> {
        for q in &self.questions {
            let Some(c) = self.conversations.iter().find(|c| c.id == q.conversation) else {
                bail!(
                    "question {} names unknown conversation {}",
                    q.id,
                    q.conversation
                );
            };
            if q.evidence.is_empty() {
                bail!("question {} has no evidence", q.id);
            }
            if let Some(missing) = q
                .evidence
                .iter()
                .find(|e| !c.turns.iter().any(|t| &t.id == *e))
            {
                bail!("question {} names unknown turn {missing}", q.id);
            }
        }
        Ok(())
    }

    pub(crate) fn questions_of<'a>(&'a self, conversation: &'a str) -> Vec<&'a Question> {
        (self.questions.iter())
            .filter(|q| q.conversation == conversation)
            .collect()
    }
}

impl Conversation {
    /// The turn's session, for session hits.
    pub(crate) fn session_of(&self) -> HashMap<&str, &str> {
        (self.turns.iter())
            .map(|t| (t.id.as_str(), t.session.as_str()))
            .collect()
    }

    /// The passages to store, in conversation order, each dated with its session.
    pub(crate) fn passages(&self, format: PassageFormat) -> Result<Vec<Passage>> {
        let dates: HashMap<&str, DateTime<Utc>> = (self.sessions.iter())
            .map(|s| (s.id.as_str(), s.date_time))
            .collect();
        let mut out = Vec::with_capacity(self.turns.len());
        let mut previous: Option<&Turn> = None;
        for turn in &self.turns {
            let date = *dates
                .get(turn.session.as_str())
                .with_context(|| format!("turn {} of unknown session", turn.id))?;
            let same_session = previous.filter(|p| p.session == turn.session);
            out.push(Passage {
                turn: turn.id.clone(),
                text: render(turn, same_session, date, format),
                created_at: date,
            });
            previous = Some(turn);
        }
        Ok(out)
    }
}

/// The text of `turn` in `format`; `previous` is the turn before it in the same session.
fn render(
    turn: &Turn,
    previous: Option<&Turn>,
    date: DateTime<Utc>,
    format: PassageFormat,
) -> String {
    let line = format!("{}: {}", turn.speaker, turn.text);
    match (format, previous) {
        (PassageFormat::Plain, _) | (PassageFormat::Context, None) => line,
        (PassageFormat::Dated, _) => format!("[{}] {line}", date.format("%Y-%m-%d")),
        (PassageFormat::Context, Some(p)) => format!("{}: {}\n{line}", p.speaker, p.text),
        (PassageFormat::Prefixed, _) => format!("[memory entry] {line}"),
        (PassageFormat::Unnamed, _) => turn.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(id: &str, session: &str, speaker: &str, text: &str) -> Turn {
        Turn {
            id: id.into(),
            session: session.into(),
            speaker: speaker.into(),
            text: text.into(),
        }
    }

    fn conversation() -> Conversation {
        let date = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        Conversation {
            id: "c1".into(),
            sessions: vec![
                Session {
                    id: "s1".into(),
                    date_time: date("2023-05-08T13:56:00Z"),
                },
                Session {
                    id: "s2".into(),
                    date_time: date("2023-06-01T09:00:00Z"),
                },
            ],
            turns: vec![
                turn("t1", "s1", "Ann", "What did you call the pup?"),
                turn("t2", "s1", "Bo", "Biscuit!"),
                turn("t3", "s2", "Ann", "Hi"),
            ],
        }
    }

    #[test]
    fn formats_render_what_they_say() {
        let c = conversation();
        let plain = c.passages(PassageFormat::Plain).unwrap();
        assert_eq!(plain[1].text, "Bo: Biscuit!");
        assert_eq!(
            plain[2].created_at.to_rfc3339(),
            "2023-06-01T09:00:00+00:00"
        );
        let dated = c.passages(PassageFormat::Dated).unwrap();
        assert_eq!(
            dated[0].text,
            "[2023-05-08] Ann: What did you call the pup?"
        );
        let context = c.passages(PassageFormat::Context).unwrap();
        assert_eq!(context[0].text, "Ann: What did you call the pup?");
        assert_eq!(
            context[1].text,
            "Ann: What did you call the pup?\nBo: Biscuit!"
        );
        // A new session starts without the previous session's last turn.
        assert_eq!(context[2].text, "Ann: Hi");
        let prefixed = c.passages(PassageFormat::Prefixed).unwrap();
        assert_eq!(prefixed[1].text, "[memory entry] Bo: Biscuit!");
        let unnamed = c.passages(PassageFormat::Unnamed).unwrap();
        assert_eq!(unnamed[1].text, "Biscuit!");
    }

    #[test]
    fn unknown_evidence_is_refused() {
        let q = Question {
            id: "q1".into(),
            conversation: "c1".into(),
            kind: "single_hop".into(),
            question: "What is the pup called?".into(),
            evidence: vec!["t9".into()],
        };
        let data = Dataset {
            name: "t".into(),
            version: 1,
            conversations: vec![conversation()],
            questions: vec![q],
        };
        assert!(data.check().is_err());
    }
}
