//! `mneme doctor`: what the server would run with, checked on this host. Nothing is changed:
//! the data directory is not created and the database is not opened.

use std::fmt::Write;

use mneme_embed::MODEL_FILES;
use mneme_tools::{Sandbox, SandboxOptions};

use crate::config::{Config, Storage};

/// The report, one fact per line.
pub(crate) async fn report(config: &Config, options: SandboxOptions) -> String {
    let sandbox = Sandbox::new(options).await;
    let mut out = String::new();
    let _ = writeln!(out, "tool sandbox: {}", sandbox.summary());
    for line in sandbox.isolation() {
        let _ = writeln!(out, "  {line}");
    }
    let dir = &config.data_dir;
    let state = if dir.is_dir() {
        "exists"
    } else {
        "absent, created on start"
    };
    let _ = writeln!(out, "data directory: {} ({state})", dir.display());
    let database = match &config.storage {
        Storage::Sqlite { path, .. } => format!("SQLite {}", path.display()),
        // The Debug form redacts the password.
        postgres => format!("{postgres:?}"),
    };
    let _ = writeln!(out, "database: {database}");
    let model = &config.embedding_model_dir;
    let present = MODEL_FILES.iter().all(|f| model.join(f).is_file());
    let model_state = match (present, config.embedding_model_fetch.is_some()) {
        (true, _) => "present",
        (false, true) => "absent, fetched on first use",
        (false, false) => "absent, fetching disabled",
    };
    let _ = writeln!(out, "embedding model: {} ({model_state})", model.display());
    let providers: Vec<&str> = config
        .providers
        .iter()
        .filter(|(_, settings)| settings.is_configured())
        .map(|(spec, _)| spec.name)
        .collect();
    let providers = if providers.is_empty() {
        "none".to_owned()
    } else {
        providers.join(", ")
    };
    let _ = writeln!(out, "providers: {providers}");
    let _ = writeln!(
        out,
        "authentication: {}",
        crate::tenants::describe_auth(config)
    );
    out
}
