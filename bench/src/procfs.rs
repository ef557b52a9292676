//! What `/proc` says about the server's processes: memory (RSS, PSS) and CPU time, each summed
//! over a process tree (Letta's cost is split between its Python process and PostgreSQL's).

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Memory of the watched process trees at one moment, in MiB.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Memory {
    /// Sum of `VmRSS` (shared pages count once per process).
    pub(crate) rss_mib: f64,
    /// Sum of `Pss` from `smaps_rollup` (shared pages split between the processes).
    pub(crate) pss_mib: f64,
    /// `VmHWM` of the first root: its peak RSS so far.
    pub(crate) peak_rss_mib: f64,
    pub(crate) processes: usize,
}

impl Memory {
    /// The figure for the table: RSS for one process; for several (Letta and PostgreSQL) the
    /// PSS sum, since their RSS counts PostgreSQL's shared buffers once per backend.
    pub(crate) fn headline(&self) -> f64 {
        if self.processes > 1 {
            self.pss_mib
        } else {
            self.rss_mib
        }
    }
}

/// The server processes to watch: each root with its descendants, and the PostgreSQL backends
/// serving its databases.
#[derive(Debug, Clone, Default)]
pub(crate) struct Watch {
    roots: Vec<u32>,
    /// PostgreSQL databases whose backends' CPU `database_cpu` sums (none on SQLite).
    databases: Vec<String>,
    /// Clock ticks per second of `/proc/PID/stat` times.
    ticks: f64,
}

impl Watch {
    pub(crate) fn new(roots: Vec<u32>) -> Watch {
        Watch {
            roots,
            databases: Vec::new(),
            ticks: clock_ticks(),
        }
    }

    /// Also watch the backends of these PostgreSQL databases (on this machine).
    pub(crate) fn with_databases(mut self, databases: Vec<String>) -> Watch {
        self.databases = databases;
        self
    }

    /// User + system CPU time so far of the live PostgreSQL backends connected to the watched
    /// databases; `None` without databases. mneme keeps a pool of connections, so its backends
    /// live through a phase; one that ends in between takes its time with it (the postmaster
    /// does not count reaped backends as its children's time).
    pub(crate) fn database_cpu(&self) -> Option<Duration> {
        if self.databases.is_empty() {
            return None;
        }
        let pids = backends_of(&self.databases);
        let ticks: u64 = pids.iter().filter_map(|&p| own_cpu_ticks(p)).sum();
        Some(Duration::from_secs_f64(ticks as f64 / self.ticks))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    pub(crate) fn memory(&self) -> Option<Memory> {
        if self.is_empty() {
            return None;
        }
        let pids = self.tree();
        let status_kib = |pid: u32, key: &str| status_field(pid, key).unwrap_or(0);
        let rss: u64 = pids.iter().map(|&p| status_kib(p, "VmRSS:")).sum();
        let pss: u64 = pids.iter().map(|&p| pss_kib(p).unwrap_or(0)).sum();
        let peak = self.roots.first().map_or(0, |&p| status_kib(p, "VmHWM:"));
        let mib = |kib: u64| kib as f64 / 1024.0;
        Some(Memory {
            rss_mib: mib(rss),
            pss_mib: mib(pss),
            peak_rss_mib: mib(peak),
            processes: pids.len(),
        })
    }

    /// User + system CPU time of the trees so far, including reaped children (PostgreSQL's
    /// short-lived backends end up in the postmaster's `cutime`/`cstime`).
    pub(crate) fn cpu(&self) -> Option<Duration> {
        if self.is_empty() {
            return None;
        }
        let ticks: u64 = self.tree().iter().filter_map(|&p| cpu_ticks(p)).sum();
        Some(Duration::from_secs_f64(ticks as f64 / self.ticks))
    }

    /// The roots and every live descendant.
    fn tree(&self) -> Vec<u32> {
        let parents = parent_map();
        let mut out: Vec<u32> = Vec::new();
        let mut frontier = self.roots.clone();
        while let Some(pid) = frontier.pop() {
            if out.contains(&pid) {
                continue;
            }
            out.push(pid);
            let children = parents.iter().filter(|&(_, &pp)| pp == pid);
            frontier.extend(children.map(|(&child, _)| child));
        }
        out
    }
}

/// A `kB` field of `/proc/PID/status`.
fn status_field(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_line(&status, key)
}

fn pss_kib(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    kib_line(&rollup, "Pss:")
}

/// The number in the line starting with `key` (`VmRSS:   1234 kB`).
fn kib_line(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// The fields of `/proc/PID/stat` after the command name, which may contain spaces.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// utime + stime + cutime + cstime (fields 14-17; index 0 here is field 3, the state).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    let sum = fields.get(11..15)?.iter().map(|f| f.parse::<u64>().ok());
    sum.sum()
}

/// utime + stime of the process itself.
fn own_cpu_ticks(pid: u32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    let sum = fields.get(11..13)?.iter().map(|f| f.parse::<u64>().ok());
    sum.sum()
}

/// PostgreSQL backends connected to one of `databases`: their title is
/// `postgres: [CLUSTER: ]USER DATABASE HOST(PORT) STATE` (the cluster with `cluster_name` set,
/// as Debian does).
fn backends_of(databases: &[String]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let pids = entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok());
    pids.filter(|&pid| {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return false;
        };
        // The title overwrites argv in place; what is left of the old argv follows as NULs.
        let title = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        backend_database(&title).is_some_and(|db| databases.iter().any(|d| d == db))
    })
    .collect()
}

/// The database in a backend's process title, if it is one.
fn backend_database(title: &str) -> Option<&str> {
    let mut words = title
        .strip_prefix("postgres: ")?
        .split_whitespace()
        .peekable();
    if words.peek()?.ends_with(':') {
        words.next();
    }
    let _user = words.next()?;
    words.next()
}

/// pid -> parent pid for every process.
fn parent_map() -> HashMap<u32, u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat_fields(pid)?.get(1)?.parse().ok()?)))
        .collect()
}

/// `getconf CLK_TCK`, 100 (Linux's value on every common platform) when that fails.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let watch = Watch::new(vec![std::process::id()]);
        let memory = watch.memory().unwrap();
        assert!(memory.rss_mib > 0.0);
        assert!(memory.processes >= 1);
        assert!(watch.cpu().is_some());
        assert_eq!(kib_line("VmRSS:\t  1234 kB\n", "VmRSS:"), Some(1234));
    }

    #[test]
    fn reads_backend_titles() {
        let title = "postgres: postgres mneme_bench_1f 127.0.0.1(50312) idle";
        assert_eq!(backend_database(title), Some("mneme_bench_1f"));
        assert_eq!(backend_database("postgres: checkpointer "), None);
        let debian = "postgres: 15/main: postgres mneme_bench_2a [local] idle";
        assert_eq!(backend_database(debian), Some("mneme_bench_2a"));
        assert_eq!(backend_database("postgres: 15/main: checkpointer "), None);
        assert_eq!(backend_database("/usr/bin/mneme server"), None);
    }
}
