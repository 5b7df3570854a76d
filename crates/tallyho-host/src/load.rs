//! `proc/loadavg`: load averages.

use procfs_core::{FromRead, LoadAverage};

use crate::fam::Fam;
use crate::{read, CollectResult, HostCollector, Naming};

/// The `f32` the parser keeps, as the `f64` of its shortest decimal (`0.44`, not
/// `0.4399999976158142`): the file has two decimals, so this is the file's number.
fn exact(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

pub(crate) fn collect(h: &HostCollector) -> CollectResult {
    let bytes = read(&h.config.proc_path("loadavg"))?;
    let l = LoadAverage::from_read(&bytes[..])?;
    let values = [(l.one, "1"), (l.five, "5"), (l.fifteen, "15")];
    let families = values
        .iter()
        .map(|&(v, minutes)| {
            let (name, help) = match h.config.naming {
                Naming::Otel => (
                    format!("system_cpu_load_average_{minutes}m"),
                    format!("Average number of runnable and uninterruptible tasks over {minutes} minute(s)."),
                ),
                Naming::Node => (format!("node_load{minutes}"), format!("{minutes}m load average.")),
            };
            Fam::gauge(&name, &help).with(&[], exact(v)).done()
        })
        .collect();
    Ok(families)
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_decimals_survive() {
        assert_eq!(super::exact(0.44), 0.44);
        assert_eq!(super::exact(12.07), 12.07);
    }
}
