//! The head: every series' recent samples in memory, in compressed chunks.
//!
//! Series live in a `Vec` indexed by their reference; a map from the precomputed hash of the
//! label set to references finds a series without building its labels, and a map from metric
//! name to references narrows selections by name.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use tallyho_query::{Labels, Sample};

use crate::chunk::{Chunk, ChunkWriter, SAMPLES_PER_CHUNK};

/// A hasher for keys that are already hashes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoHash;

impl BuildHasher for NoHash {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

/// Passes a `u64` through.
#[derive(Debug, Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A series' index in the head.
pub(crate) type SeriesRef = u32;

/// Bytes a series costs beyond its labels and chunks (struct, map entries), an estimate.
const SERIES_OVERHEAD: u64 = 160;

/// Writes a label set's lookup key: each name and value followed by a byte that UTF-8
/// never uses, so distinct sets have distinct keys.
pub(crate) fn key_of<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, out: &mut Vec<u8>) {
    out.clear();
    for (n, v) in pairs {
        out.extend_from_slice(n.as_bytes());
        out.push(0xff);
        out.extend_from_slice(v.as_bytes());
        out.push(0xfe);
    }
}

/// Whether `key` is the lookup key ([`key_of`]) of `pairs`, without writing it.
pub(crate) fn key_is<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, key: &[u8]) -> bool {
    let mut rest = key;
    for (n, v) in pairs {
        let (n, v) = (n.as_bytes(), v.as_bytes());
        let len = n.len() + v.len() + 2;
        if rest.len() < len
            || &rest[..n.len()] != n
            || rest[n.len()] != 0xff
            || &rest[n.len() + 1..len - 1] != v
            || rest[len - 1] != 0xfe
        {
            return false;
        }
        rest = &rest[len..];
    }
    rest.is_empty()
}

/// The label set a lookup key ([`key_of`]) was written from.
pub(crate) fn labels_of_key(key: &[u8]) -> Labels {
    let pairs = key
        .split(|&b| b == 0xfe)
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let at = p.iter().position(|&b| b == 0xff)?;
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            Some((text(&p[..at]), text(&p[at + 1..])))
        });
    Labels::new(pairs)
}

/// Copies of chunks, flat: see [`Head::copy_before`].
#[derive(Debug, Default)]
pub(crate) struct ChunkCopy {
    /// The series' lookup keys, back to back.
    keys: Vec<u8>,
    /// Per series: where its key and its chunks end in `keys` and `chunks`.
    series: Vec<(usize, usize)>,
    /// Per chunk: min_t, max_t, count, where its bytes end in `data`.
    chunks: Vec<(i64, i64, u16, usize)>,
    data: Vec<u8>,
}

impl ChunkCopy {
    /// The series and their chunks, as a block is written from them.
    pub(crate) fn to_series(&self) -> Vec<(Labels, Vec<Chunk>)> {
        let mut out = Vec::with_capacity(self.series.len());
        let (mut key_at, mut chunk_at, mut data_at) = (0, 0, 0);
        for &(key_end, chunk_end) in &self.series {
            let labels = labels_of_key(self.keys.get(key_at..key_end).unwrap_or_default());
            let mut chunks = Vec::with_capacity(chunk_end - chunk_at);
            for &(min_t, max_t, count, end) in
                self.chunks.get(chunk_at..chunk_end).unwrap_or_default()
            {
                let data = self.data.get(data_at..end).unwrap_or_default();
                chunks.push(Chunk {
                    min_t,
                    max_t,
                    count,
                    data: data.into(),
                });
                data_at = end;
            }
            out.push((labels, chunks));
            key_at = key_end;
            chunk_at = chunk_end;
        }
        out
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

/// Hashes a lookup key.
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0x7a11_4011).build_hasher();
    h.write(key);
    h.finish()
}

/// One series in memory.
#[derive(Debug)]
pub(crate) struct MemSeries {
    pub(crate) labels: Labels,
    /// The labels as one byte string ([`key_of`]): what lookups compare.
    key: Box<[u8]>,
    hash: u64,
    /// Sealed chunks, oldest first.
    pub(crate) chunks: Vec<Chunk>,
    pub(crate) open: Option<ChunkWriter>,
    /// The first multiple of the block length after the open chunk's first sample: the
    /// open chunk takes samples before it only.
    open_end: i64,
    /// The newest timestamp ever appended (kept after its chunks are dropped).
    pub(crate) last_t: i64,
    /// The append generation that last carried this series (staleness tracking).
    pub(crate) seen_gen: u64,
    /// WAL segment in which this series was last declared, and the value bits last logged
    /// there (the XOR base of the next logged value).
    pub(crate) wal_seg: u64,
    pub(crate) wal_prev: u64,
}

impl MemSeries {
    fn bytes(&self) -> u64 {
        let labels: usize = self
            .labels
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum();
        SERIES_OVERHEAD + labels as u64 + self.key.len() as u64
    }
}

/// Why a sample was not appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Not newer than the series' last sample.
    OutOfOrder,
    /// Older than what the head still accepts (already in a block).
    TooOld,
}

/// All series in memory.
#[derive(Debug, Default)]
pub(crate) struct Head {
    series: Vec<Option<MemSeries>>,
    /// Hash of the key → the series; hashes shared by several series go to `collisions`.
    by_hash: HashMap<u64, SeriesRef, NoHash>,
    collisions: HashMap<u64, Vec<SeriesRef>, NoHash>,
    by_name: HashMap<String, Vec<SeriesRef>>,
    live: usize,
    /// Chunk bytes (sealed and open).
    pub(crate) chunk_bytes: u64,
    /// Label and bookkeeping bytes of the live series.
    pub(crate) series_bytes: u64,
    /// Samples held.
    pub(crate) samples: u64,
    /// Chunks never span a multiple of this (ms), so blocks can take whole chunks.
    block_ms: i64,
    /// Samples older than this are refused (they belong to a written block).
    pub(crate) min_valid_t: i64,
}

impl Head {
    pub(crate) fn new(block_ms: i64) -> Self {
        Head {
            block_ms: block_ms.max(1),
            min_valid_t: i64::MIN,
            ..Head::default()
        }
    }

    pub(crate) fn live_series(&self) -> usize {
        self.live
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.chunk_bytes + self.series_bytes
    }

    /// The series with this key (and its hash).
    pub(crate) fn find(&self, hash: u64, key: &[u8]) -> Option<SeriesRef> {
        let is = |r: &SeriesRef| self.get(*r).is_some_and(|s| &*s.key == key);
        let first = self.by_hash.get(&hash)?;
        if is(first) {
            return Some(*first);
        }
        self.collisions.get(&hash)?.iter().copied().find(|r| is(r))
    }

    /// Creates a series (the caller has checked it does not exist).
    pub(crate) fn create(&mut self, hash: u64, key: &[u8], labels: Labels) -> SeriesRef {
        let r = self.series.len() as SeriesRef;
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(r);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collisions.entry(hash).or_default().push(r);
            }
        }
        self.by_name
            .entry(labels.name().to_string())
            .or_default()
            .push(r);
        let s = MemSeries {
            labels,
            key: key.into(),
            hash,
            chunks: Vec::new(),
            open: None,
            open_end: i64::MIN,
            last_t: i64::MIN,
            seen_gen: 0,
            wal_seg: u64::MAX,
            wal_prev: 0,
        };
        self.series_bytes += s.bytes();
        self.series.push(Some(s));
        self.live += 1;
        r
    }

    /// Finds or creates the series with these labels.
    pub(crate) fn get_or_create(&mut self, labels: &Labels) -> (SeriesRef, bool) {
        let mut key = Vec::new();
        key_of(labels.iter(), &mut key);
        let hash = hash_key(&key);
        match self.find(hash, &key) {
            Some(r) => (r, false),
            None => (self.create(hash, &key, labels.clone()), true),
        }
    }

    pub(crate) fn get(&self, r: SeriesRef) -> Option<&MemSeries> {
        self.series.get(r as usize)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, r: SeriesRef) -> Option<&mut MemSeries> {
        self.series.get_mut(r as usize)?.as_mut()
    }

    /// Appends one sample to series `r`.
    pub(crate) fn append(&mut self, r: SeriesRef, t: i64, v: f64) -> Result<(), Reject> {
        let block_ms = self.block_ms;
        let min_valid = self.min_valid_t;
        let Some(s) = self.series.get_mut(r as usize).and_then(Option::as_mut) else {
            return Err(Reject::OutOfOrder);
        };
        if t <= s.last_t {
            return Err(Reject::OutOfOrder);
        }
        if t < min_valid {
            return Err(Reject::TooOld);
        }
        let mut delta: i64 = 0;
        let cut = s
            .open
            .as_ref()
            .is_some_and(|c| c.count() >= SAMPLES_PER_CHUNK || t >= s.open_end);
        let mut hint = 64;
        if cut {
            if let Some(c) = s.open.take() {
                let sealed = c.finish();
                // Room for a chunk like the last one, and the 8 bytes a full word adds.
                hint = sealed.data.len() + 8;
                s.chunks.push(sealed);
            }
        }
        match &mut s.open {
            Some(c) => {
                let before = c.len_bytes();
                c.append(t, v);
                delta += (c.len_bytes() - before) as i64;
            }
            None => {
                let c = ChunkWriter::with_capacity(t, v, hint);
                delta += c.len_bytes() as i64;
                s.open = Some(c);
                s.open_end = t
                    .div_euclid(block_ms)
                    .saturating_add(1)
                    .saturating_mul(block_ms);
            }
        }
        s.last_t = t;
        self.chunk_bytes = self.chunk_bytes.saturating_add_signed(delta);
        self.samples += 1;
        Ok(())
    }

    /// References of series that may match a metric name (`None`: every series).
    pub(crate) fn refs_for_name(&self, name: Option<&str>) -> Vec<SeriesRef> {
        match name {
            Some(n) => self.by_name.get(n).cloned().unwrap_or_default(),
            None => (0..self.series.len() as SeriesRef)
                .filter(|&r| self.get(r).is_some())
                .collect(),
        }
    }

    /// Appends series `r`'s samples in `[start, end]` to `out`.
    pub(crate) fn samples_in(&self, r: SeriesRef, start: i64, end: i64, out: &mut Vec<Sample>) {
        let Some(s) = self.get(r) else { return };
        let sealed = s
            .chunks
            .iter()
            .filter(|c| c.max_t >= start && c.min_t <= end)
            .map(|c| c.iter());
        let open = s
            .open
            .iter()
            .filter(|c| c.max_t() >= start && c.min_t() <= end)
            .map(|c| c.iter());
        for it in sealed.chain(open) {
            out.extend(
                it.filter(|&(t, _)| t >= start && t <= end)
                    .map(|(t, v)| Sample { t, v }),
            );
        }
    }

    /// Whether series `r` has a sample in `[start, end]` (by chunk bounds).
    pub(crate) fn overlaps(&self, r: SeriesRef, start: i64, end: i64) -> bool {
        self.get(r).is_some_and(|s| {
            s.chunks.iter().any(|c| c.max_t >= start && c.min_t <= end)
                || s.open
                    .as_ref()
                    .is_some_and(|c| c.max_t() >= start && c.min_t() <= end)
        })
    }

    /// The oldest sample time held.
    pub(crate) fn min_t(&self) -> Option<i64> {
        self.series
            .iter()
            .flatten()
            .filter_map(|s| {
                s.chunks
                    .first()
                    .map(|c| c.min_t)
                    .or(s.open.as_ref().map(ChunkWriter::min_t))
            })
            .min()
    }

    /// Copies of every chunk that ends before `end`, sealing open chunks that do, in two
    /// flat buffers (for writing a block outside the lock: a few large copies instead of
    /// an allocation per label and chunk; the head keeps its chunks until the block is in).
    pub(crate) fn copy_before(&mut self, end: i64) -> ChunkCopy {
        let mut out = ChunkCopy::default();
        for s in self.series.iter_mut().flatten() {
            if s.open.as_ref().is_some_and(|c| c.max_t() < end) {
                if let Some(c) = s.open.take() {
                    s.chunks.push(c.finish());
                }
            }
            let n = s.chunks.iter().take_while(|c| c.max_t < end).count();
            if n == 0 {
                continue;
            }
            out.keys.extend_from_slice(&s.key);
            for c in &s.chunks[..n] {
                out.data.extend_from_slice(&c.data);
                out.chunks.push((c.min_t, c.max_t, c.count, out.data.len()));
            }
            out.series.push((out.keys.len(), out.chunks.len()));
        }
        out
    }

    /// Drops every chunk that ends before `cutoff`; returns the bytes dropped.
    pub(crate) fn drop_before(&mut self, cutoff: i64) -> u64 {
        self.take_before(cutoff, &mut Vec::new())
    }

    /// As [`drop_before`](Self::drop_before), moving the chunks into `out` (so that the
    /// caller can free them after letting go of a lock).
    pub(crate) fn take_before(&mut self, cutoff: i64, out: &mut Vec<Chunk>) -> u64 {
        let mut dropped = 0u64;
        let mut samples = 0u64;
        for s in self.series.iter_mut().flatten() {
            if s.open.as_ref().is_some_and(|c| c.max_t() < cutoff) {
                if let Some(c) = s.open.take() {
                    s.chunks.push(c.finish());
                }
            }
            let n = s.chunks.iter().take_while(|c| c.max_t < cutoff).count();
            for c in s.chunks.drain(..n) {
                dropped += c.data.len() as u64;
                samples += u64::from(c.count);
                out.push(c);
            }
        }
        self.chunk_bytes = self.chunk_bytes.saturating_sub(dropped);
        self.samples = self.samples.saturating_sub(samples);
        dropped
    }

    /// The end time of the oldest sealed-or-open chunk of any series.
    pub(crate) fn oldest_chunk_end(&self) -> Option<i64> {
        self.series
            .iter()
            .flatten()
            .filter_map(|s| {
                s.chunks
                    .first()
                    .map(|c| c.max_t)
                    .or(s.open.as_ref().map(ChunkWriter::max_t))
            })
            .min()
    }

    fn unindex_hash(&mut self, hash: u64, r: SeriesRef) {
        let others = self.collisions.get_mut(&hash);
        if self.by_hash.get(&hash) == Some(&r) {
            match others.and_then(Vec::pop) {
                Some(next) => {
                    self.by_hash.insert(hash, next);
                }
                None => {
                    self.by_hash.remove(&hash);
                }
            }
        } else if let Some(v) = others {
            v.retain(|&x| x != r);
        }
        if self.collisions.get(&hash).is_some_and(Vec::is_empty) {
            self.collisions.remove(&hash);
        }
    }

    /// Forgets series that hold no samples and were not seen since generation `gen`.
    pub(crate) fn gc(&mut self, gen: u64) {
        let mut removed = Vec::new();
        for (i, slot) in self.series.iter_mut().enumerate() {
            let empty = slot
                .as_ref()
                .is_some_and(|s| s.chunks.is_empty() && s.open.is_none() && s.seen_gen < gen);
            if empty {
                if let Some(s) = slot.take() {
                    removed.push((i as SeriesRef, s));
                }
            }
        }
        for (r, s) in removed {
            self.live -= 1;
            self.series_bytes = self.series_bytes.saturating_sub(s.bytes());
            self.unindex_hash(s.hash, r);
            if let Some(v) = self.by_name.get_mut(s.labels.name()) {
                v.retain(|&x| x != r);
                if v.is_empty() {
                    self.by_name.remove(s.labels.name());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_agrees_with_key_of() {
        let sets: [&[(&str, &str)]; 6] = [
            &[],
            &[("a", "b")],
            &[("a", "bc")],
            &[("ab", "c")],
            &[("a", "b"), ("c", "")],
            &[("a", "b"), ("c", "d")],
        ];
        let mut key = Vec::new();
        for x in sets {
            key_of(x.iter().copied(), &mut key);
            for y in sets {
                assert_eq!(
                    key_is(y.iter().copied(), &key),
                    x == y,
                    "{x:?} against {y:?}"
                );
            }
        }
    }
}
