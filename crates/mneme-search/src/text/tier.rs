//! The memory tier of the BM25 leg: changes applied but not yet committed to tantivy.
//!
//! A tantivy commit writes and syncs files and starts a segment (milliseconds), far too much
//! for a search that must first see the writes just made. So `apply` lands here: per key the
//! latest pending change, an inverted index of the pending documents per owner (word -> the
//! documents holding it, with the term frequency and length BM25 needs) and the totals, so
//! that search can score these documents exactly as tantivy will once they are flushed. A
//! pending entry hides whatever tantivy holds for its key (the older version, or a removed
//! document).

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::fieldnorm::FieldNormReader;

use super::SCOPE;

/// The tier's maps: keyed by words of user texts, so seeded (unlike FxHash), and several
/// times faster than the default SipHash on short strings.
pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A document's text as the index sees it: its distinct analysed words with their counts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Analysed {
    /// Stemmed words (not owner-scoped) and how often each occurs.
    pub(crate) words: Vec<(Box<str>, u32)>,
    /// How many tokens the text has: tantivy's field norm.
    pub(crate) len: u32,
}

/// One pending change of a key.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Which `put` made it: a flush forgets the entries it wrote only if no later `put`
    /// replaced them meanwhile.
    pub(crate) version: u64,
    pub(crate) owner: Arc<str>,
    /// The document, or `None` for a removal.
    pub(crate) doc: Option<Arc<Analysed>>,
}

/// What a flush writes: every pending entry and the watermark they bring the index to.
pub(crate) struct Pending {
    pub(crate) entries: Vec<(u64, Entry)>,
    pub(crate) applied: u64,
    /// The last `put` these entries include: later ones are not in this flush.
    pub(crate) version: u64,
}

/// A pending document holding a term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Posting {
    pub(crate) key: u64,
    /// How often the term occurs in it.
    pub(crate) tf: u32,
    /// Its length as tantivy stores it (`FieldNormReader::fieldnorm_to_id`).
    pub(crate) norm: u8,
}

/// The pending changes with their BM25 statistics.
#[derive(Debug, Default)]
pub(crate) struct Tier {
    entries: Map<u64, Entry>,
    /// Per owner: its inverted index. Per owner rather than keyed by owner-scoped terms as in
    /// tantivy: a word is then hashed without the owner id, which is most of the bytes.
    owners: Map<Arc<str>, Owner>,
    /// Upserts pending, and their tokens: added to tantivy's totals for BM25.
    docs: u64,
    tokens: u64,
    /// A rough size of the tier in memory, for the flush bound.
    bytes: usize,
    /// The highest watermark `apply` was given.
    applied: u64,
    version: u64,
}

/// One owner's pending entries.
#[derive(Debug, Default)]
struct Owner {
    /// How many: a bound on how many of the owner's tantivy hits the tier can hide.
    entries: usize,
    /// Word -> the pending documents holding it, for upserts only. A list, not a map:
    /// removing from it (a key changed twice before a flush) is rare, and a map per word
    /// would cost an allocation and hashing per word.
    postings: Map<Box<str>, Vec<Posting>>,
}

impl Tier {
    /// An empty tier at the watermark the index holds on disk.
    pub(crate) fn new(applied: u64) -> Tier {
        Tier {
            applied,
            ..Tier::default()
        }
    }

    /// Records the latest change of `key`: a document, or its removal (`None`).
    pub(crate) fn put(&mut self, key: u64, owner: &str, doc: Option<Analysed>) {
        // Unindex the old entry first: the new one may share its terms.
        if let Some(old) = self.entries.remove(&key) {
            self.unindex(key, &old);
        }
        self.version += 1;
        let owner: Arc<str> = match self.owners.get_key_value(owner) {
            Some((shared, _)) => Arc::clone(shared),
            None => owner.into(),
        };
        let entry = Entry {
            version: self.version,
            owner,
            doc: doc.map(Arc::new),
        };
        self.index(key, &entry);
        self.entries.insert(key, entry);
    }

    /// Raises the applied watermark (never lowers it).
    pub(crate) fn raise_applied(&mut self, watermark: u64) {
        self.applied = self.applied.max(watermark);
    }

    pub(crate) fn applied(&self) -> u64 {
        self.applied
    }

    /// A copy of every pending entry (documents are shared, not copied).
    pub(crate) fn pending(&self) -> Pending {
        Pending {
            entries: self.entries.iter().map(|(k, e)| (*k, e.clone())).collect(),
            applied: self.applied,
            version: self.version,
        }
    }

    /// Drops the entries a flush wrote (those `put` up to `flushed`, the `Pending` version);
    /// later ones stay. Returns what was dropped, for the caller to free after releasing its
    /// lock: the tier is rebuilt from what stays (usually nothing) rather than unindexed
    /// entry by entry, which for a full tier took longer than the commit.
    #[must_use = "the old tier: drop it outside the lock"]
    pub(crate) fn forget(&mut self, flushed: u64) -> Tier {
        let empty = Tier {
            applied: self.applied,
            version: self.version,
            ..Tier::default()
        };
        let mut old = std::mem::replace(self, empty);
        if old.version > flushed {
            for (key, entry) in old.entries.drain().filter(|(_, e)| e.version > flushed) {
                self.index(key, &entry);
                self.entries.insert(key, entry);
            }
        }
        old
    }

    /// Turns `owner`'s pending documents into removals (its tantivy documents are deleted
    /// alongside): a removal still hides a version of the key another owner held in tantivy.
    pub(crate) fn remove_owner(&mut self, owner: &str) {
        let keys: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.doc.is_some() && &*e.owner == owner)
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.put(key, owner, None);
        }
    }

    /// Whether a pending change of `key` supersedes what tantivy holds for it.
    pub(crate) fn hides(&self, key: u64) -> bool {
        self.entries.contains_key(&key)
    }

    /// How many entries `owner` has pending.
    pub(crate) fn entries_of(&self, owner: &str) -> usize {
        self.owners.get(owner).map_or(0, |o| o.entries)
    }

    /// The pending documents holding `scoped` (an owner-scoped term, as tantivy indexes it).
    pub(crate) fn postings(&self, scoped: &str) -> &[Posting] {
        let Some((owner, word)) = scoped.rsplit_once(SCOPE) else {
            return &[];
        };
        self.owners
            .get(owner)
            .and_then(|o| o.postings.get(word))
            .map_or(&[], Vec::as_slice)
    }

    /// How many pending documents hold `scoped`.
    pub(crate) fn doc_freq(&self, scoped: &str) -> u64 {
        self.postings(scoped).len() as u64
    }

    /// Pending documents (upserts).
    pub(crate) fn docs(&self) -> u64 {
        self.docs
    }

    /// Tokens of the pending documents.
    pub(crate) fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Pending entries, removals included.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// A rough estimate of the tier's memory.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    fn index(&mut self, key: u64, entry: &Entry) {
        self.bytes += entry_bytes(entry);
        let owner = self.owners.entry(Arc::clone(&entry.owner)).or_default();
        owner.entries += 1;
        let Some(doc) = &entry.doc else { return };
        self.docs += 1;
        self.tokens += u64::from(doc.len);
        let norm = FieldNormReader::fieldnorm_to_id(doc.len);
        for (word, tf) in &doc.words {
            let posting = Posting { key, tf: *tf, norm };
            match owner.postings.get_mut(word) {
                Some(p) => p.push(posting),
                None => {
                    owner.postings.insert(word.clone(), vec![posting]);
                }
            }
        }
    }

    fn unindex(&mut self, key: u64, entry: &Entry) {
        self.bytes -= entry_bytes(entry);
        if let Some(doc) = &entry.doc {
            self.docs -= 1;
            self.tokens -= u64::from(doc.len);
        }
        let Some(owner) = self.owners.get_mut(&entry.owner) else {
            return;
        };
        owner.entries -= 1;
        if owner.entries == 0 {
            // Its postings are all this entry's.
            self.owners.remove(&entry.owner);
            return;
        }
        for (word, _) in entry.doc.iter().flat_map(|d| &d.words) {
            if let Some(p) = owner.postings.get_mut(word) {
                p.retain(|posting| posting.key != key);
                if p.is_empty() {
                    owner.postings.remove(word);
                }
            }
        }
    }
}

/// `owner`'s version of `word`, as tantivy indexes it. The word never holds `SCOPE` (the
/// tokenizer splits on anything but letters and digits), so the last one separates them.
pub(crate) fn scoped(owner: &str, word: &str) -> String {
    let mut s = String::with_capacity(owner.len() + word.len() + 1);
    s.push_str(owner);
    s.push(SCOPE);
    s.push_str(word);
    s
}

/// The entry's share of the tier's memory: its word list and a postings slot per word (the
/// word counted twice, an upper bound), plus the map overheads.
fn entry_bytes(entry: &Entry) -> usize {
    const ENTRY: usize = 96;
    const WORD: usize = 64;
    let words = entry
        .doc
        .as_ref()
        .map_or(0, |d| d.words.iter().map(|(w, _)| 2 * w.len() + WORD).sum());
    ENTRY + words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(words: &[(&str, u32)]) -> Option<Analysed> {
        Some(Analysed {
            words: words.iter().map(|(w, n)| ((*w).into(), *n)).collect(),
            len: words.iter().map(|(_, n)| n).sum(),
        })
    }

    fn keys(tier: &Tier, owner: &str, word: &str) -> Vec<u64> {
        let postings = tier.postings(&scoped(owner, word));
        let mut keys: Vec<u64> = postings.iter().map(|p| p.key).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn an_upsert_replaces_the_keys_previous_terms_and_totals() {
        let mut tier = Tier::new(0);
        tier.put(1, "a", doc(&[("cat", 2), ("mat", 1)]));
        tier.put(2, "a", doc(&[("cat", 1)]));
        assert_eq!((tier.docs(), tier.tokens()), (2, 4));
        assert_eq!(tier.doc_freq(&scoped("a", "cat")), 2);
        tier.put(1, "a", doc(&[("dog", 1)]));
        assert_eq!((tier.docs(), tier.tokens()), (2, 2));
        assert_eq!(keys(&tier, "a", "cat"), [2]);
        assert!(keys(&tier, "a", "mat").is_empty());
        assert_eq!(
            tier.postings(&scoped("a", "dog")),
            [Posting {
                key: 1,
                tf: 1,
                norm: 1
            }]
        );
    }

    #[test]
    fn a_removal_keeps_hiding_the_key_without_counting_as_a_document() {
        let mut tier = Tier::new(0);
        tier.put(1, "a", doc(&[("cat", 1)]));
        tier.put(1, "a", None);
        assert!(tier.hides(1));
        assert_eq!((tier.docs(), tier.tokens(), tier.len()), (0, 0, 1));
        assert_eq!(tier.doc_freq(&scoped("a", "cat")), 0);
        assert_eq!(tier.entries_of("a"), 1);
    }

    #[test]
    fn terms_are_scoped_to_their_owner() {
        let mut tier = Tier::new(0);
        tier.put(1, "a", doc(&[("cat", 1)]));
        tier.put(2, "b", doc(&[("cat", 1)]));
        assert_eq!(keys(&tier, "a", "cat"), [1]);
        assert_eq!(keys(&tier, "b", "cat"), [2]);
        assert_eq!((tier.entries_of("a"), tier.entries_of("c")), (1, 0));
    }

    #[test]
    fn a_flush_forgets_only_what_it_wrote() {
        let mut tier = Tier::new(3);
        tier.put(1, "a", doc(&[("cat", 1)]));
        tier.put(2, "a", doc(&[("dog", 1)]));
        tier.raise_applied(5);
        let pending = tier.pending();
        assert_eq!((pending.applied, pending.entries.len()), (5, 2));
        // Key 2 changes while the flush writes.
        tier.put(2, "a", doc(&[("owl", 2)]));
        tier.raise_applied(6);
        let _ = tier.forget(pending.version);
        assert!(!tier.hides(1));
        assert_eq!(keys(&tier, "a", "owl"), [2]);
        assert!(keys(&tier, "a", "cat").is_empty());
        assert_eq!((tier.len(), tier.docs(), tier.tokens()), (1, 1, 2));
        assert_eq!((tier.entries_of("a"), tier.applied()), (1, 6));
        let version = tier.pending().version;
        let _ = tier.forget(version);
        assert_eq!(
            (tier.len(), tier.docs(), tier.tokens(), tier.bytes()),
            (0, 0, 0, 0)
        );
        assert!(tier.owners.is_empty());
        // Versions keep growing: a later put is never mistaken for a flushed one.
        tier.put(3, "a", doc(&[("elk", 1)]));
        let _ = tier.forget(version);
        assert!(tier.hides(3));
    }

    #[test]
    fn removing_an_owner_turns_its_documents_into_removals() {
        let mut tier = Tier::new(0);
        tier.put(1, "a", doc(&[("cat", 1)]));
        tier.put(2, "b", doc(&[("cat", 1)]));
        tier.remove_owner("a");
        assert!(tier.hides(1));
        assert!(keys(&tier, "a", "cat").is_empty());
        assert_eq!(keys(&tier, "b", "cat"), [2]);
        assert_eq!(tier.docs(), 1);
    }

    #[test]
    fn the_applied_watermark_never_goes_down() {
        let mut tier = Tier::new(7);
        tier.raise_applied(5);
        assert_eq!(tier.applied(), 7);
        tier.raise_applied(9);
        assert_eq!(tier.applied(), 9);
    }
}
