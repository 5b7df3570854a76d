//! The write-ahead log: every accepted append, so a restart (or a `kill -9`) loses at most
//! the append that was being written.
//!
//! # Format
//! `wal/` holds segments named by a zero-padded sequence number (`00000001`, ...). A segment
//! is a run of records, each `len: u32 LE | crc32(payload): u32 LE | payload`. The payload's
//! first byte is its type:
//! - `1` series: `count`, then per series `ref`, `label count`, and each label as two
//!   length-prefixed strings (all varints). A reference is valid in its segment only, from
//!   its declaration on, so any segment can be replayed (or deleted) on its own.
//! - `2` samples: `t` (zigzag varint, ms), `count`, then per sample the zigzag difference of
//!   its `ref` to the previous one, and its value XOR'd with the value last logged for that
//!   series in this segment (0 at the first): one byte `0` when equal, otherwise a byte
//!   `1 + 8·leading_zero_bytes + trailing_zero_bytes` and the bytes between, big-endian.
//!
//! One append is written with one `write` and made durable with one `fdatasync`. A record
//! that is cut short or fails its CRC ends that segment's replay; it is reported and the
//! segment truncated there.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tallyho_query::Labels;

use crate::codec::{put_str, put_uvarint, put_varint, Reader};

const REC_SERIES: u8 = 1;
const REC_SAMPLES: u8 = 2;
/// A record longer than this is taken as corruption.
const MAX_RECORD: usize = 256 << 20;

/// A decoded record.
#[derive(Debug)]
pub(crate) enum Record {
    /// Series declarations: (segment-local ref, labels).
    Series(Vec<(u64, Labels)>),
    /// Samples at one time: (segment-local ref, value).
    Samples(i64, Vec<(u64, f64)>),
}

/// Builds the records of one append.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    series: Vec<u8>,
    series_n: u64,
    samples: Vec<u8>,
    samples_n: u64,
    prev_ref: i64,
}

impl Batch {
    pub(crate) fn clear(&mut self) {
        self.series.clear();
        self.series_n = 0;
        self.samples.clear();
        self.samples_n = 0;
        self.prev_ref = 0;
    }

    pub(crate) fn declare(&mut self, r: u64, labels: &Labels) {
        put_uvarint(&mut self.series, r);
        put_uvarint(&mut self.series, labels.len() as u64);
        for (k, v) in labels.iter() {
            put_str(&mut self.series, k);
            put_str(&mut self.series, v);
        }
        self.series_n += 1;
    }

    /// Logs `bits` for series `r`, XOR'd with `prev` (the value last logged for it).
    pub(crate) fn sample(&mut self, r: u64, bits: u64, prev: u64) {
        put_varint(&mut self.samples, r as i64 - self.prev_ref);
        self.prev_ref = r as i64;
        self.samples_n += 1;
        let x = bits ^ prev;
        if x == 0 {
            self.samples.push(0);
            return;
        }
        let lead = (x.leading_zeros() / 8) as usize;
        let trail = (x.trailing_zeros() / 8) as usize;
        self.samples.push((1 + lead * 8 + trail) as u8);
        let bytes = x.to_be_bytes();
        self.samples.extend_from_slice(&bytes[lead..8 - trail]);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.series_n == 0 && self.samples_n == 0
    }

    /// The framed records, series first; `t` is the samples' timestamp.
    fn encode(&self, t: i64, out: &mut Vec<u8>) {
        let mut payload = Vec::with_capacity(self.series.len().max(self.samples.len()) + 16);
        if self.series_n > 0 {
            payload.push(REC_SERIES);
            put_uvarint(&mut payload, self.series_n);
            payload.extend_from_slice(&self.series);
            frame(&payload, out);
        }
        if self.samples_n > 0 {
            payload.clear();
            payload.push(REC_SAMPLES);
            put_varint(&mut payload, t);
            put_uvarint(&mut payload, self.samples_n);
            payload.extend_from_slice(&self.samples);
            frame(&payload, out);
        }
    }
}

fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// One segment on disk.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) id: u64,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) bytes: u64,
}

impl Segment {
    fn new(id: u64) -> Self {
        Segment {
            id,
            min_t: i64::MAX,
            max_t: i64::MIN,
            bytes: 0,
        }
    }
}

/// The open log.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    file: File,
    segments: Vec<Segment>,
    buf: Vec<u8>,
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:08}"))
}

/// What replaying found.
#[derive(Debug, Default)]
pub(crate) struct ReplayReport {
    /// Segments whose tail was cut short or corrupted (then truncated).
    pub(crate) corrupt: Vec<String>,
}

impl Wal {
    /// Opens `dir`, handing every record of every segment, in order, to `apply`
    /// (`segment id`, record), then starts a new segment.
    pub(crate) fn open(
        dir: &Path,
        mut apply: impl FnMut(u64, Record),
    ) -> io::Result<(Wal, ReplayReport)> {
        fs::create_dir_all(dir)?;
        let mut ids: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        ids.sort_unstable();
        let mut report = ReplayReport::default();
        let mut segments = Vec::new();
        for id in ids {
            let path = segment_path(dir, id);
            let data = fs::read(&path)?;
            let (valid, min_t, max_t) = replay_segment(id, &data, &mut apply);
            if valid < data.len() {
                let msg = format!(
                    "{}: record at byte {valid} cut short or corrupted, {} bytes dropped",
                    path.display(),
                    data.len() - valid
                );
                log::warn!("tallyho-history: WAL {msg}");
                report.corrupt.push(msg);
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(valid as u64)?;
            }
            segments.push(Segment {
                id,
                min_t,
                max_t,
                bytes: valid as u64,
            });
        }
        let next = segments.last().map_or(1, |s| s.id + 1);
        let file = create_segment(dir, next)?;
        segments.push(Segment::new(next));
        let wal = Wal {
            dir: dir.to_path_buf(),
            file,
            segments,
            buf: Vec::new(),
        };
        Ok((wal, report))
    }

    /// The id of the segment being written.
    pub(crate) fn current(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.id)
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Writes one append's records and syncs them.
    pub(crate) fn write(&mut self, t: i64, batch: &Batch) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        batch.encode(t, &mut self.buf);
        self.file.write_all(&self.buf)?;
        self.file.sync_data()?;
        if let Some(s) = self.segments.last_mut() {
            s.bytes += self.buf.len() as u64;
            s.max_t = s.max_t.max(t);
            s.min_t = s.min_t.min(t);
        }
        Ok(())
    }

    /// The oldest sample time in the segment being written (`i64::MAX` when empty).
    pub(crate) fn current_min_t(&self) -> i64 {
        self.segments.last().map_or(i64::MAX, |s| s.min_t)
    }

    /// Starts a new segment; series must be declared again in it.
    pub(crate) fn rotate(&mut self) -> io::Result<()> {
        let next = self.current() + 1;
        self.file = create_segment(&self.dir, next)?;
        self.segments.push(Segment::new(next));
        Ok(())
    }

    /// Deletes finished segments whose samples are all older than `t`.
    pub(crate) fn delete_before(&mut self, t: i64) -> io::Result<()> {
        let paths = self.detach_before(t);
        remove_segments(&self.dir, &paths)
    }

    /// Forgets finished segments whose samples are all older than `t` and returns their
    /// paths, for [`remove_segments`] (which needs no lock: nothing refers to them).
    pub(crate) fn detach_before(&mut self, t: i64) -> Vec<PathBuf> {
        let current = self.current();
        let (gone, keep): (Vec<Segment>, Vec<Segment>) = std::mem::take(&mut self.segments)
            .into_iter()
            .partition(|s| s.id != current && s.max_t < t);
        self.segments = keep;
        gone.iter().map(|s| segment_path(&self.dir, s.id)).collect()
    }

    /// The log's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Every segment's bytes, oldest first, for a read-only replay: nothing is created,
/// truncated or deleted. A missing directory is an empty log; a segment deleted between
/// listing and reading (a writer trimming its log) is skipped.
pub(crate) fn read_segments(dir: &Path) -> io::Result<Vec<(u64, Vec<u8>)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids: Vec<u64> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    ids.sort_unstable();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match fs::read(segment_path(dir, id)) {
            Ok(data) => out.push((id, data)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Replays segments read by [`read_segments`] into `apply`, leaving the files as they are.
/// A record cut short or failing its CRC ends its segment's replay (a writer may be in the
/// middle of it) and is reported. Returns the report and the bytes replayed.
pub(crate) fn replay_read_only(
    dir: &Path,
    segments: &[(u64, Vec<u8>)],
    mut apply: impl FnMut(u64, Record),
) -> (ReplayReport, u64) {
    let mut report = ReplayReport::default();
    let mut bytes = 0u64;
    for (id, data) in segments {
        let (valid, _, _) = replay_segment(*id, data, &mut apply);
        bytes += valid as u64;
        if valid < data.len() {
            report.corrupt.push(format!(
                "{}: record at byte {valid} cut short or corrupted, {} bytes not replayed \
                 (read-only: the file is left as it is)",
                segment_path(dir, *id).display(),
                data.len() - valid
            ));
        }
    }
    (report, bytes)
}

/// Removes segment files no longer in a log's list, then syncs the directory. A file
/// already gone is fine; one that cannot be removed is replayed (harmlessly: the head
/// refuses samples older than the blocks) on the next open.
pub(crate) fn remove_segments(dir: &Path, paths: &[PathBuf]) -> io::Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    for p in paths {
        match fs::remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    sync_dir(dir)
}

fn create_segment(dir: &Path, id: u64) -> io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, id))?;
    sync_dir(dir)?;
    Ok(f)
}

/// Makes a directory's entries (new, renamed, removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replays one segment; returns the length of its valid prefix and its oldest and newest
/// timestamps.
fn replay_segment(id: u64, data: &[u8], apply: &mut impl FnMut(u64, Record)) -> (usize, i64, i64) {
    let mut pos = 0usize;
    let mut min_t = i64::MAX;
    let mut max_t = i64::MIN;
    let mut prev: HashMap<u64, u64> = HashMap::new();
    while pos < data.len() {
        let Some(rec) = next_record(&data[pos..]) else {
            break;
        };
        let (len, payload) = rec;
        let Some(record) = decode(payload, &mut prev) else {
            break;
        };
        if let Record::Samples(t, _) = &record {
            max_t = max_t.max(*t);
            min_t = min_t.min(*t);
        }
        apply(id, record);
        pos += len;
    }
    (pos, min_t, max_t)
}

fn next_record(data: &[u8]) -> Option<(usize, &[u8])> {
    let mut r = Reader::new(data);
    let len = r.u32_le()? as usize;
    let crc = r.u32_le()?;
    if len == 0 || len > MAX_RECORD {
        return None;
    }
    let payload = r.bytes(len)?;
    (crc32fast::hash(payload) == crc).then_some((8 + len, payload))
}

fn decode(payload: &[u8], prev: &mut HashMap<u64, u64>) -> Option<Record> {
    let mut r = Reader::new(payload);
    match r.u8()? {
        REC_SERIES => {
            let n = r.count(2)?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let sref = r.uvarint()?;
                let nl = r.count(2)?;
                let mut pairs = Vec::with_capacity(nl);
                for _ in 0..nl {
                    pairs.push((r.str()?.to_string(), r.str()?.to_string()));
                }
                prev.insert(sref, 0);
                out.push((sref, Labels::new(pairs)));
            }
            Some(Record::Series(out))
        }
        REC_SAMPLES => {
            let t = r.varint()?;
            let n = r.count(2)?;
            let mut out = Vec::with_capacity(n);
            let mut sref = 0i64;
            for _ in 0..n {
                sref = sref.wrapping_add(r.varint()?);
                let key = sref as u64;
                let x = match r.u8()? {
                    0 => 0,
                    h @ 1..=64 => {
                        let h = usize::from(h - 1);
                        let (lead, trail) = (h / 8, h % 8);
                        let mid = r.bytes(8usize.checked_sub(lead + trail)?)?;
                        let mut b = [0u8; 8];
                        b[lead..8 - trail].copy_from_slice(mid);
                        u64::from_be_bytes(b)
                    }
                    _ => return None,
                };
                let p = prev.entry(key).or_insert(0);
                *p ^= x;
                out.push((key, f64::from_bits(*p)));
            }
            Some(Record::Samples(t, out))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_round_trips_through_the_decoder() {
        let labels = Labels::new([("__name__".to_string(), "up".to_string())]);
        let mut b = Batch::default();
        b.declare(3, &labels);
        b.declare(1, &labels);
        let values = [
            (3u64, 1.5f64),
            (1, f64::from_bits(tallyho_query::STALE_NAN)),
        ];
        for (r, v) in values {
            b.sample(r, v.to_bits(), 0);
        }
        let mut out = Vec::new();
        b.encode(77, &mut out);
        let mut recs = Vec::new();
        let (valid, min_t, max_t) = replay_segment(1, &out, &mut |_, r| recs.push(r));
        assert_eq!((valid, min_t, max_t), (out.len(), 77, 77));
        let Record::Samples(t, s) = &recs[1] else {
            panic!("want samples, got {recs:?}")
        };
        assert_eq!(*t, 77);
        assert_eq!(s[0], (3, 1.5));
        assert_eq!(s[1].1.to_bits(), tallyho_query::STALE_NAN);
        // A cut-short copy replays its valid prefix only.
        let (valid, _, _) = replay_segment(1, &out[..out.len() - 1], &mut |_, _| {});
        assert!(valid < out.len());
    }
}
