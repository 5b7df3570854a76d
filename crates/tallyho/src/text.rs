//! Label values stored as they are written in the Prometheus and OpenMetrics text formats.
//!
//! A family series keeps its own labels as one byte string, `a="x",b="y"`, with values
//! escaped (`\` → `\\`, `"` → `\"`, newline → `\n`), which is exactly the text both formats
//! put between the braces. Encoders copy it; everything else decodes it. One allocation
//! per series, and no escaping at collection time. The escaping rule itself is
//! `tallyho_names::escape_label_value`, shared with the encoders.

/// `a * b` as 128 bits, folded to 64 by xor: the mixing step of the hash below.
#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

const K1: u64 = 0x243f_6a88_85a3_08d3;
const K2: u64 = 0x1319_8a2e_0370_7344;
const K3: u64 = 0xa409_3822_299f_31d0;

/// Bytes `at..at + N` of `b` as an array (`b` is long enough: callers check), by fixed-size
/// copies the compiler turns into single loads.
#[inline(always)]
fn read<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(src) = b.get(at..at + N) {
        a.copy_from_slice(src);
    }
    a
}

/// One word made of up to 8 bytes, without a variable-length copy: two overlapping
/// 4-byte reads for 4 to 8 bytes, three single bytes below that (as wyhash does). Distinct
/// short inputs of one length give distinct words; lengths are mixed in by the caller.
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes(read::<4>(b, 0));
        let hi = u32::from_le_bytes(read::<4>(b, n - 4));
        u64::from(lo) | u64::from(hi) << 32
    } else if n > 0 {
        u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16
    } else {
        0
    }
}

/// A seeded hash of a list of label values, 8 bytes at a time with folded multiplies.
///
/// Each value's length is mixed in with its last word, so `["ab", "c"]` and `["a", "bc"]`
/// differ; the seed is random per family, so colliding lists cannot be prepared ahead.
/// Equal hashes are only a hint: lookups compare the values.
#[inline]
pub(crate) fn hash_values(seed: u64, values: &[&str]) -> u64 {
    let mut h = seed ^ values.len() as u64;
    for v in values {
        let b = v.as_bytes();
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            h = fold(h ^ u64::from_le_bytes(read::<8>(c, 0)), K1);
        }
        h = fold(h ^ word(chunks.remainder()), K2 ^ b.len() as u64);
    }
    fold(h, K3)
}

/// Renders `name="value"` pairs, comma separated, without braces.
pub(crate) fn render<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Box<[u8]> {
    let mut out = Vec::new();
    for (n, v) in pairs {
        if !out.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b"=\"");
        tallyho_names::escape_label_value(&mut out, v);
        out.push(b'"');
    }
    out.into_boxed_slice()
}

/// Whether `rendered` (made by [`render`] with `names`) holds exactly `values`.
#[inline(always)]
pub(crate) fn matches(rendered: &[u8], names: &[Box<str>], values: &[&str]) -> bool {
    let mut pos = 0;
    for (name, value) in names.iter().zip(values) {
        pos += name.len() + 2; // name="
        let v = value.as_bytes();
        let Some(stored) = rendered.get(pos..) else {
            return false;
        };
        // Fast path, one pass: equal bytes and no backslash in `v` mean the stored value
        // had nothing escaped either, so equal text is an equal value.
        let mut plain = stored.len() > v.len();
        if plain {
            for (a, b) in v.iter().zip(stored) {
                if a != b || *a == b'\\' {
                    plain = false;
                    break;
                }
            }
        }
        if plain && stored[v.len()] == b'"' {
            pos += v.len() + 2; // value",
        } else {
            match matches_escaped(stored, v) {
                Some(used) => pos += used + 2,
                None => return false,
            }
        }
    }
    pos >= rendered.len()
}

/// Compares `v` escaped with the start of `stored`; on a match followed by the closing
/// quote, returns the length of the escaped text.
#[cold]
fn matches_escaped(stored: &[u8], v: &[u8]) -> Option<usize> {
    let mut i = 0;
    for &b in v {
        let want = tallyho_names::label_value_escape(b).unwrap_or(std::slice::from_ref(&b));
        if stored.get(i..i + want.len())? != want {
            return None;
        }
        i += want.len();
    }
    (stored.get(i) == Some(&b'"')).then_some(i)
}

/// Calls `f` with each `(name, value)` of `rendered`, values unescaped.
pub(crate) fn decode(rendered: &[u8], names: &[Box<str>], mut f: impl FnMut(&str, &str)) {
    let mut scratch = String::new();
    let mut pos = 0;
    for name in names {
        pos += name.len() + 2;
        let rest = rendered.get(pos..).unwrap_or_default();
        // The value ends at the first quote not preceded by an escaping backslash.
        let mut end = 0;
        let mut escaped = false;
        while let Some(&b) = rest.get(end) {
            if b == b'\\' {
                escaped = true;
                end += 2;
                continue;
            }
            if b == b'"' {
                break;
            }
            end += 1;
        }
        let raw = rest.get(..end).unwrap_or_default();
        if escaped {
            scratch.clear();
            let mut bytes = Vec::with_capacity(raw.len());
            let mut it = raw.iter();
            while let Some(&b) = it.next() {
                if b == b'\\' {
                    bytes.push(match it.next() {
                        Some(b'n') => b'\n',
                        Some(&c) => c,
                        None => break,
                    });
                } else {
                    bytes.push(b);
                }
            }
            scratch.push_str(&String::from_utf8_lossy(&bytes));
            f(name, &scratch);
        } else {
            f(name, std::str::from_utf8(raw).unwrap_or_default());
        }
        pos += end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(n: &[&str]) -> Vec<Box<str>> {
        n.iter().map(|&s| s.into()).collect()
    }

    #[test]
    fn renders_and_decodes_hostile_values() {
        let n = names(&["a", "bb"]);
        let r = render([("a", "say \"hi\"\\\n"), ("bb", "")]);
        assert_eq!(&*r, br#"a="say \"hi\"\\\n",bb="""#);
        let mut out = Vec::new();
        decode(&r, &n, |k, v| out.push((k.to_owned(), v.to_owned())));
        assert_eq!(
            out,
            vec![
                ("a".into(), "say \"hi\"\\\n".into()),
                ("bb".into(), String::new())
            ]
        );
        assert!(matches(&r, &n, &["say \"hi\"\\\n", ""]));
        assert!(!matches(&r, &n, &["say \"hi\"\\\n", "x"]));
        assert!(!matches(&r, &n, &["say", ""]));
    }

    #[test]
    fn escaped_text_never_matches_a_different_raw_value() {
        let n = names(&["a"]);
        // Stored `a\` renders as `a\\`; the raw input `a\\` must not match it.
        let r = render([("a", "a\\")]);
        assert!(!matches(&r, &n, &["a\\\\"]));
        assert!(matches(&r, &n, &["a\\"]));
    }

    #[test]
    fn value_hash_separates_boundaries_and_seeds() {
        let h = |seed, v: &[&str]| hash_values(seed, v);
        assert_ne!(h(1, &["ab", "c"]), h(1, &["a", "bc"]));
        assert_ne!(h(1, &["a"]), h(1, &["a", ""]));
        assert_ne!(h(1, &["a"]), h(1, &["a\0"]));
        assert_ne!(h(1, &["GET", "200"]), h(2, &["GET", "200"]));
        let long = "a long label value of more than eight bytes";
        let copy = String::from(long);
        assert_eq!(h(7, &[long, "x"]), h(7, &[copy.as_str(), "x"]));
    }

    proptest! {
        #[test]
        fn round_trip_and_match(a in "\\PC*", b in "[\\\\\"\\n a-z🦀]*", c in "[\\\\\"\\n a-z]*") {
            let n = names(&["x", "y"]);
            let r = render([("x", a.as_str()), ("y", b.as_str())]);
            let mut out = Vec::new();
            decode(&r, &n, |_, v| out.push(v.to_owned()));
            prop_assert_eq!(&out, &vec![a.clone(), b.clone()]);
            prop_assert!(matches(&r, &n, &[&a, &b]));
            prop_assert_eq!(matches(&r, &n, &[&a, &c]), b == c);
        }
    }
}
