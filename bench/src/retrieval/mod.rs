//! `mneme-bench retrieval`: the labelled retrieval evaluation over HTTP. Per conversation of
//! `bench/retrieval/dataset.json` an agent with the built-in embedding model gets every turn
//! as an archival passage (dated with its session, tagged with its turn id), then each
//! question is searched with `top_k=10` and its evidence turns looked for in the results.

mod client;
pub(crate) mod command;
mod dataset;
mod metrics;
mod report;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args as ClapArgs;
use serde_json::json;

use self::client::{Client, Endpoint, NewPassage};
use self::dataset::{Conversation, Dataset, PassageFormat, Question};
use self::metrics::{Scores, score, summarise};
pub(crate) use self::report::RetrievalReport;
use self::report::{Latencies, QuestionResult};
use crate::phases::progress;
use crate::report::Machine;
use crate::stats::Samples;

/// The options of `mneme-bench retrieval` (with the global ones: `--mneme-bin`, `--base-url`,
/// `--quick`, `--json`, `--compare`, `--load`, `--name`, `--data-parent`, `--database-url`).
#[derive(ClapArgs, Debug, Clone)]
pub(crate) struct RetrievalArgs {
    /// The labelled set (default: the committed bench/retrieval/dataset.json).
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Only the first N conversations (default: all; --quick: 3).
    #[arg(long)]
    limit_conversations: Option<usize>,
    /// What text each turn is stored as.
    #[arg(long, value_enum, default_value_t = PassageFormat::Plain)]
    passage_format: PassageFormat,
    /// The search endpoint questions go to.
    #[arg(long, value_enum, default_value_t = Endpoint::Agent)]
    endpoint: Endpoint,
    /// Embedding handle of the agents; `none` for an agent without a model (full text only).
    #[arg(long = "retrieval-embedding", default_value = "local/all-MiniLM-L6-v2")]
    embedding: String,
    /// Results per search.
    #[arg(long, default_value_t = 10)]
    top_k: u32,
    /// Turns per conversation inserted one by one and timed (default 30; --quick: 10); the
    /// rest go through the archive's batch endpoint.
    #[arg(long)]
    single_inserts: Option<usize>,
    /// Passages per batch request.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// An argument for the mneme the run starts (repeat for several), e.g. a ranking variant.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// An environment variable `KEY=VALUE` for the mneme the run starts (repeatable).
    #[arg(long = "server-env")]
    server_env: Vec<String>,
}

/// The settings of one run, resolved from the arguments.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Plan {
    pub(crate) dataset: PathBuf,
    pub(crate) conversations: Option<usize>,
    pub(crate) passage_format: PassageFormat,
    pub(crate) endpoint: Endpoint,
    pub(crate) embedding: Option<String>,
    pub(crate) model: String,
    pub(crate) top_k: u32,
    pub(crate) single_inserts: usize,
    pub(crate) batch_size: usize,
}

impl RetrievalArgs {
    pub(crate) fn plan(&self, quick: bool, model: &str) -> Result<Plan> {
        if self.batch_size == 0 || self.batch_size > 1000 {
            bail!("--batch-size must be between 1 and 1000 (the server's limit per request)");
        }
        let dataset = match &self.dataset {
            Some(p) => p.clone(),
            None => default_dataset(),
        };
        let quick_limit = quick.then_some(3);
        Ok(Plan {
            dataset,
            conversations: self.limit_conversations.or(quick_limit),
            passage_format: self.passage_format,
            endpoint: self.endpoint,
            embedding: (self.embedding != "none").then(|| self.embedding.clone()),
            model: model.to_owned(),
            top_k: self.top_k,
            single_inserts: self.single_inserts.unwrap_or(if quick { 10 } else { 30 }),
            batch_size: self.batch_size,
        })
    }

    /// `--server-env` as pairs.
    pub(crate) fn env(&self) -> Result<Vec<(String, String)>> {
        (self.server_env.iter())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
                _ => bail!("--server-env wants KEY=VALUE, got {kv:?}"),
            })
            .collect()
    }

    pub(crate) fn server_args(&self) -> &[String] {
        &self.server_args
    }
}

/// The committed set: in the source tree when run from it, else beside the working directory.
fn default_dataset() -> PathBuf {
    let in_tree = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("retrieval/dataset.json");
    if in_tree.is_file() {
        in_tree
    } else {
        PathBuf::from("bench/retrieval/dataset.json")
    }
}

/// Runs the evaluation against the server at `base`; `header` is the report without results.
pub(crate) async fn evaluate(
    plan: &Plan,
    base: &str,
    mut header: RetrievalReport,
) -> Result<RetrievalReport> {
    let data = Dataset::load(&plan.dataset)?;
    let client = Client::new(base)?;
    let take = plan.conversations.unwrap_or(usize::MAX);
    let conversations: Vec<&Conversation> = data.conversations.iter().take(take).collect();
    progress(&format!(
        "retrieval: {} ({} v{}), {} conversations, format {:?}, endpoint {:?}",
        plan.dataset.display(),
        data.name,
        data.version,
        conversations.len(),
        plan.passage_format,
        plan.endpoint
    ));
    let mut run = Run::default();
    let tag = chrono::Utc::now().format("%H%M%S").to_string();
    for c in conversations {
        let questions = data.questions_of(&c.id);
        run.conversation(&client, plan, c, &questions, &tag)
            .await
            .with_context(|| format!("conversation {}", c.id))?;
    }
    header.scores = summarise(run.results.iter().map(|q| (q.kind.as_str(), q.scores)));
    header.latency = run.latencies(plan.batch_size);
    header.search_modes = run.modes;
    header.questions = run.results;
    header.machine.loadavg_end = crate::report::loadavg();
    check_modes(plan, &header);
    Ok(header)
}

/// A search of an agent with a model whose results all came from the full-text leg most
/// likely had no query vector (the server falls back silently): say so loudly, since the
/// figures then measure BM25, not what was asked.
fn check_modes(plan: &Plan, report: &RetrievalReport) {
    let n = report.latency.searches_text_only;
    if plan.embedding.is_some() && n > 0 {
        progress(&format!(
            "WARNING: {n} searches found nothing by vector: was the query embedded? \
             (is the model installed? see the server's log)"
        ));
    }
}

/// The report's frame: who measures what; the results are filled in by `evaluate`.
pub(crate) fn header(name: String, target: serde_json::Value, plan: &Plan) -> RetrievalReport {
    RetrievalReport {
        tool: format!("mneme-bench {} retrieval", env!("CARGO_PKG_VERSION")),
        name,
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: Machine::probe(),
        target,
        params: serde_json::to_value(plan).unwrap_or_default(),
        scores: BTreeMap::new(),
        latency: Latencies::default(),
        search_modes: BTreeMap::new(),
        questions: Vec::new(),
    }
}

/// What the run gathers across conversations.
#[derive(Default)]
struct Run {
    inserts: Samples,
    searches: Samples,
    batch_passages: usize,
    batch_seconds: f64,
    batch_error: Option<String>,
    unembedded: usize,
    /// Searches whose every result came from the full-text leg alone.
    text_only: usize,
    modes: BTreeMap<String, usize>,
    results: Vec<QuestionResult>,
}

impl Run {
    async fn conversation(
        &mut self,
        client: &Client,
        plan: &Plan,
        c: &Conversation,
        questions: &[&Question],
        tag: &str,
    ) -> Result<()> {
        let name = format!("retrieval-{}-{tag}", c.id);
        let agent = (client.create_agent(&name, &plan.model, plan.embedding.as_deref())).await?;
        let passages = c.passages(plan.passage_format)?;
        progress(&format!(
            "{}: inserting {} passages, then {} searches",
            c.id,
            passages.len(),
            questions.len()
        ));
        self.insert(client, plan, &agent, &passages).await?;
        let by_text: HashMap<&str, &str> = (passages.iter().rev())
            .map(|p| (p.text.as_str(), p.turn.as_str()))
            .collect();
        let sessions = c.session_of();
        for q in questions {
            let start = Instant::now();
            let found = client
                .search(plan.endpoint, &agent, &q.question, plan.top_k)
                .await;
            let hits = match found {
                Ok(h) => {
                    self.searches.push(start.elapsed());
                    h
                }
                Err(e) => {
                    self.searches.fail(&e);
                    Vec::new()
                }
            };
            let by_vector = hits.iter().any(|h| h.mode.as_deref() != Some("full_text"));
            self.text_only += usize::from(!hits.is_empty() && !by_vector);
            let mut turns = Vec::with_capacity(hits.len());
            for h in hits {
                *self.modes.entry(h.mode.unwrap_or_default()).or_default() += 1;
                // The tag names the turn; the text is the fallback for a server that drops
                // tags (the first turn with that text).
                let turn = h
                    .tag
                    .or_else(|| by_text.get(h.text.as_str()).map(|t| (*t).to_owned()));
                turns.push(turn.unwrap_or_default());
            }
            let scores: Scores = score(&turns, &q.evidence, &sessions);
            self.results.push(QuestionResult {
                id: q.id.clone(),
                kind: q.kind.clone(),
                found: turns,
                scores,
            });
        }
        Ok(())
    }

    /// The first `single_inserts` passages one by one (timed), the rest in batches into the
    /// agent's archive (or one by one, untimed, when the batch endpoint fails).
    async fn insert(
        &mut self,
        client: &Client,
        plan: &Plan,
        agent: &str,
        passages: &[dataset::Passage],
    ) -> Result<()> {
        // At least one single insert: it creates the agent's archive.
        let singles = plan.single_inserts.clamp(1, passages.len().max(1));
        let (first, rest) = passages.split_at(singles.min(passages.len()));
        for p in first {
            let start = Instant::now();
            let embedded = client.insert(agent, &new_passage(p)).await?;
            self.inserts.push(start.elapsed());
            self.unembedded += usize::from(plan.embedding.is_some() && !embedded);
        }
        if self.unembedded > 0 {
            bail!("inserted passages have no embedding: the server has no working model");
        }
        if rest.is_empty() {
            return Ok(());
        }
        let mut done = 0;
        if self.batch_error.is_none() {
            match self
                .insert_batches(client, plan, agent, rest, &mut done)
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) => {
                    progress(&format!("batch insert failed, inserting one by one: {e:#}"));
                    self.batch_error = Some(format!("{e:#}"));
                }
            }
        }
        // Only what no batch stored: a failed batch stored none of its passages.
        for p in &rest[done..] {
            client.insert(agent, &new_passage(p)).await?;
        }
        Ok(())
    }

    async fn insert_batches(
        &mut self,
        client: &Client,
        plan: &Plan,
        agent: &str,
        rest: &[dataset::Passage],
        done: &mut usize,
    ) -> Result<()> {
        let archive = client.agent_archive(agent).await?;
        let start = Instant::now();
        for chunk in rest.chunks(plan.batch_size) {
            let batch: Vec<NewPassage<'_>> = chunk.iter().map(new_passage).collect();
            client.insert_batch(&archive, &batch).await?;
            *done += chunk.len();
        }
        self.batch_seconds += start.elapsed().as_secs_f64();
        self.batch_passages += rest.len();
        Ok(())
    }

    fn latencies(&self, batch_size: usize) -> Latencies {
        let rate = (self.batch_passages > 0 && self.batch_seconds > 0.0)
            .then(|| self.batch_passages as f64 / self.batch_seconds);
        Latencies {
            search: self.searches.summary(),
            insert: self.inserts.summary(),
            batch_passages_per_s: rate,
            batch_passages: self.batch_passages,
            batch_size,
            batch_error: self.batch_error.clone(),
            searches_text_only: self.text_only,
        }
    }
}

/// A turn's passage as the client sends it: its text, its turn id as its tag, its date.
fn new_passage(p: &dataset::Passage) -> NewPassage<'_> {
    NewPassage {
        text: &p.text,
        tag: &p.turn,
        created_at: p.created_at,
    }
}

/// The target description of a run, for the report.
pub(crate) fn target(kind: &str, args: &RetrievalArgs, plan: &Plan) -> serde_json::Value {
    json!({
        "kind": kind,
        "passage_format": plan.passage_format,
        "endpoint": plan.endpoint,
        "embedding": plan.embedding,
        "server_args": args.server_args,
        "server_env": args.server_env,
    })
}
