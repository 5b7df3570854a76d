//! Regular expressions with the meaning Prometheus (Go's RE2 syntax) gives them, compiled
//! with the `regex` crate, and Go's `Regexp.Expand` template rules.
//!
//! The two syntaxes agree on almost everything. Where they differ we translate, so that a
//! pattern matches the same strings it would match in Prometheus:
//! - `\d`, `\w`, `\s` (and `\D`, `\W`, `\S`, `\b`, `\B`) are ASCII-only in Go and Unicode in
//!   Rust: they become explicit ASCII classes.
//! - `\Q...\E` (literal text) exists only in Go: it becomes escaped text.
//! - Inside a bracket class, `[` that does not start `[:name:]` is a literal in Go and a
//!   nested class in Rust; `&` and `~` are literals in Go and set operators in Rust
//!   (`&&`, `~~`): they are escaped.
//! - `(?<name>...)` and flags other than `i`, `m`, `s`, `U` are errors in Go (1.19, which
//!   Debian's Prometheus 2.42 is built with) and accepted by Rust: rejected here.
//!
//! Known remaining differences: repetition counts above 1000 (an error in Go) and octal
//! escapes (Go only) are left to Rust's rules.

use regex::Regex;

/// Compiles `pattern` anchored at both ends, `^(?:pattern)$`, as Prometheus does for
/// label matchers and `label_replace`. The error says what is wrong with the pattern.
pub(crate) fn compile_anchored(pattern: &str) -> Result<Regex, String> {
    compile_anchored_limited(pattern, REGEX_SIZE_LIMIT)
}

/// Compiled-program budget for one regex: a pattern whose program would pass it is
/// refused, so a hostile pattern cannot take unbounded memory or time to build.
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// As [`compile_anchored`], with the compiled program and lazy DFA held to `limit` bytes.
pub(crate) fn compile_anchored_limited(pattern: &str, limit: usize) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    regex::RegexBuilder::new(&format!("^(?:{translated})$"))
        .size_limit(limit)
        .dfa_size_limit(limit)
        .build()
        .map_err(|e| e.to_string())
}

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\f\r ";

/// Rewrites Go syntax into Rust syntax with the same meaning (see the module docs).
fn translate(pattern: &str) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    // Position inside a class: the first character (after `[` or `[^`) may be a literal `]`.
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_class_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    return Err("trailing backslash at end of expression".to_string());
                };
                match e {
                    'd' | 'D' | 'w' | 'W' | 's' | 'S' => out.push_str(&ascii_class(e)),
                    'b' | 'B' if !in_class => {
                        out.push_str("(?-u:\\");
                        out.push(e);
                        out.push(')');
                    }
                    'Q' if !in_class => {
                        let mut literal = String::new();
                        while let Some(l) = chars.next() {
                            if l == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            literal.push(l);
                        }
                        out.push_str(&regex::escape(&literal));
                    }
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
            }
            '[' => {
                if let Some(posix) = posix_class(&mut chars) {
                    out.push_str(&posix);
                } else {
                    out.push_str("\\[");
                }
            }
            ']' if in_class && !at_class_start => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '(' if !in_class && chars.peek() == Some(&'?') => {
                out.push('(');
                group_flags(&mut chars, &mut out)?;
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// The ASCII class Go means by `\d`, `\w`, `\s` and their negations, as a bracket class
/// (Rust allows one nested inside another).
fn ascii_class(e: char) -> String {
    let (set, negated) = match e {
        'd' => (DIGIT, false),
        'D' => (DIGIT, true),
        'w' => (WORD, false),
        'W' => (WORD, true),
        's' => (SPACE, false),
        _ => (SPACE, true),
    };
    format!("[{}{set}]", if negated { "^" } else { "" })
}

/// After a `[` inside a class: `[:name:]` or `[:^name:]` is copied whole; anything else
/// returns `None` and consumes nothing.
fn posix_class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let rest: String = chars.clone().take(12).collect();
    let body = rest.strip_prefix(':')?;
    let end = body.find(":]")?;
    let name = body[..end].strip_prefix('^').unwrap_or(&body[..end]);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase()) {
        return None;
    }
    let taken = 1 + end + 2;
    let text: String = chars.by_ref().take(taken).collect();
    Some(format!("[{text}"))
}

/// After `(` with `?` next: checks the group's flags are ones Go accepts (`i`, `m`, `s`,
/// `U`, negation, `P<name>` captures) and copies them.
fn group_flags(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
) -> Result<(), String> {
    out.push('?');
    chars.next();
    if chars.peek() == Some(&'P') {
        return Ok(());
    }
    let mut seen = String::from("(?");
    while let Some(&c) = chars.peek() {
        seen.push(c);
        match c {
            'i' | 'm' | 's' | 'U' | '-' => {
                out.push(c);
                chars.next();
            }
            ':' | ')' => return Ok(()),
            _ => return Err(format!("invalid or unsupported Perl syntax: `{seen}`")),
        }
    }
    Err(format!("missing closing ): `{seen}`"))
}

/// Go's `Regexp.ExpandString`: `template` with `$1`, `${1}`, `$name`, `${name}` replaced by
/// the groups of `caps` (empty for groups that did not take part or do not exist) and `$$`
/// by `$`. A name is the longest run of letters, digits and `_` (so `$1x` is the group
/// named `1x`); a number with a leading zero is a name; a `$` not followed by a name is
/// copied as is.
pub(crate) fn expand(regex: &Regex, caps: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = template_name(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(n) => caps.get(n),
            None => regex
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
    out
}

/// The name at the start of `s` (after a `$`), braced or not, and the text after it.
fn template_name(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len: usize = body
        .chars()
        .take_while(|c| c.is_alphabetic() || c.is_numeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let after = &body[len..];
    if braced {
        return after.strip_prefix('}').map(|a| (name, a));
    }
    Some((name, after))
}

/// A group number: at most nine ASCII digits (Go's limit) without a leading zero.
fn group_number(name: &str) -> Option<usize> {
    let digits = name.bytes().all(|b| b.is_ascii_digit());
    if !digits || name.len() > 9 || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse::<usize>().ok()
}

#[cfg(test)]
#[path = "goregex_tests.rs"]
mod tests;
