//! The server's peak memory during a phase.
//!
//! The kernel keeps the peak itself (VmHWM): it is reset when the phase starts and read when
//! it ends, so nothing runs beside the load. Sampling /proc from the bench's runtime instead
//! cost a walk of every process every 100 ms on a load-generating worker, which showed up
//! in the latency scenario's p99 (docs/benchmarks.md, sixth session). Where the kernel
//! refuses the reset (another user's `--server-pid`), a thread of its own samples VmRSS.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::stats;

pub enum PeakRss {
    /// No server process to watch (`--url` without `--server-pid`).
    Unknown,
    Kernel(u32),
    Sampled {
        stop: Arc<AtomicBool>,
        peak: Arc<Mutex<f64>>,
        thread: std::thread::JoinHandle<()>,
    },
}

impl PeakRss {
    pub fn start(pid: Option<u32>) -> PeakRss {
        let Some(pid) = pid else {
            return PeakRss::Unknown;
        };
        if stats::reset_peak_rss(pid) {
            return PeakRss::Kernel(pid);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(Mutex::new(0.0f64));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(u) = stats::usage(pid) {
                    let mut m = p.lock().unwrap();
                    *m = m.max(u.rss_mb);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        PeakRss::Sampled { stop, peak, thread }
    }

    /// The peak RSS since `start`, MiB; `None` without a server process.
    pub fn stop(self) -> Option<f64> {
        match self {
            PeakRss::Unknown => None,
            PeakRss::Kernel(pid) => Some(stats::peak_rss_mb(pid)),
            PeakRss::Sampled { stop, peak, thread } => {
                stop.store(true, Ordering::Relaxed);
                let _ = thread.join();
                let v = *peak.lock().unwrap();
                Some(v)
            }
        }
    }
}
