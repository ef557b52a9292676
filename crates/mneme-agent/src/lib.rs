//! The agent runtime: base system prompts per agent type, core-memory rendering and the
//! compilation of the system message an agent's context starts with.
//!
//! Pure functions over store records; the step loop will live here too.

pub mod memory;
pub mod prompts;
pub mod system;

pub use memory::render_memory;
pub use prompts::default_system_prompt;
pub use system::{MemoryStats, compile_system_message};
