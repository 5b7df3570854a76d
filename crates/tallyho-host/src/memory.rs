//! `proc/meminfo`: memory and swap.

use std::time::SystemTime;

use procfs_core::{FromRead, Meminfo};

use crate::fam::Fam;
use crate::{read, CollectResult, HostCollector, Naming};

pub(crate) fn collect(h: &HostCollector) -> CollectResult {
    let bytes = read(&h.config.proc_path("meminfo"))?;
    match h.config.naming {
        Naming::Otel => otel(&bytes, h.boot_start()),
        Naming::Node => node(&bytes),
    }
}

/// Up-down sums are levels since boot: they start at `start` (boot), never at 0.
fn otel(bytes: &[u8], start: SystemTime) -> CollectResult {
    // The parser has already turned the file's kB into bytes.
    let m = Meminfo::from_read(bytes)?;
    let total = m.mem_total;
    let free = m.mem_free;
    let buffers = m.buffers;
    let cached = m.cached;
    let used = total
        .saturating_sub(free)
        .saturating_sub(buffers)
        .saturating_sub(cached);
    let states = [
        ("used", used),
        ("free", free),
        ("buffers", buffers),
        ("cached", cached),
    ];
    let mut out = Vec::new();
    let mut usage = Fam::updown("system_memory_usage_bytes", "Memory in use, by state.")
        .unit("bytes")
        .start(start);
    let mut ratio = Fam::gauge(
        "system_memory_utilization_ratio",
        "Share of the memory in each state.",
    )
    .unit("ratio");
    for (state, v) in states {
        usage.add(&[("state", state)], v);
        if total > 0 {
            ratio.add(&[("state", state)], v as f64 / total as f64);
        }
    }
    out.push(usage.done());
    out.push(ratio.done());
    out.push(
        Fam::updown("system_memory_limit_bytes", "Total memory (MemTotal).")
            .unit("bytes")
            .start(start)
            .with(&[], total)
            .done(),
    );
    if let Some(available) = m.mem_available {
        out.push(
            Fam::updown(
                "system_linux_memory_available_bytes",
                "An estimate of the memory available for starting new applications without swapping (MemAvailable).",
            )
            .unit("bytes")
            .start(start)
            .with(&[], available)
            .done(),
        );
    }
    let swap_total = m.swap_total;
    let swap_free = m.swap_free;
    let swap = [
        ("used", swap_total.saturating_sub(swap_free)),
        ("free", swap_free),
    ];
    let mut usage = Fam::updown("system_paging_usage_bytes", "Swap space in use, by state.")
        .unit("bytes")
        .start(start);
    let mut ratio = Fam::gauge(
        "system_paging_utilization_ratio",
        "Share of the swap space in each state.",
    )
    .unit("ratio");
    for (state, v) in swap {
        usage.add(&[("state", state)], v);
        if swap_total > 0 {
            ratio.add(&[("state", state)], v as f64 / swap_total as f64);
        }
    }
    out.push(usage.done());
    out.push(ratio.done());
    Ok(out)
}

/// node_exporter's reading: every line is a gauge, `node_memory_<Field>_bytes` (value times
/// 1024) when the line has a unit (always `kB`), `node_memory_<Field>` when not;
/// `Active(anon)` becomes `Active_anon`.
fn node(bytes: &[u8]) -> CollectResult {
    let text = std::str::from_utf8(bytes)?;
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        let (Some(key), Some(value)) = (parts[0].strip_suffix(':'), parts.get(1)) else {
            return Err(format!("malformed meminfo line {line:?}").into());
        };
        let value: u64 = value
            .parse()
            .map_err(|e| format!("meminfo line {line:?}: {e}"))?;
        let key = node_key(key);
        let (name, value, unit) = match parts.len() {
            2 => (format!("node_memory_{key}"), value, None),
            3 => (
                format!("node_memory_{key}_bytes"),
                value.saturating_mul(1024),
                Some("bytes"),
            ),
            _ => return Err(format!("malformed meminfo line {line:?}").into()),
        };
        if tallyho::name::metric_name(&name).as_deref() != Ok(name.as_str()) {
            continue;
        }
        let help = format!("Memory information field {key}.");
        let mut f = Fam::gauge(&name, &help);
        if let Some(unit) = unit {
            f = f.unit(unit);
        }
        out.push(f.with(&[], value).done());
    }
    Ok(out)
}

/// `Active(anon)` → `Active_anon` (node_exporter's `\((.*)\)` → `_$1`).
fn node_key(key: &str) -> String {
    match (key.find('('), key.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            format!(
                "{}_{}{}",
                &key[..open],
                &key[open + 1..close],
                &key[close + 1..]
            )
        }
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::node_key;

    #[test]
    fn keys() {
        assert_eq!(node_key("Active(anon)"), "Active_anon");
        assert_eq!(node_key("Inactive(file)"), "Inactive_file");
        assert_eq!(node_key("MemTotal"), "MemTotal");
    }
}
