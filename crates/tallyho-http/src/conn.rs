//! The accept loop: every connection is served by hyper's HTTP/1 with a header-read
//! timeout, the number of open connections is bounded, and shutdown has a deadline.
//!
//! At the connection limit the oldest connection that is not in the middle of a request
//! (a half-open request still sending its headers, or an idle keep-alive) is closed to make
//! room, so a flood of slow clients can neither exhaust file descriptors nor lock out a
//! normal scrape. Shutdown stops accepting, closes idle and half-open connections at once,
//! lets requests in flight finish, and drops whatever is left at the deadline.
//!
//! With TLS the handshake runs in the connection's task, within the header-read timeout,
//! with the certificate [`ServerTls`] holds at that moment (reread when its files change).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{watch, Notify};
use tower::ServiceExt;

use crate::tls::ServerTls;

/// Largest request head hyper buffers; the handlers answer 431 above `MAX_HEADER_BYTES`.
const MAX_HEAD_BUFFER: usize = 64 * 1024;

/// How connections are accepted and closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ConnLimits {
    pub(crate) max_connections: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// Self-metrics of the accept loop.
#[derive(Clone)]
pub(crate) struct ConnMetrics {
    pub(crate) open: tallyho::Gauge,
    pub(crate) evicted: tallyho::Counter,
}

impl ConnMetrics {
    pub(crate) fn register(r: &tallyho::Registry) -> Self {
        ConnMetrics {
            open: r
                .gauge(
                    "tallyho_http_open_connections",
                    "HTTP connections open on the endpoint.",
                )
                .unwrap_or_else(|_| tallyho::Gauge::noop()),
            evicted: r
                .counter(
                    "tallyho_http_evicted_connections",
                    "HTTP connections closed at the connection limit to make room (idle or still sending headers).",
                )
                .unwrap_or_else(|_| tallyho::Counter::noop()),
        }
    }
}

/// One open connection as the accept loop sees it.
struct Entry {
    since: Instant,
    /// Requests being answered on it (0: idle or still reading a head).
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
}

#[derive(Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Entry>,
}

impl Table {
    /// Closes the oldest connection with no request in flight; false when every one is busy.
    fn evict_oldest_idle(&mut self) -> bool {
        let victim = self
            .open
            .iter()
            .filter(|(_, e)| e.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, e)| e.since)
            .map(|(id, _)| *id);
        match victim.and_then(|id| self.open.remove(&id)) {
            Some(e) => {
                e.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Counts a request in flight on its connection while alive.
struct BusyGuard(Arc<AtomicUsize>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `router` on `listener` until `signal` completes, then shuts down within
/// `limits.shutdown_timeout`.
///
/// # Errors
/// None today: accept errors (out of descriptors, a reset before accept) are waited out.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnLimits,
    metrics: ConnMetrics,
    tls: Option<ServerTls>,
    signal: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let table = Arc::new(Mutex::new(Table::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(signal);
    loop {
        let accepted = tokio::select! {
            () = &mut signal => break,
            a = listener.accept() => a,
        };
        // Reap finished connection tasks so the set stays as small as the open count.
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(_) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (busy, close, id) = {
            let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
            if t.open.len() >= limits.max_connections.max(1) {
                // Closed to make room: the oldest idle one, or this one when every slot
                // answers a request.
                metrics.evicted.inc();
                if !t.evict_oldest_idle() {
                    drop(stream);
                    continue;
                }
            }
            let entry = Entry {
                since: Instant::now(),
                busy: Arc::new(AtomicUsize::new(0)),
                close: Arc::new(Notify::new()),
            };
            let (busy, close) = (entry.busy.clone(), entry.close.clone());
            t.next += 1;
            let id = t.next;
            t.open.insert(id, entry);
            (busy, close, id)
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            router: router.clone(),
            peer,
            busy,
            close,
            header_timeout: limits.header_timeout,
        };
        let (table, metrics, stop) = (table.clone(), metrics.clone(), stop_rx.clone());
        let tls = tls.clone();
        metrics.open.add(1.0);
        tasks.spawn(async move {
            match tls {
                None => conn.run(stream, stop).await,
                Some(tls) => conn.run_tls(&tls, stream, stop).await,
            }
            table
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .open
                .remove(&id);
            metrics.open.add(-1.0);
        });
    }
    drop(listener);
    // Idle and half-open connections go now; requests in flight get the deadline.
    let _ = stop_tx.send(true);
    {
        let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
        while t.evict_oldest_idle() {}
    }
    let drained = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_timeout, drained)
        .await
        .is_err()
    {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    Ok(())
}

struct Connection {
    router: Router,
    peer: SocketAddr,
    busy: Arc<AtomicUsize>,
    close: Arc<Notify>,
    header_timeout: Duration,
}

impl Connection {
    /// The TLS handshake (bounded by the header timeout, ended by eviction or
    /// shutdown), then HTTP over it. A failed handshake just closes the connection.
    async fn run_tls(
        self,
        tls: &ServerTls,
        stream: tokio::net::TcpStream,
        stop: watch::Receiver<bool>,
    ) {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
        let handshake = tokio::time::timeout(self.header_timeout, acceptor.accept(stream));
        let close = self.close.clone();
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(stream)) => stream,
                _ => return,
            },
            () = close.notified() => return,
        };
        self.run(stream, stop).await;
    }

    async fn run<S>(self, stream: S, mut stop: watch::Receiver<bool>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            router,
            peer,
            busy,
            close,
            header_timeout,
        } = self;
        let service =
            hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                busy.fetch_add(1, Ordering::AcqRel);
                let guard = BusyGuard(busy.clone());
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                let router = router.clone();
                async move {
                    let res: Result<_, Infallible> = router.oneshot(req).await;
                    drop(guard);
                    res
                }
            });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(MAX_HEAD_BUFFER.max(8192))
            .keep_alive(true);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        let mut stopping = *stop.borrow();
        if stopping {
            conn.as_mut().graceful_shutdown();
        }
        loop {
            tokio::select! {
                _ = conn.as_mut() => return,
                () = close.notified() => return,
                changed = stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_picks_the_oldest_idle_connection() {
        let mut t = Table::default();
        let now = Instant::now();
        let mk = |age: u64, busy: usize| Entry {
            since: now - Duration::from_secs(age),
            busy: Arc::new(AtomicUsize::new(busy)),
            close: Arc::new(Notify::new()),
        };
        t.open.insert(1, mk(30, 1));
        t.open.insert(2, mk(20, 0));
        t.open.insert(3, mk(10, 0));
        assert!(t.evict_oldest_idle());
        assert!(t.open.contains_key(&1) && !t.open.contains_key(&2));
        assert!(t.evict_oldest_idle());
        assert!(!t.evict_oldest_idle(), "a busy connection is never evicted");
        assert_eq!(t.open.len(), 1);
    }
}
