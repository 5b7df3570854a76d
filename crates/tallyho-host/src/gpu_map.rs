//! What NVML reports about each GPU, and the families made of it: a pure mapping, so
//! that the names, units and conversions are tested with made-up readings (a fake NVML)
//! and the NVML path only fills [`DeviceReading`]s.

use tallyho::FamilySnapshot;

use crate::fam::Fam;

/// One GPU's readings; `None` where NVML refused that query (the family then has no
/// sample for this GPU, never a made-up 0).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DeviceReading {
    /// NVML's index.
    pub(crate) index: u32,
    /// The GPU's UUID (`GPU-…`), empty when unknown.
    pub(crate) uuid: String,
    /// Percent of the last sample period a kernel ran.
    pub(crate) utilization_percent: Option<u32>,
    /// Device memory used and installed, bytes.
    pub(crate) memory: Option<(u64, u64)>,
    /// Die temperature, °C.
    pub(crate) temperature_celsius: Option<u32>,
    /// Power draw, milliwatts.
    pub(crate) power_milliwatts: Option<u32>,
    /// Energy since the driver loaded, millijoules.
    pub(crate) energy_millijoules: Option<u64>,
    /// Clocks by domain (`graphics`, `sm`, `memory`), MHz.
    pub(crate) clocks_mhz: Vec<(&'static str, u32)>,
}

/// The GPU families, in OpenTelemetry's `hw.gpu.*` names.
pub(crate) fn families(devices: &[DeviceReading]) -> Vec<FamilySnapshot> {
    let mut util = Fam::gauge(
        "hw_gpu_utilization_ratio",
        "Share of the last sample period during which a kernel ran on the GPU.",
    )
    .unit("ratio");
    let mut mem_used = Fam::updown("hw_gpu_memory_usage_bytes", "GPU memory in use.").unit("bytes");
    let mut mem_total =
        Fam::updown("hw_gpu_memory_limit_bytes", "GPU memory installed.").unit("bytes");
    let mut temp = Fam::gauge("hw_gpu_temperature_celsius", "GPU die temperature.").unit("celsius");
    let mut power = Fam::gauge("hw_gpu_power_watts", "GPU power draw.").unit("watts");
    let mut energy = Fam::counter(
        "hw_gpu_energy_joules",
        "Energy the GPU used since the driver was loaded.",
    )
    .unit("joules");
    let mut clock =
        Fam::gauge("hw_gpu_clock_hertz", "Current GPU clock, by clock domain.").unit("hertz");
    for d in devices {
        let index = d.index.to_string();
        let labels = [("gpu", index.as_str()), ("uuid", d.uuid.as_str())];
        if let Some(u) = d.utilization_percent {
            util.add(&labels, f64::from(u) / 100.0);
        }
        if let Some((used, total)) = d.memory {
            mem_used.add(&labels, used);
            mem_total.add(&labels, total);
        }
        if let Some(t) = d.temperature_celsius {
            temp.add(&labels, u64::from(t));
        }
        if let Some(mw) = d.power_milliwatts {
            power.add(&labels, f64::from(mw) / 1000.0);
        }
        if let Some(mj) = d.energy_millijoules {
            energy.add(&labels, mj as f64 / 1000.0);
        }
        for &(kind, mhz) in &d.clocks_mhz {
            clock.add(
                &[labels[0], labels[1], ("type", kind)],
                u64::from(mhz) * 1_000_000,
            );
        }
    }
    [util, mem_used, mem_total, temp, power, energy, clock]
        .map(Fam::done)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tallyho::{MetricKind, Snapshot};

    fn fake() -> Vec<DeviceReading> {
        vec![
            DeviceReading {
                index: 0,
                uuid: "GPU-aaaa".into(),
                utilization_percent: Some(87),
                memory: Some((30 << 30, 80 << 30)),
                temperature_celsius: Some(64),
                power_milliwatts: Some(312_500),
                energy_millijoules: Some(9_876_543),
                clocks_mhz: vec![("graphics", 1980), ("sm", 1980), ("memory", 2619)],
            },
            // A second GPU whose power and energy queries NVML refused.
            DeviceReading {
                index: 1,
                uuid: "GPU-bbbb".into(),
                utilization_percent: Some(0),
                memory: Some((0, 80 << 30)),
                temperature_celsius: Some(31),
                ..DeviceReading::default()
            },
        ]
    }

    #[test]
    fn readings_map_to_named_families_with_units_converted() {
        let s = Snapshot {
            time: std::time::SystemTime::now(),
            families: families(&fake()),
        };
        let at = |name: &str, gpu: &str| {
            s.value(
                name,
                &[
                    ("gpu", gpu),
                    ("uuid", if gpu == "0" { "GPU-aaaa" } else { "GPU-bbbb" }),
                ],
            )
        };
        assert_eq!(at("hw_gpu_utilization_ratio", "0"), Some(0.87));
        assert_eq!(at("hw_gpu_utilization_ratio", "1"), Some(0.0));
        assert_eq!(
            at("hw_gpu_memory_usage_bytes", "0"),
            Some((30u64 << 30) as f64)
        );
        assert_eq!(
            at("hw_gpu_memory_limit_bytes", "1"),
            Some((80u64 << 30) as f64)
        );
        assert_eq!(at("hw_gpu_temperature_celsius", "0"), Some(64.0));
        assert_eq!(at("hw_gpu_power_watts", "0"), Some(312.5));
        assert_eq!(at("hw_gpu_energy_joules", "0"), Some(9_876.543));
        // Refused queries give no sample, not a 0.
        assert_eq!(at("hw_gpu_power_watts", "1"), None);
        assert_eq!(at("hw_gpu_energy_joules", "1"), None);
        let clock = s.family("hw_gpu_clock_hertz").unwrap();
        assert_eq!(clock.series.len(), 3);
        assert_eq!(
            s.value(
                "hw_gpu_clock_hertz",
                &[("gpu", "0"), ("uuid", "GPU-aaaa"), ("type", "memory")]
            ),
            Some(2_619_000_000.0)
        );
        let kind = |n: &str| s.family(n).unwrap().kind;
        assert_eq!(kind("hw_gpu_energy_joules"), MetricKind::Counter);
        assert_eq!(kind("hw_gpu_memory_usage_bytes"), MetricKind::UpDownCounter);
        assert_eq!(kind("hw_gpu_utilization_ratio"), MetricKind::Gauge);
        assert_eq!(s.family("hw_gpu_utilization_ratio").unwrap().unit, "ratio");
    }

    #[test]
    fn no_gpu_gives_empty_families() {
        assert!(families(&[]).iter().all(|f| f.series.is_empty()));
    }
}
