//! A chunk as a version 3 block stores it: a tag byte, then either the head's Gorilla bits
//! or two pco columns (timestamps, values), whichever is smaller.
//!
//! Gorilla XORs each float with the previous one, so a value that moves by a few units of
//! its own decimal precision (CPU seconds in hundredths, bytes in pages, bucket counts)
//! still costs a dozen or more bits. pco (pcodec) sees a whole column at once: it finds
//! the common quantum of the floats, takes deltas, and codes what is left with tANS, which
//! is near the entropy of the data for the random-walk counters and gauges metrics are.
//! It needs the whole column, so it is only used where the column is whole: when a block
//! is written, never in the head. Every pco chunk is decoded again before it is kept and
//! must give back every sample bit for bit (staleness NaNs included), or Gorilla is kept.
//!
//! ```text
//! tag 0: Gorilla bits (chunk.rs), timestamps relative to the chunk's min_t
//! tag 1: uvarint length of the timestamp column, pco i64 timestamps (relative), pco f64 values
//! ```

use crate::chunk::{Chunk, ChunkIter};
use crate::codec::{put_uvarint, Reader};

const GORILLA: u8 = 0;
const PCO: u8 = 1;

/// The samples as two pco columns, if that round-trips exactly.
fn pco_columns(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let vs: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let config = pco::ChunkConfig::default();
    let t_bytes = pco::standalone::simple_compress(&ts, &config).ok()?;
    let v_bytes = pco::standalone::simple_compress(&vs, &config).ok()?;
    let mut out = Vec::with_capacity(t_bytes.len() + v_bytes.len() + 6);
    out.push(PCO);
    put_uvarint(&mut out, t_bytes.len() as u64);
    out.extend_from_slice(&t_bytes);
    out.extend_from_slice(&v_bytes);
    let back = decode(&out, samples.len())?;
    let exact = back.len() == samples.len()
        && back
            .iter()
            .zip(samples)
            .all(|(a, b)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits());
    exact.then_some(out)
}

/// Encodes a merged chunk (timestamps relative to its first): the smaller of its Gorilla
/// bits and its pco columns, behind the tag byte.
pub(crate) fn encode(chunk: &Chunk) -> Vec<u8> {
    let samples: Vec<(i64, f64)> = chunk.iter().collect();
    let gorilla_len = chunk.data.len() + 1;
    match pco_columns(&samples) {
        Some(p) if p.len() < gorilla_len => p,
        _ => {
            let mut out = Vec::with_capacity(gorilla_len);
            out.push(GORILLA);
            out.extend_from_slice(&chunk.data);
            out
        }
    }
}

/// Decodes a tagged chunk of `count` samples; `None` when the bytes are not one (the
/// CRC already matched, so this is a bug or a newer format, and the chunk is skipped).
pub(crate) fn decode(bytes: &[u8], count: usize) -> Option<Vec<(i64, f64)>> {
    let (&tag, rest) = bytes.split_first()?;
    match tag {
        GORILLA => {
            let n = u16::try_from(count).ok()?;
            Some(ChunkIter::new(rest, n).collect())
        }
        PCO => {
            let mut r = Reader::new(rest);
            let t_len = usize::try_from(r.uvarint()?).ok()?;
            let t_bytes = r.bytes(t_len)?;
            let v_bytes = r.bytes(r.remaining())?;
            let ts: Vec<i64> = pco::standalone::simple_decompress(t_bytes).ok()?;
            let vs: Vec<f64> = pco::standalone::simple_decompress(v_bytes).ok()?;
            if ts.len() != count || vs.len() != count {
                return None;
            }
            Some(ts.into_iter().zip(vs).collect())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(samples: &[(i64, f64)]) -> Chunk {
        Chunk::encode(samples).expect("increasing timestamps")
    }

    fn same(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
    }

    #[test]
    fn quantised_counters_take_pco_and_come_back_exactly() {
        let mut v = 0.0;
        let samples: Vec<(i64, f64)> = (0..480)
            .map(|i| {
                v += f64::from((i * 7919 % 251) as u32) * 0.01;
                (i64::from(i) * 15_000, (v * 100.0f64).round() / 100.0)
            })
            .collect();
        let c = chunk(&samples);
        let bytes = encode(&c);
        assert_eq!(bytes[0], PCO, "pco is smaller on a hundredths counter");
        assert!(
            bytes.len() * 2 < c.data.len(),
            "{} vs {}",
            bytes.len(),
            c.data.len()
        );
        assert!(same(&decode(&bytes, samples.len()).unwrap(), &samples));
    }

    #[test]
    fn every_bit_pattern_survives_either_way() {
        let specials = [
            f64::from_bits(tallyho_query::STALE_NAN),
            f64::NAN,
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE / 3.0,
            1e308,
        ];
        let samples: Vec<(i64, f64)> = (0..64)
            .map(|i| (i * 1000 + (i % 3), specials[i as usize % specials.len()]))
            .collect();
        let c = chunk(&samples);
        let bytes = encode(&c);
        assert!(same(&decode(&bytes, samples.len()).unwrap(), &samples));
        // One sample: both encodings work.
        let one = [(0, 42.5)];
        assert!(same(&decode(&encode(&chunk(&one)), 1).unwrap(), &one));
    }

    #[test]
    fn bad_bytes_are_refused_not_a_panic() {
        assert_eq!(decode(&[], 3), None);
        assert_eq!(decode(&[9, 1, 2], 3), None);
        assert_eq!(decode(&[PCO, 50, 1, 2, 3], 3), None);
        assert_eq!(decode(&[PCO, 0, 0xff, 0xff, 0xff], 3), None);
    }
}
