//! The recall embedder on PostgreSQL, where a message can commit after a later seq was read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use mneme_embed::{EmbedderRouter, RouterConfig};
use mneme_store::conformance::{append, message, new_agent};
use mneme_store::{Role, Store};
use mneme_store_postgres::scratch::ScratchDb;
use mneme_testkit::FakeLlm;
use mneme_types::{AgentId, EmbeddingConfig, MessageId};
use sqlx::{Connection, PgConnection};

use super::{RECALL_CURSOR, Searcher};

/// An agent whose messages the fake LLM server embeds.
async fn embedded_agent(store: &dyn Store, fake: &FakeLlm, name: &str) -> AgentId {
    let config: EmbeddingConfig = serde_json::from_value(serde_json::json!({
        "embedding_endpoint_type": "openai",
        "embedding_endpoint": format!("http://{}/v1", fake.addr()),
        "embedding_model": "text-embedding-3-small",
        "embedding_dim": 1536,
    }))
    .unwrap();
    let mut new = new_agent(name, vec![]);
    new.agent.embedding_config = Some(config);
    store.create_agent(new).await.unwrap().id
}

#[tokio::test]
async fn a_message_committed_after_a_later_one_was_embedded_still_gets_its_vector() {
    let db = ScratchDb::create().await;
    let store: Arc<dyn Store> = Arc::new(db.store().await);
    let fake = FakeLlm::start().await;
    let late_agent = embedded_agent(&*store, &fake, "late").await;
    let early_agent = embedded_agent(&*store, &fake, "early").await;
    let router = Arc::new(EmbedderRouter::new(RouterConfig::default()));
    let searcher = Searcher::open(store.clone(), None, router, true, Default::default())
        .await
        .unwrap();

    // A writer takes a seq and has not committed yet...
    let mut raw = PgConnection::connect(db.url()).await.unwrap();
    let mut tx = raw.begin().await.unwrap();
    let late_seq: i64 = sqlx::query_scalar(
        "INSERT INTO messages (id, agent_id, role, text, created_at, updated_at)
         VALUES ($1, $2, 'user', 'committed late', 0, 0) RETURNING seq",
    )
    .bind(MessageId::new().to_string())
    .bind(late_agent.to_string())
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    // ...when another commits a later one, which the embedder reads.
    let early = message(early_agent, Role::User, "committed early");
    append(&*store, early_agent, vec![early]).await;
    searcher.embed_recall_batch().await.unwrap();
    assert_eq!(store.message_vectors(early_agent).await.unwrap().len(), 1);
    let cursor = store.search_cursor(RECALL_CURSOR).await.unwrap();
    assert!(
        cursor < late_seq as u64,
        "the cursor waits below the gap ({cursor})"
    );

    tx.commit().await.unwrap();
    searcher.embed_recall_batch().await.unwrap();
    let late = store.message_vectors(late_agent).await.unwrap();
    assert_eq!(
        late.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        [late_seq as u64],
        "the gap is read again and its message embedded"
    );
    let cursor = store.search_cursor(RECALL_CURSOR).await.unwrap();
    assert!(cursor > late_seq as u64, "the cursor passed the filled gap");
}
