//! Set-up shared by the history benches: a real Prometheus started on 127.0.0.1, fed the
//! same samples as tallyho's history by remote write, and a minimal HTTP client used for
//! both servers alike.

#![allow(dead_code)] // each bench uses part of this module

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tallyho_export::remote_write::encode;
use tallyho_export::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};
use tallyho_query::Labels;

/// One series of a generated workload: its labels and a value per step.
pub struct GenSeries {
    pub labels: Labels,
    pub values: Vec<f64>,
}

/// A workload: series sharing timestamps `start_ms + i * step_ms`.
pub struct Workload {
    pub start_ms: i64,
    pub step_ms: i64,
    pub series: Vec<GenSeries>,
}

impl Workload {
    pub fn steps(&self) -> usize {
        self.series.first().map_or(0, |s| s.values.len())
    }

    pub fn samples(&self) -> usize {
        self.series.iter().map(|s| s.values.len()).sum()
    }

    /// The samples of step `i`, as `History::append_samples` takes them.
    pub fn at(&self, i: usize) -> (i64, Vec<(Labels, f64)>) {
        let t = self.start_ms + i as i64 * self.step_ms;
        (
            t,
            self.series
                .iter()
                .map(|s| (s.labels.clone(), s.values[i]))
                .collect(),
        )
    }
}

/// A small deterministic generator (xorshift), so every run sees the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A real Prometheus with the remote-write receiver, killed on drop.
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Prometheus {
    /// Starts `/usr/bin/prometheus` (Debian's package; `scripts/test.sh` installs it).
    pub fn start() -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 15s\n").expect("writes config");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let child = Command::new(prometheus_bin())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--storage.tsdb.retention.time=30d")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts (apt-get install prometheus)");
        let p = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http(addr, "GET", "/-/ready", &[], &[]) {
                return p;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus did not become ready on {addr}");
    }

    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    /// Sends the workload in chronological slices (Prometheus refuses samples older than
    /// its newest minus one hour, so one series' whole history at once would be refused).
    pub fn remote_write(&self, w: &Workload) {
        let steps = w.steps();
        let slice = 8;
        let mut i = 0;
        while i < steps {
            let end = (i + slice).min(steps);
            let req = WriteRequest {
                timeseries: w
                    .series
                    .iter()
                    .map(|s| TimeSeries {
                        labels: s
                            .labels
                            .iter()
                            .map(|(name, value)| Label {
                                name: name.into(),
                                value: value.into(),
                            })
                            .collect(),
                        samples: (i..end)
                            .map(|k| Sample {
                                value: s.values[k],
                                timestamp: w.start_ms + k as i64 * w.step_ms,
                            })
                            .collect(),
                        histograms: Vec::new(),
                        exemplars: Vec::new(),
                    })
                    .collect(),
                ..WriteRequest::default()
            };
            let body = encode(&req);
            let headers = [
                ("Content-Encoding", "snappy"),
                ("Content-Type", "application/x-protobuf"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ];
            let (status, text) =
                http(self.addr, "POST", "/api/v1/write", &headers, &body).expect("remote write");
            assert!(status / 100 == 2, "remote write refused: {status} {text}");
            i = end;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn prometheus_bin() -> PathBuf {
    ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("prometheus"))
}

pub fn promtool_bin() -> PathBuf {
    ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("promtool"))
}

/// One HTTP/1.1 request with `Connection: close`; the status and the body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut buf = Vec::with_capacity(1 << 16);
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok((status, body))
}

/// Percent-encodes a query parameter.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Bytes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                dir_bytes(&p)
            } else {
                e.metadata().map_or(0, |m| m.len())
            }
        })
        .sum()
}
