//! StatsD ingestion throughput on one core: parse and record full datagrams of mixed lines
//! (counters with tags, gauges, timings, sampled counters), as the agent's listener does.
//! Throughput is reported in lines per second.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tallyho::Registry;
use tallyho_agent::statsd::Ingest;

fn datagrams() -> (Vec<String>, u64) {
    let mut out = Vec::new();
    let mut lines = 0u64;
    for d in 0..64 {
        let mut text = String::new();
        for i in 0..24 {
            let line = match i % 4 {
                0 => format!("api.requests:1|c|#route:/r{},code:200", (d + i) % 20),
                1 => format!("queue.depth:{}|g", i * 3),
                2 => format!("api.latency:{}.5|ms|#route:/r{}", i * 7, d % 20),
                _ => "jobs.done:1|c|@0.5".to_owned(),
            };
            if text.len() + line.len() + 1 > 1432 {
                break;
            }
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&line);
            lines += 1;
        }
        out.push(text);
    }
    (out, lines)
}

fn ingest(c: &mut Criterion) {
    let registry = Registry::new();
    let ingest = Ingest::new(&registry).expect("registers");
    let (datagrams, lines) = datagrams();
    let mut g = c.benchmark_group("statsd_ingest");
    g.throughput(Throughput::Elements(lines));
    g.bench_function("64_datagrams", |b| {
        b.iter(|| {
            for d in &datagrams {
                ingest.datagram(d);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
