//! The agent runtime: base system prompts per agent type, core-memory rendering, the compiled
//! system message, the built-in tools, and the step loop that runs a turn.

pub mod approval;
mod client;
pub mod compaction;
#[cfg(test)]
mod compaction_tests;
mod context;
mod context_cache;
mod executor;
#[cfg(test)]
mod features_tests;
pub mod files;
pub mod mcp;
pub mod memory;
mod messenger;
pub mod overrides;
pub mod overview;
mod parts;
pub mod prompts;
pub mod recall;
mod repair;
#[cfg(test)]
mod request_tests;
mod run_code;
mod sandbox;
mod step;
pub mod system;
#[cfg(test)]
mod testing;
mod thread;
mod tokens;
pub mod tool_rules;
pub mod tools;
mod turn;
#[cfg(test)]
mod turn_tests;

pub use client::ClientTool;
pub use compaction::{
    Compacted, CompactionOptions, CompactionStart, DEFAULT_THRESHOLD, Trigger, default_prompt,
};
pub use context::Flavor;
pub use executor::{Invocation, ToolExecutor};
pub use files::{FileLimits, LineRange, OpenFiles, default_file_limits};
pub use mcp::McpTools;
pub use memory::render_memory;
pub use messenger::{AgentMessenger, MessengerError, Sender};
pub use overrides::SystemOverrides;
pub use prompts::default_system_prompt;
pub use recall::{ArchivalQuery, Found, MemorySearch, RecallQuery, Relevance};
pub use sandbox::{LazySandbox, LocalSandbox, SandboxConfigs};
pub use step::pack_return;
pub use system::{MemoryStats, compile_system_message};
pub use thread::{thread_context, thread_frame};
pub use turn::{AgentError, PreviewInput, Runtime, Summarized, TurnEvent, TurnInput, TurnOutput};
