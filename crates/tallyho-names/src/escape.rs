//! Label values as the Prometheus text and OpenMetrics formats write them between quotes.

/// The bytes escaped inside a label value: `\`, `"` and newline (everything else, tabs and
/// non-ASCII included, is written as it is).
pub const LABEL_VALUE_ESCAPES: [u8; 3] = [b'\\', b'"', b'\n'];

/// What a byte of a label value is written as, when it is one of [`LABEL_VALUE_ESCAPES`]:
/// `\\`, `\"` or `\n`; `None` for a byte written as it is.
#[inline(always)]
pub fn label_value_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'\\' => Some(b"\\\\"),
        b'"' => Some(b"\\\""),
        b'\n' => Some(b"\\n"),
        _ => None,
    }
}

/// Appends `v` escaped as a label value (without the quotes), copying each unescaped run
/// at once.
///
/// ```
/// let mut out = Vec::new();
/// tallyho_names::escape_label_value(&mut out, "say \"hi\"\n");
/// assert_eq!(out, br#"say \"hi\"\n"#);
/// ```
pub fn escape_label_value(out: &mut Vec<u8>, v: &str) {
    let bytes = v.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(replacement) = label_value_escape(b) {
            out.extend_from_slice(bytes.get(run..i).unwrap_or_default());
            out.extend_from_slice(replacement);
            run = i + 1;
        }
    }
    out.extend_from_slice(bytes.get(run..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escaped(v: &str) -> String {
        let mut out = b"kept".to_vec();
        escape_label_value(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_backslash_quote_and_newline_only() {
        assert_eq!(escaped(""), "kept");
        assert_eq!(escaped("plain"), "keptplain");
        assert_eq!(escaped(r#"a"b\c"#), r#"kepta\"b\\c"#);
        assert_eq!(escaped("line\nbreak\ttab\r"), "keptline\\nbreak\ttab\r");
        assert_eq!(escaped("🦀\"ü"), "kept🦀\\\"ü");
        for b in 0..=u8::MAX {
            assert_eq!(
                label_value_escape(b).is_some(),
                LABEL_VALUE_ESCAPES.contains(&b),
                "{b}"
            );
        }
    }

    proptest! {
        #[test]
        fn round_trips(s in any::<String>()) {
            let mut out = Vec::new();
            escape_label_value(&mut out, &s);
            let text = String::from_utf8(out).unwrap();
            prop_assert!(!text.contains('\n'));
            let mut back = String::new();
            let mut chars = text.chars();
            while let Some(c) = chars.next() {
                prop_assert!(c != '"', "bare quote in {:?}", text);
                if c == '\\' {
                    match chars.next() {
                        Some('\\') => back.push('\\'),
                        Some('"') => back.push('"'),
                        Some('n') => back.push('\n'),
                        other => prop_assert!(false, "bad escape {:?} in {:?}", other, text),
                    }
                } else {
                    back.push(c);
                }
            }
            prop_assert_eq!(back, s);
        }
    }
}
