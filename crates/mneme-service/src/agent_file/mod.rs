//! Agent Files (`.af`): agents into and out of this server in Letta's format (the format itself
//! is `mneme_types::agent_file`).

mod catch_up;
mod export;
mod folders;
mod import;
mod messages;
mod migrated;
mod options;

pub use catch_up::{CatchUp, CaughtUp};
pub(crate) use import::new_block as block_fitting_its_value;
pub use migrated::{Archival, ArchivalPassage};
pub use options::{ExportOptions, ImportOptions, ImportedAgents};
