//! The one environment seam: code that reads `OTEL_*` variables takes a lookup function,
//! the process environment by default, a map in tests or a configuration layer in a host
//! program. Empty values count as unset, and a malformed value is an error naming the
//! variable and the value, never silently ignored.
//!
//! It also says who is pushing: the host name and a per-process instance id that the push
//! exporters put on what they send (remote write's `instance`, the Pushgateway's grouping
//! key, OTLP's `host.name` and `service.instance.id`).

#[cfg(feature = "otlp")]
use std::hash::{BuildHasher, RandomState};
#[cfg(any(feature = "otlp", feature = "remote-write", feature = "pushgateway"))]
use std::sync::OnceLock;
#[cfg(feature = "otlp")]
use std::time::{SystemTime, UNIX_EPOCH};

/// Looks a variable up by name; `None` when unset.
pub type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The process environment (`None` for unset or non-UTF-8 variables).
pub(crate) fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The host's name: the kernel's (`/proc/sys/kernel/hostname`, what `gethostname(2)`
/// returns on Linux), else `/etc/hostname`; `None` when neither says. Read once.
#[cfg(any(feature = "otlp", feature = "remote-write", feature = "pushgateway"))]
pub(crate) fn hostname() -> Option<String> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|path| {
                let text = std::fs::read_to_string(path).ok()?;
                let name = text.lines().next()?.trim();
                (!name.is_empty() && name.len() <= 255).then(|| name.to_owned())
            })
    })
    .clone()
}

/// An id for this process, made once and the same for every exporter in it: a random
/// UUID (version 4 layout) from the standard library's per-process random hash keys, the
/// process id and the start time, as the semantic conventions recommend for
/// `service.instance.id`.
#[cfg(feature = "otlp")]
pub(crate) fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let keys = RandomState::new();
        let high = keys.hash_one((std::process::id(), nanos, 1u8));
        let low = keys.hash_one((nanos, std::process::id(), 2u8));
        uuid_v4(high, low)
    })
}

#[cfg(feature = "otlp")]
/// Formats 128 random bits as a version-4, RFC 4122-variant UUID.
fn uuid_v4(high: u64, low: u64) -> String {
    let high = (high & !0xF000) | 0x4000; // version 4 in bits 12..16
    let low = (low & !(0b11 << 62)) | (0b10 << 62); // variant 10xx
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(all(test, feature = "otlp"))]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_stable_uuids() {
        let id = instance_id();
        assert_eq!(id, instance_id());
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'), "{id}");
        assert!("89ab".contains(&parts[3][..1]), "{id}");
        assert_eq!(
            uuid_v4(0, 0),
            "00000000-0000-4000-8000-000000000000".to_owned()
        );
    }

    #[test]
    fn the_hostname_is_the_kernels() {
        if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            assert_eq!(hostname().as_deref(), Some(kernel.trim()));
        }
    }
}
