//! The process's allocator: jemalloc, for Rust's allocations and, unprefixed, for SQLite's C
//! ones too.
//!
//! glibc kept a big backlog's peak heap resident for good (several arenas, fragmented by
//! SQLite's and the ingest's transient buffers). jemalloc, built with the options in
//! `.cargo/config.toml` (a background thread, a 1 s decay of dirty pages), gives freed pages
//! back within about a second; `MALLOC_CONF` overrides them at run time. Figures:
//! docs/benchmarks.md, seventh session.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    fn rss_anon_kib() -> u64 {
        (herald_bench::stats::status_mb(std::process::id(), "RssAnon") * 1024.0) as u64
    }

    #[test]
    fn the_built_in_options_are_in_force() {
        assert!(tikv_jemalloc_ctl::opt::background_thread::read().unwrap());
        assert_eq!(tikv_jemalloc_ctl::opt::narenas::read().unwrap(), 2);
    }

    #[test]
    fn freed_memory_goes_back_to_the_kernel_within_seconds() {
        let before = rss_anon_kib();
        // Small blocks (slab-allocated, unlike huge ones, which jemalloc always unmaps at once).
        let blocks: Vec<Vec<u8>> = (0..16 * 1024).map(|i| vec![i as u8; 4000]).collect();
        let held = rss_anon_kib();
        assert!(held > before + 50 * 1024, "{before} KiB → {held} KiB");
        drop(blocks);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut now = rss_anon_kib();
        while now > before + 16 * 1024 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            now = rss_anon_kib();
        }
        assert!(
            now <= before + 16 * 1024,
            "{before} KiB before, {held} KiB held, still {now} KiB 5 s after the free"
        );
    }
}
