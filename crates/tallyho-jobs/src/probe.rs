//! How much a piece of code changes the process's resident memory.
//!
//! [`memory_probe`] reads the resident set size (RSS) before and after a closure and
//! records the difference in bytes. RSS is **process-wide**: memory that other threads
//! touch or release while the closure runs counts too, and memory the allocator keeps
//! mapped after a free does not show as released. Use it for coarse questions ("does
//! loading this index cost 2 GiB?"), on a quiet process, not for per-allocation
//! accounting.
//!
//! RSS is read from `/proc/self/statm` (resident pages × page size), so it works on
//! Linux; elsewhere [`resident_bytes`] returns `None` and the probe records nothing.

use tallyho::{Gauge, GaugeI64, Histogram};

/// Where [`memory_probe`] records the change of resident memory, in bytes (negative when
/// memory was released).
pub trait MemoryTarget {
    /// Records one change in bytes.
    fn record_bytes(&self, delta: i64);
}

/// Set to the latest change.
impl MemoryTarget for Gauge {
    fn record_bytes(&self, delta: i64) {
        self.set(delta as f64);
    }
}

/// Set to the latest change.
impl MemoryTarget for GaugeI64 {
    fn record_bytes(&self, delta: i64) {
        self.set(delta);
    }
}

/// One observation per probe (use byte-sized buckets, e.g.
/// `Buckets::exponential(1024.0, 4.0, 12)`).
impl MemoryTarget for Histogram {
    fn record_bytes(&self, delta: i64) {
        self.observe(delta as f64);
    }
}

impl<T: MemoryTarget + ?Sized> MemoryTarget for &T {
    fn record_bytes(&self, delta: i64) {
        (**self).record_bytes(delta);
    }
}

/// Runs `f`, records the change of the process's resident memory across it into
/// `target`, and returns what `f` returned.
///
/// Nothing is recorded when resident memory cannot be read (not Linux, no `/proc`).
/// A panic in `f` propagates and records nothing. See the [module docs](self): RSS is
/// process-wide.
///
/// ```
/// # let registry = tallyho::Registry::new();
/// let grew = registry.metric("index_load_rss_delta", "RSS change of loading the index.")
///     .unit("bytes")
///     .gauge()?;
/// let index = tallyho_jobs::memory_probe(&grew, || vec![1u8; 1 << 20]);
/// # drop(index);
/// # Ok::<(), tallyho::Error>(())
/// ```
pub fn memory_probe<T>(target: impl MemoryTarget, f: impl FnOnce() -> T) -> T {
    let before = resident_bytes();
    let out = f();
    if let (Some(before), Some(after)) = (before, resident_bytes()) {
        let delta = i128::from(after) - i128::from(before);
        let delta = i64::try_from(delta).unwrap_or(if delta < 0 { i64::MIN } else { i64::MAX });
        target.record_bytes(delta);
    }
    out
}

/// The process's resident memory in bytes, from `/proc/self/statm`; `None` where that
/// cannot be read.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(pages.saturating_mul(page_size()))
}

#[cfg(unix)]
fn page_size() -> u64 {
    match rustix::param::page_size() {
        0 => 4096,
        n => n as u64,
    }
}

#[cfg(not(unix))]
fn page_size() -> u64 {
    4096
}
