//! The store behind a `History`: head, WAL and blocks, with cutting blocks and retention.

mod cut;
mod open;
mod positions;

pub(crate) use cut::CutJob;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use tallyho_query::{Labels, MatchOp, Matcher, RangeSeries, Sample, STALE_NAN};

use crate::block::Block;
use crate::head::{hash_key, key_of, Head, Reject, SeriesRef};
use crate::options::{AppendStats, HistoryError, HistoryOptions, HistoryStats};
use crate::wal::{self, Wal};
use positions::Positions;

/// Most damage messages kept for `HistoryStats`.
const MAX_MESSAGES: usize = 16;

/// The value of an `__name__ = "..."` matcher, when there is one.
pub(crate) fn name_of(matchers: &[Matcher]) -> Option<&str> {
    matchers
        .iter()
        .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
        .map(|m| m.value.as_str())
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> HistoryError + '_ {
    move |source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Files of a persistent store.
#[derive(Debug)]
struct Disk {
    dir: PathBuf,
    blocks_dir: PathBuf,
    wal: Wal,
    /// Held for the store's life: the flock on `LOCK` keeps out a second `History`.
    _lock: File,
    next_seq: u64,
}

/// Everything one lock guards.
#[derive(Debug)]
pub(crate) struct Store {
    head: Head,
    blocks: Vec<Block>,
    disk: Option<Disk>,
    block_ms: i64,
    retention_ms: i64,
    max_bytes: u64,
    newest: Option<i64>,
    gen: u64,
    /// The last stale-tracked append, in order (see [`positions`]).
    positions: Positions,
    /// Whether the running append tracks staleness (and uses the position cache).
    tracking: bool,
    batch: wal::Batch,
    /// Scratch for a series' lookup key.
    key: Vec<u8>,
    /// `floor((newest - block/2) / block)` when compaction was last considered.
    compact_mark: i64,
    head_drop_at: i64,
    /// A block is being written outside the lock (at most one at a time).
    cutting: bool,
    /// The directory, when opened read-only (then `disk` is `None` and nothing is written).
    read_only: Option<PathBuf>,
    /// Bytes of WAL replayed by a read-only open.
    wal_bytes_read: u64,
    pub(crate) stats: HistoryStats,
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    pub(crate) fn open(opts: &HistoryOptions) -> Result<Store, HistoryError> {
        opts.validate()?;
        let mut store = Store::empty(opts);
        match &opts.storage_path {
            Some(dir) if opts.read_only => {
                store.open_read_only(dir)?;
                return Ok(store);
            }
            Some(dir) => store.open_disk(dir)?,
            None => {}
        }
        // Blocks due after a long WAL replay are written here, before anyone appends.
        let mut job = store.after_append()?;
        while let Some(mut j) = job {
            let written = j.write();
            job = store.install(&mut j, written)?;
            j.finish();
        }
        Ok(store)
    }

    /// An empty in-memory store (options not validated: the caller did, or they are the
    /// defaults).
    pub(crate) fn empty(opts: &HistoryOptions) -> Store {
        let block_ms = millis(opts.block_duration).max(1);
        Store {
            head: Head::new(block_ms),
            blocks: Vec::new(),
            disk: None,
            block_ms,
            retention_ms: millis(opts.retention).max(1),
            max_bytes: opts.max_bytes,
            newest: None,
            gen: 0,
            positions: Positions::default(),
            tracking: false,
            batch: wal::Batch::default(),
            key: Vec::with_capacity(256),
            compact_mark: i64::MIN,
            head_drop_at: i64::MIN,
            cutting: false,
            read_only: None,
            wal_bytes_read: 0,
            stats: HistoryStats::default(),
        }
    }

    fn damaged(&mut self, msg: String) {
        log::warn!("tallyho-history: {msg}");
        self.stats.corrupt_files += 1;
        if self.stats.corrupt_messages.len() >= MAX_MESSAGES {
            self.stats.corrupt_messages.remove(0);
        }
        self.stats.corrupt_messages.push(msg);
    }

    fn begin(&mut self) {
        self.gen += 1;
        self.batch.clear();
        self.positions.begin();
    }

    /// Appends one sample of the series whose sorted labels are `pairs` (built by `make` when
    /// the series is new).
    pub(crate) fn append_one<'a, I>(
        &mut self,
        t: i64,
        pairs: impl Fn() -> I,
        make: impl FnOnce() -> Labels,
        v: f64,
        stats: &mut AppendStats,
    ) where
        I: Iterator<Item = (&'a str, &'a str)>,
    {
        let cached = match self.tracking {
            true => self.positions.lookup(pairs()),
            false => None,
        };
        let gen = self.gen;
        let live = cached.and_then(|r| {
            let s = self.head.get_mut(r)?;
            s.seen_gen = gen;
            Some(r)
        });
        let r = match live {
            Some(r) => {
                self.positions.carry();
                r
            }
            None => {
                key_of(pairs(), &mut self.key);
                let hash = hash_key(&self.key);
                let r = match self.head.find(hash, &self.key) {
                    Some(r) => r,
                    None => {
                        stats.new_series += 1;
                        self.head.create(hash, &self.key, make())
                    }
                };
                if let Some(s) = self.head.get_mut(r) {
                    s.seen_gen = gen;
                }
                if self.tracking {
                    self.positions.push(&self.key, r);
                }
                r
            }
        };
        match self.sample(r, t, v) {
            Ok(()) => stats.appended += 1,
            Err(_) => stats.out_of_order += 1,
        }
    }

    /// Appends to the head and logs to the WAL batch.
    fn sample(&mut self, r: SeriesRef, t: i64, v: f64) -> Result<(), Reject> {
        self.head.append(r, t, v)?;
        if let (Some(disk), Some(s)) = (&self.disk, self.head.get_mut(r)) {
            let seg = disk.wal.current();
            if s.wal_seg != seg {
                self.batch.declare(u64::from(r), &s.labels);
                s.wal_seg = seg;
                s.wal_prev = 0;
            }
            let bits = v.to_bits();
            self.batch.sample(u64::from(r), bits, s.wal_prev);
            s.wal_prev = bits;
        }
        Ok(())
    }

    /// Runs one append: `fill` adds the samples; `stale` writes staleness markers for the
    /// series of the previous stale-tracked append that `fill` did not carry.
    pub(crate) fn append(
        &mut self,
        t: i64,
        stale: bool,
        fill: impl FnOnce(&mut Store, &mut AppendStats),
    ) -> Result<(AppendStats, Option<CutJob>), HistoryError> {
        if let Some(dir) = &self.read_only {
            return Err(HistoryError::ReadOnly { path: dir.clone() });
        }
        self.begin();
        self.tracking = stale;
        let mut stats = AppendStats::default();
        if let Some(cutoff) = self.cutoff() {
            self.head.min_valid_t = self.head.min_valid_t.max(cutoff);
        }
        fill(self, &mut stats);
        if stale && self.positions.all_carried() {
            self.positions.finish();
        } else if stale {
            let positions = std::mem::take(&mut self.positions);
            for &r in positions.prev_refs() {
                let gone = self.head.get(r).is_some_and(|s| s.seen_gen != self.gen);
                if gone && self.sample(r, t, f64::from_bits(STALE_NAN)).is_ok() {
                    stats.stale_markers += 1;
                }
            }
            self.positions = positions;
            self.positions.finish();
        }
        self.stats.samples_appended += (stats.appended + stats.stale_markers) as u64;
        self.stats.out_of_order_rejected += stats.out_of_order as u64;
        if stats.appended + stats.stale_markers > 0 {
            self.newest = Some(self.newest.map_or(t, |n| n.max(t)));
        }
        self.write_wal(t)?;
        let job = self.after_append()?;
        Ok((stats, job))
    }

    fn write_wal(&mut self, t: i64) -> Result<(), HistoryError> {
        let Some(disk) = &mut self.disk else {
            return Ok(());
        };
        if let Err(e) = disk.wal.write(t, &self.batch) {
            // Later appends go to a fresh segment, so a torn record here cannot hide them.
            let _ = disk.wal.rotate();
            return Err(HistoryError::Io {
                path: disk.dir.join("wal"),
                source: e,
            });
        }
        Ok(())
    }

    pub(crate) fn sync(&mut self) -> Result<(), HistoryError> {
        match &mut self.disk {
            Some(d) => d.wal.sync().map_err(io_err(&d.dir)),
            None => Ok(()),
        }
    }

    /// Samples before this are gone by retention (`None` when empty).
    pub(crate) fn cutoff(&self) -> Option<i64> {
        self.newest.map(|n| n.saturating_sub(self.retention_ms))
    }

    /// Retention and WAL upkeep after an append; returns the block to write, if one is
    /// due (see [`CutJob`]).
    fn after_append(&mut self) -> Result<Option<CutJob>, HistoryError> {
        let job = self.next_cut()?;
        self.enforce_retention();
        self.maybe_rotate_wal()?;
        Ok(job)
    }

    /// Samples older than this are in no need of the WAL: they are in blocks or dropped
    /// (everything the head still holds is at least this new).
    fn head_low(&self) -> i64 {
        self.head
            .min_t()
            .unwrap_or_else(|| self.newest.map_or(i64::MIN, |n| n.saturating_add(1)))
    }

    /// Starts a new WAL segment every quarter block, and deletes the segments that hold only
    /// samples the head no longer needs, so the WAL stays bounded even when retention, not
    /// block cutting, empties the head.
    fn maybe_rotate_wal(&mut self) -> Result<(), HistoryError> {
        let (Some(newest), Some(disk)) = (self.newest, &self.disk) else {
            return Ok(());
        };
        if disk.wal.current_min_t() > newest.saturating_sub((self.block_ms / 4).max(1)) {
            return Ok(());
        }
        let low = self.head_low();
        if let Some(disk) = &mut self.disk {
            disk.wal.rotate().map_err(io_err(&disk.dir))?;
            disk.wal.delete_before(low).map_err(io_err(&disk.dir))?;
        }
        Ok(())
    }

    fn total_bytes(&self) -> u64 {
        self.head.bytes() + self.disk_bytes()
    }

    fn wal_bytes(&self) -> u64 {
        self.disk
            .as_ref()
            .map_or(self.wal_bytes_read, |d| d.wal.bytes())
    }

    fn disk_bytes(&self) -> u64 {
        let wal = self.wal_bytes();
        wal + self.blocks.iter().map(|b| b.bytes).sum::<u64>()
    }

    fn drop_oldest_block(&mut self) {
        if self.blocks.is_empty() {
            return;
        }
        let b = self.blocks.remove(0);
        if let Err(e) = fs::remove_file(&b.path) {
            log::warn!("tallyho-history: cannot remove {}: {e}", b.path.display());
        }
        self.stats.retention_dropped_blocks += 1;
        self.stats.retention_dropped_bytes += b.bytes;
    }

    fn enforce_retention(&mut self) {
        let Some(cutoff) = self.cutoff() else { return };
        while self.blocks.first().is_some_and(|b| b.max_t < cutoff) {
            self.drop_oldest_block();
        }
        if cutoff >= self.head_drop_at {
            let n = self.head.drop_before(cutoff);
            self.stats.retention_dropped_bytes += n;
            self.head_drop_at = self.head.oldest_chunk_end().map_or(i64::MIN, |t| t + 1);
        }
        while self.total_bytes() > self.max_bytes {
            if !self.blocks.is_empty() {
                self.drop_oldest_block();
                continue;
            }
            let Some(end) = self.head.oldest_chunk_end() else {
                break;
            };
            let n = self.head.drop_before(end.saturating_add(1));
            if n == 0 {
                break;
            }
            self.stats.retention_dropped_bytes += n;
            self.head_drop_at = self.head.oldest_chunk_end().map_or(i64::MIN, |t| t + 1);
        }
        if self.gen % 64 == 0 {
            self.head.gc(self.gen.saturating_sub(1));
        }
    }

    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> io::Result<Vec<RangeSeries>> {
        let start = start.max(self.cutoff().unwrap_or(i64::MIN));
        let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        if start > end {
            return Ok(Vec::new());
        }
        for b in self
            .blocks
            .iter()
            .filter(|b| b.max_t >= start && b.min_t <= end)
        {
            b.select(matchers, start, end, &mut out)?;
        }
        let mut buf = Vec::new();
        for r in self.head.refs_for_name(name_of(matchers)) {
            let Some(s) = self.head.get(r) else { continue };
            if !Matcher::all_match(matchers, &s.labels) {
                continue;
            }
            buf.clear();
            self.head.samples_in(r, start, end, &mut buf);
            if !buf.is_empty() {
                out.entry(s.labels.clone())
                    .or_default()
                    .extend_from_slice(&buf);
            }
        }
        Ok(out
            .into_iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(labels, mut samples)| {
                if !samples.windows(2).all(|w| w[0].t < w[1].t) {
                    samples.sort_by_key(|s| s.t);
                    samples.dedup_by_key(|s| s.t);
                }
                RangeSeries { labels, samples }
            })
            .collect())
    }

    pub(crate) fn series(&self, matchers: &[Matcher], start: i64, end: i64) -> Vec<Labels> {
        let start = start.max(self.cutoff().unwrap_or(i64::MIN));
        let mut out = std::collections::BTreeSet::new();
        for b in self
            .blocks
            .iter()
            .filter(|b| b.max_t >= start && b.min_t <= end)
        {
            out.extend(b.series(matchers, start, end).into_iter().cloned());
        }
        for r in self.head.refs_for_name(name_of(matchers)) {
            let Some(s) = self.head.get(r) else { continue };
            if Matcher::all_match(matchers, &s.labels) && self.head.overlaps(r, start, end) {
                out.insert(s.labels.clone());
            }
        }
        out.into_iter().collect()
    }

    pub(crate) fn snapshot_stats(&self) -> HistoryStats {
        let mut s = self.stats.clone();
        s.series = self.head.live_series();
        s.head_samples = self.head.samples;
        s.head_bytes = self.head.bytes() + self.positions.bytes() as u64;
        s.head_chunk_bytes = self.head.chunk_bytes;
        s.block_samples = self.blocks.iter().map(|b| b.samples).sum();
        s.block_bytes = self.blocks.iter().map(|b| b.bytes).sum();
        s.wal_bytes = self.wal_bytes();
        s.disk_bytes = self.disk_bytes();
        s.blocks = self.blocks.len();
        s.newest_ms = self.newest;
        let oldest = self
            .blocks
            .first()
            .map(|b| b.data_min_t())
            .into_iter()
            .chain(self.head.min_t())
            .min();
        s.oldest_ms = match (oldest, self.cutoff()) {
            (Some(o), Some(c)) => Some(o.max(c)),
            (o, _) => o,
        };
        s
    }
}
