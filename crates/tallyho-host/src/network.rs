//! `proc/net/dev`: network interface counters.

use std::collections::BTreeMap;

use procfs_core::net::{DeviceStatus, InterfaceDeviceStatus};
use procfs_core::FromRead;

use crate::fam::Fam;
use crate::{read, CollectResult, HostCollector, Naming};

type Get = fn(&DeviceStatus) -> u64;

/// node_exporter's `node_network_<direction>_<field>_total` counters.
const NODE: [(&str, &str, Get); 16] = [
    ("receive", "bytes", |d| d.recv_bytes),
    ("receive", "packets", |d| d.recv_packets),
    ("receive", "errs", |d| d.recv_errs),
    ("receive", "drop", |d| d.recv_drop),
    ("receive", "fifo", |d| d.recv_fifo),
    ("receive", "frame", |d| d.recv_frame),
    ("receive", "compressed", |d| d.recv_compressed),
    ("receive", "multicast", |d| d.recv_multicast),
    ("transmit", "bytes", |d| d.sent_bytes),
    ("transmit", "packets", |d| d.sent_packets),
    ("transmit", "errs", |d| d.sent_errs),
    ("transmit", "drop", |d| d.sent_drop),
    ("transmit", "fifo", |d| d.sent_fifo),
    ("transmit", "colls", |d| d.sent_colls),
    ("transmit", "carrier", |d| d.sent_carrier),
    ("transmit", "compressed", |d| d.sent_compressed),
];

/// OpenTelemetry families: name, unit, help, receive, transmit.
const OTEL: [(&str, Option<&str>, &str, Get, Get); 4] = [
    (
        "system_network_io_bytes",
        Some("bytes"),
        "Bytes received and transmitted on each interface.",
        |d| d.recv_bytes,
        |d| d.sent_bytes,
    ),
    (
        "system_network_packets",
        None,
        "Packets received and transmitted on each interface.",
        |d| d.recv_packets,
        |d| d.sent_packets,
    ),
    (
        "system_network_errors",
        None,
        "Receive and transmit errors on each interface.",
        |d| d.recv_errs,
        |d| d.sent_errs,
    ),
    (
        "system_network_dropped",
        None,
        "Packets dropped on receive and transmit on each interface.",
        |d| d.recv_drop,
        |d| d.sent_drop,
    ),
];

pub(crate) fn collect(h: &HostCollector) -> CollectResult {
    let bytes = read(&h.config.proc_path("net/dev"))?;
    let devices: BTreeMap<String, DeviceStatus> = InterfaceDeviceStatus::from_read(&bytes[..])?
        .0
        .into_iter()
        .collect();
    let start = h.boot_start();
    let mut out = Vec::new();
    match h.config.naming {
        Naming::Otel => {
            for (name, unit, help, rx, tx) in OTEL {
                let mut f = Fam::counter(name, help).start(start);
                if let Some(unit) = unit {
                    f = f.unit(unit);
                }
                for (dev, d) in &devices {
                    f.add(&[("device", dev), ("direction", "receive")], rx(d));
                    f.add(&[("device", dev), ("direction", "transmit")], tx(d));
                }
                out.push(f.done());
            }
        }
        Naming::Node => {
            for (direction, field, get) in NODE {
                let name = format!("node_network_{direction}_{field}");
                let help = format!("Network device statistic {direction}_{field}.");
                let mut f = Fam::counter(&name, &help).start(start);
                if field == "bytes" {
                    f = f.unit("bytes");
                }
                for (dev, d) in &devices {
                    f.add(&[("device", dev)], get(d));
                }
                out.push(f.done());
            }
        }
    }
    Ok(out)
}
