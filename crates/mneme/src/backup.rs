//! `mneme backup` and `mneme restore`: one self-contained file per backup, taken while the
//! server runs.
//!
//! A backup is a SQLite database: a snapshot of the data directory's database written by
//! `VACUUM INTO`, which reads inside one read transaction (WAL readers do not block the
//! server's writers, nor do its writers change what the snapshot sees), plus a `backup_meta`
//! table holding the server secret key (without it the sealed provider keys could not be
//! read), the schema version and when it was taken. The search index is not in it: it is
//! derived, and a restored data directory has none, so the server rebuilds it from the
//! database on its first start (`Searcher::open` queues everything when the index is new).
//!
//! Organizations other than the default one have databases of their own
//! (`tenants/<org id>/mneme.db`): each is snapshotted the same way (each consistent in
//! itself) and carried whole in the backup's `backup_tenants` table, one row per organization,
//! then written back to its place on restore.
//!
//! Both commands write under a temporary name, sync, and rename: a crash or a refused input
//! leaves no partial file where the real one goes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// The table a backup carries beside the database's own.
const META: &str = "backup_meta";
/// The key file's name in the data directory (as `secret.rs` reads it).
const KEY_FILE: &str = "secret.key";
/// The table carrying the organizations' databases.
const TENANTS: &str = "backup_tenants";

/// Writes a consistent copy of the SQLite database at `db`, with the data directory's key,
/// to `to` (which must not exist).
pub(crate) fn backup(db: &Path, data_dir: &Path, to: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    if !db.is_file() {
        bail!("no SQLite database at {}", db.display());
    }
    if to.exists() {
        bail!(
            "{} already exists; a backup never overwrites a file",
            to.display()
        );
    }
    let secret = read_key(data_dir)?;
    let partial = partial_path(to);
    let done = snapshot(db, &partial, secret.as_deref()).and_then(|version| {
        sync_file(&partial)?;
        std::fs::rename(&partial, to)?;
        sync_parent(to)?;
        Ok(version)
    });
    let version = match done {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e).with_context(|| format!("backing up {}", db.display()));
        }
    };
    if secret.is_none() {
        tracing::warn!(
            "the data directory has no secret.key (the key is configured): keep \
             --secret-key / MNEME_SECRET_KEY with this backup, or its provider keys are lost"
        );
    }
    tracing::info!(
        file = %to.display(),
        bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0),
        schema_version = version,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "backed up"
    );
    Ok(())
}

/// `VACUUM INTO` the file `out`, then the meta table; answers the schema version.
fn snapshot(db: &Path, out: &Path, secret: Option<&str>) -> anyhow::Result<i64> {
    vacuum_into(db, out)?;
    set_private(out)?;
    let copy = Connection::open(out)?;
    let version = schema_version(&copy)?;
    copy.execute_batch(&format!(
        "PRAGMA journal_mode=DELETE;
         CREATE TABLE {META} (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    ))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut insert = copy.prepare(&format!("INSERT INTO {META} (name, value) VALUES (?1, ?2)"))?;
    insert.execute(["schema_version", &version.to_string()])?;
    insert.execute(["mneme_version", env!("CARGO_PKG_VERSION")])?;
    insert.execute(["created_at_unix", &now.to_string()])?;
    if let Some(secret) = secret {
        insert.execute(["secret_key", secret])?;
    }
    drop(insert);
    copy_tenants_in(db, &copy, out)?;
    Ok(version)
}

/// Every organization's database beside `db`, snapshotted and stored in the backup.
fn copy_tenants_in(db: &Path, copy: &Connection, out: &Path) -> anyhow::Result<()> {
    copy.execute_batch(&format!(
        "CREATE TABLE {TENANTS} (org_id TEXT PRIMARY KEY, db BLOB NOT NULL);"
    ))?;
    let data_dir = db.parent().unwrap_or(Path::new("."));
    for (org, tenant_db) in crate::tenants::databases(data_dir)? {
        let staged = out.with_extension(format!("{org}.partial"));
        let bytes = vacuum_into(&tenant_db, &staged).and_then(|()| Ok(std::fs::read(&staged)?));
        let _ = std::fs::remove_file(&staged);
        let bytes = bytes.with_context(|| format!("backing up organization {org}"))?;
        copy.execute(
            &format!("INSERT INTO {TENANTS} (org_id, db) VALUES (?1, ?2)"),
            rusqlite::params![org.to_string(), bytes],
        )?;
    }
    Ok(())
}

/// A consistent copy of the database at `db` in the new file `out`: `VACUUM INTO` from a
/// read-only connection, inside one read transaction (WAL writers are not blocked).
fn vacuum_into(db: &Path, out: &Path) -> anyhow::Result<()> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let src = Connection::open_with_flags(db, flags)
        .with_context(|| format!("opening {} read-only", db.display()))?;
    src.busy_timeout(std::time::Duration::from_secs(5))?;
    let out_str = out
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", out.display()))?;
    src.execute("VACUUM INTO ?1", [out_str])
        .context("copying the database (VACUUM INTO)")?;
    Ok(())
}

/// Restores the backup `from` into the data directory (`db` is where its database goes),
/// which must be empty unless `force`.
pub(crate) fn restore(from: &Path, db: &Path, data_dir: &Path, force: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let meta = check_backup(from)?;
    if !force {
        refuse_non_empty(data_dir, db)?;
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let partial = partial_path(db);
    let staged = stage(from, &partial);
    if let Err(e) = staged {
        let _ = std::fs::remove_file(&partial);
        return Err(e).context("restoring");
    }
    if force {
        clear_old(db, data_dir)?;
    }
    if let Err(e) = restore_tenants(&partial, data_dir) {
        let _ = std::fs::remove_file(&partial);
        return Err(e).context("restoring the organizations' databases");
    }
    if let Some(secret) = &meta.secret {
        let key = data_dir.join(KEY_FILE);
        let key_partial = partial_path(&key);
        write_private(&key_partial, secret)?;
        std::fs::rename(&key_partial, &key)?;
    }
    std::fs::rename(&partial, db)?;
    sync_parent(db)?;
    tracing::info!(
        data_dir = %data_dir.display(),
        schema_version = meta.version,
        secret_key = meta.secret.is_some(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "restored: the search index is rebuilt when the server starts"
    );
    Ok(())
}

/// What a backup says of itself.
struct Meta {
    version: i64,
    secret: Option<String>,
}

/// A whole, readable mneme backup of a schema this binary knows, or a clear refusal.
fn check_backup(from: &Path) -> anyhow::Result<Meta> {
    if !from.is_file() {
        bail!("no backup file at {}", from.display());
    }
    let refuse = |what: &str| format!("{} is not a usable mneme backup: {what}", from.display());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(from, flags).with_context(|| refuse("unreadable"))?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .with_context(|| refuse("not a SQLite database, or a damaged one"))?;
    if check != "ok" {
        bail!(refuse(&format!("damaged ({check})")));
    }
    let meta = |name: &str| -> rusqlite::Result<Option<String>> {
        conn.query_row(
            &format!("SELECT value FROM {META} WHERE name = ?1"),
            [name],
            |r| r.get(0),
        )
        .optional()
    };
    let recorded = meta("schema_version")
        .with_context(|| refuse("no backup_meta table (not written by mneme backup)"))?;
    let version = schema_version(&conn).with_context(|| refuse("no schema version"))?;
    if recorded != Some(version.to_string()) {
        bail!(refuse("its schema version does not match its record"));
    }
    if version > mneme_store::SCHEMA_VERSION {
        bail!(refuse(&format!(
            "schema version {version} is newer than this mneme's {}",
            mneme_store::SCHEMA_VERSION
        )));
    }
    let secret = meta("secret_key")?;
    Ok(Meta { version, secret })
}

/// Writes each organization's database the backup carries to its place, then drops the table
/// from the restored main database. An older backup has no such table.
fn restore_tenants(partial: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let conn = Connection::open(partial)?;
    let carried: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [TENANTS],
        |r| r.get(0),
    )?;
    if !carried {
        return Ok(());
    }
    let mut rows = conn.prepare(&format!("SELECT org_id, db FROM {TENANTS}"))?;
    let tenants = rows.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    for tenant in tenants {
        let (org, bytes) = tenant?;
        // The directory name comes from the file: only an organization id is a path here.
        let Ok(org) = org.parse::<mneme_types::OrgId>() else {
            bail!("the backup names an organization '{org}' that is not an org id");
        };
        let target = crate::tenants::database(data_dir, org);
        std::fs::create_dir_all(crate::tenants::directory(data_dir, org))?;
        let staged = partial_path(&target);
        std::fs::write(&staged, &bytes)?;
        sync_file(&staged)?;
        std::fs::rename(&staged, &target)?;
        sync_parent(&target)?;
    }
    drop(rows);
    conn.execute_batch(&format!("DROP TABLE {TENANTS};"))?;
    Ok(())
}

/// Copies the backup to `partial`, drops its meta table (the key goes to its own file), syncs.
fn stage(from: &Path, partial: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, partial)
        .with_context(|| format!("copying {} to {}", from.display(), partial.display()))?;
    let conn = Connection::open(partial)?;
    conn.execute_batch(&format!("DROP TABLE {META};"))?;
    drop(conn);
    sync_file(partial)
}

/// `--force`: the old database's log and the old search index would not match the restored
/// database, so they go before it lands.
fn clear_old(db: &Path, data_dir: &Path) -> anyhow::Result<()> {
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        remove_if_present(Path::new(&name))?;
    }
    let index = data_dir.join("search");
    if index.exists() {
        std::fs::remove_dir_all(&index)
            .with_context(|| format!("removing the old search index {}", index.display()))?;
    }
    // The organizations come back from the backup, with no index: it is rebuilt.
    let tenants = data_dir.join(crate::tenants::TENANTS_DIR);
    if tenants.exists() {
        std::fs::remove_dir_all(&tenants)
            .with_context(|| format!("removing the old organizations {}", tenants.display()))?;
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// A restore never mixes with what a data directory holds, unless told to (`--force`).
fn refuse_non_empty(data_dir: &Path, db: &Path) -> anyhow::Result<()> {
    let has_entries = match std::fs::read_dir(data_dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("reading {}", data_dir.display())),
    };
    if has_entries || db.exists() {
        bail!(
            "the data directory {} is not empty; restore into an empty one, or pass --force to \
             replace its database (stop its server first)",
            data_dir.display()
        );
    }
    Ok(())
}

fn schema_version(conn: &Connection) -> anyhow::Result<i64> {
    let version: Option<i64> =
        conn.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
    version.context("no schema version recorded")
}

/// The data directory's key file, if there is one.
fn read_key(data_dir: &Path) -> anyhow::Result<Option<String>> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// A sibling temporary name, unique to this process.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".partial-{}", std::process::id()));
    PathBuf::from(name)
}

/// The key, readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// A backup holds the secret key: readable by its owner only, before the key is in it.
fn set_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn sync_file(path: &Path) -> anyhow::Result<()> {
    File::open(path)?.sync_all()?;
    Ok(())
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}
