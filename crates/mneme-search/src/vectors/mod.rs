//! Per-owner vector collections, loaded on demand, and their background HNSW builds.
//!
//! One collection per archive or agent, never one global graph filtered by owner: a filter
//! that keeps 0.1% of a graph turns its walk into a near-exhaustive traversal (measured
//! 56-264 ms per query), while a per-owner collection answers in well under a millisecond.

mod collection;
mod hnsw;
mod slab;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::change::Change;
use crate::error::{Result, SearchError};
use crate::options::SearchOptions;
use collection::Collection;
use hnsw::Hnsw;

/// What an owner's vector collection holds right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorStats {
    /// Vectors in the collection.
    pub vectors: usize,
    /// Their dimension, once the first vector fixed it.
    pub dimensions: Option<usize>,
    /// Whether queries walk an HNSW graph (otherwise they scan exactly).
    pub hnsw: bool,
    /// Whether a graph is being built in the background.
    pub building: bool,
    /// Removed vectors still in the graph.
    pub tombstones: usize,
}

type Shared = Arc<RwLock<Collection>>;

/// Every loaded collection.
pub(crate) struct Collections {
    loaded: RwLock<HashMap<String, Shared>>,
    options: Arc<SearchOptions>,
    builds: Arc<Builds>,
}

/// Bookkeeping shared with the build threads.
struct Builds {
    /// Abandons builds of a collection that was reloaded or changed state meanwhile.
    generation: AtomicU64,
    /// Builds run one at a time: each already uses `build_threads` cores, and a start-up
    /// that loads many large collections must not start them all at once.
    one_at_a_time: Mutex<()>,
    running: Mutex<usize>,
    finished: Condvar,
}

impl Collections {
    pub(crate) fn new(options: Arc<SearchOptions>) -> Collections {
        Collections {
            loaded: RwLock::new(HashMap::new()),
            options,
            builds: Arc::new(Builds {
                generation: AtomicU64::new(0),
                one_at_a_time: Mutex::new(()),
                running: Mutex::new(0),
                finished: Condvar::new(),
            }),
        }
    }

    pub(crate) fn is_loaded(&self, owner: &str) -> bool {
        read(&self.loaded).contains_key(owner)
    }

    /// Installs `owner`'s collection, replacing any loaded one.
    pub(crate) fn load(&self, owner: &str, vectors: Vec<(u64, Vec<f32>)>) {
        let mut collection = Collection::new();
        for (key, vector) in vectors {
            collection.upsert(owner, key, &vector);
        }
        let shared = Arc::new(RwLock::new(collection));
        self.maybe_build(owner, &shared, &mut write(&shared));
        write(&self.loaded).insert(owner.to_owned(), shared);
    }

    pub(crate) fn unload(&self, owner: &str) {
        write(&self.loaded).remove(owner);
    }

    /// Applies the vector side of `changes` to the collections that are loaded; the others
    /// will read the new state from the database when they load.
    pub(crate) fn apply(&self, changes: &[Change]) {
        let mut by_owner: HashMap<&str, Vec<&Change>> = HashMap::new();
        for change in changes {
            by_owner.entry(change.owner()).or_default().push(change);
        }
        for (owner, changes) in by_owner {
            let Some(shared) = read(&self.loaded).get(owner).cloned() else {
                continue;
            };
            for change in changes {
                // The write lock is taken per change, not per batch: a graph update costs about
                // a millisecond, and a batch of them must not stall this owner's searches.
                let mut collection = write(&shared);
                match change {
                    Change::Upsert(doc) => match &doc.vector {
                        Some(vector) => collection.upsert(owner, doc.key, vector),
                        None => collection.remove(owner, doc.key),
                    },
                    Change::Remove { key, .. } => collection.remove(owner, *key),
                }
            }
            self.maybe_build(owner, &shared, &mut write(&shared));
        }
    }

    pub(crate) fn search(
        &self,
        owner: &str,
        query: &[f32],
        n: usize,
        allowed: Option<&HashSet<u64>>,
    ) -> Result<Vec<(u64, f32)>> {
        let shared = read(&self.loaded)
            .get(owner)
            .cloned()
            .ok_or_else(|| SearchError::VectorsNotLoaded(owner.to_owned()))?;
        let hits = read(&shared).search(owner, query, n, allowed)?;
        Ok(hits)
    }

    /// The mean of the vectors `owner` holds for `keys` (those it has), or `None` when it has
    /// none of them.
    pub(crate) fn mean_of(&self, owner: &str, keys: &[u64]) -> Option<Vec<f32>> {
        let shared = read(&self.loaded).get(owner).cloned()?;
        let collection = read(&shared);
        let mut sum: Option<Vec<f32>> = None;
        let mut n = 0usize;
        for vector in keys.iter().filter_map(|k| collection.vector(*k)) {
            let acc = sum.get_or_insert_with(|| vec![0.0; vector.len()]);
            acc.iter_mut().zip(vector).for_each(|(a, v)| *a += v);
            n += 1;
        }
        let mut mean = sum?;
        mean.iter_mut().for_each(|a| *a /= n as f32);
        Some(mean)
    }

    pub(crate) fn stats(&self, owner: &str) -> Option<VectorStats> {
        let shared = read(&self.loaded).get(owner).cloned()?;
        let c = read(&shared);
        Some(VectorStats {
            vectors: c.len(),
            dimensions: c.dimensions(),
            hnsw: c.has_hnsw(),
            building: c.is_building(),
            tombstones: c.tombstones(),
        })
    }

    /// Waits until no build is running; false if `timeout` passed first.
    pub(crate) fn wait_for_builds(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut running = lock(&self.builds.running);
        while *running > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            running = self
                .builds
                .finished
                .wait_timeout(running, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Starts a background build if the collection needs one. Called with the collection's
    /// write lock held, so the build's start is ordered with the writes around it.
    fn maybe_build(&self, owner: &str, shared: &Shared, collection: &mut Collection) {
        let generation = self.builds.generation.fetch_add(1, Ordering::Relaxed) + 1;
        if !collection.want_build(&self.options, generation) {
            return;
        }
        *lock(&self.builds.running) += 1;
        let running = RunningBuild(Arc::clone(&self.builds));
        let (owner_name, shared, options) = (
            owner.to_owned(),
            Arc::clone(shared),
            Arc::clone(&self.options),
        );
        let builds = Arc::clone(&self.builds);
        let spawned = std::thread::Builder::new()
            .name("mneme-hnsw-build".into())
            .spawn(move || {
                let _running = running;
                let _turn = lock(&builds.one_at_a_time);
                build(&owner_name, &shared, generation, &options);
            });
        if let Err(e) = spawned {
            // The closure (and its `RunningBuild`) is dropped, so the count is right again.
            tracing::error!(owner, error = %e, "cannot start an HNSW build thread");
            collection.finish_build(owner, generation, Err(SearchError::Vector(e.to_string())));
        }
    }
}

/// The body of a build thread: snapshot under a read lock, build unlocked, install under
/// the write lock.
fn build(owner: &str, shared: &Shared, generation: u64, options: &SearchOptions) {
    let Some(snapshot) = read(shared).snapshot(generation) else {
        return;
    };
    let started = Instant::now();
    let built = Hnsw::build(snapshot.dimensions, &snapshot.keys, &snapshot.data, options);
    drop(snapshot);
    tracing::info!(
        owner,
        vectors = read(shared).len(),
        seconds = started.elapsed().as_secs_f64(),
        ok = built.is_ok(),
        "HNSW build finished"
    );
    write(shared).finish_build(owner, generation, built);
}

/// Decrements the running-build count however the build thread ends.
struct RunningBuild(Arc<Builds>);

impl Drop for RunningBuild {
    fn drop(&mut self) {
        *lock(&self.0.running) -= 1;
        self.0.finished.notify_all();
    }
}

// The locks guard plain data that every writer leaves consistent between statements; a
// panicking reader or writer elsewhere must not take the whole index down with it.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

fn lock<T>(lock: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}
