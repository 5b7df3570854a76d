//! Unit tests of `labels.rs`.

use super::*;
use crate::error::ErrorKind;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn up() -> Labels {
    labels(&[("__name__", "up"), ("job", "api"), ("instance", "h:9090")])
}

fn replace(l: &Labels, dst: &str, repl: &str, src: &str, re: &str) -> Labels {
    label_replace(l, dst, repl, src, re).expect("valid arguments")
}

#[test]
fn no_match_leaves_labels_unchanged() {
    assert_eq!(replace(&up(), "svc", "$1", "job", "web.*"), up());
    // Anchored: "p" alone does not match "api".
    assert_eq!(replace(&up(), "svc", "x", "job", "p"), up());
}

#[test]
fn group_references() {
    let with = |v: &str| {
        let mut l = up();
        l.set("svc", v);
        l
    };
    assert_eq!(replace(&up(), "svc", "$1", "job", "(a.)i"), with("ap"));
    assert_eq!(replace(&up(), "svc", "${1}x", "job", "(a.)i"), with("apx"));
    // `$1x` names the group "1x", which does not exist: empty, so nothing is set.
    assert_eq!(replace(&up(), "svc", "$1x", "job", "(a.)i"), up());
    assert_eq!(
        replace(
            &up(),
            "svc",
            "${rest}-$first",
            "job",
            "(?P<first>a)(?P<rest>.*)"
        ),
        with("pi-a")
    );
    assert_eq!(replace(&up(), "svc", "$$1", "job", "(a.)i"), with("$1"));
    let host = replace(&up(), "host", "$1", "instance", "(.*):.*");
    assert_eq!(host.get("host"), "h");
    assert_eq!(host.len(), 4);
}

#[test]
fn empty_result_removes_the_destination() {
    let mut want = up();
    want.remove("job");
    // The regex matches, the replacement expands to "": `job` is deleted.
    assert_eq!(replace(&up(), "job", "$2", "job", "(api)"), want);
    assert_eq!(replace(&up(), "job", "", "job", ".*"), want);
}

#[test]
fn absent_source_is_the_empty_string() {
    let mut want = up();
    want.set("new", "x");
    assert_eq!(replace(&up(), "new", "x", "missing", ""), want);
    assert_eq!(replace(&up(), "new", "x", "missing", "a+"), up());
}

#[test]
fn name_label_can_be_replaced() {
    let mut want = up();
    want.set("__name__", "up_api");
    assert_eq!(replace(&up(), "__name__", "up_$1", "job", "(.*)"), want);
}

#[test]
fn invalid_regex_and_destination() {
    let err = label_replace(&up(), "svc", "$1", "job", "(").expect_err("bad regex");
    assert_eq!(err.kind, ErrorKind::Execution);
    assert!(
        err.message
            .starts_with("invalid regular expression in label_replace(): ("),
        "{}",
        err.message
    );
    let err = label_replace(&up(), "1svc", "$1", "job", "(.*)").expect_err("bad dst");
    assert_eq!(err.kind, ErrorKind::Execution);
    assert_eq!(
        err.message,
        "invalid destination label name in label_replace(): 1svc"
    );
    // The regex is checked first.
    let err = label_replace(&up(), "1svc", "$1", "job", "[").expect_err("both bad");
    assert!(
        err.message.contains("regular expression"),
        "{}",
        err.message
    );
    assert!(label_replace(&up(), "a-b", "", "job", ".*").is_err());
    assert!(label_replace(&up(), "", "", "job", ".*").is_err());
}

#[test]
fn regex_classes_are_ascii_as_in_go() {
    let l = labels(&[("v", "٣")]);
    // Arabic-Indic three is a digit to Rust's Unicode `\d`, not to Go's.
    assert_eq!(replace(&l, "d", "yes", "v", r"\d"), l);
    assert_eq!(replace(&l, "d", "yes", "v", r"\D").get("d"), "yes");
}

#[test]
fn label_join_joins_in_order() {
    let l = labels(&[("a", "x"), ("b", "y"), ("c", "z")]);
    let srcs = |names: &[&str]| -> Vec<String> { names.iter().map(|s| s.to_string()).collect() };
    let joined = label_join(&l, "d", "-", &srcs(&["c", "a", "b"])).expect("valid");
    assert_eq!(joined.get("d"), "z-x-y");
    assert_eq!(joined.get("a"), "x");
    // An absent source is "".
    let joined = label_join(&l, "d", ",", &srcs(&["a", "missing"])).expect("valid");
    assert_eq!(joined.get("d"), "x,");
    // Joining nothing, or only absent labels with an empty separator, removes dst.
    let joined = label_join(&l, "a", "", &srcs(&["missing", "other"])).expect("valid");
    assert_eq!(joined, labels(&[("b", "y"), ("c", "z")]));
    let joined = label_join(&l, "b", "-", &[]).expect("valid");
    assert_eq!(joined, labels(&[("a", "x"), ("c", "z")]));
}

#[test]
fn label_join_rejects_bad_names() {
    let l = labels(&[("a", "x")]);
    let bad_src = vec!["a".to_string(), "b-c".to_string()];
    let err = label_join(&l, "9d", "-", &bad_src).expect_err("bad src");
    assert_eq!(err.kind, ErrorKind::Execution);
    // Sources are checked before the destination.
    assert_eq!(
        err.message,
        "invalid source label name in label_join(): b-c"
    );
    let err = label_join(&l, "9d", "-", &["a".to_string()]).expect_err("bad dst");
    assert_eq!(
        err.message,
        "invalid destination label name in label_join(): 9d"
    );
}

#[test]
fn label_names() {
    assert!(is_valid_label_name("_a1"));
    assert!(is_valid_label_name("__name__"));
    assert!(!is_valid_label_name("1a"));
    assert!(!is_valid_label_name(""));
    assert!(!is_valid_label_name("a.b"));
    assert!(!is_valid_label_name("é"));
}
