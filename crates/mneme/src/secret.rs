//! The server secret that seals provider keys: `--secret-key` / `MNEME_SECRET_KEY`, else the
//! key file in the data directory, created on first start (readable by its owner only).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// The key file's name in the data directory.
const KEY_FILE: &str = "secret.key";

/// The configured secret, else the key file's, generating the file when there is none.
pub(crate) fn load_or_create(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(secret) = configured.filter(|s| !s.trim().is_empty()) {
        return Ok(secret.to_owned());
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => anyhow::bail!("the secret key file {} is empty", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let secret = random_hex::<32>();
    write_durably(&path, &secret)
        .with_context(|| format!("creating the secret key file {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated the server secret key for provider keys");
    Ok(secret)
}

/// `N` random bytes as lowercase hex (secrets, generated passwords).
pub(crate) fn random_hex<const N: usize>() -> String {
    let bytes: [u8; N] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the key under a temporary name, syncs it, renames it into place and syncs the
/// directory: a crash at any point leaves either no key file (a new one is made next start) or
/// the whole key, never an empty or partial file that would stop the server from starting.
fn write_durably(path: &Path, secret: &str) -> std::io::Result<()> {
    let partial = path.with_extension(format!("{}.partial", std::process::id()));
    let written = create_private(&partial).and_then(|mut file| {
        file.write_all(secret.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&partial, path)) {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Creates `path` (never replacing a file) readable and writable by its owner only.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(None, dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(None, dir.path()).unwrap(), first);
        assert_eq!(load_or_create(Some("mine"), dir.path()).unwrap(), "mine");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the key file: {left:?}");
    }
}
