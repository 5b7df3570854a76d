//! Unit tests of `goregex.rs`: each asserts what Go's RE2 does with the pattern.

use super::*;

fn matches(pattern: &str, s: &str) -> bool {
    compile_anchored(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .is_match(s)
}

fn expanded(pattern: &str, s: &str, template: &str) -> String {
    let re = compile_anchored(pattern).expect("valid pattern");
    let caps = re.captures(s).expect("a match");
    expand(&re, &caps, template)
}

#[test]
fn anchored_both_ends() {
    assert!(matches("a|b", "a"));
    assert!(!matches("a|b", "ab"));
    assert!(!matches("b", "abc"));
    assert!(matches("", ""));
}

#[test]
fn perl_classes_are_ascii() {
    assert!(matches(r"\d+", "0123"));
    assert!(!matches(r"\d", "٣"));
    assert!(matches(r"\D", "٣"));
    assert!(!matches(r"[\d]", "٣"));
    assert!(matches(r"[^\d]", "٣"));
    assert!(!matches(r"\w", "é"));
    assert!(matches(r"\w+", "a_Z9"));
    assert!(matches(r"[\w-]+", "a-b"));
    assert!(!matches(r"\s", "\u{a0}"));
    assert!(!matches(r"\s", "\u{b}"));
    assert!(matches(r"\s", "\t"));
    assert!(matches(r"\S", "\u{a0}"));
    // ASCII word boundary: é is not a word character, so there is a boundary before it.
    assert!(matches(r"a\bé", "aé"));
    assert!(matches(r"\\d", r"\d"));
}

#[test]
fn quoted_literals() {
    assert!(matches(r"\Q.*\E", ".*"));
    assert!(!matches(r"\Q.*\E", "ab"));
    assert!(matches(r"x\Q(a\Ey", "x(ay"));
    assert!(matches(r"\Q+", "+"));
}

#[test]
fn bracket_classes() {
    assert!(matches("[[]", "["));
    assert!(matches("[a&&b]", "&"));
    assert!(matches("[a~~b]", "~"));
    assert!(matches("[]a]", "]"));
    assert!(matches("[^]a]", "b"));
    assert!(matches("[[:alpha:]]+", "abc"));
    assert!(matches("[^[:digit:]]", "x"));
    assert!(!matches("[[:^alpha:]]", "x"));
    assert!(matches(r"[\[\]]", "]"));
}

#[test]
fn go_only_accepts_its_flags() {
    assert!(matches("(?i)abc", "ABC"));
    assert!(matches("(?s:a.b)", "a\nb"));
    assert!(matches("(?U)a+", "a"));
    assert!(matches("(?i-s:a)", "A"));
    assert!(matches("(?P<x>a)", "a"));
    assert!(compile_anchored("(?<x>a)").is_err());
    assert!(compile_anchored("(?x) a").is_err());
    assert!(compile_anchored("(?=a)").is_err());
    assert!(compile_anchored("(").is_err());
    assert!(compile_anchored(r"a\").is_err());
    // `(` inside a class is a literal, not a group.
    assert!(matches("[(?]", "?"));
}

#[test]
fn expand_follows_go_template_rules() {
    let p = "(a)(b)?(?P<name>c)";
    assert_eq!(expanded(p, "ac", "$1"), "a");
    assert_eq!(expanded(p, "ac", "${1}x"), "ax");
    assert_eq!(expanded(p, "ac", "$1x"), "");
    assert_eq!(expanded(p, "ac", "$2"), "");
    assert_eq!(expanded(p, "abc", "$2"), "b");
    assert_eq!(expanded(p, "ac", "$name-${name}"), "c-c");
    assert_eq!(expanded(p, "ac", "$3"), "c");
    assert_eq!(expanded(p, "ac", "$9"), "");
    // A leading zero makes it a name, and there is no group named "01".
    assert_eq!(expanded(p, "ac", "$01"), "");
    assert_eq!(expanded(p, "ac", "$0"), "ac");
    assert_eq!(expanded(p, "ac", "$$1"), "$1");
    assert_eq!(expanded(p, "ac", "cost: $"), "cost: $");
    assert_eq!(expanded(p, "ac", "${"), "${");
    assert_eq!(expanded(p, "ac", "${1"), "${1");
    assert_eq!(expanded(p, "ac", "$-$1"), "$-a");
    assert_eq!(expanded(p, "ac", "${}"), "${}");
    assert_eq!(expanded(p, "ac", "$1234567890"), "");
}
