//! Prints this host's metrics once, under both namings, as Prometheus text.

use tallyho::Registry;
use tallyho_host::{HostCollector, HostConfig, Naming};

fn main() {
    for naming in [Naming::Otel, Naming::Node] {
        let collector = HostCollector::new(HostConfig::default().with_naming(naming));
        eprintln!("{}", collector.gpu_status());
        let registry = Registry::new();
        registry.register_collector(collector);
        let _ = registry.snapshot(); // a first collection, so utilization has an interval
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut out = Vec::new();
        tallyho_encode::Format::Prometheus
            .encode(&mut out, &registry.snapshot())
            .expect("writing to a Vec");
        print!("{}", String::from_utf8_lossy(&out));
    }
}
