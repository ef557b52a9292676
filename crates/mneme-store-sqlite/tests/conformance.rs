//! The backend-generic storage contract (`mneme_store::conformance`), run on SQLite: each case
//! on a fresh database file (a second handle on it is a second replica).

use std::sync::Arc;

use mneme_store::Store;
use mneme_store_sqlite::{Durability, SqliteStore};

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
        .unwrap_or_else(|e| panic!("opening the database: {e}"));
    (Arc::new(store), dir)
}

/// A second handle on the case's database file: another replica.
async fn reopen(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let store = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal)
        .unwrap_or_else(|e| panic!("opening the database again: {e}"));
    Arc::new(store)
}

mneme_store::conformance_suite!(sqlite, reopen);
