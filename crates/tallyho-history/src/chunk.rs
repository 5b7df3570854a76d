//! Gorilla-style compressed chunks: delta-of-delta timestamps and XOR'd float bits, written
//! with a bit writer and read back with a bit reader.
//!
//! Layout of a chunk's bits (the sample count lives in the chunk's metadata, not here):
//! - sample 0: timestamp as a zigzag varint (8-bit groups), value as 64 raw bits;
//! - sample 1: the delta to sample 0 as a zigzag varint, the value XOR'd (below);
//! - sample n ≥ 2: the delta of deltas `dod`, in the smallest of
//!   `0` (dod = 0), `10`+5 bits (a few ms of jitter), `110`+14 bits, `1110`+20 bits, `1111`+64 bits
//!   (two's complement in the field width), and the XOR'd value.
//!
//! A value is XOR'd with the previous one: `0` when equal; otherwise `1`, then `0` and the
//! meaningful bits when they fit the previous window of leading/trailing zeros, or `1`,
//! 5 bits of leading zeros, 6 bits of meaningful-bit count (64 written as 0) and the bits.
//! Every bit pattern survives (NaN payloads such as the staleness marker, `-0.0`, `±Inf`).

/// Samples per chunk before a new one is cut (as Prometheus).
pub const SAMPLES_PER_CHUNK: u16 = 120;

/// Appends bits, most significant first. The newest bits wait in a word inside the writer
/// and go to the buffer eight bytes at a time: an append then touches the series' own
/// struct, which the head reads anyway, and the buffer only with plain stores, instead of
/// loading the buffer's last byte (a cache miss per series per append on a large head).
#[derive(Debug, Clone, Default)]
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    /// The pending bits, in the low `pending` bits.
    acc: u64,
    pending: u8,
}

impl BitWriter {
    fn with_capacity(n: usize) -> Self {
        BitWriter {
            buf: Vec::with_capacity(n),
            acc: 0,
            pending: 0,
        }
    }

    fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes the low `n` bits of `v` (n ≤ 64).
    fn write_bits(&mut self, v: u64, n: u8) {
        let n = n.min(64);
        let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        // `acc` has fewer than 64 bits, so shifting it by at most 64 fits in 128.
        let acc = (u128::from(self.acc) << n) | u128::from(v);
        let total = u32::from(self.pending) + u32::from(n);
        if total >= 64 {
            let rest = total - 64;
            self.buf
                .extend_from_slice(&((acc >> rest) as u64).to_be_bytes());
            self.acc = (acc & ((1u128 << rest) - 1)) as u64;
            self.pending = rest as u8;
        } else {
            self.acc = acc as u64;
            self.pending = total as u8;
        }
    }

    fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.write_bits((v & 0x7f) | 0x80, 8);
            v >>= 7;
        }
        self.write_bits(v, 8);
    }

    /// The pending bits as bytes (the last one padded with zero bits), and how many.
    fn tail(&self) -> ([u8; 8], usize) {
        let aligned = match self.pending {
            0 => 0,
            p => self.acc << (64 - u32::from(p)),
        };
        (aligned.to_be_bytes(), usize::from(self.pending).div_ceil(8))
    }

    /// Bytes written, the last one counted when partly filled.
    fn len(&self) -> usize {
        self.buf.len() + usize::from(self.pending).div_ceil(8)
    }

    /// Every bit written, padded to a byte.
    fn into_bytes(mut self) -> Vec<u8> {
        let (tail, n) = self.tail();
        self.buf.extend_from_slice(&tail[..n]);
        self.buf
    }
}

/// Reads bits written by [`BitWriter`]; every read is bounds-checked.
#[derive(Debug, Clone)]
struct BitReader<'a> {
    buf: &'a [u8],
    /// Bytes after `buf` (an open chunk's pending bits), `tail_len` of them.
    tail: [u8; 8],
    tail_len: usize,
    /// Position in bits.
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn byte(&self, i: usize) -> Option<u8> {
        match self.buf.get(i) {
            Some(&b) => Some(b),
            None => {
                let j = i - self.buf.len();
                (j < self.tail_len).then(|| self.tail[j])
            }
        }
    }

    fn read_bit(&mut self) -> Option<bool> {
        self.read_bits(1).map(|b| b == 1)
    }

    fn read_bits(&mut self, mut n: u8) -> Option<u64> {
        let mut v = 0u64;
        while n > 0 {
            let byte = self.byte(self.pos / 8)?;
            let used = (self.pos % 8) as u8;
            let avail = 8 - used;
            let take = n.min(avail);
            let bits = (byte >> (avail - take)) & (((1u16 << take) - 1) as u8);
            v = (v << take) | u64::from(bits);
            self.pos += usize::from(take);
            n -= take;
        }
        Some(v)
    }

    fn read_uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.read_bits(8)?;
            v |= (b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
}

/// The dod buckets: (prefix bits, prefix length, value width).
const DOD_BUCKETS: [(u64, u8, u8); 3] = [(0b10, 2, 5), (0b110, 3, 14), (0b1110, 4, 20)];

fn fits(dod: i64, width: u8) -> bool {
    let lo = -(1i64 << (width - 1));
    let hi = (1i64 << (width - 1)) - 1;
    (lo..=hi).contains(&dod)
}

fn sign_extend(v: u64, width: u8) -> i64 {
    let shift = 64 - u32::from(width);
    ((v << shift) as i64) >> shift
}

/// An open chunk being appended to.
#[derive(Debug, Clone)]
pub(crate) struct ChunkWriter {
    bits: BitWriter,
    count: u16,
    min_t: i64,
    t: i64,
    delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
}

impl ChunkWriter {
    /// A chunk whose first sample is `(t, v)`.
    pub(crate) fn new(t: i64, v: f64) -> Self {
        Self::with_capacity(t, v, 64)
    }

    /// As [`new`](Self::new), with room for `bytes` of encoded samples (the size of the
    /// series' previous chunk is a good guess, and saves growing the buffer as it fills).
    pub(crate) fn with_capacity(t: i64, v: f64, bytes: usize) -> Self {
        let mut bits = BitWriter::with_capacity(bytes.clamp(16, 4096));
        bits.write_uvarint(crate::codec::zigzag(t));
        bits.write_bits(v.to_bits(), 64);
        ChunkWriter {
            bits,
            count: 1,
            min_t: t,
            t,
            delta: 0,
            v: v.to_bits(),
            leading: 0xff,
            trailing: 0,
        }
    }

    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    pub(crate) fn min_t(&self) -> i64 {
        self.min_t
    }

    pub(crate) fn max_t(&self) -> i64 {
        self.t
    }

    pub(crate) fn len_bytes(&self) -> usize {
        self.bits.len()
    }

    /// Appends a sample; the caller guarantees `t` is greater than the last one.
    pub(crate) fn append(&mut self, t: i64, v: f64) {
        let delta = t.wrapping_sub(self.t);
        if self.count == 1 {
            self.bits.write_uvarint(crate::codec::zigzag(delta));
        } else {
            self.write_dod(delta.wrapping_sub(self.delta));
        }
        self.write_value(v.to_bits());
        self.t = t;
        self.delta = delta;
        self.count += 1;
    }

    fn write_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.bits.write_bit(false);
            return;
        }
        for (prefix, plen, width) in DOD_BUCKETS {
            if fits(dod, width) {
                self.bits.write_bits(prefix, plen);
                self.bits.write_bits(dod as u64, width);
                return;
            }
        }
        self.bits.write_bits(0b1111, 4);
        self.bits.write_bits(dod as u64, 64);
    }

    fn write_value(&mut self, v: u64) {
        let x = v ^ self.v;
        self.v = v;
        if x == 0 {
            self.bits.write_bit(false);
            return;
        }
        self.bits.write_bit(true);
        let leading = (x.leading_zeros() as u8).min(31);
        let trailing = x.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.bits.write_bit(false);
            let sig = 64 - self.leading - self.trailing;
            self.bits.write_bits(x >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        let sig = 64 - leading - trailing;
        self.bits.write_bit(true);
        self.bits.write_bits(u64::from(leading), 5);
        self.bits.write_bits(u64::from(sig % 64), 6);
        self.bits.write_bits(x >> trailing, sig);
    }

    /// The samples so far (for reading an open chunk without sealing it).
    pub(crate) fn iter(&self) -> ChunkIter<'_> {
        let (tail, tail_len) = self.bits.tail();
        let mut it = ChunkIter::new(&self.bits.buf, self.count);
        it.r.tail = tail;
        it.r.tail_len = tail_len;
        it
    }

    /// Seals the chunk.
    pub(crate) fn finish(self) -> Chunk {
        Chunk {
            min_t: self.min_t,
            max_t: self.t,
            count: self.count,
            data: self.bits.into_bytes().into_boxed_slice(),
        }
    }
}

/// A sealed chunk: its bits and what they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// First timestamp.
    pub min_t: i64,
    /// Last timestamp.
    pub max_t: i64,
    /// Number of samples.
    pub count: u16,
    /// The encoded bits.
    pub data: Box<[u8]>,
}

impl Chunk {
    /// Encodes samples (timestamps strictly increasing); `None` when empty or not increasing
    /// or longer than `u16::MAX`.
    pub fn encode(samples: &[(i64, f64)]) -> Option<Chunk> {
        let (&(t0, v0), rest) = samples.split_first()?;
        if samples.len() > usize::from(u16::MAX) {
            return None;
        }
        let mut w = ChunkWriter::new(t0, v0);
        for &(t, v) in rest {
            if t <= w.max_t() {
                return None;
            }
            w.append(t, v);
        }
        Some(w.finish())
    }

    /// The samples.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::new(&self.data, self.count)
    }
}

/// Decodes a chunk's samples; stops early (yielding fewer than `count`) on malformed bits.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    r: BitReader<'a>,
    left: u16,
    n: u16,
    t: i64,
    delta: i64,
    v: u64,
    leading: u8,
    sig: u8,
}

impl<'a> ChunkIter<'a> {
    /// Reads `count` samples from `data`.
    pub fn new(data: &'a [u8], count: u16) -> Self {
        ChunkIter {
            r: BitReader {
                buf: data,
                tail: [0; 8],
                tail_len: 0,
                pos: 0,
            },
            left: count,
            n: 0,
            t: 0,
            delta: 0,
            v: 0,
            leading: 0,
            sig: 0,
        }
    }

    fn next_sample(&mut self) -> Option<(i64, f64)> {
        match self.n {
            0 => {
                self.t = crate::codec::unzigzag(self.r.read_uvarint()?);
                self.v = self.r.read_bits(64)?;
            }
            1 => {
                self.delta = crate::codec::unzigzag(self.r.read_uvarint()?);
                self.t = self.t.wrapping_add(self.delta);
                self.read_value()?;
            }
            _ => {
                let dod = self.read_dod()?;
                self.delta = self.delta.wrapping_add(dod);
                self.t = self.t.wrapping_add(self.delta);
                self.read_value()?;
            }
        }
        self.n += 1;
        Some((self.t, f64::from_bits(self.v)))
    }

    fn read_dod(&mut self) -> Option<i64> {
        if !self.r.read_bit()? {
            return Some(0);
        }
        for (_, _, width) in DOD_BUCKETS {
            if !self.r.read_bit()? {
                return Some(sign_extend(self.r.read_bits(width)?, width));
            }
        }
        Some(self.r.read_bits(64)? as i64)
    }

    fn read_value(&mut self) -> Option<()> {
        if !self.r.read_bit()? {
            return Some(());
        }
        if self.r.read_bit()? {
            self.leading = self.r.read_bits(5)? as u8;
            let sig = self.r.read_bits(6)? as u8;
            self.sig = if sig == 0 { 64 } else { sig };
            if self.leading + self.sig > 64 {
                return None;
            }
        } else if self.sig == 0 {
            return None;
        }
        let trailing = 64 - self.leading - self.sig;
        let bits = self.r.read_bits(self.sig)?;
        self.v ^= bits << trailing;
        Some(())
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let s = self.next_sample();
        if s.is_none() {
            self.left = 0;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_samples_take_about_a_bit_for_the_timestamp() {
        let samples: Vec<(i64, f64)> = (0..120).map(|i| (i * 15_000, 42.0)).collect();
        let c = Chunk::encode(&samples).unwrap();
        // 2 bits per sample after the first two, plus the header.
        assert!(c.data.len() < 50, "{} bytes", c.data.len());
        assert_eq!(c.iter().collect::<Vec<_>>(), samples);
    }

    #[test]
    fn every_dod_bucket_round_trips() {
        let mut t = 0i64;
        let mut samples = vec![];
        for d in [1000i64, 1000, 1063, 937, 9000, 1, 600_000, 10, 1 << 40, 5] {
            t += d;
            samples.push((t, d as f64));
        }
        let c = Chunk::encode(&samples).unwrap();
        assert_eq!(c.iter().collect::<Vec<_>>(), samples);
    }

    #[test]
    fn garbage_bits_end_the_iteration_without_panicking() {
        let data = [0xffu8; 3];
        let n = ChunkIter::new(&data, 100).count();
        assert!(n < 100);
    }

    /// The bytes the old byte-at-a-time writer produced, for a stream of (bits, width).
    fn bytewise(writes: &[(u64, u8)]) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        let mut free = 0u8;
        for &(v, n) in writes {
            for i in (0..n).rev() {
                if free == 0 {
                    out.push(0);
                    free = 8;
                }
                free -= 1;
                if (v >> i) & 1 == 1 {
                    if let Some(last) = out.last_mut() {
                        *last |= 1 << free;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_word_buffer_writes_the_same_bits_as_a_byte_at_a_time() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for len in [0usize, 1, 2, 7, 8, 9, 63, 64, 65, 300] {
            let mut writes = Vec::new();
            let mut w = BitWriter::default();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let n = (seed % 65) as u8;
                let v = if n == 64 {
                    seed
                } else {
                    seed & ((1u64 << n) - 1)
                };
                writes.push((v, n));
                w.write_bits(seed, n);
                assert_eq!(w.len(), bytewise(&writes).len());
            }
            assert_eq!(w.into_bytes(), bytewise(&writes), "{len} writes");
        }
    }

    #[test]
    fn an_open_chunk_reads_back_what_it_holds_at_every_length() {
        let mut w: Option<ChunkWriter> = None;
        let mut samples = Vec::new();
        for i in 0..120i64 {
            let (t, v) = (i * 15_000 + (i % 3) * 7, (i * i) as f64 * 0.25 - 3.0);
            samples.push((t, v));
            match &mut w {
                Some(w) => w.append(t, v),
                None => w = Some(ChunkWriter::new(t, v)),
            }
            let open = w.as_ref().map(|w| w.iter().collect::<Vec<_>>());
            assert_eq!(open.as_deref(), Some(&samples[..]), "{} samples", i + 1);
        }
        let sealed = w.map(ChunkWriter::finish).unwrap();
        assert_eq!(sealed.iter().collect::<Vec<_>>(), samples);
    }
}
