//! Batched StatsD reads on Linux: one `recvmmsg` fills up to [`BATCH`] buffers, made once
//! and reused for every batch, so a burst costs one syscall per [`BATCH`] datagrams and no
//! allocation.

use std::io::IoSliceMut;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders};

/// Datagrams read by one syscall at most.
pub const BATCH: usize = 32;

/// Bytes per datagram buffer: the largest UDP payload (65,507 bytes) fits, so nothing is
/// truncated. Pages the kernel never writes are never touched, so the 2 MiB the buffers
/// reserve cost resident memory only as far as datagrams fill them.
const SLOT: usize = 65_536;

/// Reused buffers and message headers for [`recvmmsg`].
pub(super) struct Batch {
    bufs: Vec<u8>,
    headers: MultiHeaders<()>,
    lens: [usize; BATCH],
}

impl Batch {
    /// Allocates the buffers, once.
    pub(super) fn new() -> Self {
        Batch {
            bufs: vec![0; BATCH * SLOT],
            headers: MultiHeaders::preallocate(BATCH, None),
            lens: [0; BATCH],
        }
    }

    /// Waits for one datagram (as long as the socket's read timeout allows), then takes
    /// whatever else is queued, up to [`BATCH`], without waiting, and hands each datagram
    /// to `each` in arrival order. Returns how many were read.
    ///
    /// # Errors
    /// The receive failed (`WouldBlock` / `TimedOut` when the timeout passed with nothing
    /// queued).
    pub(super) fn recv(
        &mut self,
        socket: &UdpSocket,
        mut each: impl FnMut(&[u8]),
    ) -> std::io::Result<usize> {
        let received = {
            let mut chunks = self.bufs.chunks_exact_mut(SLOT);
            // Built on the stack each call: the slices only point into `bufs`.
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
            let results = recvmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                iovs.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            )?;
            let mut received = 0;
            for (len, msg) in self.lens.iter_mut().zip(results) {
                *len = msg.bytes.min(SLOT);
                received += 1;
            }
            received
        };
        for (slot, &len) in self.bufs.chunks_exact(SLOT).zip(&self.lens[..received]) {
            each(&slot[..len]);
        }
        Ok(received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_call_takes_every_queued_datagram_up_to_a_batch() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.connect(socket.local_addr().unwrap()).unwrap();
        for i in 0..BATCH + 5 {
            sender.send(format!("d{i}").as_bytes()).unwrap();
        }
        let mut batch = Batch::new();
        let mut got = Vec::new();
        let n = batch
            .recv(&socket, |d| {
                got.push(String::from_utf8(d.to_vec()).unwrap())
            })
            .unwrap();
        assert_eq!(n, BATCH, "a full batch in one call");
        let n = batch
            .recv(&socket, |d| {
                got.push(String::from_utf8(d.to_vec()).unwrap())
            })
            .unwrap();
        assert_eq!(n, 5, "the rest without waiting for more");
        let want: Vec<String> = (0..BATCH + 5).map(|i| format!("d{i}")).collect();
        assert_eq!(got, want, "in order, each whole");
        let e = batch.recv(&socket, |_| ()).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        );
    }
}
