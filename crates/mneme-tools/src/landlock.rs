//! The Landlock tier: the Python runner confines itself (`_mneme_confine` in the prelude)
//! before any tool code runs. Read and execute on the system paths the interpreter needs, all
//! rights on the run's own directory, nothing anywhere else: the data directory, home
//! directories, `/proc` and other runs are refused with `EACCES`. The network is denied by a
//! private network namespace where user namespaces are permitted, else by Landlock's TCP rules
//! (ABI 4 and later).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::bubblewrap::system_paths;
use crate::python::Python;

/// Devices tools commonly open; files, so they carry file rights only.
const DEVICES: [&str; 4] = ["/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"];

/// How the network is handled, as the prelude names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Network {
    /// Allowed by configuration.
    Allow,
    /// A private network namespace: no interface but a down loopback, so no TCP, UDP or
    /// abstract unix socket reaches the host.
    Namespace,
    /// Landlock denies TCP bind and connect; UDP is not covered.
    Landlock,
}

impl Network {
    fn name(self) -> &'static str {
        match self {
            Network::Allow => "allow",
            Network::Namespace => "namespace",
            Network::Landlock => "landlock",
        }
    }

    /// What to try, best first.
    pub(crate) fn candidates(allowed: bool) -> &'static [Network] {
        if allowed {
            &[Network::Allow]
        } else {
            &[Network::Namespace, Network::Landlock]
        }
    }
}

/// The rules a run applies to itself.
#[derive(Debug, Clone)]
pub(crate) struct Landlock {
    /// The kernel's Landlock ABI version, as the probe found it.
    pub(crate) abi: u64,
    pub(crate) network: Network,
    /// Read-only (and executable) paths.
    pub(crate) read: Vec<PathBuf>,
}

impl Landlock {
    /// The rules for `python`, before the probe has proven them (`abi` 0).
    pub(crate) fn plan(python: &Python, network: Network) -> Landlock {
        let (links, mut read) = system_paths(python, network == Network::Allow);
        read.extend(links.into_iter().map(|(_, link)| link));
        Landlock {
            abi: 0,
            network,
            read,
        }
    }

    /// The prelude's `confine` request for a run in `dir`.
    pub(crate) fn spec(&self, dir: &Path) -> Value {
        let mut write = vec![dir.to_path_buf()];
        write.extend(DEVICES.iter().map(PathBuf::from));
        json!({"read": self.read, "write": write, "network": self.network.name()})
    }

    /// One line for `Sandbox::isolation`.
    pub(crate) fn describe(&self) -> Vec<String> {
        let network = match self.network {
            Network::Allow => "the host's network (allowed by configuration)",
            Network::Namespace => "no network (a private network namespace)",
            Network::Landlock => "TCP bind and connect denied (UDP not covered)",
        };
        let read: Vec<String> = self.read.iter().map(|p| p.display().to_string()).collect();
        vec![
            format!("landlock ABI {}: {network}, no new privileges", self.abi),
            format!(
                "landlock filesystem: read-only {}; the run's directory is the only writable \
                 place; everything else (data directory, home, /proc, other runs) refused",
                read.join(", ")
            ),
        ]
    }
}
