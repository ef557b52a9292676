//! Passages, archives, search results, the context overview and the small answers of the
//! message, run and MCP routes: each example reads into its type and writes back byte for byte.

use mneme_types::{
    ArchivalMemorySearchResponse, Archive, CancelledRuns, ContextWindowOverview, Deleted,
    McpResyncResult, MessageListResult, MessageListType, Passage, PassageSearchResult, RunStatus,
    SearchRelevance, ToolExecutionResult, ToolExecutionStatus, VectorDbProvider,
};
use serde_json::json;

use super::round_trip;

const PASSAGE: &str = "passage-1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e";
const ARCHIVE: &str = "archive-3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";
const AGENT: &str = "agent-4d5e6f7a-8b9c-4d0e-8f1a-2b3c4d5e6f7a";
const AT: &str = "2025-05-14T16:58:54.123456Z";

fn passage_json(embedding: &str) -> String {
    format!(
        r#"{{"id":"{PASSAGE}","text":"Ada likes tea.","tags":["prefs"],"metadata":{{"source":"chat"}},"embedding":{embedding},"embedding_config":null,"archive_id":"{ARCHIVE}","source_id":null,"file_id":null,"file_name":null,"organization_id":null,"is_deleted":false,"created_by_id":null,"last_updated_by_id":null,"created_at":"{AT}","updated_at":"{AT}"}}"#
    )
}

#[test]
fn a_passage_round_trips_in_letta_field_order() {
    let p: Passage = round_trip(&passage_json("null"));
    assert_eq!(p.id.to_string(), PASSAGE);
    assert_eq!(
        p.archive_id.map(|a| a.to_string()).as_deref(),
        Some(ARCHIVE)
    );
    assert!(!p.is_deleted);
    assert_eq!(p.metadata["source"], "chat");
}

/// An `f32` in a JSON tree is an `f64`: the vector keeps the digits a tree would have written
/// (what the API sent before passages were typed), and reads back as the same `f32`s.
#[test]
fn passage_embeddings_are_written_as_f64_like_a_json_tree_writes_them() {
    let p: Passage = round_trip(&passage_json("[0.10000000149011612,-0.5]"));
    assert_eq!(p.embedding, Some(vec![0.1_f32, -0.5]));
    let tree = json!({ "embedding": vec![0.1_f32, -0.5] });
    let typed = serde_json::to_string(&p).unwrap();
    let tree = serde_json::to_string(&tree).unwrap();
    assert!(typed.contains(&tree[1..tree.len() - 1]), "{typed}");
}

#[test]
fn archival_search_results_carry_only_the_ranks_they_have() {
    let text = format!(
        r#"{{"count":2,"results":[{{"id":"{PASSAGE}","timestamp":"{AT}","content":"Ada likes tea.","tags":[],"relevance":{{"rrf_score":0.032786883413791656,"vector_rank":1,"fts_rank":1,"search_mode":"hybrid"}}}},{{"id":"{PASSAGE}","timestamp":"{AT}","content":"x","tags":["a"],"relevance":{{"search_mode":"recent"}}}}]}}"#
    );
    let r: ArchivalMemorySearchResponse = round_trip(&text);
    assert_eq!(r.count, r.results.len());
    assert_eq!(r.results[0].relevance.vector_rank, Some(1));
    assert_eq!(r.results[1].relevance.rrf_score, None);
}

#[test]
fn a_passage_search_result_wraps_the_passage_with_its_score() {
    let text = format!(
        r#"{{"passage":{},"score":0.016393441706895828,"metadata":{{"rrf_score":0.016393441706895828,"fts_rank":1,"search_mode":"full_text"}}}}"#,
        passage_json("null")
    );
    let r: PassageSearchResult = round_trip(&text);
    assert_eq!(r.metadata.search_mode, "full_text");
    // The score is the f32 fused score widened, as the relevance writes it.
    assert_eq!(r.score, f64::from(1.0_f32 / 61.0));
    let relevance = SearchRelevance {
        rrf_score: None,
        vector_rank: None,
        fts_rank: None,
        search_mode: "vector".into(),
    };
    assert_eq!(
        serde_json::to_string(&relevance).unwrap(),
        r#"{"search_mode":"vector"}"#
    );
}

#[test]
fn an_archive_round_trips_in_letta_field_order() {
    let text = format!(
        r#"{{"id":"{ARCHIVE}","name":"notes","description":null,"vector_db_provider":"native","embedding_config":{{"embedding_endpoint_type":"openai","embedding_endpoint":null,"embedding_model":"text-embedding-3-small","embedding_dim":1536,"embedding_chunk_size":300,"handle":"openai/text-embedding-3-small","batch_size":32}},"metadata":null,"organization_id":"org-00000000-0000-4000-8000-000000000000","created_by_id":null,"last_updated_by_id":null,"created_at":"{AT}","updated_at":"{AT}"}}"#
    );
    let a: Archive = round_trip(&text);
    assert_eq!(a.vector_db_provider, VectorDbProvider::Native);
    assert_eq!(a.embedding_config.map(|c| c.embedding_dim), Some(1536));
}

#[test]
fn the_context_overview_round_trips_with_internal_messages() {
    let message = format!(
        r#"{{"id":"message-9a1f0c2e-5b3d-4e6f-8a7b-1c2d3e4f5a6b","agent_id":"{AGENT}","role":"assistant","content":[{{"type":"text","text":"thinking"}}],"name":null,"tool_calls":[{{"id":"call_1","type":"function","function":{{"name":"send_message","arguments":"{{\"message\": \"hi\"}}"}}}}],"tool_call_id":null,"step_id":"step-0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e","run_id":null,"created_at":"{AT}"}}"#
    );
    let text = format!(
        r#"{{"context_window_size_max":32000,"context_window_size_current":412,"num_messages":2,"num_archival_memory":3,"num_recall_memory":5,"num_tokens_external_memory_summary":20,"external_memory_summary":"<memory_metadata>","num_tokens_system":100,"system_prompt":"You are helpful.","num_tokens_core_memory":50,"core_memory":"<memory_blocks>","num_tokens_memory_filesystem":0,"memory_filesystem":null,"num_tokens_tool_usage_rules":0,"tool_usage_rules":null,"num_tokens_directories":0,"directories":null,"num_tokens_summary_memory":0,"summary_memory":null,"num_tokens_functions_definitions":40,"functions_definitions":[{{"type":"function","function":{{"name":"send_message","parameters":{{}}}}}},{{"type":"function","function":null}}],"num_tokens_messages":2,"messages":[{message}]}}"#
    );
    let c: ContextWindowOverview = round_trip(&text);
    assert_eq!(c.messages[0].tool_calls[0].function.name, "send_message");
    assert_eq!(c.messages[0].content[0].text, "thinking");
    assert_eq!(c.functions_definitions.len(), 2);
}

#[test]
fn message_search_results_name_their_kind_first() {
    let text = format!(
        r#"[{{"message_type":"user_message","content":"tea?","message_id":"message-9a1f0c2e-5b3d-4e6f-8a7b-1c2d3e4f5a6b","agent_id":"{AGENT}","conversation_id":null,"created_at":"{AT}"}},{{"message_type":"assistant_message","content":"Yes.","message_id":"message-9a1f0c2e-5b3d-4e6f-8a7b-1c2d3e4f5a6c","agent_id":null,"conversation_id":null,"created_at":"{AT}"}}]"#
    );
    let r: Vec<MessageListResult> = round_trip(&text);
    assert_eq!(r[0].message_type, MessageListType::UserMessage);
    assert_eq!(r[1].message_type, MessageListType::AssistantMessage);
}

#[test]
fn cancelled_runs_are_a_map_in_the_order_asked() {
    let text = r#"{"run-2f3e4d5c-6b7a-4980-9a1b-2c3d4e5f6a7b":"failed","run-0a3e4d5c-6b7a-4980-9a1b-2c3d4e5f6a7b":"cancelled"}"#;
    let c: CancelledRuns = round_trip(text);
    assert_eq!(c.0[0].1, RunStatus::Failed);
    assert_eq!(c.0[1].1, RunStatus::Cancelled);
    assert_eq!(
        serde_json::to_string(&CancelledRuns::default()).unwrap(),
        "{}"
    );
}

#[test]
fn mcp_answers_round_trip() {
    let sync: McpResyncResult =
        round_trip(r#"{"deleted":["old"],"updated":[],"added":["new","newer"]}"#);
    assert_eq!(sync.added, ["new", "newer"]);
    let run: ToolExecutionResult = round_trip(
        r#"{"status":"error","func_return":"boom","agent_state":null,"stdout":null,"stderr":null,"sandbox_config_fingerprint":null}"#,
    );
    assert_eq!(run.status, ToolExecutionStatus::Error);
    assert_eq!(run.func_return, "boom");
}

#[test]
fn a_delete_answers_with_its_message() {
    let d: Deleted = round_trip(&format!(
        r#"{{"message":"Memory id={PASSAGE} successfully deleted"}}"#
    ));
    assert!(d.message.ends_with("successfully deleted"));
}
