//! StatsD lines over real UDP on 127.0.0.1: every line checked, counter changes between
//! exports, gauges and histogram totals as values, and datagrams within the size limit.

use std::net::UdpSocket;
use std::time::{Duration, SystemTime};

use tallyho::{Buckets, Registry};
use tallyho_export::statsd::StatsdExporter;
use tallyho_export::{Batch, Exporter, Pipeline, Temporality};

fn receive_all(sock: &UdpSocket) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    out
}

#[test]
fn every_kind_as_statsd_lines_with_deltas() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = Registry::new();
    let jobs = r.metric("jobs", "").counter_family(&["outcome"]).unwrap();
    let depth = r.metric("depth", "").gauge_i64().unwrap();
    let lat = r
        .metric("lat", "")
        .unit("seconds")
        .buckets(Buckets::new([0.1, 0.25]).unwrap())
        .histogram()
        .unwrap();
    jobs.with(&["ok"]).add(3);
    jobs.with(&["failed hard"]).inc();
    depth.set(-4);
    for v in [0.05, 0.2, 0.2, 0.2, 0.2, 9.0] {
        lat.observe(v);
    }
    let exporter = StatsdExporter::new(server.local_addr().unwrap())
        .unwrap()
        .prefix("app");
    let p = Pipeline::builder(r.clone())
        .interval(Duration::from_secs(3600))
        .exporter(exporter)
        .start()
        .unwrap();
    assert!(p.flush(Duration::from_secs(5)));
    let lines: Vec<String> = receive_all(&server)
        .iter()
        .flat_map(|d| d.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    let sum = format!(
        "app.lat_seconds.sum:{}|g",
        [0.05, 0.2, 0.2, 0.2, 0.2, 9.0].iter().sum::<f64>()
    );
    let mut want = vec![
        "app.jobs.outcome.ok:3|c",
        "app.jobs.outcome.failed_hard:1|c",
        // A negative absolute gauge: set to 0, then adjust (a sign means "adjust").
        "app.depth:0|g",
        "app.depth:-4|g",
        // Histogram totals as gauges: exact in every daemon, whatever the flush timing.
        "app.lat_seconds.count:6|g",
        sum.as_str(),
        "app.lat_seconds.bucket.le_0_1:1|g",
        "app.lat_seconds.bucket.le_0_25:5|g",
    ];
    let mut got: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("app.tallyho_"))
        .collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);

    // The next export carries only what changed.
    jobs.with(&["ok"]).add(2);
    assert!(p.flush(Duration::from_secs(5)));
    let lines: Vec<String> = receive_all(&server)
        .iter()
        .flat_map(|d| d.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(
        lines.contains(&"app.jobs.outcome.ok:2|c".to_owned()),
        "{lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("app.jobs.outcome.failed_hard")),
        "{lines:?}"
    );
    // Totals are values: sent again, unchanged.
    assert!(
        lines.contains(&"app.lat_seconds.count:6|g".to_owned()),
        "{lines:?}"
    );
}

#[test]
fn dogstatsd_tags_and_datagram_limit() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = Registry::new();
    let f = r
        .metric("reqs", "")
        .counter_family(&["route", "code"])
        .unwrap();
    for i in 0..200 {
        f.with(&[&format!("/r/{i}"), "200"]).inc();
    }
    let mut e = StatsdExporter::new(server.local_addr().unwrap())
        .unwrap()
        .dogstatsd_tags(true)
        .max_datagram(512);
    let snapshot = r.snapshot();
    let batch = Batch {
        end: snapshot.time,
        snapshot,
        start: SystemTime::UNIX_EPOCH,
        temporality: Temporality::Delta,
    };
    e.export(&batch).unwrap();
    let datagrams = receive_all(&server);
    assert!(datagrams.len() > 5);
    assert!(
        datagrams.iter().all(|d| d.len() <= 512),
        "a datagram exceeds 512 bytes"
    );
    let lines: Vec<&str> = datagrams.iter().flat_map(|d| d.lines()).collect();
    assert_eq!(lines.len(), 200);
    assert!(
        lines.contains(&"reqs:1|c|#route:/r/7,code:200"),
        "{:?}",
        &lines[..3]
    );
}
