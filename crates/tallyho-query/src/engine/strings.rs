//! String literals as Go's `strconv.Unquote` reads them: `promql-parser` hands over the text
//! between the quotes with its escape sequences still in it (`say \"hi\"`), and Prometheus
//! matches and returns the unescaped string (`say "hi"`).

/// The value of a quoted literal's contents. The parser has already refused unknown
/// escapes in quoted strings, so one met here comes from a backtick (raw) string, where a
/// backslash is an ordinary character: it is kept as written.
pub(crate) fn unescape(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut bytes: Vec<u8> = Vec::new(); // `\x` and octal escapes are bytes, as in Go
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush(&mut bytes, &mut out);
            out.push(c);
            continue;
        }
        let Some(&e) = chars.peek() else {
            flush(&mut bytes, &mut out);
            out.push('\\');
            break;
        };
        let simple = match e {
            'a' => Some('\u{07}'),
            'b' => Some('\u{08}'),
            'f' => Some('\u{0c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{0b}'),
            '\\' | '"' | '\'' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            chars.next();
            flush(&mut bytes, &mut out);
            out.push(s);
            continue;
        }
        let lookahead: String = chars.clone().take(10).collect();
        match e {
            'x' => match hex(&lookahead[1..], 2) {
                Some(b) => {
                    bytes.push(b as u8);
                    skip(&mut chars, 3);
                }
                None => out.push('\\'),
            },
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                match hex(&lookahead[1..], n).and_then(char::from_u32) {
                    Some(ch) => {
                        flush(&mut bytes, &mut out);
                        out.push(ch);
                        skip(&mut chars, n + 1);
                    }
                    None => out.push('\\'),
                }
            }
            '0'..='7' => match octal(&lookahead) {
                Some(b) => {
                    bytes.push(b);
                    skip(&mut chars, 3);
                }
                None => out.push('\\'),
            },
            _ => {
                flush(&mut bytes, &mut out);
                out.push('\\');
            }
        }
    }
    flush(&mut bytes, &mut out);
    out
}

fn flush(bytes: &mut Vec<u8>, out: &mut String) {
    if !bytes.is_empty() {
        out.push_str(&String::from_utf8_lossy(bytes));
        bytes.clear();
    }
}

fn skip(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize) {
    for _ in 0..n {
        chars.next();
    }
}

fn hex(s: &str, n: usize) -> Option<u32> {
    let digits: String = s.chars().take(n).collect();
    if digits.len() != n || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(&digits, 16).ok()
}

fn octal(s: &str) -> Option<u8> {
    let digits: String = s.chars().take(3).collect();
    if digits.len() != 3 || !digits.chars().all(|c| ('0'..='7').contains(&c)) {
        return None;
    }
    u8::try_from(u32::from_str_radix(&digits, 8).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn go_escapes() {
        assert_eq!(unescape(r#"say \"hi\""#), r#"say "hi""#);
        assert_eq!(unescape(r"back\\slash"), r"back\slash");
        assert_eq!(unescape(r"a\nb\tc"), "a\nb\tc");
        assert_eq!(unescape(r"\u00e9\U0001F600"), "é😀");
        assert_eq!(unescape(r"\xc3\xa9"), "é");
        assert_eq!(unescape(r"\303\251"), "é");
        assert_eq!(unescape(r"it\'s"), "it's");
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn raw_backslashes_stay() {
        assert_eq!(unescape(r"\d+\.\w"), r"\d+\.\w");
        assert_eq!(unescape("trailing\\"), "trailing\\");
    }
}
