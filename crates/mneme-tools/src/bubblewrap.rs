//! The bubblewrap tier: what a sandboxed tool sees of the host's filesystem.
//!
//! The tool gets a fresh root holding read-only binds of the system directories the interpreter
//! needs, a private `/proc` and a minimal `/dev`, and its run's temporary directory, bound
//! read-write at the same path: the only writable place. Everything else (the server's data
//! directory, home directories, other runs) does not exist inside.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::python::Python;

/// Top-level directories that are symlinks into `/usr` on merged-/usr systems and real
/// directories elsewhere; recreated as whichever they are on the host.
const TOP_LEVEL: [&str; 6] = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// The parts of `/etc` that programs need without revealing anything about the host: the
/// alternatives links behind `/usr/bin` commands, TLS trust stores, the loader cache, the time
/// zone. Absent ones are skipped.
const ETC: [&str; 8] = [
    "/etc/alternatives",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
];

/// What name resolution needs when the network is shared.
const NETWORK_ETC: [&str; 5] = [
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
];

/// A bubblewrap binary and the mount plan for this host.
#[derive(Debug, Clone)]
pub(crate) struct Bubblewrap {
    pub(crate) program: PathBuf,
    pub(crate) version: String,
    /// Read-only binds, each at its host path.
    pub(crate) ro_binds: Vec<PathBuf>,
    /// `(target, link)` pairs recreated inside, e.g. `("usr/bin", "/bin")`.
    links: Vec<(PathBuf, PathBuf)>,
    pub(crate) network: bool,
}

impl Bubblewrap {
    /// Finds `program` (`bwrap --version`) and plans the mounts the interpreter needs.
    pub(crate) async fn locate(
        program: &Path,
        python: &Python,
        network: bool,
    ) -> Result<Bubblewrap, String> {
        let version = version(program).await?;
        let (links, ro_binds) = system_paths(python, network);
        Ok(Bubblewrap {
            program: program.to_path_buf(),
            version,
            ro_binds,
            links,
            network,
        })
    }

    /// The arguments before `--`: namespaces, mounts, and `dir` (the run's directory) as the only
    /// writable mount, with `work` as the working directory.
    pub(crate) fn args(&self, dir: &Path, work: &Path) -> Vec<OsString> {
        // `--unshare-all` includes the network namespace (`--share-net` opts back in).
        // `--cap-drop ALL` matters when the server runs as root: bubblewrap would otherwise keep
        // root's capabilities inside (mknod + mount could reach the host's disks).
        let network = if self.network {
            "--share-net"
        } else {
            "--unshare-net"
        };
        let mut args: Vec<OsString> = [
            "--unshare-all",
            network,
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        for (target, link) in &self.links {
            args.extend(["--symlink".into(), target.into(), link.into()]);
        }
        for bind in &self.ro_binds {
            args.extend(["--ro-bind".into(), bind.into(), bind.into()]);
        }
        args.extend(["--proc", "/proc", "--dev", "/dev"].map(OsString::from));
        args.extend(["--bind".into(), dir.into(), dir.into()]);
        // Last, once every mount point exists: bubblewrap's own root is a writable tmpfs.
        args.extend(["--remount-ro", "/"].map(OsString::from));
        args.extend(["--chdir".into(), work.into()]);
        args
    }
}

async fn version(program: &Path) -> Result<String, String> {
    let mut cmd = Command::new(program);
    cmd.arg("--version")
        .stdin(Stdio::null())
        .env_clear()
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(10), cmd.output())
        .await
        .map_err(|_| format!("{} --version did not answer", program.display()))?
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() && !text.is_empty() {
        Ok(text)
    } else {
        Err(format!(
            "{} --version failed ({})",
            program.display(),
            output.status
        ))
    }
}

/// What the interpreter needs to read: `/usr`, the top-level directories that are real ones
/// (the others come back as `(target, link)` pairs), parts of `/etc`, and the interpreter's own
/// directories. Shared by the bubblewrap and Landlock tiers.
pub(crate) fn system_paths(
    python: &Python,
    network: bool,
) -> (Vec<(PathBuf, PathBuf)>, Vec<PathBuf>) {
    let (links, mut paths) = top_level();
    let etc = ETC
        .iter()
        .chain(if network { &NETWORK_ETC[..] } else { &[] });
    paths.extend(etc.map(PathBuf::from).filter(|p| p.exists()));
    for path in &python.paths {
        add_root(&mut paths, path);
    }
    (links, paths)
}

/// `/usr` plus the top-level directories, as symlinks or binds like on the host.
fn top_level() -> (Vec<(PathBuf, PathBuf)>, Vec<PathBuf>) {
    let mut links = Vec::new();
    let mut binds = vec![PathBuf::from("/usr")];
    for dir in TOP_LEVEL.iter().map(Path::new) {
        let Ok(meta) = std::fs::symlink_metadata(dir) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            if let Ok(target) = std::fs::read_link(dir) {
                links.push((target, dir.to_path_buf()));
            }
        } else if meta.is_dir() {
            binds.push(dir.to_path_buf());
        }
    }
    (links, binds)
}

/// Adds one directory the interpreter reads, by its canonical path (a path through `/lib` may
/// really live under `/usr`), unless a bind already covers it; binds it covers are dropped.
/// The host's root is never bound whole.
fn add_root(binds: &mut Vec<PathBuf>, path: &Path) {
    let Ok(path) = std::fs::canonicalize(path) else {
        return;
    };
    if path == Path::new("/") || binds.iter().any(|b| path.starts_with(b)) {
        return;
    }
    binds.retain(|b| !b.starts_with(&path));
    binds.push(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_minimal() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        std::fs::create_dir_all(lib.join("site")).unwrap();
        let mut binds = vec![PathBuf::from("/usr")];
        add_root(&mut binds, &lib.join("site"));
        add_root(&mut binds, &lib);
        add_root(&mut binds, Path::new("/usr/lib"));
        add_root(&mut binds, Path::new("/"));
        let lib = std::fs::canonicalize(lib).unwrap();
        assert_eq!(binds, vec![PathBuf::from("/usr"), lib]);
    }
}
