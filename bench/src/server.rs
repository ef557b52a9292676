//! Starting the mneme binary on a fresh temporary data directory (and, on PostgreSQL, a fresh
//! database) and timing its cold start.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::pg::Postgres;

/// How to start mneme.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) bin: PathBuf,
    /// Where the temporary data directories go (the system temp dir when `None`).
    pub(crate) data_parent: Option<PathBuf>,
    /// The fake LLM, as `OPENAI_BASE_URL`.
    pub(crate) openai_base_url: String,
    /// `--sqlite-sync`; the server's default (full) when `None`.
    pub(crate) sqlite_sync: Option<String>,
    /// Put each server's data on a fresh database of this PostgreSQL server instead of SQLite.
    pub(crate) postgres: Option<Arc<Postgres>>,
    /// Let the server use the local embedding model where it finds it by default (the
    /// retrieval run); otherwise it has none, as the step-loop phases always measured.
    pub(crate) local_model: bool,
    /// More arguments after `server ...` (e.g. a ranking variant).
    pub(crate) extra_args: Vec<String>,
    /// More environment variables, set last so that they override the defaults above.
    pub(crate) extra_env: Vec<(String, String)>,
}

/// A running mneme process; killed when dropped.
pub(crate) struct Mneme {
    child: Child,
    pub(crate) base: String,
    pub(crate) data_dir: PathBuf,
    /// The PostgreSQL database it runs on (SQLite in `data_dir` when `None`).
    pub(crate) database: Option<String>,
    _dir: tempfile::TempDir,
}

impl Launch {
    /// Spawns mneme on a fresh database and waits for its first 200 from `/v1/health/`; returns
    /// the process and the time from spawn to that response.
    pub(crate) async fn start(&self) -> Result<(Mneme, Duration)> {
        let database = self.fresh_database().await?;
        self.spawn(database).await
    }

    /// `n` servers on one fresh database (replicas; each with its own data directory), started
    /// one after the other so that the first creates the schema alone.
    pub(crate) async fn start_replicas(&self, n: usize) -> Result<Vec<Mneme>> {
        let database = self.fresh_database().await?;
        let mut servers = Vec::new();
        for _ in 0..n.max(1) {
            servers.push(self.spawn(database.clone()).await?.0);
        }
        Ok(servers)
    }

    /// A new database's name and URL on PostgreSQL; `None` on SQLite (the data directory's file).
    async fn fresh_database(&self) -> Result<Option<(String, String)>> {
        match &self.postgres {
            Some(pg) => Ok(Some(pg.create().await?)),
            None => Ok(None),
        }
    }

    async fn spawn(&self, database: Option<(String, String)>) -> Result<(Mneme, Duration)> {
        let dir = match &self.data_parent {
            Some(parent) => tempfile::Builder::new()
                .prefix("mneme-bench-")
                .tempdir_in(parent)?,
            None => tempfile::Builder::new().prefix("mneme-bench-").tempdir()?,
        };
        let data_dir = dir.path().join("data");
        if database.is_some() {
            // mneme on PostgreSQL does not create its data directory (only the SQLite path
            // does) and then fails writing `secret.key` into it; SQLite runs stay as they were.
            std::fs::create_dir_all(&data_dir)?;
        }
        let mut cmd = self.command(&data_dir, database.as_ref().map(|(_, url)| url.as_str()));
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", self.bin.display()))?;
        let addr = listening_addr(&mut child).await?;
        let base = format!("http://{addr}");
        wait_healthy(&base).await?;
        let elapsed = start.elapsed();
        let mneme = Mneme {
            child,
            base,
            data_dir,
            database: database.map(|(name, _)| name),
            _dir: dir,
        };
        Ok((mneme, elapsed))
    }

    /// `mneme server` on `data_dir` (and the database at `database_url`), on a free port, with
    /// the fake LLM as its OpenAI endpoint.
    fn command(&self, data_dir: &Path, database_url: Option<&str>) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["server", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .env("OPENAI_BASE_URL", &self.openai_base_url)
            .env("OPENAI_API_KEY", "sk-bench")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if !self.local_model {
            // The step loop is what is measured: no local embedding model (none is
            // downloaded, and one the machine has cached is not used), as in earlier runs.
            cmd.env("MNEME_EMBEDDING_MODEL_FETCH", "false")
                .env("MNEME_EMBEDDING_MODEL_DIR", data_dir.join("models"));
        }
        if let Some(sync) = &self.sqlite_sync {
            cmd.args(["--sqlite-sync", sync]);
        }
        cmd.args(&self.extra_args);
        // The environment, not an argument, as a deployment would pass a URL that may hold a
        // password; it also overrides one the bench itself was started with.
        match database_url {
            Some(url) => cmd.env("MNEME_DATABASE_URL", url),
            None => cmd.env_remove("MNEME_DATABASE_URL"),
        };
        cmd.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

impl Mneme {
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the process with SIGKILL and waits for it; its data directory is then removed.
    pub(crate) async fn kill(mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// Reads stderr up to the "listening on ADDR" line, then keeps draining it in a task so the
/// server never blocks on a full pipe.
async fn listening_addr(child: &mut Child) -> Result<String> {
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let (tx, rx) = oneshot::channel::<Result<String, String>>();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut tx = Some(tx);
        let mut seen = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let Some(sender) = tx.take() else { continue };
            match line.split("listening on ").nth(1) {
                Some(addr) => {
                    let _ = sender.send(Ok(addr.trim().to_owned()));
                }
                None => {
                    seen.push_str(&line);
                    seen.push('\n');
                    tx = Some(sender);
                }
            }
        }
        if let Some(sender) = tx {
            let _ = sender.send(Err(seen));
        }
    });
    match tokio::time::timeout(Duration::from_secs(30), rx).await {
        Ok(Ok(Ok(addr))) => Ok(addr),
        Ok(Ok(Err(log))) => bail!("mneme exited before listening:\n{log}"),
        Ok(Err(_)) => bail!("mneme's stderr reader stopped"),
        Err(_) => bail!("mneme did not log \"listening on\" within 30 s"),
    }
}

/// Polls `/v1/health/` every half millisecond until it answers 200 (10 s at most).
async fn wait_healthy(base: &str) -> Result<()> {
    let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let url = format!("{base}/v1/health/");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(res) = http.get(&url).send().await
            && res.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer 200 within 10 s");
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}
