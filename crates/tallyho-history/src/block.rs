//! Immutable block files: one time range's chunks, written once, read with positional reads.
//!
//! # Format (`blocks/<seq>.block`, integers little-endian, varints LEB128)
//! ```text
//! "TLYBLK03"                                  8 bytes
//! chunk data                                   every chunk (block_chunk.rs: a tag byte, then
//!                                                Gorilla bits or pco columns), series by
//!                                                series, in index order, back to back
//! index                                        symbols: varint count, then the distinct
//!                                                label names and values (length-prefixed,
//!                                                the most used first),
//!                                              varint series count, then per series:
//!                                                label count, then (name, value) as symbol
//!                                                numbers; chunk count, then per chunk:
//!                                                zigzag(min_t - previous chunk's max_t, the
//!                                                block's min_t before the first), max_t -
//!                                                min_t, sample count, byte length, crc32 of
//!                                                the chunk's bytes (u32)
//! footer (44 bytes)                            min_t i64, max_t i64, index offset u64,
//!                                                index length u64, index crc32 u32,
//!                                                footer crc32 u32 (of the 36 bytes before),
//!                                                "TLYB"
//! ```
//! Writing re-encodes each series' head chunks (120 samples each) into chunks of up to
//! [`BLOCK_CHUNK_SAMPLES`]: one chunk header, one index entry and one CRC per series
//! rather than four for a 2 h block at 15 s. A chunk's timestamps are relative to its
//! `min_t` (so its first is 0, one byte), and offsets are implied by the lengths.
//! Version 2 files (`TLYBLK02`: untagged Gorilla chunks) and version 1 files (`TLYBLK01`:
//! labels as strings, explicit offsets) are still read.
//!
//! A block is written to `.<seq>.block.tmp`, synced, renamed, and the directory synced, so a
//! crash leaves either no block or a whole one. Opening checks the footer, the index and
//! every chunk's CRC: a bad footer or index skips the file, a bad chunk skips that chunk.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use tallyho_query::{Labels, Matcher, Sample};

use crate::chunk::{Chunk, ChunkIter, ChunkWriter};
use crate::codec::{put_str, put_uvarint, put_varint, Reader};

const MAGIC: &[u8; 8] = b"TLYBLK03";
const MAGIC_V2: &[u8; 8] = b"TLYBLK02";
const MAGIC_V1: &[u8; 8] = b"TLYBLK01";
/// Most samples in one chunk of a block.
pub(crate) const BLOCK_CHUNK_SAMPLES: u16 = 4096;
const FOOTER_MAGIC: &[u8; 4] = b"TLYB";
const FOOTER_LEN: usize = 44;

#[derive(Debug, Clone)]
struct ChunkMeta {
    min_t: i64,
    max_t: i64,
    count: u16,
    offset: u64,
    len: u32,
    crc: u32,
}

#[derive(Debug)]
struct BlockSeries {
    labels: Labels,
    chunks: Vec<ChunkMeta>,
}

/// An opened block.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) bytes: u64,
    data_min_t: i64,
    pub(crate) samples: u64,
    series: Vec<BlockSeries>,
    by_name: HashMap<String, Vec<usize>>,
    /// Chunk timestamps are relative to the chunk's `min_t` (versions 2 and 3).
    relative: bool,
    /// Chunks carry an encoding tag (version 3, [`block_chunk`](crate::block_chunk)).
    tagged: bool,
}

/// Why a block file was skipped or partly skipped.
#[derive(Debug)]
pub(crate) struct Damage(pub(crate) String);

/// Re-encodes a series' chunks (in time order) into as few as possible, each chunk's
/// timestamps relative to its first (which the index holds): a small first timestamp
/// instead of a full one. `min_t`/`max_t` stay absolute.
fn merge(chunks: &[Chunk]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut w: Option<(i64, ChunkWriter)> = None;
    let seal = |(base, c): (i64, ChunkWriter)| {
        let mut c = c.finish();
        c.min_t = c.min_t.wrapping_add(base);
        c.max_t = c.max_t.wrapping_add(base);
        c
    };
    for (t, v) in chunks.iter().flat_map(Chunk::iter) {
        match &mut w {
            Some((base, c))
                if c.count() < BLOCK_CHUNK_SAMPLES && t.wrapping_sub(*base) > c.max_t() =>
            {
                c.append(t.wrapping_sub(*base), v);
            }
            _ => {
                if let Some(done) = w.replace((t, ChunkWriter::new(0, v))) {
                    out.push(seal(done));
                }
            }
        }
    }
    out.extend(w.map(seal));
    out
}

/// Label names and values, each once, the most used first (small numbers take one byte).
fn symbols(series: &[(Labels, Vec<Chunk>)]) -> Vec<(&str, u64)> {
    let mut uses: HashMap<&str, u64> = HashMap::new();
    for (labels, _) in series {
        for (k, v) in labels.iter() {
            *uses.entry(k).or_default() += 1;
            *uses.entry(v).or_default() += 1;
        }
    }
    let mut syms: Vec<(&str, u64)> = uses.into_iter().collect();
    syms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    syms
}

/// Writes a block of `series` covering `[min_t, max_t]` as `dir/<seq>.block`.
pub(crate) fn write(
    dir: &Path,
    seq: u64,
    min_t: i64,
    max_t: i64,
    series: &[(Labels, Vec<Chunk>)],
) -> io::Result<PathBuf> {
    write_version(dir, seq, min_t, max_t, series, true)
}

/// As [`write`]; `tagged: false` writes version 2 (what earlier releases wrote, so that a
/// test can check they are still read).
fn write_version(
    dir: &Path,
    seq: u64,
    min_t: i64,
    max_t: i64,
    series: &[(Labels, Vec<Chunk>)],
    tagged: bool,
) -> io::Result<PathBuf> {
    let path = dir.join(format!("{seq:08}.block"));
    let tmp = dir.join(format!(".{seq:08}.block.tmp"));
    let mut data = Vec::with_capacity(1 << 16);
    data.extend_from_slice(if tagged { MAGIC } else { MAGIC_V2 });
    let mut index = Vec::new();
    let syms = symbols(series);
    put_uvarint(&mut index, syms.len() as u64);
    for (s, _) in &syms {
        put_str(&mut index, s);
    }
    let ids: HashMap<&str, u64> = syms
        .iter()
        .enumerate()
        .map(|(i, (s, _))| (*s, i as u64))
        .collect();
    put_uvarint(&mut index, series.len() as u64);
    let sym = |s: &str| ids.get(s).copied().unwrap_or(0);
    for (labels, chunks) in series {
        put_uvarint(&mut index, labels.len() as u64);
        for (k, v) in labels.iter() {
            put_uvarint(&mut index, sym(k));
            put_uvarint(&mut index, sym(v));
        }
        let chunks = merge(chunks);
        put_uvarint(&mut index, chunks.len() as u64);
        let mut prev = min_t;
        for c in &chunks {
            put_varint(&mut index, c.min_t.wrapping_sub(prev));
            put_uvarint(&mut index, c.max_t.wrapping_sub(c.min_t) as u64);
            put_uvarint(&mut index, u64::from(c.count));
            let bytes = match tagged {
                true => crate::block_chunk::encode(c),
                false => c.data.to_vec(),
            };
            put_uvarint(&mut index, bytes.len() as u64);
            index.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
            data.extend_from_slice(&bytes);
            prev = c.max_t;
        }
    }
    let index_off = data.len() as u64;
    data.extend_from_slice(&index);
    let mut footer = Vec::with_capacity(FOOTER_LEN);
    footer.extend_from_slice(&min_t.to_le_bytes());
    footer.extend_from_slice(&max_t.to_le_bytes());
    footer.extend_from_slice(&index_off.to_le_bytes());
    footer.extend_from_slice(&(index.len() as u64).to_le_bytes());
    footer.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
    let fcrc = crc32fast::hash(&footer);
    footer.extend_from_slice(&fcrc.to_le_bytes());
    footer.extend_from_slice(FOOTER_MAGIC);
    data.extend_from_slice(&footer);
    {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &path)?;
    crate::wal::sync_dir(dir)?;
    Ok(path)
}

fn le_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_le_bytes(a)
}

impl Block {
    /// Opens and verifies a block; `Err` when it cannot be used at all, otherwise the block
    /// and a description of skipped chunks, if any.
    pub(crate) fn open(path: &Path) -> Result<(Block, Option<Damage>), Damage> {
        let bad = |what: &str| Damage(format!("{}: {what}", path.display()));
        // One handle for the check and the later reads: a file replaced or removed after
        // opening is still the one checked.
        let mut file = File::open(path).map_err(|e| bad(&format!("cannot open: {e}")))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| bad(&format!("cannot read: {e}")))?;
        let v1 = data.get(..8) == Some(MAGIC_V1.as_slice());
        let v2 = data.get(..8) == Some(MAGIC_V2.as_slice());
        let v3 = data.get(..8) == Some(MAGIC.as_slice());
        if data.len() < MAGIC.len() + FOOTER_LEN || !(v1 || v2 || v3) {
            return Err(bad("not a block file (bad magic or too short)"));
        }
        let footer = &data[data.len() - FOOTER_LEN..];
        if &footer[40..] != FOOTER_MAGIC
            || crc32fast::hash(&footer[..36]).to_le_bytes() != footer[36..40]
        {
            return Err(bad("footer corrupted"));
        }
        let (min_t, max_t) = (le_i64(&footer[0..]), le_i64(&footer[8..]));
        let index_off = usize::try_from(le_i64(&footer[16..])).map_err(|_| bad("bad index"))?;
        let index_len = usize::try_from(le_i64(&footer[24..])).map_err(|_| bad("bad index"))?;
        let end = index_off
            .checked_add(index_len)
            .filter(|&e| e <= data.len() - FOOTER_LEN)
            .ok_or_else(|| bad("index out of bounds"))?;
        let index = &data[index_off..end];
        if crc32fast::hash(index).to_le_bytes() != footer[32..36] {
            return Err(bad("index corrupted"));
        }
        let parsed = if v1 {
            parse_index_v1(index)
        } else {
            parse_index(index, min_t, index_off)
        };
        let mut series = parsed.ok_or_else(|| bad("index malformed"))?;
        let mut skipped = 0usize;
        for s in &mut series {
            s.chunks.retain(|c| {
                let ok = usize::try_from(c.offset)
                    .ok()
                    .and_then(|o| data.get(o..o.checked_add(c.len as usize)?))
                    .is_some_and(|b| o_le(index_off, c) && crc32fast::hash(b) == c.crc);
                skipped += usize::from(!ok);
                ok
            });
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in series.iter().enumerate() {
            by_name
                .entry(s.labels.name().to_string())
                .or_default()
                .push(i);
        }
        let damage = (skipped > 0).then(|| bad(&format!("{skipped} corrupted chunks skipped")));
        let data_min_t = series
            .iter()
            .filter_map(|s| s.chunks.first().map(|c| c.min_t))
            .min()
            .unwrap_or(max_t);
        let samples = series
            .iter()
            .flat_map(|s| &s.chunks)
            .map(|c| u64::from(c.count))
            .sum();
        let block = Block {
            samples,
            path: path.to_path_buf(),
            file,
            min_t,
            max_t,
            data_min_t,
            bytes: data.len() as u64,
            series,
            by_name,
            relative: !v1,
            tagged: v3,
        };
        Ok((block, damage))
    }

    /// The oldest sample's time.
    pub(crate) fn data_min_t(&self) -> i64 {
        self.data_min_t
    }

    /// Labels of the series matching `matchers` that have chunks overlapping `[start, end]`.
    pub(crate) fn series<'a>(
        &'a self,
        matchers: &'a [Matcher],
        start: i64,
        end: i64,
    ) -> Vec<&'a Labels> {
        self.candidates(matchers)
            .filter(|s| s.chunks.iter().any(|c| c.max_t >= start && c.min_t <= end))
            .map(|s| &s.labels)
            .collect()
    }

    fn candidates<'a>(
        &'a self,
        matchers: &'a [Matcher],
    ) -> Box<dyn Iterator<Item = &'a BlockSeries> + 'a> {
        let base: Box<dyn Iterator<Item = &BlockSeries>> = match crate::store::name_of(matchers) {
            Some(n) => Box::new(
                self.by_name
                    .get(n)
                    .into_iter()
                    .flatten()
                    .filter_map(|&i| self.series.get(i)),
            ),
            None => Box::new(self.series.iter()),
        };
        Box::new(base.filter(move |s| Matcher::all_match(matchers, &s.labels)))
    }

    /// Adds the samples of matching series in `[start, end]` to `out`.
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        out: &mut BTreeMap<Labels, Vec<Sample>>,
    ) -> io::Result<()> {
        let mut buf = Vec::new();
        for s in self.candidates(matchers) {
            let chunks: Vec<&ChunkMeta> = s
                .chunks
                .iter()
                .filter(|c| c.max_t >= start && c.min_t <= end)
                .collect();
            let (Some(&first), Some(&last)) = (chunks.first(), chunks.last()) else {
                continue;
            };
            let span = (last.offset + u64::from(last.len)).saturating_sub(first.offset);
            buf.resize(span as usize, 0);
            self.file.read_exact_at(&mut buf, first.offset)?;
            let samples = out.entry(s.labels.clone()).or_default();
            for c in chunks {
                let at = (c.offset - first.offset) as usize;
                let Some(bytes) = buf.get(at..at + c.len as usize) else {
                    continue;
                };
                let base = if self.relative { c.min_t } else { 0 };
                let keep = |(t, v): (i64, f64)| {
                    let t = t.wrapping_add(base);
                    (t >= start && t <= end).then_some(Sample { t, v })
                };
                if self.tagged {
                    // The CRC matched, so a chunk that does not decode is a format this
                    // build does not know: skipped, as a damaged chunk is.
                    let decoded = crate::block_chunk::decode(bytes, usize::from(c.count));
                    samples.extend(decoded.unwrap_or_default().into_iter().filter_map(keep));
                } else {
                    samples.extend(ChunkIter::new(bytes, c.count).filter_map(keep));
                }
            }
        }
        Ok(())
    }
}

/// A chunk must lie in the data section (before the index).
fn o_le(index_off: usize, c: &ChunkMeta) -> bool {
    c.offset >= MAGIC.len() as u64 && c.offset + u64::from(c.len) <= index_off as u64
}

/// A version 2 index (symbols, implied offsets; see the module docs). The chunks must
/// fill the data section exactly.
fn parse_index(index: &[u8], min_t: i64, index_off: usize) -> Option<Vec<BlockSeries>> {
    let mut r = Reader::new(index);
    let n = r.count(1)?;
    let mut syms = Vec::with_capacity(n);
    for _ in 0..n {
        syms.push(r.str()?);
    }
    let sym = |r: &mut Reader<'_>| -> Option<String> {
        let i = usize::try_from(r.uvarint()?).ok()?;
        syms.get(i).map(|s| (*s).to_string())
    };
    let n = r.count(2)?;
    let mut series = Vec::with_capacity(n);
    let mut offset = MAGIC.len() as u64;
    for _ in 0..n {
        let nl = r.count(2)?;
        let mut pairs = Vec::with_capacity(nl);
        for _ in 0..nl {
            pairs.push((sym(&mut r)?, sym(&mut r)?));
        }
        let nc = r.count(8)?;
        let mut chunks = Vec::with_capacity(nc);
        let mut prev = min_t;
        for _ in 0..nc {
            let min_t = prev.checked_add(r.varint()?)?;
            let max_t = min_t.checked_add(i64::try_from(r.uvarint()?).ok()?)?;
            let count = u16::try_from(r.uvarint()?).ok()?;
            let len = u32::try_from(r.uvarint()?).ok()?;
            let crc = r.u32_le()?;
            chunks.push(ChunkMeta {
                min_t,
                max_t,
                count,
                offset,
                len,
                crc,
            });
            offset = offset.checked_add(u64::from(len))?;
            prev = max_t;
        }
        series.push(BlockSeries {
            labels: Labels::new(pairs),
            chunks,
        });
    }
    (r.is_empty() && offset == index_off as u64).then_some(series)
}

/// A version 1 index (labels as strings, explicit offsets).
fn parse_index_v1(index: &[u8]) -> Option<Vec<BlockSeries>> {
    let mut r = Reader::new(index);
    let n = r.count(2)?;
    let mut series = Vec::with_capacity(n);
    for _ in 0..n {
        let nl = r.count(2)?;
        let mut pairs = Vec::with_capacity(nl);
        for _ in 0..nl {
            pairs.push((r.str()?.to_string(), r.str()?.to_string()));
        }
        let nc = r.count(9)?;
        let mut chunks = Vec::with_capacity(nc);
        for _ in 0..nc {
            let min_t = r.varint()?;
            let max_t = min_t.checked_add(i64::try_from(r.uvarint()?).ok()?)?;
            let count = u16::try_from(r.uvarint()?).ok()?;
            let offset = r.uvarint()?;
            let len = u32::try_from(r.uvarint()?).ok()?;
            let crc = r.u32_le()?;
            chunks.push(ChunkMeta {
                min_t,
                max_t,
                count,
                offset,
                len,
                crc,
            });
        }
        series.push(BlockSeries {
            labels: Labels::new(pairs),
            chunks,
        });
    }
    r.is_empty().then_some(series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_2_and_version_3_blocks_read_the_same_samples() {
        let dir = std::env::temp_dir().join(format!("tallyho-block-v2-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let labels = Labels::new([("__name__".to_string(), "cpu_seconds_total".to_string())]);
        let mut v = 100.0;
        let samples: Vec<(i64, f64)> = (0..480)
            .map(|i| {
                v += f64::from(i % 17) * 0.01;
                (
                    1_000_000 + i64::from(i) * 15_000,
                    (v * 100.0f64).round() / 100.0,
                )
            })
            .collect();
        let chunks: Vec<Chunk> = samples
            .chunks(120)
            .map(|c| Chunk::encode(c).unwrap())
            .collect();
        let series = [(labels.clone(), chunks)];
        let (lo, hi) = (samples[0].0, samples[479].0);
        let mut got = Vec::new();
        for (seq, tagged) in [(1, false), (2, true)] {
            let path = write_version(&dir, seq, lo, hi, &series, tagged).unwrap();
            let (block, damage) = Block::open(&path).unwrap();
            assert!(damage.is_none());
            let mut out = BTreeMap::new();
            block.select(&[], lo, hi, &mut out).unwrap();
            got.push((fs::metadata(&path).unwrap().len(), out));
        }
        let _ = fs::remove_dir_all(&dir);
        let want: Vec<Sample> = samples.iter().map(|&(t, v)| Sample { t, v }).collect();
        assert_eq!(got[0].1.get(&labels), Some(&want), "version 2");
        assert_eq!(got[1].1.get(&labels), Some(&want), "version 3");
        assert!(
            got[1].0 < got[0].0,
            "pco columns are smaller here: {} vs {}",
            got[1].0,
            got[0].0
        );
    }
}
