//! The store conformance suite on PostgreSQL: every case on a scratch database of its own.

use std::sync::Arc;

use mneme_store::Store;
use mneme_store_postgres::scratch::ScratchDb;

async fn fresh() -> (Arc<dyn Store>, ScratchDb) {
    let db = ScratchDb::create().await;
    let store = db.store().await;
    (Arc::new(store), db)
}

/// Another pool on the case's database: a second replica.
async fn reopen(db: &ScratchDb) -> Arc<dyn Store> {
    Arc::new(db.store().await)
}

mneme_store::conformance_suite!(fresh, reopen);
