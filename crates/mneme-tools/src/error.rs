//! The crate's error type.

/// Why a tool could not be analysed or run. A tool that runs and fails (raises, times out,
/// exceeds a limit) is not an error here: it is a `RunOutcome` with status `Error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The tool's source cannot become a schema: syntax error, no function, a parameter without
    /// type annotation or docstring entry, an unsupported type. The message says which.
    #[error("{0}")]
    InvalidSource(String),
    /// The request itself is malformed (e.g. an environment variable name containing `=`).
    #[error("{0}")]
    InvalidRequest(String),
    /// No usable Python interpreter: tools cannot run on this host.
    #[error("{0}")]
    Unavailable(String),
    /// No mechanism confines tools here and the operator did not allow unconfined runs.
    #[error("{0}")]
    Unconfined(String),
    /// The sandbox itself failed (temporary directory, spawning, the helper's protocol).
    #[error("{0}")]
    Io(String),
}
