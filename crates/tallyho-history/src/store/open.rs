//! Opening a store's directory: the lock, the blocks, the WAL replay; read-write or
//! read-only.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use crate::block::Block;
use crate::head::{Head, SeriesRef};
use crate::options::HistoryError;
use crate::wal::{self, Record, Wal};

use super::{io_err, Disk, Store};

/// Applies WAL records to a head; series references are local to their segment.
struct Replayer<'a> {
    head: &'a mut Head,
    newest: Option<i64>,
    refs: HashMap<u64, SeriesRef>,
    seg_now: u64,
}

impl<'a> Replayer<'a> {
    fn new(head: &'a mut Head, newest: Option<i64>) -> Self {
        Replayer {
            head,
            newest,
            refs: HashMap::new(),
            seg_now: u64::MAX,
        }
    }

    fn apply(&mut self, seg: u64, rec: Record) {
        if seg != self.seg_now {
            self.refs.clear();
            self.seg_now = seg;
        }
        match rec {
            Record::Series(list) => {
                for (local, labels) in list {
                    let r = self.head.get_or_create(&labels).0;
                    self.refs.insert(local, r);
                }
            }
            Record::Samples(t, samples) => {
                for (local, v) in samples {
                    if let Some(&r) = self.refs.get(&local) {
                        if self.head.append(r, t, v).is_ok() {
                            self.newest = Some(self.newest.map_or(t, |n| n.max(t)));
                        }
                    }
                }
            }
        }
    }
}

impl Store {
    /// Takes the directory's lock, loads its blocks and replays (and trims) its WAL.
    pub(super) fn open_disk(&mut self, dir: &Path) -> Result<(), HistoryError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(HistoryError::Locked {
                path: dir.to_path_buf(),
                lock: lock_path,
            });
        }
        let blocks_dir = dir.join("blocks");
        fs::create_dir_all(&blocks_dir).map_err(io_err(&blocks_dir))?;
        let next_seq = self.load_blocks(&blocks_dir, false)?;
        self.after_blocks();
        let wal_dir = dir.join("wal");
        let mut replayer = Replayer::new(&mut self.head, self.newest);
        let (wal, report) =
            Wal::open(&wal_dir, |seg, rec| replayer.apply(seg, rec)).map_err(io_err(&wal_dir))?;
        self.newest = replayer.newest;
        for msg in report.corrupt {
            self.damaged(format!("WAL segment {msg}"));
        }
        self.disk = Some(Disk {
            dir: dir.to_path_buf(),
            blocks_dir,
            wal,
            _lock: lock,
            next_seq,
        });
        Ok(())
    }

    /// Reads a directory another `History` may be writing, changing nothing in it.
    ///
    /// The WAL is read before the blocks are listed: a writer deletes WAL segments only
    /// after the block holding their samples is in place, so every sample is in what was
    /// read (twice at worst, and the head refuses the copy older than the blocks).
    pub(super) fn open_read_only(&mut self, dir: &Path) -> Result<(), HistoryError> {
        fs::metadata(dir).map_err(io_err(dir))?;
        let wal_dir = dir.join("wal");
        let segments = wal::read_segments(&wal_dir).map_err(io_err(&wal_dir))?;
        let blocks_dir = dir.join("blocks");
        if blocks_dir.exists() {
            self.load_blocks(&blocks_dir, true)?;
        }
        self.after_blocks();
        let mut replayer = Replayer::new(&mut self.head, self.newest);
        let (report, bytes) =
            wal::replay_read_only(&wal_dir, &segments, |seg, rec| replayer.apply(seg, rec));
        self.newest = replayer.newest;
        for msg in report.corrupt {
            self.damaged(format!("WAL segment {msg}"));
        }
        self.read_only = Some(dir.to_path_buf());
        self.wal_bytes_read = bytes;
        Ok(())
    }

    /// Samples up to the newest block's end are in blocks: the head takes only later ones.
    fn after_blocks(&mut self) {
        let persisted = self.blocks.iter().map(|b| b.max_t.saturating_add(1)).max();
        if let Some(p) = persisted {
            self.head.min_valid_t = p;
            self.newest = Some(p - 1);
        }
    }

    /// Opens every block in `dir`; returns the next free sequence number. Read-write, it
    /// removes the temp files of interrupted block writes; read-only, it leaves them, and a
    /// block removed between listing and opening (a writer's retention) is not damage.
    fn load_blocks(&mut self, dir: &Path, read_only: bool) -> Result<u64, HistoryError> {
        let mut next_seq = 1;
        let entries = fs::read_dir(dir).map_err(io_err(dir))?;
        let mut paths: Vec<(u64, PathBuf)> = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                if !read_only {
                    // A block whose writing was interrupted: its samples are still in the WAL.
                    let _ = fs::remove_file(&path);
                }
            } else if let Some(seq) = name.strip_suffix(".block").and_then(|s| s.parse().ok()) {
                paths.push((seq, path));
            }
        }
        paths.sort();
        for (seq, path) in paths {
            next_seq = next_seq.max(seq + 1);
            match Block::open(&path) {
                Ok((b, damage)) => {
                    if let Some(d) = damage {
                        self.damaged(format!("block {}", d.0));
                    }
                    self.blocks.push(b);
                }
                Err(_) if read_only && !path.exists() => {}
                Err(d) => self.damaged(format!("block skipped: {}", d.0)),
            }
        }
        self.blocks.sort_by_key(|b| b.min_t);
        Ok(next_seq)
    }
}
