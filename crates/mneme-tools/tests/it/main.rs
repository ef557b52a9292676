//! mneme-tools against the real interpreter (and bubblewrap, when the host has it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod execution;
mod isolation;
mod schema;
mod schema_properties;

use std::time::Duration;

use mneme_tools::{RunOutcome, RunRequest, Sandbox, SandboxOptions};
use serde_json::Value;

/// The default sandbox: bubblewrap if it works here, Letta's limits.
async fn sandbox() -> Sandbox {
    Sandbox::new(SandboxOptions::default()).await
}

/// A sandbox with some options changed.
async fn sandbox_with(change: impl FnOnce(&mut SandboxOptions)) -> Sandbox {
    let mut options = SandboxOptions::default();
    change(&mut options);
    Sandbox::new(options).await
}

/// Runs `function` from `source` with `args` (a JSON object) and no extra environment.
async fn call(sandbox: &Sandbox, source: &str, function: &str, args: Value) -> RunOutcome {
    let request = RunRequest {
        source: source.to_owned(),
        function: function.to_owned(),
        args: args.as_object().cloned().unwrap_or_default(),
        env: Vec::new(),
    };
    sandbox
        .run(request)
        .await
        .expect("the sandbox itself failed")
}

/// Polls `check` until it holds or `within` passes; returns its last answer.
async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
