//! BM25 search over both tiers: tantivy's committed documents and the pending ones, ranked on
//! one scale.
//!
//! Both sides are scored with tantivy's own `Bm25Weight` (k1 1.2, b 0.75) from statistics
//! that add the tier's documents, tokens and document frequencies to the searcher's, so a
//! document scores the same before and after a flush and the two lists merge by score.

use std::collections::HashSet;
use std::sync::Arc;

use tantivy::collector::{FilterCollector, TopDocs};
use tantivy::query::{
    Bm25StatisticsProvider, Bm25Weight, BooleanQuery, Occur, Query as TantivyQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Searcher, Term};

use super::TextIndex;
use super::tier::{Map, Tier, scoped};
use crate::error::Result;

/// A query longer than this many distinct words keeps its first ones: each word is a posting
/// list to walk, and a pasted page of text must not cost a full scan per word.
const MAX_QUERY_TERMS: usize = 128;

/// A score and the key it belongs to.
type Scored = (f32, u64);

impl TextIndex {
    /// The BM25 top `limit` keys of `owner` for `text` with their scores, best first,
    /// restricted to `allowed`. With `stopwords`, function words leave the query unless
    /// nothing else is left.
    pub(crate) fn search(
        &self,
        owner: &str,
        text: &str,
        limit: usize,
        allowed: Option<&Arc<HashSet<u64>>>,
        stopwords: bool,
    ) -> Result<Vec<(u64, f32)>> {
        let ranked = self.ranked(owner, text, limit, allowed, stopwords)?;
        Ok(ranked
            .into_iter()
            .map(|(score, key)| (key, score))
            .collect())
    }

    /// `search` as (score, key) pairs.
    fn ranked(
        &self,
        owner: &str,
        text: &str,
        limit: usize,
        allowed: Option<&Arc<HashSet<u64>>>,
        stopwords: bool,
    ) -> Result<Vec<Scored>> {
        let terms = self.terms(owner, text, stopwords)?;
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        // The tier before the searcher, both held to the end: a flush reloads the reader and
        // drops what it wrote from the tier under the tier's write lock.
        let tier = self.read_tier();
        let searcher = self.reader.searcher();
        let stats = Stats {
            searcher: &searcher,
            tier: &tier,
            text: self.fields.text,
        };
        let mut scored = pending_hits(&tier, &stats, &terms, allowed)?;
        // A tier of many matching documents (a bulk import) must not cost a sort of all.
        if scored.len() > limit {
            scored.select_nth_unstable_by(limit - 1, best_first);
            scored.truncate(limit);
        }
        let query = disjunction(&terms);
        scored.extend(self.committed_hits(&stats, &query, owner, limit, allowed)?);
        drop(tier);
        scored.sort_by(best_first);
        scored.truncate(limit);
        Ok(scored)
    }

    /// The distinct analysed terms of a query text. Parsing is ours, not tantivy's query
    /// language: quotes, `:`, `AND` or a lone `-` are just characters between words, so no
    /// user input is a syntax error.
    fn terms(&self, owner: &str, text: &str, stopwords: bool) -> Result<Vec<Term>> {
        let mut analyzer = self.analyzer()?;
        let mut stream = analyzer.token_stream(text);
        let mut seen = HashSet::new();
        let mut words = Vec::new();
        while stream.advance() {
            let word = &stream.token().text;
            if words.len() < MAX_QUERY_TERMS && seen.insert(word.clone()) {
                words.push(word.clone());
            }
        }
        if stopwords {
            let stop = self.stopwords()?;
            if words.iter().any(|w| !stop.contains(w)) {
                words.retain(|w| !stop.contains(w));
            }
        }
        Ok(words
            .iter()
            .map(|word| Term::from_field_text(self.fields.text, &scoped(owner, word)))
            .collect())
    }

    /// tantivy's top `limit` of `owner`, minus the keys the tier supersedes. Those can only
    /// be dropped after ranking (the collector's filter must own its data, and copying the
    /// tier per search is what this design avoids), so it over-fetches by the owner's pending
    /// entries, at most `limit` more (most pending entries are new keys that hide nothing,
    /// and a large fetch weakens tantivy's pruning), and fetches twice as many again while
    /// hidden hits leave it short.
    fn committed_hits(
        &self,
        stats: &Stats<'_>,
        query: &BooleanQuery,
        owner: &str,
        limit: usize,
        allowed: Option<&Arc<HashSet<u64>>>,
    ) -> Result<Vec<Scored>> {
        let mut fetch = limit.saturating_add(stats.tier.entries_of(owner).min(limit));
        loop {
            let found = self.top_docs(stats, query, fetch, allowed)?;
            let exhausted = found.len() < fetch;
            let visible: Vec<Scored> = found
                .into_iter()
                .filter(|(_, key)| !stats.tier.hides(*key))
                .collect();
            if visible.len() >= limit || exhausted {
                return Ok(visible);
            }
            fetch = fetch.saturating_mul(2);
        }
    }

    /// tantivy's top `limit` (score, key) pairs, `allowed` applied inside the collector.
    fn top_docs(
        &self,
        stats: &Stats<'_>,
        query: &BooleanQuery,
        limit: usize,
        allowed: Option<&Arc<HashSet<u64>>>,
    ) -> Result<Vec<Scored>> {
        let searcher = stats.searcher;
        let top = TopDocs::with_limit(limit).order_by_score();
        let found: Vec<(f32, DocAddress)> = match allowed {
            // The filter runs inside the collector, so disallowed documents never take a place
            // in the top `limit` (a post-filter would return fewer hits than asked).
            Some(allowed) => {
                // The collector wants an owned `'static` predicate: share the set, never copy it.
                let allowed = Arc::clone(allowed);
                let filter = FilterCollector::new(
                    "key".to_owned(),
                    move |key: u64| allowed.contains(&key),
                    top,
                );
                searcher.search_with_statistics_provider(query, &filter, stats)?
            }
            None => searcher.search_with_statistics_provider(query, &top, stats)?,
        };
        let mut columns = Vec::new();
        let mut scored = Vec::with_capacity(found.len());
        for (score, address) in found {
            let ord = address.segment_ord as usize;
            if columns.len() <= ord {
                columns.resize_with(ord + 1, || None);
            }
            if columns[ord].is_none() {
                let reader = searcher.segment_reader(address.segment_ord);
                columns[ord] = Some(reader.fast_fields().u64("key")?);
            }
            if let Some(key) = columns[ord].as_ref().and_then(|c| c.first(address.doc_id)) {
                scored.push((score, key));
            }
        }
        Ok(scored)
    }
}

/// English function words, dropped from queries when the ranking asks for it. Question words
/// are among them: "when did she move" should rank by "move", and the turn that answers it
/// rarely says "when".
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "ever",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "s",
    "t",
    "ve",
    "ll",
    "re",
    "d",
    "m",
];

impl TextIndex {
    /// `STOPWORDS` as the analyzer makes them (lower case, stemmed: "because" is "becaus"),
    /// computed once.
    fn stopwords(&self) -> Result<&HashSet<String>> {
        if let Some(set) = self.stopwords.get() {
            return Ok(set);
        }
        let mut analyzer = self.analyzer()?;
        let mut set = HashSet::new();
        for word in STOPWORDS {
            let mut stream = analyzer.token_stream(word);
            while stream.advance() {
                set.insert(stream.token().text.clone());
            }
        }
        Ok(self.stopwords.get_or_init(|| set))
    }
}

/// Higher scores first; equal scores: the newer (larger) key first, the rule everywhere in this
/// crate.
fn best_first(a: &Scored, b: &Scored) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(b.1.cmp(&a.1))
}

/// The owner's own terms, any of which may match: no owner clause, so the disjunction can be
/// pruned (block-max WAND).
fn disjunction(terms: &[Term]) -> BooleanQuery {
    BooleanQuery::new(
        terms
            .iter()
            .map(|term| {
                let query: Box<dyn TantivyQuery> =
                    Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs));
                (Occur::Should, query)
            })
            .collect(),
    )
}

/// The tier's documents matching `terms` (which are owner-scoped, so they are the owner's),
/// scored as tantivy scores a `Should` disjunction: the sum of each matching term's BM25.
fn pending_hits(
    tier: &Tier,
    stats: &Stats<'_>,
    terms: &[Term],
    allowed: Option<&Arc<HashSet<u64>>>,
) -> Result<Vec<Scored>> {
    let mut scores: Map<u64, f32> = Map::default();
    for term in terms {
        let value = term.value();
        let Some(scoped) = value.as_str() else {
            continue;
        };
        if tier.doc_freq(scoped) == 0 {
            continue;
        }
        let weight = Bm25Weight::for_terms(stats, std::slice::from_ref(term))?;
        for p in tier.postings(scoped) {
            if allowed.is_some_and(|a| !a.contains(&p.key)) {
                continue;
            }
            *scores.entry(p.key).or_default() += weight.score(p.norm, p.tf);
        }
    }
    Ok(scores
        .into_iter()
        .map(|(key, score)| (score, key))
        .collect())
}

/// BM25 statistics of both tiers. Like tantivy's own, they count the committed versions the
/// tier hides (tantivy counts deleted documents until a merge drops them), so a document's
/// score does not jump when a flush moves it.
struct Stats<'a> {
    searcher: &'a Searcher,
    tier: &'a Tier,
    text: Field,
}

impl Bm25StatisticsProvider for Stats<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let pending = if field == self.text {
            self.tier.tokens()
        } else {
            0
        };
        Ok(self.searcher.total_num_tokens(field)? + pending)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(Bm25StatisticsProvider::total_num_docs(self.searcher)? + self.tier.docs())
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let pending = term.value().as_str().map_or(0, |t| self.tier.doc_freq(t));
        Ok(self.searcher.doc_freq(term)? + pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Change, Doc};
    use crate::text::TierBound;

    const BOUND: TierBound = TierBound {
        entries: usize::MAX,
        bytes: usize::MAX,
    };

    fn upsert(key: u64, owner: &str, text: &str) -> Change {
        Change::Upsert(Doc {
            key,
            owner: owner.to_owned(),
            text: text.to_owned(),
            vector: None,
        })
    }

    /// Documents of varied lengths and term frequencies, two owners.
    fn corpus() -> Vec<Change> {
        let words = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date"];
        (1..=60u64)
            .map(|k| {
                let text: Vec<&str> = (0..(3 + k % 11))
                    .map(|i| words[((k * 7 + i * i * 3) % 7) as usize])
                    .collect();
                let owner = if k % 4 == 0 { "b" } else { "a" };
                upsert(k, owner, &text.join(" "))
            })
            .collect()
    }

    fn ranked(index: &TextIndex, text: &str) -> Vec<Scored> {
        index.ranked("a", text, 100, None, false).expect("search")
    }

    /// The same keys with the same scores, within float error: a sum over several terms may
    /// differ in the last bits with the order of addition (which can swap exact ties).
    fn assert_same_scores(a: &[Scored], b: &[Scored]) {
        let by_key = |s: &[Scored]| -> std::collections::HashMap<u64, f32> {
            s.iter().map(|(s, k)| (*k, *s)).collect()
        };
        let (a, b) = (by_key(a), by_key(b));
        assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
        for (key, sa) in &a {
            let sb = b.get(key).copied().unwrap_or(f32::NAN);
            assert!(
                (sa - sb).abs() <= 1e-5 * sa.abs().max(1.0),
                "{key}: {sa} {sb}"
            );
        }
    }

    #[test]
    fn a_document_scores_the_same_pending_or_committed() {
        let changes = corpus();
        let index = TextIndex::open(None, 15 << 20, BOUND).expect("open");
        // A committed first half with its own statistics, then the rest pending.
        index.apply(&changes[..30], 1).expect("apply");
        index.flush().expect("flush");
        index.apply(&changes[30..], 2).expect("apply");
        let queries = [
            "apple",
            "plum fig",
            "kiwi lime date pear",
            "apple apple pear",
        ];
        let before: Vec<Vec<Scored>> = queries.iter().map(|q| ranked(&index, q)).collect();
        assert!(before.iter().all(|r| !r.is_empty()));
        assert!(before[1].iter().any(|(_, k)| *k > 30) && before[1].iter().any(|(_, k)| *k <= 30));
        index.flush().expect("flush");
        for (query, before) in queries.iter().zip(&before) {
            assert_same_scores(before, &ranked(&index, query));
        }
        // And the same again with nothing committed at all.
        let pending = TextIndex::open(None, 15 << 20, BOUND).expect("open");
        pending.apply(&changes, 2).expect("apply");
        for (query, before) in queries.iter().zip(&before) {
            assert_same_scores(before, &ranked(&pending, query));
        }
    }

    #[test]
    fn a_replaced_document_is_scored_with_its_new_text_only() {
        let index = TextIndex::open(None, 15 << 20, BOUND).expect("open");
        index.apply(&corpus(), 1).expect("apply");
        index.flush().expect("flush");
        let fresh = TextIndex::open(None, 15 << 20, BOUND).expect("open");
        fresh.apply(&corpus(), 1).expect("apply");
        fresh.flush().expect("flush");
        // Key 5 becomes a document about apples, pending in one index and committed in the
        // other: same scores (tantivy keeps counting the replaced version until a merge, and
        // the tier's statistics count it too).
        let change = [upsert(5, "a", "apple apple apple")];
        index.apply(&change, 2).expect("apply");
        fresh.apply(&change, 2).expect("apply");
        fresh.flush().expect("flush");
        let pending = ranked(&index, "apple");
        assert_eq!(pending.first().map(|s| s.1), Some(5), "{pending:?}");
        assert_same_scores(&pending, &ranked(&fresh, "apple"));
    }
}
