//! Shared fixtures: an in-memory storage that is also the appender, temp dirs, free ports.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tallyho_query::{Labels, Matcher, RangeSeries, Sample, Storage, StorageError};
use tallyho_rules::Appender;

/// Series held whole in memory; rules read it and write back into it.
#[derive(Default)]
pub struct MemStore {
    pub series: Mutex<Vec<RangeSeries>>,
}

impl MemStore {
    pub fn new() -> Arc<Self> {
        Arc::new(MemStore::default())
    }

    /// Adds one sample of the series `text` (`name{a="b"}`) at `t` ms.
    pub fn put(&self, text: &str, t: i64, v: f64) {
        self.add(&labels(text), t, v);
    }

    fn add(&self, l: &Labels, t: i64, v: f64) {
        let mut s = self.series.lock().unwrap();
        match s.iter_mut().find(|r| &r.labels == l) {
            Some(r) => {
                r.samples.retain(|p| p.t != t);
                r.samples.push(Sample { t, v });
                r.samples.sort_by_key(|p| p.t);
            }
            None => s.push(RangeSeries {
                labels: l.clone(),
                samples: vec![Sample { t, v }],
            }),
        }
    }

    /// The value of series `text` at exactly `t`, if written.
    pub fn at(&self, text: &str, t: i64) -> Option<f64> {
        let l = labels(text);
        let s = self.series.lock().unwrap();
        s.iter()
            .find(|r| r.labels == l)?
            .samples
            .iter()
            .find(|p| p.t == t)
            .map(|p| p.v)
    }
}

impl Storage for MemStore {
    fn select(
        &self,
        m: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Vec<RangeSeries>, StorageError> {
        self.series.lock().unwrap().select(m, start, end)
    }
    fn series(
        &self,
        m: &[Vec<Matcher>],
        start: i64,
        end: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        self.series.lock().unwrap().series(m, start, end)
    }
}

impl Appender for MemStore {
    fn append(&self, t: i64, samples: &[(Labels, f64)]) -> Result<(), String> {
        for (l, v) in samples {
            self.add(l, t, *v);
        }
        Ok(())
    }
}

/// `name{a="x", b="y"}` → labels.
pub fn labels(text: &str) -> Labels {
    let (name, rest) = text.split_once('{').unwrap_or((text, "}"));
    let body = rest.trim_end_matches('}');
    let mut pairs = vec![("__name__".to_string(), name.to_string())];
    for part in body.split(", ").filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap();
        pairs.push((k.to_string(), v.trim_matches('"').to_string()));
    }
    Labels::new(pairs)
}

/// A fresh temp dir under the target dir's tmp.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tallyho-rules-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A port free on 127.0.0.1 now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it is true or `timeout` passes.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// A tool at `/usr/bin/<name>`; panics loudly when it is missing.
pub fn tool(name: &str) -> PathBuf {
    let p = PathBuf::from("/usr/bin").join(name);
    assert!(p.exists(), "{} is required for this test: install Debian's prometheus and prometheus-alertmanager packages", p.display());
    p
}

/// A one-thread HTTP server on 127.0.0.1 answering every request with `status`; returns
/// its port and the request bodies received.
pub fn http_server(status: u16) -> (u16, Arc<Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let reply =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno");
            let _ = reader.get_mut().write_all(reply.as_bytes());
        }
    });
    (port, bodies)
}

/// A server on 127.0.0.1 that accepts connections and never answers; returns its port.
pub fn hanging_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    port
}
