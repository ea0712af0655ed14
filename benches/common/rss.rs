//! A process's memory as Linux reports it, for the benchmarks that measure
//! a server's RSS: one field of `/proc/<pid>/status`, and a thread that
//! keeps the peak of `VmRSS` while a scenario runs.

#![allow(dead_code)] // each benchmark uses a different part

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// A `VmRSS`/`VmHWM`-style field of `/proc/<pid>/status`, in KiB.
pub fn vm_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {field} in /proc/{pid}/status"))
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Samples `VmRSS` of `pid` every `every` until stopped; the peak starts at
/// `floor` (the idle figure).
pub struct PeakSampler {
    sampling: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl PeakSampler {
    pub fn start(pid: u32, every: Duration, floor: u64) -> Self {
        let sampling = Arc::new(AtomicBool::new(true));
        let peak = Arc::new(AtomicU64::new(floor));
        let thread = {
            let (sampling, peak) = (sampling.clone(), peak.clone());
            std::thread::spawn(move || {
                while sampling.load(Ordering::Relaxed) {
                    if let Ok(rss) = vm_kib(pid, "VmRSS") {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(every);
                }
            })
        };
        Self {
            sampling,
            peak,
            thread,
        }
    }

    /// Stops sampling; the peak seen, in KiB.
    pub fn stop(self) -> u64 {
        self.sampling.store(false, Ordering::Relaxed);
        self.thread.join().expect("the RSS sampler");
        self.peak.load(Ordering::Relaxed)
    }
}
