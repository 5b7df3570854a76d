//! The one environment seam: code that reads `OTEL_*` variables takes a lookup function,
//! the process environment by default, a map in tests or a configuration layer in a host
//! program. Empty values count as unset, and a malformed value is an error naming the
//! variable and the value, never silently ignored.

/// Looks a variable up by name; `None` when unset.
pub type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The process environment (`None` for unset or non-UTF-8 variables).
pub(crate) fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
