//! The process's own figures, read from `/proc` at scrape (Linux; elsewhere they are left
//! out): resident memory, CPU seconds, open descriptors, start time.

use std::fs;

/// Clock ticks per second of `/proc`'s times: `USER_HZ`, 100 on every Linux architecture's
/// user ABI (reading `sysconf` would need `unsafe` or a crate).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Process {
    pub(crate) resident_bytes: Option<f64>,
    pub(crate) cpu_seconds: Option<f64>,
    pub(crate) open_fds: Option<f64>,
    pub(crate) start_time_seconds: Option<f64>,
}

pub(crate) fn read() -> Process {
    let stat = fs::read_to_string("/proc/self/stat").ok();
    let fields = stat.as_deref().and_then(stat_fields);
    let ticks = |i: usize| {
        fields
            .as_ref()
            .and_then(|f| f.get(i))
            .and_then(|v| v.parse::<f64>().ok())
    };
    // Fields after the command's closing parenthesis, from the third (`state`) on: utime is
    // the 14th, stime the 15th, starttime (ticks after boot) the 22nd.
    let cpu = ticks(11)
        .zip(ticks(12))
        .map(|(u, s)| (u + s) / TICKS_PER_SECOND);
    let start = ticks(19)
        .zip(boot_time())
        .map(|(t, boot)| boot + t / TICKS_PER_SECOND);
    Process {
        resident_bytes: resident_bytes(),
        cpu_seconds: cpu,
        open_fds: fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| dir.count() as f64),
        start_time_seconds: start,
    }
}

/// The fields of `/proc/self/stat` after the command name, which may hold spaces and
/// parentheses itself (hence the last `)`).
fn stat_fields(stat: &str) -> Option<Vec<String>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn resident_bytes() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// The boot time in seconds since the Unix epoch (`btime` in `/proc/stat`).
fn boot_time() -> Option<f64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_name_may_hold_parentheses_and_spaces() {
        let fields = stat_fields("42 (a) b) S 1 2 3").unwrap();
        assert_eq!(fields, ["S", "1", "2", "3"]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_memory_descriptors_and_a_start_in_the_past() {
        let p = read();
        assert!(p.resident_bytes.unwrap() > 0.0);
        assert!(p.open_fds.unwrap() >= 1.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = p.start_time_seconds.unwrap();
        assert!(start > 1.0e9 && start <= now + 1.0, "{start}");
        assert!(p.cpu_seconds.unwrap() >= 0.0);
    }
}
