//! Helpers shared by the exporter tests: temporary directories, free ports, the one std-only
//! fake HTTP server, and a batch from a registry.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use tallyho::Registry;
use tallyho_export::{Batch, Temporality};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "tallyho-{what}-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The body as sent (possibly compressed).
    pub body: Vec<u8>,
    /// The status it was answered with; `None` when it was left unanswered.
    pub status: Option<u16>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the fake server answers one request with.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply::status(status).with_body("text/plain", body)
    }

    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = body.into();
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Answers the `n`th request (from 0); `None` leaves it unanswered (a hanging server).
type Responder = Arc<Mutex<Box<dyn FnMut(usize, &Seen) -> Option<Reply> + Send>>>;

/// The one fake HTTP/1.1 server of these tests: std only, on 127.0.0.1, keep-alive, each
/// connection on a thread of its own, recording every request; stopped on drop.
pub struct FakeServer {
    port: u16,
    responder: Responder,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Answers every request with `status` and a text `body`; `None` accepts, reads and
    /// never answers.
    pub fn start(reply: Option<(u16, &str)>) -> FakeServer {
        let reply = reply.map(|(s, b)| Reply::text(s, b));
        FakeServer::answering(move |_, _| reply.clone())
    }

    /// Answers the `n`th request (from 0) with `answer(n, request)`.
    pub fn answering(
        answer: impl FnMut(usize, &Seen) -> Option<Reply> + Send + 'static,
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let responder: Responder = Arc::new(Mutex::new(Box::new(answer)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (responder, seen, stop) = (responder.clone(), seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (responder, seen, stop) = (responder.clone(), seen.clone(), stop.clone());
                    std::thread::spawn(move || serve(stream, &responder, &seen, &stop));
                }
            })
        };
        FakeServer {
            port,
            responder,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// From now on, answers every request with `status` and a text `body`.
    pub fn set_reply(&self, status: u16, body: &str) {
        let reply = Reply::text(status, body);
        *self.responder.lock().unwrap() = Box::new(move |_, _| Some(reply.clone()));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves one keep-alive connection until the client closes it or the server stops.
fn serve(stream: TcpStream, responder: &Responder, seen: &Mutex<Vec<Seen>>, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(mut request) = read_request(&mut reader) {
        let n = seen.lock().unwrap().len();
        let answer = (responder.lock().unwrap())(n, &request);
        request.status = answer.as_ref().map(|a| a.status);
        seen.lock().unwrap().push(request);
        let Some(a) = answer else {
            // Hold the connection open and silent until the server stops.
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        };
        let mut head = format!(
            "HTTP/1.1 {} Whatever\r\nContent-Length: {}\r\n",
            a.status,
            a.body.len()
        );
        for (k, v) in &a.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&a.body);
        if writer.write_all(&bytes).is_err() {
            return;
        }
    }
}

pub fn read_request(reader: &mut impl BufRead) -> Option<Seen> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':')?;
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        headers,
        body,
        status: None,
    })
}

pub fn batch_of(registry: &Registry) -> Batch {
    let snapshot = registry.snapshot();
    Batch {
        start: snapshot.time - Duration::from_secs(60),
        end: snapshot.time,
        snapshot,
        temporality: Temporality::Cumulative,
    }
}
