//! `mneme-bench retrieval` end to end: start mneme (or use `--base-url`), evaluate, write the
//! JSON, print the tables (beside `--compare`'s), or re-render a stored run (`--load`).

use std::sync::Arc;

use anyhow::Result;

use super::{RetrievalArgs, RetrievalReport, evaluate, header, target};
use crate::Args;
use crate::pg::Postgres;
use crate::server::Launch;

pub(crate) async fn main(args: &Args, r: &RetrievalArgs) -> Result<()> {
    let report = match &args.load {
        Some(path) => RetrievalReport::load(path)?,
        None => measure(args, r).await?,
    };
    let other = args
        .compare
        .as_deref()
        .map(RetrievalReport::load)
        .transpose()?;
    let table = report.table(other.as_ref());
    crate::report::emit(&report, args.json.as_deref(), args.load.is_some(), &table)
}

/// Measures, then drops the database made on PostgreSQL whether or not that succeeded.
async fn measure(args: &Args, r: &RetrievalArgs) -> Result<RetrievalReport> {
    let plan = r.plan(args.quick, &args.model)?;
    if let Some(base) = &args.base_url {
        let name = args.name.clone().unwrap_or_else(|| "server".to_owned());
        let mut t = target("external", r, &plan);
        t["base_url"] = serde_json::json!(base);
        return evaluate(&plan, base, header(name, t, &plan)).await;
    }
    let postgres = match &args.database_url {
        Some(url) => Some(Arc::new(Postgres::connect(url).await?)),
        None => None,
    };
    let result = started(args, r, &plan, postgres.clone()).await;
    if let Some(pg) = postgres {
        pg.drop_all().await;
    }
    result
}

/// mneme started here on a fresh data directory, with the local embedding model where the
/// server finds it by default, and the run's `--server-arg`s and `--server-env`s.
async fn started(
    args: &Args,
    r: &RetrievalArgs,
    plan: &super::Plan,
    postgres: Option<Arc<Postgres>>,
) -> Result<RetrievalReport> {
    let backend = if postgres.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    let launch = Launch {
        bin: crate::mneme_bin(args)?,
        data_parent: args.data_parent.clone(),
        // No model is called: agents only hold passages. A closed port makes a call fail fast.
        openai_base_url: "http://127.0.0.1:9/v1".to_owned(),
        sqlite_sync: args.sqlite_sync.clone(),
        postgres,
        local_model: true,
        extra_args: r.server_args().to_vec(),
        extra_env: r.env()?,
    };
    let (mneme, _) = launch.start().await?;
    let name = args.name.clone().unwrap_or_else(|| "mneme".to_owned());
    let mut t = target("mneme (started by the driver)", r, plan);
    t["bin"] = serde_json::json!(launch.bin);
    t["backend"] = serde_json::json!(backend);
    let result = evaluate(plan, &mneme.base, header(name, t, plan)).await;
    mneme.kill().await?;
    result
}
