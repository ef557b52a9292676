//! The storage contract, asserted through the traits only, written once for every backend.
//!
//! Each case is an `async fn(Arc<dyn Store>)` that gets a fresh, empty store and panics when
//! the backend breaks a promise of the traits' doc comments. A backend runs the whole suite from
//! one test binary with [`conformance_suite!`](crate::conformance_suite), given an async
//! factory of fresh stores; each case becomes its own `#[tokio::test]`:
//!
//! ```ignore
//! async fn fresh() -> (Arc<dyn Store>, tempfile::TempDir) { /* a new database */ }
//! mneme_store::conformance_suite!(fresh);
//! ```
//!
//! The factory's second value (a temporary directory, a scratch schema) lives until the case
//! ends. Cases compare timestamps only as stored (microseconds) and never depend on two rows
//! created in the same microsecond being ordered.
// Test code compiled into the library so that other crates' test binaries can run it: a failed
// expectation is a panic with the value that broke it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod agent_blocks;
pub mod agents;
pub mod archives;
pub mod batches;
pub mod blocks;
pub mod conversations;
pub mod folders;
pub mod groups;
pub mod identities;
pub mod imports;
pub mod mcp;
pub mod messages;
pub mod outbox;
pub mod providers;
pub mod replicas;
pub mod runs;
pub mod sandbox;
pub mod search;
pub mod step_queries;
pub mod steps;
pub mod tenancy;
pub mod tools;

mod fixtures;

pub use fixtures::*;

/// Expands, in a backend's test binary, to one `#[tokio::test]` per conformance case, grouped
/// in one module per subject (as the case modules here). `$factory` names an `async fn()` in scope that returns a fresh
/// store and whatever keeps it alive: `(Arc<dyn Store>, impl Sized)`.
///
/// With `$reopen` too (an `async fn(&Keep) -> Arc<dyn Store>` giving another handle on the
/// database the factory made, as a second replica), the cases that need two handles run as well.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:ident, $reopen:ident) => {
        $crate::conformance_suite!($factory);
        $crate::__conformance_pairs! { $factory, $reopen;
            replicas {
                handles_are_replicas_of_their_own,
                a_lease_has_one_holder_until_released,
                an_expired_lease_is_taken_over,
                heartbeats_extend_the_leases_held,
                cancel_requests_reach_the_owner_by_heartbeat,
                the_runs_of_dead_replicas_fail,
                a_replica_never_fails_its_own_runs,
                a_retired_replicas_runs_and_leases_are_taken_over_at_once,
                shared_pruning_waits_for_every_live_replica,
                the_unfinished_files_of_dead_replicas_fail,
                orphaned_files_restart_as_the_restarting_replica_s,
            }
        }
    };
    ($factory:ident) => {
        $crate::__conformance_cases! { $factory;
            agents {
                create_agent_stores_everything_at_once,
                a_failed_agent_creation_writes_nothing,
                unknown_agents_are_not_found,
                agent_pages_follow_cursors_both_ways,
                agent_pages_order_by_update_and_last_run,
                agent_filters_and_counts_agree,
                update_agent_applies_the_edit_or_nothing,
                an_agent_edit_of_message_ids_bumps_their_version,
                delete_agent_takes_its_own_rows_along,
                delete_agent_takes_only_the_archives_it_alone_owns,
            }
            agent_blocks {
                update_agent_replaces_blocks_in_order,
                attached_blocks_keep_order_and_unique_labels,
                blocks_of_agents_answers_each_agent_in_order,
                agent_context_holds_what_a_prompt_is_compiled_from,
                agent_frame_is_the_context_without_its_messages,
                message_count_follows_every_write_of_messages,
                passage_count_follows_every_write_of_passages,
            }
            blocks {
                blocks_round_trip_every_field,
                get_blocks_answers_in_the_order_asked,
                block_pages_follow_cursors_and_refuse_unknown_ones,
                block_filters_and_counts_agree,
                block_counts_of_agents_filter,
                update_block_applies_the_edit_or_nothing,
                a_label_change_stays_unique_per_agent,
                update_agent_block_finds_the_block_by_label,
                delete_block_detaches_it_everywhere,
                agents_of_block_page_like_agent_lists,
            }
            conversations {
                create_conversation_stores_its_system_message_and_context,
                a_failed_conversation_creation_writes_nothing,
                isolated_blocks_stand_in_for_the_agents_only_in_their_conversation,
                thread_messages_follow_the_listing_order_both_ways,
                a_system_role_input_keeps_its_place_in_the_thread,
                forks_list_inherited_messages_then_their_own,
                conversation_lists_filter_by_agent_and_summary,
                conversation_pages_follow_creation_time_both_ways,
                conversation_pages_put_never_messaged_ones_last,
                update_conversation_applies_the_edit_or_nothing,
                delete_conversation_takes_its_own_rows_along,
                messages_a_fork_took_over_go_with_the_fork,
                deleting_the_agent_deletes_its_conversations,
            }
            groups {
                create_group_keeps_members_in_order_and_shares_blocks,
                a_failed_group_creation_writes_nothing,
                a_group_created_with_new_agents_holds_them,
                group_lists_filter_hide_and_page,
                update_group_applies_the_edit_or_nothing,
                deleting_agents_and_groups_keeps_the_rest,
                group_blocks_attach_to_members_and_detach_from_the_group,
                group_messages_page_across_agents_in_storage_order,
                delivered_group_messages_join_the_contexts_asked,
                resetting_group_messages_takes_them_out_of_every_context,
            }
            folders {
                folders_round_trip_with_unique_names,
                folder_lists_filter_and_page,
                update_folder_applies_the_edit_or_nothing,
                duplicate_file_names_are_settled_as_asked,
                file_updates_carry_content_and_move_the_job,
                unfinished_files_restart_without_their_passages,
                deleting_files_and_folders_takes_their_passages,
                folders_attach_to_agents_in_order,
                agent_files_upsert_and_go_with_their_folder,
                agent_files_go_with_their_file_and_steps_write_them,
                agents_start_with_and_replace_their_folders,
                jobs_list_update_and_delete,
                folder_stats_count_files_and_sizes,
            }
            batches {
                a_batch_is_stored_with_its_runs_at_once,
                a_batch_settles_once_when_its_last_run_ends,
                an_edited_batch_keeps_its_id_and_a_cancelled_one_never_settles,
                batch_lists_page_by_creation_and_keep_to_active_ones,
                batch_messages_are_those_its_runs_stored,
            }
            identities {
                identities_round_trip_with_their_links,
                a_key_is_unique_within_its_project,
                a_failed_identity_creation_writes_nothing,
                upsert_edits_the_identity_of_its_key_or_creates_one,
                identity_links_are_replaced_added_and_removed,
                update_identity_applies_the_edit_or_nothing,
                identity_lists_filter_and_page,
                agents_carry_their_identity_ids,
                agent_and_block_lists_filter_by_identity,
                deleting_either_end_removes_only_the_links,
            }
            imports {
                an_import_writes_everything_at_once,
                a_refused_import_writes_nothing,
                imported_tools_match_stored_ones_by_name,
                shared_blocks_are_one_row_for_every_agent_holding_them,
                imported_messages_are_listed_and_in_context_in_order,
                imported_passages_are_in_the_agents_own_archive,
                imports_are_counted_and_reach_the_outbox,
                the_same_file_imported_twice_gives_two_independent_agents,
                imported_mcp_servers_are_stored_with_the_rest,
                imported_folders_and_agent_files_are_written_with_the_agents,
            }
            messages {
                messages_round_trip_every_field,
                set_message_text_rewrites_in_place,
                update_message_applies_the_edit_or_nothing,
                message_pages_follow_storage_order_not_timestamps,
                message_pages_filter_by_run_and_refuse_unknown_cursors,
                run_messages_page_in_storage_order,
                all_messages_page_every_agent_in_storage_order,
                reset_keeps_only_the_system_message,
                messages_by_ids_answer_in_the_order_asked,
                message_edits_bump_messages_edited,
                a_compaction_replaces_the_context_and_keeps_what_left_it,
                a_compaction_in_a_conversation_writes_its_context,
                a_history_append_writes_messages_blocks_and_passages_at_once,
                reset_leaves_conversations_alone,
            }
            step_queries {
                step_filters_select_steps,
                a_step_edit_is_stored,
                a_step_keeps_its_timings_beside_its_record,
                step_messages_are_the_ones_it_wrote,
                deleting_a_run_takes_its_steps_and_keeps_its_messages,
                tags_of_agents_and_blocks_list_once_by_name,
            }
            runs {
                runs_round_trip_and_update,
                run_filters_select_runs,
                run_pages_follow_cursors,
                finish_run_copies_the_outcome_to_the_agent,
                steps_are_stored_and_listed_per_run,
                chunks_append_in_order_and_read_after_a_seq,
                pruning_chunks_spares_unfinished_and_recent_runs,
                a_step_keeps_its_first_trace_until_pruned,
                runs_remember_the_otids_that_started_them,
            }
            steps {
                a_step_commits_everything_or_nothing,
                a_step_writes_blocks_system_text_and_passages,
                a_stale_context_version_is_refused_and_writes_nothing,
                sequential_steps_advance_the_context_version,
                other_writers_of_message_ids_make_a_step_stale,
                a_step_of_an_unknown_agent_is_not_found,
                a_step_in_two_commits_replaces_its_pending_record,
                a_commit_without_a_step_record_writes_only_messages_and_context,
                a_step_in_a_conversation_writes_its_context_not_the_agents,
            }
            tools {
                upsert_keeps_ids_by_name,
                tools_by_name_answer_in_the_order_asked,
                tool_filters_and_counts_agree,
                tool_pages_follow_cursors,
                update_tool_applies_the_edit_or_nothing,
                delete_tool_detaches_it,
                attached_tools_keep_their_order,
                tools_of_agents_answers_each_agent,
            }
            archives {
                archives_round_trip_and_update,
                archive_lists_filter_and_page,
                an_agent_gets_one_default_archive_and_loses_it_with_itself,
                detaching_and_deleting_archives,
                agents_of_archive_page_like_agent_lists,
                passages_insert_all_or_nothing,
                passage_pages_follow_creation_time,
                passages_are_deleted_only_from_the_given_archives,
                passages_are_updated_only_in_the_given_archives,
            }
            outbox {
                passage_changes_reach_the_outbox,
                message_changes_reach_the_outbox,
                outbox_seqs_increase_and_reads_are_bounded,
                pruning_drops_only_applied_changes,
                reindex_queues_every_searchable_row,
            }
            search {
                rows_by_key_leave_missing_keys_out,
                passage_keys_apply_tags_and_dates,
                message_keys_apply_roles_dates_text_and_newest,
                message_keys_keep_to_one_thread,
                passage_vectors_load_per_archive,
                message_vectors_load_per_agent,
                messages_after_lists_every_message_in_seq_order,
                recall_vectors_and_their_cursor_move_together,
            }
            mcp {
                servers_have_unique_names,
                unknown_servers_are_not_found,
                a_refused_server_edit_writes_nothing,
                syncing_adds_updates_prunes_and_never_replaces_other_tools,
                renames_reach_the_tools_and_deletes_take_them_along,
            }
            providers {
                providers_round_trip_with_unique_names,
                provider_lists_filter_and_page,
                update_provider_applies_the_edit_or_nothing,
                deleted_providers_are_gone_and_free_their_name,
            }
            sandbox {
                one_sandbox_config_per_kind,
                sandbox_config_edits_apply_or_write_nothing,
                sandbox_env_vars_are_unique_per_key,
                deleting_a_sandbox_config_deletes_its_variables,
            }
            tenancy {
                the_default_organization_and_user_exist,
                organizations_round_trip_and_update,
                organization_pages_follow_creation_time,
                users_belong_to_an_existing_organization,
                keys_are_found_by_hash_until_revoked,
                deleting_an_organization_takes_its_users_and_keys,
                audit_entries_list_in_order_with_filters_and_bounds,
            }
        }
    };
}

/// The expansion of [`conformance_suite!`](crate::conformance_suite); not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($factory:ident; $($module:ident { $($case:ident),* $(,)? })*) => {
        $(
            mod $module {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let (store, _keep) = super::$factory().await;
                        $crate::conformance::$module::$case(store).await;
                    }
                )*
            }
        )*
    };
}

/// The expansion of the two-handle cases of [`conformance_suite!`](crate::conformance_suite);
/// not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_pairs {
    ($factory:ident, $reopen:ident; $($module:ident { $($case:ident),* $(,)? })*) => {
        $(
            mod $module {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let (store, keep) = super::$factory().await;
                        let other = super::$reopen(&keep).await;
                        $crate::conformance::$module::$case(store, other).await;
                    }
                )*
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    /// The case modules, as their source, to check the suite against.
    const CASES: &[(&str, &str)] = &[
        ("agent_blocks", include_str!("agent_blocks.rs")),
        ("agents", include_str!("agents.rs")),
        ("archives", include_str!("archives.rs")),
        ("batches", include_str!("batches.rs")),
        ("blocks", include_str!("blocks.rs")),
        ("conversations", include_str!("conversations.rs")),
        ("folders", include_str!("folders.rs")),
        ("groups", include_str!("groups.rs")),
        ("identities", include_str!("identities.rs")),
        ("imports", include_str!("imports.rs")),
        ("mcp", include_str!("mcp.rs")),
        ("messages", include_str!("messages.rs")),
        ("outbox", include_str!("outbox.rs")),
        ("providers", include_str!("providers.rs")),
        ("replicas", include_str!("replicas.rs")),
        ("runs", include_str!("runs.rs")),
        ("sandbox", include_str!("sandbox.rs")),
        ("search", include_str!("search.rs")),
        ("steps", include_str!("steps.rs")),
        ("step_queries", include_str!("step_queries.rs")),
        ("tenancy", include_str!("tenancy.rs")),
        ("tools", include_str!("tools.rs")),
    ];

    fn fn_names<'a>(source: &'a str, prefix: &str) -> Vec<&'a str> {
        source
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix(prefix))
            .filter_map(|l| l.split(['(', '<']).next())
            .collect()
    }

    /// A case written but not listed in `conformance_suite!` would never run.
    #[test]
    fn every_case_is_in_the_suite() {
        let suite = include_str!("mod.rs");
        let mut cases = 0;
        for (module, source) in CASES {
            let block = suite
                .split(&format!("            {module} {{"))
                .nth(1)
                .and_then(|rest| rest.split('}').next())
                .unwrap_or_else(|| panic!("no {module} group in the suite"));
            let listed: Vec<&str> = block.split(',').map(str::trim).collect();
            for case in fn_names(source, "pub async fn ") {
                assert!(
                    listed.contains(&case),
                    "{module}::{case} is not in the suite"
                );
                cases += 1;
            }
        }
        assert!(cases > 60, "only {cases} cases found");
    }

    /// Every method of every storage trait is called by at least one case.
    #[test]
    fn every_trait_method_is_exercised() {
        let traits = [
            include_str!("../lib.rs"),
            include_str!("../folders.rs"),
            include_str!("../batches.rs"),
            include_str!("../tenancy.rs"),
        ];
        let methods: Vec<&str> = traits
            .iter()
            .flat_map(|t| fn_names(t, "async fn "))
            .collect();
        assert!(methods.len() > 75, "only {} methods found", methods.len());
        for method in methods {
            let called = format!(".{method}(");
            assert!(
                CASES.iter().any(|(_, source)| source.contains(&called)),
                "no conformance case calls {method}"
            );
        }
    }
}
