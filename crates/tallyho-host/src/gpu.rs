//! NVIDIA GPUs through NVML, loaded at run time (feature `gpu`).

#[cfg(not(feature = "gpu"))]
use tallyho::FamilySnapshot;

#[cfg(feature = "gpu")]
pub(crate) use with_nvml::Gpu;

#[cfg(not(feature = "gpu"))]
pub(crate) struct Gpu {
    status: &'static str,
}

#[cfg(not(feature = "gpu"))]
impl Gpu {
    pub(crate) fn new(enabled: bool) -> Self {
        Gpu {
            status: if enabled {
                "GPU metrics off: tallyho-host was built without the `gpu` feature"
            } else {
                "GPU metrics off: disabled in the configuration"
            },
        }
    }

    pub(crate) fn status(&self) -> &str {
        self.status
    }

    pub(crate) fn collect(&self) -> Vec<FamilySnapshot> {
        Vec::new()
    }
}

#[cfg(feature = "gpu")]
mod with_nvml {
    use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
    use nvml_wrapper::Nvml;
    use tallyho::FamilySnapshot;

    use crate::fam::Fam;

    pub(crate) struct Gpu {
        nvml: Option<Nvml>,
        status: String,
    }

    impl Gpu {
        pub(crate) fn new(enabled: bool) -> Self {
            if !enabled {
                return Gpu {
                    nvml: None,
                    status: "GPU metrics off: disabled in the configuration".to_owned(),
                };
            }
            match Nvml::init() {
                Ok(nvml) => {
                    let status = match nvml.device_count() {
                        Ok(0) => "GPU metrics on: NVML loaded, but it sees no GPU".to_owned(),
                        Ok(n) => format!("GPU metrics on: NVML sees {n} GPU(s)"),
                        Err(e) => format!("GPU metrics on: NVML loaded, but counting GPUs failed: {e}"),
                    };
                    Gpu {
                        nvml: Some(nvml),
                        status,
                    }
                }
                Err(e) => Gpu {
                    nvml: None,
                    status: format!(
                        "GPU metrics off: NVML (libnvidia-ml.so.1, from the NVIDIA driver) could not be loaded: {e}"
                    ),
                },
            }
        }

        pub(crate) fn status(&self) -> &str {
            &self.status
        }

        pub(crate) fn collect(&self) -> Vec<FamilySnapshot> {
            let Some(nvml) = &self.nvml else {
                return Vec::new();
            };
            let Ok(count) = nvml.device_count() else {
                return Vec::new();
            };
            let mut util = Fam::gauge(
                "hw_gpu_utilization_ratio",
                "Share of the last sample period during which a kernel ran on the GPU.",
            )
            .unit("ratio");
            let mut mem_used =
                Fam::updown("hw_gpu_memory_usage_bytes", "GPU memory in use.").unit("bytes");
            let mut mem_total =
                Fam::updown("hw_gpu_memory_limit_bytes", "GPU memory installed.").unit("bytes");
            let mut temp =
                Fam::gauge("hw_gpu_temperature_celsius", "GPU die temperature.").unit("celsius");
            let mut power = Fam::gauge("hw_gpu_power_watts", "GPU power draw.").unit("watts");
            let mut energy = Fam::counter(
                "hw_gpu_energy_joules",
                "Energy the GPU used since the driver was loaded.",
            )
            .unit("joules");
            let mut clock = Fam::gauge("hw_gpu_clock_hertz", "Current GPU clock, by clock domain.")
                .unit("hertz");
            for i in 0..count {
                let Ok(dev) = nvml.device_by_index(i) else {
                    continue;
                };
                let index = i.to_string();
                let uuid = dev.uuid().unwrap_or_default();
                let labels = [("gpu", index.as_str()), ("uuid", uuid.as_str())];
                if let Ok(u) = dev.utilization_rates() {
                    util.add(&labels, f64::from(u.gpu) / 100.0);
                }
                if let Ok(m) = dev.memory_info() {
                    mem_used.add(&labels, m.used);
                    mem_total.add(&labels, m.total);
                }
                if let Ok(t) = dev.temperature(TemperatureSensor::Gpu) {
                    temp.add(&labels, u64::from(t));
                }
                if let Ok(mw) = dev.power_usage() {
                    power.add(&labels, f64::from(mw) / 1000.0);
                }
                if let Ok(mj) = dev.total_energy_consumption() {
                    energy.add(&labels, mj as f64 / 1000.0);
                }
                for (kind, c) in [
                    ("graphics", Clock::Graphics),
                    ("sm", Clock::SM),
                    ("memory", Clock::Memory),
                ] {
                    if let Ok(mhz) = dev.clock_info(c) {
                        clock.add(
                            &[labels[0], labels[1], ("type", kind)],
                            u64::from(mhz) * 1_000_000,
                        );
                    }
                }
            }
            [util, mem_used, mem_total, temp, power, energy, clock]
                .map(Fam::done)
                .into()
        }
    }
}
