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
    let bytes: [u8; 32] = rand::random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = create_private(&path)
        .with_context(|| format!("creating the secret key file {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated the server secret key for provider keys");
    Ok(secret)
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
    }
}
