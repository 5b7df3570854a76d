//! Cutting blocks without stalling appends: what is due is chosen and copied under the
//! store's lock ([`Store::next_cut`]), written, synced and read back outside it
//! ([`CutJob::write`], on a thread of its own), then swapped in under the lock
//! ([`Store::install`]).
//!
//! Durability is unchanged: the WAL segments holding a block's samples are deleted only
//! after the block is in place, so a `kill -9` at any point leaves the samples in the WAL
//! (and at worst a temp file, removed on open, or a whole block whose samples the WAL
//! repeats, which the head refuses as older than the block).

use std::fs;
use std::path::PathBuf;

use crate::block::{self, Block};
use crate::chunk::Chunk;
use crate::head::ChunkCopy;
use crate::options::HistoryError;
use crate::wal;

use super::{io_err, Store};

/// A block to write: copies of the head's chunks before `end`; after it is installed,
/// what is left to free and delete outside the lock.
#[derive(Debug)]
pub(crate) struct CutJob {
    dir: PathBuf,
    seq: u64,
    start: i64,
    end: i64,
    copy: ChunkCopy,
    /// The head's chunks the block replaced, freed with the job.
    garbage: Vec<Chunk>,
    /// WAL segments the block made unneeded, and their directory.
    wal_gone: Vec<PathBuf>,
    wal_dir: PathBuf,
}

/// A block written and read back, or why not.
pub(crate) type Written = Result<Block, String>;

impl CutJob {
    /// Writes, syncs and reads back the block; needs no lock (the chunks are copies).
    pub(crate) fn write(&self) -> Written {
        let series = self.copy.to_series();
        let path = block::write(&self.dir, self.seq, self.start, self.end - 1, &series)
            .map_err(|e| format!("writing block {} in {}: {e}", self.seq, self.dir.display()))?;
        match Block::open(&path) {
            Ok((b, _)) => Ok(b),
            Err(d) => {
                // Its samples are still in the head and the WAL; the retry writes another.
                let _ = fs::remove_file(&path);
                Err(format!("block just written cannot be read back: {}", d.0))
            }
        }
    }

    /// After [`Store::install`], outside the lock: deletes the WAL segments the block
    /// covers and frees the head's old chunks.
    pub(crate) fn finish(self) {
        if let Err(e) = wal::remove_segments(&self.wal_dir, &self.wal_gone) {
            log::warn!(
                "tallyho-history: removing WAL segments in {}: {e}",
                self.wal_dir.display()
            );
        }
    }
}

impl Store {
    fn compaction_mark(&self, newest: i64) -> i64 {
        (newest - self.block_ms / 2).div_euclid(self.block_ms)
    }

    /// The next block due (half a block after its end has passed), its chunks copied and
    /// the head closed to samples before its end; `None` when none is due, when the store
    /// is in memory, or while another is being written.
    pub(super) fn next_cut(&mut self) -> Result<Option<CutJob>, HistoryError> {
        let (Some(newest), true, false) = (self.newest, self.disk.is_some(), self.cutting) else {
            return Ok(None);
        };
        let mark = self.compaction_mark(newest);
        if mark == self.compact_mark {
            return Ok(None);
        }
        while let Some(min) = self.head.min_t() {
            let start = min.div_euclid(self.block_ms) * self.block_ms;
            let end = start + self.block_ms;
            if newest < end + self.block_ms / 2 {
                break;
            }
            self.head.min_valid_t = self.head.min_valid_t.max(end);
            let copy = self.head.copy_before(end);
            if copy.is_empty() {
                let gone = self.trim_after_cut(end, &mut Vec::new());
                if let Some(disk) = &self.disk {
                    wal::remove_segments(disk.wal.dir(), &gone).map_err(io_err(&disk.dir))?;
                }
                continue;
            }
            let Some(disk) = &mut self.disk else { break };
            let job = CutJob {
                dir: disk.blocks_dir.clone(),
                seq: disk.next_seq,
                start,
                end,
                copy,
                garbage: Vec::new(),
                wal_gone: Vec::new(),
                wal_dir: disk.wal.dir().to_path_buf(),
            };
            disk.next_seq += 1;
            self.cutting = true;
            return Ok(Some(job));
        }
        self.compact_mark = mark;
        Ok(None)
    }

    /// Takes in the block written from `job` (or notes why it was not), hands the head's
    /// replaced chunks and the WAL segments it covers to `job` (for
    /// [`CutJob::finish`]), and returns the next block due.
    ///
    /// # Errors
    /// As [`next_cut`](Self::next_cut).
    pub(crate) fn install(
        &mut self,
        job: &mut CutJob,
        written: Written,
    ) -> Result<Option<CutJob>, HistoryError> {
        self.cutting = false;
        match written {
            Ok(b) => {
                self.blocks.push(b);
                self.blocks.sort_by_key(|b| b.min_t);
                self.stats.compactions += 1;
                job.wal_gone = self.trim_after_cut(job.end, &mut job.garbage);
                self.enforce_retention();
                self.next_cut()
            }
            Err(msg) => {
                log::warn!(
                    "tallyho-history: {msg}; the samples stay in memory and the WAL, and the \
                     block is tried again when the next one is due"
                );
                self.stats.block_write_errors += 1;
                if let Some(newest) = self.newest {
                    self.compact_mark = self.compaction_mark(newest);
                }
                Ok(None)
            }
        }
    }

    /// After the block ending at `end` is in place: moves the head's chunks before it into
    /// `garbage` and returns the WAL segments holding nothing newer (still to remove).
    fn trim_after_cut(&mut self, end: i64, garbage: &mut Vec<Chunk>) -> Vec<PathBuf> {
        self.head.take_before(end, garbage);
        self.head.gc(self.gen);
        let low = self.head_low().max(end);
        match &mut self.disk {
            Some(disk) => disk.wal.detach_before(low),
            None => Vec::new(),
        }
    }
}
