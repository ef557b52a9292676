//! One owner's vectors: the exact slab, and the HNSW graph once the collection is large.

use std::collections::HashSet;

use crate::error::{Result, SearchError};
use crate::options::SearchOptions;
use crate::vectors::hnsw::Hnsw;
use crate::vectors::slab::Slab;

/// The vectors of one archive or agent.
///
/// States: exact only; exact with a graph being built in the background (`build`, queries
/// still scan); graph ready (`hnsw`, queries walk it). Every write goes to the slab, to the
/// graph if there is one, and is noted in `build.touched` during a build so that the new
/// graph catches up before it serves.
pub(crate) struct Collection {
    /// `None` until the first vector fixes the dimension.
    slab: Option<Slab>,
    hnsw: Option<Hnsw>,
    build: Option<PendingBuild>,
    /// A build or a graph update failed: stay exact rather than fail again on every write.
    hnsw_broken: bool,
}

/// A background build in flight.
pub(crate) struct PendingBuild {
    generation: u64,
    /// Keys written since the build started; replayed from the slab when it finishes.
    touched: HashSet<u64>,
}

/// What a build thread copies out of a collection, so that it builds without holding a lock.
pub(crate) struct Snapshot {
    pub(crate) dimensions: usize,
    pub(crate) keys: Vec<u64>,
    pub(crate) data: Vec<f32>,
}

impl Collection {
    pub(crate) fn new() -> Collection {
        Collection {
            slab: None,
            hnsw: None,
            build: None,
            hnsw_broken: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.as_ref().map_or(0, Slab::len)
    }

    pub(crate) fn dimensions(&self) -> Option<usize> {
        self.slab.as_ref().map(Slab::dimensions)
    }

    pub(crate) fn has_hnsw(&self) -> bool {
        self.hnsw.is_some()
    }

    pub(crate) fn is_building(&self) -> bool {
        self.build.is_some()
    }

    pub(crate) fn tombstones(&self) -> usize {
        self.hnsw.as_ref().map_or(0, Hnsw::tombstones)
    }

    /// Inserts or replaces `key`'s vector. A vector of another dimension than the
    /// collection's is dropped with a warning: the document stays findable by text.
    pub(crate) fn upsert(&mut self, owner: &str, key: u64, vector: &[f32]) {
        let expected = self.dimensions().unwrap_or(vector.len());
        if vector.len() != expected || vector.is_empty() {
            tracing::warn!(
                owner,
                key,
                expected,
                got = vector.len(),
                "vector of the wrong dimension not indexed"
            );
            // Whatever vector the key had no longer describes its document.
            self.remove(owner, key);
            return;
        }
        let slab = self.slab.get_or_insert_with(|| Slab::new(vector.len()));
        slab.upsert(key, vector);
        if let Some(build) = &mut self.build {
            build.touched.insert(key);
        }
        if let Some(hnsw) = &mut self.hnsw
            && let Err(e) = hnsw.upsert(key, vector)
        {
            self.drop_graph(owner, &e);
        }
    }

    pub(crate) fn remove(&mut self, owner: &str, key: u64) {
        let Some(slab) = &mut self.slab else { return };
        slab.remove(key);
        if let Some(build) = &mut self.build {
            build.touched.insert(key);
        }
        if let Some(hnsw) = &mut self.hnsw
            && let Err(e) = hnsw.remove(key)
        {
            self.drop_graph(owner, &e);
        }
    }

    /// The vector stored for `key`, if any.
    pub(crate) fn vector(&self, key: u64) -> Option<&[f32]> {
        self.slab.as_ref()?.get(key)
    }

    /// The top `n` keys by similarity with `query`, best first.
    pub(crate) fn search(
        &self,
        owner: &str,
        query: &[f32],
        n: usize,
        allowed: Option<&HashSet<u64>>,
    ) -> Result<Vec<(u64, f32)>> {
        let Some(slab) = &self.slab else {
            return Ok(Vec::new());
        };
        if query.len() != slab.dimensions() {
            return Err(SearchError::Dimension {
                owner: owner.to_owned(),
                expected: slab.dimensions(),
                got: query.len(),
            });
        }
        // A filter that keeps few keys makes a graph walk visit most of the graph (measured:
        // 56-264 ms for 0.1% of it); looking those few keys up in the slab is exact and cheap.
        let selective = allowed.is_some_and(|a| a.len().saturating_mul(16) < slab.len());
        if let Some(hnsw) = &self.hnsw
            && !selective
        {
            match hnsw.search(query, n, allowed) {
                Ok(hits) => return Ok(hits),
                // E.g. every search slot busy: the exact answer is slower but right.
                Err(e) => tracing::debug!(owner, error = %e, "HNSW search failed; scanning"),
            }
        }
        Ok(slab.search(query, n, allowed))
    }

    /// Starts a build if the collection outgrew exact scan, or its graph is full of
    /// tombstones; returns the snapshot-taking generation to hand to a build thread.
    pub(crate) fn want_build(&mut self, options: &SearchOptions, generation: u64) -> bool {
        let len = self.len();
        if self.hnsw.is_some() && len < options.hnsw_threshold / 2 {
            // Shrunk well below the threshold: the scan is fast again, free the graph.
            self.hnsw = None;
        }
        if self.hnsw_broken || self.build.is_some() || len <= options.hnsw_threshold {
            return false;
        }
        // Removed nodes stay in the graph and are walked (+60-90% query cost measured at 10%
        // deleted); rebuild once a fifth of the collection is tombstones.
        let stale = self.hnsw.as_ref().is_some_and(|h| h.tombstones() * 5 > len);
        if self.hnsw.is_some() && !stale {
            return false;
        }
        self.build = Some(PendingBuild {
            generation,
            touched: HashSet::new(),
        });
        true
    }

    /// The copy a build of `generation` starts from; `None` if that build was abandoned.
    pub(crate) fn snapshot(&self, generation: u64) -> Option<Snapshot> {
        let slab = self.slab.as_ref()?;
        if self.build.as_ref()?.generation != generation {
            return None;
        }
        Some(Snapshot {
            dimensions: slab.dimensions(),
            keys: slab.keys().to_vec(),
            data: slab.data().to_vec(),
        })
    }

    /// Installs a finished graph after replaying the writes it missed.
    pub(crate) fn finish_build(&mut self, owner: &str, generation: u64, built: Result<Hnsw>) {
        let Some(build) = self.build.take_if(|b| b.generation == generation) else {
            return;
        };
        let installed = built.and_then(|mut hnsw| {
            let slab = self.slab.as_ref();
            for key in build.touched {
                match slab.and_then(|s| s.get(key)) {
                    Some(vector) => hnsw.upsert(key, vector)?,
                    None => hnsw.remove(key)?,
                }
            }
            Ok(hnsw)
        });
        match installed {
            Ok(hnsw) => self.hnsw = Some(hnsw),
            Err(e) => {
                tracing::error!(owner, error = %e, "HNSW build failed; the collection stays exact");
                self.hnsw_broken = true;
            }
        }
    }

    /// A graph that missed a write would answer wrongly; drop it and stay exact.
    fn drop_graph(&mut self, owner: &str, error: &SearchError) {
        tracing::error!(owner, %error, "HNSW update failed; the collection stays exact");
        self.hnsw = None;
        self.build = None;
        self.hnsw_broken = true;
    }
}
