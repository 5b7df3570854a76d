//! String escaping for every format.
//!
//! | function                      | escapes                                             |
//! |-------------------------------|-----------------------------------------------------|
//! | [`write_label_value`]         | `\` → `\\`, `"` → `\"`, newline → `\n` (both text formats) |
//! | [`write_help`]                | `\` → `\\`, newline → `\n` (Prometheus 0.0.4)       |
//! | [`write_help_openmetrics`]    | `\` → `\\`, newline → `\n`, `"` → `\"` (OpenMetrics) |
//! | [`write_json_str`]            | `"`, `\`, `\n`, `\r`, `\t`, other controls as `\u00XX` (JSON body, no quotes) |
//!
//! Everything else, tabs and non-ASCII included, passes through unchanged. Each function
//! scans the bytes once, eight at a time, and writes every unescaped run with a single
//! `write_all`. The label value rule (which bytes, written as what) is
//! `tallyho_names`' [`LABEL_VALUE_ESCAPES`] and [`label_value_escape`], the one the core
//! crate stores series labels with; this is its writer-based, word-at-a-time form.

use std::io::{self, Write};

use tallyho_names::{label_value_escape, LABEL_VALUE_ESCAPES};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `word` equals `b` (exact as a yes/no; which lane it flags is not).
#[inline(always)]
fn has_byte(word: u64, b: u8) -> bool {
    let x = word ^ (ONES * u64::from(b));
    x.wrapping_sub(ONES) & !x & HIGHS != 0
}

/// Whether any byte of `word` is below 0x20.
#[inline(always)]
fn has_control(word: u64) -> bool {
    word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0
}

/// Writes `s`, replacing each byte for which `escape` returns a replacement.
///
/// `may_escape` looks at eight bytes at once and says whether any of them might need
/// escaping, so clean text is skipped a word at a time. Every byte that is replaced is ASCII,
/// so the runs in between are whole UTF-8 sequences.
#[inline(always)]
fn write_escaped<W, M, F>(w: &mut W, s: &str, may_escape: M, escape: F) -> io::Result<()>
where
    W: Write + ?Sized,
    M: Fn(u64) -> bool,
    F: Fn(u8) -> Option<&'static [u8]>,
{
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            if !may_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        // A word that may hold a byte to escape, or the tail: look at each byte.
        let end = (i + 8).min(bytes.len());
        while i < end {
            if let Some(replacement) = bytes.get(i).and_then(|&b| escape(b)) {
                w.write_all(bytes.get(run..i).unwrap_or_default())?;
                w.write_all(replacement)?;
                run = i + 1;
            }
            i += 1;
        }
    }
    w.write_all(bytes.get(run..).unwrap_or_default())
}

/// Writes a label value for Prometheus text or OpenMetrics, without the surrounding quotes.
///
/// # Errors
/// Any error from `w`.
pub fn write_label_value<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
    let [a, b, c] = LABEL_VALUE_ESCAPES;
    write_escaped(
        w,
        s,
        |word| has_byte(word, a) || has_byte(word, b) || has_byte(word, c),
        label_value_escape,
    )
}

/// Writes `# HELP` text for Prometheus text 0.0.4 (quotes stay as they are).
///
/// # Errors
/// Any error from `w`.
pub fn write_help<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
    write_escaped(
        w,
        s,
        |word| has_byte(word, b'\\') || has_byte(word, b'\n'),
        |b| match b {
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            _ => None,
        },
    )
}

/// Writes `# HELP` text for OpenMetrics, which escapes quotes too.
///
/// # Errors
/// Any error from `w`.
pub fn write_help_openmetrics<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
    write_label_value(w, s)
}

/// `\u00XX` for every control character below 0x20.
static JSON_CONTROL: [[u8; 6]; 32] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [*b"\\u0000"; 32];
    let mut i = 0;
    while i < 32 {
        table[i][4] = HEX[i >> 4];
        table[i][5] = HEX[i & 0xf];
        i += 1;
    }
    table
};

/// Writes the body of a JSON string (without the surrounding quotes).
///
/// # Errors
/// Any error from `w`.
pub fn write_json_str<W: Write + ?Sized>(w: &mut W, s: &str) -> io::Result<()> {
    write_json_escaped(w, s, b"\\\"")
}

/// Writes the body of a JSON string that itself sits inside a quoted CSV field: as
/// [`write_json_str`], with the quote's escape `\"` written `\""`.
pub(crate) fn write_json_str_in_csv(w: &mut Vec<u8>, s: &str) -> io::Result<()> {
    write_json_escaped(w, s, b"\\\"\"")
}

#[inline(always)]
fn write_json_escaped<W: Write + ?Sized>(
    w: &mut W,
    s: &str,
    quote: &'static [u8],
) -> io::Result<()> {
    write_escaped(
        w,
        s,
        |word| has_control(word) || has_byte(word, b'"') || has_byte(word, b'\\'),
        |b| match b {
            b'"' => Some(quote),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            _ => JSON_CONTROL.get(usize::from(b)).map(|e| e.as_slice()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn apply(f: fn(&mut Vec<u8>, &str) -> io::Result<()>, s: &str) -> String {
        let mut out = Vec::new();
        f(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn label(s: &str) -> String {
        apply(write_label_value, s)
    }
    fn help(s: &str) -> String {
        apply(write_help, s)
    }
    fn help_om(s: &str) -> String {
        apply(write_help_openmetrics, s)
    }
    fn json(s: &str) -> String {
        apply(write_json_str, s)
    }

    /// Undoes the text formats' escapes: `\\`, `\"`, `\n`; with `quoted`, a bare `"` (which
    /// would end a label value early) is an error.
    fn unescape(s: &str, quoted: bool) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            assert!(!(quoted && c == '"'), "bare quote in {s:?}");
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                other => panic!("bad escape \\{other:?} in {s:?}"),
            }
        }
        out
    }

    #[test]
    fn label_values() {
        assert_eq!(label(""), "");
        assert_eq!(label("plain"), "plain");
        assert_eq!(label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(label("line\nbreak\ttab\r"), "line\\nbreak\ttab\r");
        assert_eq!(label("🦀\"ü"), "🦀\\\"ü");
    }

    #[test]
    fn label_values_match_the_shared_rule() {
        for s in [
            "",
            "plain",
            "a\"b\\c\nd",
            "0123456789\\abcdef\"ghij\n🦀",
            "\n\n\n\n\n\n\n\n\n",
        ] {
            let mut shared = Vec::new();
            tallyho_names::escape_label_value(&mut shared, s);
            assert_eq!(label(s).into_bytes(), shared, "{s:?}");
        }
    }

    #[test]
    fn help_texts() {
        assert_eq!(help(r#"say "hi" \ bye"#), r#"say "hi" \\ bye"#);
        assert_eq!(help("a\nb"), "a\\nb");
        assert_eq!(help_om(r#"say "hi" \ bye"#), r#"say \"hi\" \\ bye"#);
        assert_eq!(help_om("a\nb"), "a\\nb");
    }

    #[test]
    fn json_in_csv() {
        let mut out = Vec::new();
        write_json_str_in_csv(&mut out, "a\"b\\\n").unwrap();
        assert_eq!(out, b"a\\\"\"b\\\\\\n");
    }

    #[test]
    fn json_strings() {
        assert_eq!(
            json("a\"b\\c\n\r\t\u{1}\u{1f}\u{7f}é🦀"),
            "a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\u{7f}é🦀"
        );
    }

    proptest! {
        #[test]
        fn label_value_round_trips(s in any::<String>()) {
            let escaped = label(&s);
            prop_assert!(!escaped.contains('\n'));
            prop_assert_eq!(unescape(&escaped, true), s);
        }

        #[test]
        fn label_value_is_the_shared_escaping(s in any::<String>()) {
            let mut shared = Vec::new();
            tallyho_names::escape_label_value(&mut shared, &s);
            prop_assert_eq!(label(&s).into_bytes(), shared);
        }

        #[test]
        fn help_round_trips(s in any::<String>()) {
            let escaped = help(&s);
            prop_assert!(!escaped.contains('\n'));
            prop_assert_eq!(unescape(&escaped, false), s.clone());
            let escaped = help_om(&s);
            prop_assert!(!escaped.contains('\n'));
            prop_assert_eq!(unescape(&escaped, true), s);
        }

        #[test]
        fn json_round_trips(s in any::<String>()) {
            let quoted = format!("\"{}\"", json(&s));
            let back: String = serde_json::from_str(&quoted).unwrap();
            prop_assert_eq!(back, s);
        }
    }
}
