//! One full scrape of 100,000 series over HTTP on 127.0.0.1: request sent to last byte
//! read, the same minimal HTTP/1.1 client for both servers. tallyho's `Endpoint` against
//! `metrics-exporter-prometheus`'s HTTP listener holding the same series.
//!
//! Run with `cargo bench -p tallyho-bench --bench scrape`.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const SIDE: usize = 316; // 316 x 316 = 99,856 series
const SERIES: usize = SIDE * SIDE;

/// GET /metrics and read the whole response; returns its size.
fn scrape(addr: SocketAddr) -> usize {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .expect("writes");
    let mut buf = Vec::with_capacity(8 << 20);
    s.read_to_end(&mut buf).expect("reads");
    assert!(buf.starts_with(b"HTTP/1.1 200"), "scrape failed");
    buf.len()
}

fn labels() -> impl Iterator<Item = (String, String)> {
    (0..SIDE).flat_map(|m| (0..SIDE).map(move |c| (format!("m{m}"), format!("c{c}"))))
}

fn scrape_100k(c: &mut Criterion) {
    let mut g = c.benchmark_group("scrape_100k");
    g.sample_size(10);

    #[cfg(feature = "tallyho")]
    let _tallyho = {
        let r = tallyho::Registry::new();
        let family = r
            .metric("requests", "Requests.")
            .cardinality_limit(SERIES)
            .counter_family(&["method", "code"])
            .expect("valid family");
        for (m, code) in labels() {
            family.with(&[&m, &code]).inc();
        }
        let running = tallyho_http::Endpoint::new(r)
            .spawn("127.0.0.1:0")
            .expect("binds loopback");
        let addr = running.local_addr();
        let size = scrape(addr);
        println!("scrape_100k/tallyho: {size} bytes");
        g.bench_function(BenchmarkId::new("tallyho", SERIES), |b| {
            b.iter(|| black_box(scrape(addr)))
        });
        running
    };

    {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let (recorder, exporter) = {
            let _guard = rt.enter();
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .with_http_listener(addr)
                .build()
                .expect("builds")
        };
        rt.spawn(exporter);
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!("requests_total", "Requests.");
            for (m, code) in labels() {
                metrics::counter!("requests_total", "method" => m, "code" => code).increment(1);
            }
        });
        // Wait for the listener.
        let mut tries = 0;
        while TcpStream::connect(addr).is_err() && tries < 100 {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tries += 1;
        }
        let size = scrape(addr);
        println!("scrape_100k/metrics-exporter-prometheus: {size} bytes");
        g.bench_function(
            BenchmarkId::new("metrics-exporter-prometheus", SERIES),
            |b| b.iter(|| black_box(scrape(addr))),
        );
        drop(rt);
    }
    g.finish();
}

criterion_group!(benches, scrape_100k);
criterion_main!(benches);
