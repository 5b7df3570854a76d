//! The StatsD socket: a large receive buffer, batched reads, per-line decoding, and
//! the kernel's count of datagrams dropped for this socket as a metric.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::Ingest;

/// A bound StatsD socket and what the kernel granted.
#[derive(Debug)]
pub struct Bound {
    /// The socket.
    pub socket: UdpSocket,
    /// The receive buffer the kernel reports (Linux doubles the request and caps it at
    /// `net.core.rmem_max`).
    pub recv_buffer: usize,
}

/// Binds `addr` with a receive buffer of `recv_buffer` bytes requested.
///
/// # Errors
/// The address cannot be bound.
pub fn bind(addr: SocketAddr, recv_buffer: usize) -> std::io::Result<Bound> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // A refusal (over rmem_max without privileges is capped, not refused) keeps the default.
    let _ = socket.set_recv_buffer_size(recv_buffer);
    socket.bind(&addr.into())?;
    let recv_buffer = socket.recv_buffer_size().unwrap_or(0);
    Ok(Bound {
        socket: socket.into(),
        recv_buffer,
    })
}

/// Registers `tallyho_statsd_receive_buffer_bytes` and `tallyho_statsd_kernel_drops` (the
/// kernel's count of datagrams dropped for this socket) in `registry`.
///
/// # Errors
/// The names are taken, or the socket cannot be shared with the collector.
pub fn register_metrics(registry: &tallyho::Registry, bound: &Bound) -> anyhow::Result<()> {
    let buffer = bound.recv_buffer as f64;
    registry
        .metric(
            "tallyho_statsd_receive_buffer_bytes",
            "The StatsD socket's receive buffer as the kernel reports it.",
        )
        .observable_gauge(move || buffer)?;
    let socket = bound.socket.try_clone()?;
    registry
        .metric(
            "tallyho_statsd_kernel_drops",
            "StatsD datagrams the kernel dropped because the socket's receive queue was full.",
        )
        .observable_counter(move || kernel_drops(&socket).unwrap_or(0))?;
    Ok(())
}

/// Receives datagrams on `socket` until `stop` is set, checking `stop` at least every 100
/// ms. On Linux each syscall takes up to [`BATCH`](super::BATCH) queued datagrams at once
/// (`recvmmsg`); elsewhere it is [`serve_one_by_one`]. Sets' windows that ended are closed
/// about once a second.
pub fn serve(socket: &UdpSocket, ingest: &Ingest, stop: &AtomicBool) {
    #[cfg(target_os = "linux")]
    {
        let mut batch = super::batch::Batch::new();
        serve_with(socket, ingest, stop, |socket| {
            batch.recv(socket, |d| ingest.datagram_bytes(d))
        });
    }
    #[cfg(not(target_os = "linux"))]
    serve_one_by_one(socket, ingest, stop);
}

/// The portable loop [`serve`] uses where `recvmmsg` is missing: one datagram per syscall.
/// Queued datagrams are read one after another without waiting; the read timeout only
/// applies when the queue is empty.
pub fn serve_one_by_one(socket: &UdpSocket, ingest: &Ingest, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    serve_with(socket, ingest, stop, |socket| {
        let n = socket.recv(&mut buf)?;
        ingest.datagram_bytes(&buf[..n]);
        Ok(1)
    });
}

/// Calls `read` (which receives and ingests some datagrams) until `stop` is set, waking
/// every 100 ms when idle to notice it, and closes the sets' ended windows about once a
/// second, under load or idle.
fn serve_with(
    socket: &UdpSocket,
    ingest: &Ingest,
    stop: &AtomicBool,
    mut read: impl FnMut(&UdpSocket) -> std::io::Result<usize>,
) {
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    let mut expired = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // A timeout (nothing queued) or a passing error: go round and look at `stop`.
        let _ = read(socket);
        if expired.elapsed() >= Duration::from_secs(1) {
            ingest.expire_sets();
            expired = Instant::now();
        }
    }
}

/// Datagrams the kernel dropped for `socket` (its receive queue was full), from the
/// `drops` column of `/proc/net/udp{,6}` for the socket's inode; `None` where unknown.
pub fn kernel_drops(socket: &UdpSocket) -> Option<u64> {
    let inode = socket_inode(socket)?;
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|table| drops_for_inode(&table, inode))
}

#[cfg(target_os = "linux")]
fn socket_inode(socket: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
    let link = link.to_str()?;
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn socket_inode(_: &UdpSocket) -> Option<u64> {
    None
}

/// The `drops` column (the last) of the row whose `inode` column (the tenth) is `inode`.
pub(crate) fn drops_for_inode(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|row| {
        let cols: Vec<&str> = row.split_whitespace().collect();
        if cols.len() < 13 || cols[9].parse::<u64>().ok()? != inode {
            return None;
        }
        cols.last()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_column_of_the_right_row() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  1: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4242 2 0000000000000000 17\n\
  2: 0100007F:1FBE 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4343 2 0000000000000000 0\n";
        assert_eq!(drops_for_inode(table, 4242), Some(17));
        assert_eq!(drops_for_inode(table, 4343), Some(0));
        assert_eq!(drops_for_inode(table, 1), None);
        assert_eq!(drops_for_inode("garbage\n1 2 3\n", 1), None);
    }

    #[test]
    fn bound_socket_has_the_larger_buffer_and_a_drop_count() {
        let small = bind("127.0.0.1:0".parse().unwrap(), 4096).unwrap();
        let big = bind("127.0.0.1:0".parse().unwrap(), 8 << 20).unwrap();
        assert!(big.recv_buffer > small.recv_buffer, "{big:?} {small:?}");
        if cfg!(target_os = "linux") {
            assert_eq!(kernel_drops(&big.socket), Some(0));
        }
    }
}
