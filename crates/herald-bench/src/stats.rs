//! Percentiles, and the server process's CPU time and memory from /proc.

use std::path::Path;

/// p50/p90/p99/max in milliseconds of latencies given in microseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(mut us: Vec<u32>) -> Option<Percentiles> {
        if us.is_empty() {
            return None;
        }
        us.sort_unstable();
        // nearest rank
        let at = |q: f64| {
            let rank = ((q * us.len() as f64).ceil() as usize).clamp(1, us.len());
            us[rank - 1] as f64 / 1000.0
        };
        Some(Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: *us.last().unwrap() as f64 / 1000.0,
        })
    }
}

/// /proc counts clock ticks in USER_HZ, which the kernel ABI fixes at 100 on Linux.
const USER_HZ: f64 = 100.0;

/// A process and its live descendants, read from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// CPU seconds (user + system, including reaped children).
    pub cpu_s: f64,
    /// Resident memory now, MiB.
    pub rss_mb: f64,
}

fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name (field 2) may hold spaces: split after its closing parenthesis
    let rest = &text[text.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// A `Vm…:` or `Rss…:` line of /proc/PID/status in MiB (0 when absent).
pub fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS")
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            // field 4 (ppid) is index 1 after the name
            stat_fields(p).and_then(|f| f.get(1)?.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}

/// CPU time and RSS of `pid` and every live descendant.
pub fn usage(pid: u32) -> Option<Usage> {
    let f = stat_fields(pid)?;
    // utime, stime, cutime, cstime are fields 14..=17: indices 11..=14 after the name
    let ticks: f64 = (11..=14)
        .filter_map(|i| f.get(i)?.parse::<f64>().ok())
        .sum();
    let mut u = Usage {
        cpu_s: ticks / USER_HZ,
        rss_mb: rss_mb(pid),
    };
    for child in children(pid) {
        if let Some(c) = usage(child) {
            u.cpu_s += c.cpu_s;
            u.rss_mb += c.rss_mb;
        }
    }
    Some(u)
}

/// `pid` and every live descendant.
fn family(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        all.extend(children(all[i]));
        i += 1;
    }
    all
}

/// Restarts the kernel's peak-RSS count (VmHWM) of `pid` and its descendants at their
/// present RSS. False when the kernel refused (another user's process).
pub fn reset_peak_rss(pid: u32) -> bool {
    // Every one is reset, even after a refusal.
    let reset: Vec<bool> = family(pid)
        .into_iter()
        .map(|p| std::fs::write(format!("/proc/{p}/clear_refs"), "5").is_ok())
        .collect();
    reset.into_iter().all(|ok| ok)
}

/// The kernel's peak RSS (VmHWM) of `pid` plus that of each live descendant, MiB.
pub fn peak_rss_mb(pid: u32) -> f64 {
    family(pid).into_iter().map(|p| status_mb(p, "VmHWM")).sum()
}

/// Bytes under a directory (the SQLite store's size).
pub fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = Percentiles::of((1..=100).map(|i| i * 1000).collect()).unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));
        assert!(Percentiles::of(Vec::new()).is_none());
    }

    #[test]
    fn reads_this_process() {
        let u = usage(std::process::id()).unwrap();
        assert!(u.rss_mb > 1.0);
        assert!(u.cpu_s >= 0.0);
    }

    #[test]
    fn peak_rss_is_reset_to_the_present_rss() {
        let me = std::process::id();
        // Touch 64 MiB, then free it: the peak stays above the present RSS.
        let big = vec![1u8; 64 << 20];
        assert_eq!(
            big.iter().step_by(4096).map(|&b| b as usize).sum::<usize>(),
            16384
        );
        drop(big);
        let before = peak_rss_mb(me);
        assert!(before >= 64.0, "peak {before} MiB");
        // The allocator gives freed pages back within about a second (see `allocator`).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while rss_mb(me) > before - 48.0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(reset_peak_rss(me));
        let after = peak_rss_mb(me);
        assert!(
            after < before - 32.0,
            "peak {after} MiB after reset (was {before})"
        );
        assert!(after >= rss_mb(me) - 1.0);
    }
}
