//! `mneme migrate from-letta`: the flags, and the report on standard output (and as JSON in a
//! file when asked).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use mneme_service::Service;

#[derive(clap::Args)]
pub(crate) struct FromLettaArgs {
    /// The Letta server's base URL, e.g. `http://localhost:8283`.
    #[arg(long, required_unless_present = "letta_database_url")]
    url: Option<String>,
    /// Instead of `--url`: the Letta server's PostgreSQL database, e.g.
    /// `postgres://letta:PASSWORD@host:5432/letta`, read directly and read-only (faster for
    /// large deployments; the schemas of Letta's 0.16 line).
    #[arg(long, conflicts_with = "url")]
    letta_database_url: Option<String>,
    /// Read a Letta database whose schema is not of the 0.16 line (what this version does not
    /// understand is reported and skipped).
    #[arg(long, requires = "letta_database_url")]
    letta_any_schema: bool,
    /// Its password or API key, sent as `Authorization: Bearer`.
    #[arg(long, env = "LETTA_API_KEY", hide_env_values = true)]
    token: Option<String>,
    /// Read everything and report what would be copied; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// The API key of a BYOK provider of the source, as `NAME=KEY` (repeatable). Letta shows
    /// keys masked: a provider without one here is reported, not created.
    #[arg(long = "provider-key", value_name = "NAME=KEY")]
    provider_keys: Vec<String>,
    /// An embedding model handle for every migrated agent instead of its own (its passages
    /// are then embedded anew).
    #[arg(long)]
    embedding: Option<String>,
    /// Agents an earlier run copied are brought level with the source by what changed there
    /// since this time (RFC 3339, e.g. the one the earlier run printed): new messages and
    /// passages, block values. Without it they are left as they are.
    #[arg(long, value_parser = since, conflicts_with = "letta_database_url")]
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    report: Option<PathBuf>,
}

pub(crate) async fn run(service: Service, args: FromLettaArgs) -> anyhow::Result<()> {
    let opts = mneme_migrate::Options {
        url: args.url.unwrap_or_default(),
        letta_database_url: args.letta_database_url,
        letta_any_schema: args.letta_any_schema,
        token: args.token,
        dry_run: args.dry_run,
        provider_keys: provider_keys(&args.provider_keys)?,
        embedding: args.embedding,
        since: args.since,
    };
    let report = mneme_migrate::from_letta(&service, &opts).await?;
    // Files the agents brought are chunked and embedded in the background; they must be done
    // before this process ends.
    service.files_processed().await;
    if let Some(path) = &args.report {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    // The user asked for this text.
    #[allow(clippy::print_stdout)]
    {
        println!("{report}");
    }
    Ok(())
}

fn provider_keys(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((name, key)) if !name.is_empty() && !key.is_empty() => {
                Ok((name.to_owned(), key.to_owned()))
            }
            _ => anyhow::bail!("--provider-key takes NAME=KEY, not {p:?}"),
        })
        .collect()
}

fn since(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.to_utc())
        .map_err(|e| format!("{e}: give a time as 2026-12-07T10:00:00Z"))
}
