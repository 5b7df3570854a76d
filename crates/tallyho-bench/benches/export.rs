//! What a running export pipeline costs the threads that record, and what one export costs.
//!
//! - `record_with_pipeline`: a counter increment and a labelled increment, with no pipeline
//!   and with a pipeline collecting every 10 ms into an exporter that discards the batch
//!   (so only collection contends with recording).
//! - `export_10k`: one export of 10,000 series (one two-label counter family): JSON
//!   encoding into memory, StatsD over UDP, and OTLP/HTTP protobuf (plain and gzip) to a
//!   loopback receiver that reads the request and answers 200.
//!
//! Run with `cargo bench -p tallyho-bench --bench export`. Without the default `tallyho`
//! feature this bench has nothing to run.

#[cfg(feature = "tallyho")]
mod run {
    use std::hint::black_box;
    use std::time::{Duration, SystemTime};

    use criterion::Criterion;
    use tallyho::Registry;
    use tallyho_export::{Batch, CallbackExporter, Exporter, Pipeline, Temporality};

    fn registry() -> (
        Registry,
        tallyho::Counter,
        tallyho::Family<tallyho::Counter>,
    ) {
        let r = Registry::new();
        let c = r.counter("hits", "Hits.").expect("valid");
        let f = r
            .metric("reqs", "Requests.")
            .counter_family(&["method", "code"])
            .expect("valid");
        // Some series for the collector to walk.
        for i in 0..1000 {
            f.with(&[&format!("m{}", i % 10), &format!("c{i}")]).inc();
        }
        (r, c, f)
    }

    /// Answers every HTTP/1.1 request on `stream` with 200 after reading its body.
    fn serve_ok(stream: std::net::TcpStream) {
        use std::io::{BufRead, BufReader, Read, Write};
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut out = stream;
        loop {
            let mut len = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            if out
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
    }

    pub fn record_with_pipeline(c: &mut Criterion) {
        let mut g = c.benchmark_group("record_with_pipeline");
        for with_pipeline in [false, true] {
            let (r, counter, family) = registry();
            let pipeline = with_pipeline.then(|| {
                Pipeline::builder(r.clone())
                    .interval(Duration::from_millis(10))
                    .exporter(CallbackExporter::new(|b: &Batch| {
                        black_box(b.snapshot.families.len());
                    }))
                    .start()
                    .expect("starts")
            });
            let tag = if with_pipeline {
                "pipeline_10ms"
            } else {
                "no_pipeline"
            };
            g.bench_function(format!("counter_inc/{tag}"), |b| {
                b.iter(|| black_box(&counter).inc())
            });
            let (m, code) = (String::from("m3"), String::from("c3"));
            g.bench_function(format!("labels_2_runtime/{tag}"), |b| {
                b.iter(|| black_box(&family).with(&[&m, &code]).inc())
            });
            drop(pipeline);
        }
        g.finish();
    }

    pub fn export_10k(c: &mut Criterion) {
        let mut g = c.benchmark_group("export_10k");
        let r = Registry::new();
        let f = r
            .metric("requests", "Requests.")
            .cardinality_limit(10_000)
            .counter_family(&["method", "code"])
            .expect("valid");
        for m in 0..100 {
            for code in 0..100 {
                f.with(&[&format!("m{m}"), &format!("c{code}")]).inc();
            }
        }
        let snapshot = r.snapshot();
        let batch = Batch {
            end: snapshot.time,
            snapshot,
            start: SystemTime::UNIX_EPOCH,
            temporality: Temporality::Cumulative,
        };
        g.bench_function("json_encode", |b| {
            let mut buf = Vec::new();
            b.iter(|| {
                buf.clear();
                tallyho_encode::json::encode(&mut buf, &batch.snapshot).expect("encodes");
                black_box(buf.len())
            })
        });
        let sink = std::net::UdpSocket::bind("127.0.0.1:0").expect("binds");
        let mut statsd =
            tallyho_export::statsd::StatsdExporter::new(sink.local_addr().expect("addr"))
                .expect("socket");
        g.bench_function("statsd_udp", |b| {
            b.iter(|| statsd.export(&batch).expect("sends"))
        });

        // OTLP/HTTP to a loopback receiver that reads each request and answers 200.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve_ok(stream));
            }
        });
        for gzip in [false, true] {
            let mut otlp = tallyho_export::otlp::OtlpExporter::builder()
                .endpoint(format!("http://{addr}"))
                .gzip(gzip)
                .max_points_per_request(10_000)
                .build()
                .expect("valid exporter");
            let name = if gzip { "otlp_http_gzip" } else { "otlp_http" };
            g.bench_function(name, |b| b.iter(|| otlp.export(&batch).expect("exports")));
        }
        g.finish();
    }
}

#[cfg(feature = "tallyho")]
criterion::criterion_group!(benches, run::record_with_pipeline, run::export_10k);
#[cfg(feature = "tallyho")]
criterion::criterion_main!(benches);

#[cfg(not(feature = "tallyho"))]
fn main() {}
