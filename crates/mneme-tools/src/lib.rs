//! Runners for code we don't own: custom Python tools (Letta's `tool_type: custom`).
//!
//! [`Sandbox`] does two things with a tool's source:
//! - [`Sandbox::schema_from_source`] derives Letta's JSON schema (letta-runtime.md §14.1);
//! - [`Sandbox::run`] calls one of its functions with JSON arguments and returns a
//!   [`RunOutcome`] (§14.2, §6.2): the return value, stdout, stderr, and the error of a failed
//!   call. Truncation for the model (§6.3) is the agent's business, not this crate's.
//!
//! Isolation, layered and probed once at construction ([`Sandbox::isolation`] says what is in
//! force): a fresh temporary directory per run; a cleared environment; rlimits (address space,
//! CPU, file size, processes, core) set by the Python runner itself before any tool code runs;
//! a wall-clock timeout that kills the tool's whole process group; capped stdout/stderr; and a
//! confinement tier: bubblewrap where it works (private namespaces, no network, a read-only
//! view of the system directories only), else Landlock rules and a private network namespace
//! that the runner applies to itself. With neither, runs are refused unless the options say
//! `unsafe_tools`.
//!
//! # Decisions
//! - Schemas come from the sandbox's own interpreter running an embedded helper on Python's
//!   `ast` module, not from a Rust Python parser (the dependency study's `ruff_python_parser`
//!   suggestion): parsing is then exact for the Python version that will run the tool, costs
//!   no parser dependency (ruff's 0.0.x crates have no stability promise and chase the newest
//!   Rust), and ~20–50 ms per tool creation is noise. The helper uses no third-party packages.
//! - No `unsafe` (workspace rule), hence no `pre_exec`: rlimits are applied by the runner
//!   through `resource.setrlimit` before the tool's source is even compiled, and the process
//!   group comes from the safe `CommandExt::process_group`.
//! - The result document travels in a file in the run directory, not on stdout, so that
//!   whatever a tool prints cannot be taken for its result.
//! - bubblewrap is optional at run time (Debian package `bubblewrap`): blocked user namespaces
//!   (Ubuntu 24.04+, default Docker) must degrade to the plain subprocess, never break tools.
//!   Landlock is then the fallback: it needs no binary and no privilege, and the runner applies
//!   it with ctypes before tool code, as it does rlimits. A seccomp tier is left for later.

mod bubblewrap;
mod error;
mod landlock;
mod options;
mod output;
mod process;
mod python;
mod run;
mod sandbox;
mod schema;

pub use error::ToolError;
pub use options::{Mechanism, SandboxOptions};
pub use run::{RunOutcome, RunRequest, RunStatus};
pub use sandbox::Sandbox;
