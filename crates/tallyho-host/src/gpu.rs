//! NVIDIA GPUs through NVML, loaded at run time (feature `gpu`).

use std::fmt;

#[cfg(not(feature = "gpu"))]
use tallyho::FamilySnapshot;

/// Whether a [`HostCollector`](crate::HostCollector) reads GPU metrics, decided once when
/// it is created: see [`HostCollector::gpu_state`](crate::HostCollector::gpu_state).
///
/// Its [`Display`](fmt::Display) form is the message of
/// [`HostCollector::gpu_status`](crate::HostCollector::gpu_status).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GpuState {
    /// No GPU metrics: NVML is not used.
    Off {
        /// Why.
        reason: GpuOffReason,
    },
    /// NVML loaded, but it sees no GPU: no GPU families.
    NoDevices,
    /// NVML loaded and sees this many GPUs (at least one), read at every collection.
    Devices(u32),
    /// NVML loaded, but asking it for the number of GPUs failed; every collection asks
    /// again, and has GPU families once that succeeds.
    CountFailed {
        /// NVML's error.
        error: String,
    },
}

/// Why GPU metrics are off ([`GpuState::Off`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GpuOffReason {
    /// [`HostConfig::gpu`](crate::HostConfig::gpu) is `false`.
    Disabled,
    /// tallyho-host was built without its `gpu` feature.
    NotBuilt,
    /// NVML (`libnvidia-ml.so.1`, from the NVIDIA driver) could not be loaded.
    NvmlUnavailable {
        /// NVML's error.
        error: String,
    },
}

impl fmt::Display for GpuState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuState::Off { reason } => match reason {
                GpuOffReason::Disabled => {
                    f.write_str("GPU metrics off: disabled in the configuration")
                }
                GpuOffReason::NotBuilt => f.write_str(
                    "GPU metrics off: tallyho-host was built without the `gpu` feature",
                ),
                GpuOffReason::NvmlUnavailable { error } => write!(
                    f,
                    "GPU metrics off: NVML (libnvidia-ml.so.1, from the NVIDIA driver) could not be loaded: {error}"
                ),
            },
            GpuState::NoDevices => f.write_str("GPU metrics on: NVML loaded, but it sees no GPU"),
            GpuState::Devices(n) => write!(f, "GPU metrics on: NVML sees {n} GPU(s)"),
            GpuState::CountFailed { error } => write!(
                f,
                "GPU metrics on: NVML loaded, but counting GPUs failed: {error}"
            ),
        }
    }
}

#[cfg(feature = "gpu")]
pub(crate) use with_nvml::Gpu;

#[cfg(not(feature = "gpu"))]
pub(crate) struct Gpu {
    state: GpuState,
    status: String,
}

#[cfg(not(feature = "gpu"))]
impl Gpu {
    pub(crate) fn new(enabled: bool) -> Self {
        let reason = if enabled {
            GpuOffReason::NotBuilt
        } else {
            GpuOffReason::Disabled
        };
        let state = GpuState::Off { reason };
        Gpu {
            status: state.to_string(),
            state,
        }
    }

    pub(crate) fn state(&self) -> &GpuState {
        &self.state
    }

    pub(crate) fn status(&self) -> &str {
        &self.status
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

    use super::{GpuOffReason, GpuState};
    use crate::gpu_map::DeviceReading;

    pub(crate) struct Gpu {
        nvml: Option<Nvml>,
        state: GpuState,
        status: String,
    }

    impl Gpu {
        pub(crate) fn new(enabled: bool) -> Self {
            let (nvml, state) = if enabled {
                match Nvml::init() {
                    Ok(nvml) => {
                        let state = match nvml.device_count() {
                            Ok(0) => GpuState::NoDevices,
                            Ok(n) => GpuState::Devices(n),
                            Err(e) => GpuState::CountFailed {
                                error: e.to_string(),
                            },
                        };
                        (Some(nvml), state)
                    }
                    Err(e) => (
                        None,
                        GpuState::Off {
                            reason: GpuOffReason::NvmlUnavailable {
                                error: e.to_string(),
                            },
                        },
                    ),
                }
            } else {
                (
                    None,
                    GpuState::Off {
                        reason: GpuOffReason::Disabled,
                    },
                )
            };
            Gpu {
                nvml,
                status: state.to_string(),
                state,
            }
        }

        pub(crate) fn state(&self) -> &GpuState {
            &self.state
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
            let devices: Vec<DeviceReading> = (0..count)
                .filter_map(|i| {
                    let dev = nvml.device_by_index(i).ok()?;
                    Some(DeviceReading {
                        index: i,
                        uuid: dev.uuid().unwrap_or_default(),
                        utilization_percent: dev.utilization_rates().ok().map(|u| u.gpu),
                        memory: dev.memory_info().ok().map(|m| (m.used, m.total)),
                        temperature_celsius: dev.temperature(TemperatureSensor::Gpu).ok(),
                        power_milliwatts: dev.power_usage().ok(),
                        energy_millijoules: dev.total_energy_consumption().ok(),
                        clocks_mhz: [
                            ("graphics", Clock::Graphics),
                            ("sm", Clock::SM),
                            ("memory", Clock::Memory),
                        ]
                        .into_iter()
                        .filter_map(|(kind, c)| Some((kind, dev.clock_info(c).ok()?)))
                        .collect(),
                    })
                })
                .collect();
            crate::gpu_map::families(&devices)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Gpu, GpuOffReason, GpuState};

    #[test]
    fn disabled_is_off_without_loading_nvml() {
        let g = Gpu::new(false);
        assert_eq!(
            g.state(),
            &GpuState::Off {
                reason: GpuOffReason::Disabled
            }
        );
        assert_eq!(g.status(), "GPU metrics off: disabled in the configuration");
        assert!(g.collect().is_empty());
    }

    #[cfg(not(feature = "gpu"))]
    #[test]
    fn enabled_without_the_feature_is_off_not_built() {
        let g = Gpu::new(true);
        assert_eq!(
            g.state(),
            &GpuState::Off {
                reason: GpuOffReason::NotBuilt
            }
        );
        assert_eq!(g.status(), g.state().to_string());
        assert!(
            g.status().contains("without the `gpu` feature"),
            "{}",
            g.status()
        );
    }

    #[test]
    fn every_state_has_its_message() {
        let nvml = |error: &str| GpuOffReason::NvmlUnavailable {
            error: error.to_owned(),
        };
        let cases = [
            (
                GpuState::Off {
                    reason: GpuOffReason::NotBuilt,
                },
                "GPU metrics off: tallyho-host was built without the `gpu` feature",
            ),
            (
                GpuState::Off {
                    reason: nvml("no such file"),
                },
                "GPU metrics off: NVML (libnvidia-ml.so.1, from the NVIDIA driver) could not be loaded: no such file",
            ),
            (
                GpuState::NoDevices,
                "GPU metrics on: NVML loaded, but it sees no GPU",
            ),
            (GpuState::Devices(2), "GPU metrics on: NVML sees 2 GPU(s)"),
            (
                GpuState::CountFailed {
                    error: "busy".to_owned(),
                },
                "GPU metrics on: NVML loaded, but counting GPUs failed: busy",
            ),
        ];
        for (state, message) in cases {
            assert_eq!(state.to_string(), message, "{state:?}");
        }
    }
}
