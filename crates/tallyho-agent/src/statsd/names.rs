//! The naming rules: how a StatsD name or tag key becomes a Prometheus one, and the names
//! a family puts in an exposition.

/// A name or tag key in its Prometheus form, and whether the rule changed more than the
/// agent's `.` → `_` naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized {
    /// The Prometheus form.
    pub name: String,
    /// Whether a character other than a `.` in a name was replaced, or a `_` prefixed.
    pub changed: bool,
}

fn sanitize(raw: &str, colon: bool, dot_is_change: bool) -> Sanitized {
    let mut name = String::with_capacity(raw.len() + 1);
    let mut changed = false;
    if raw.starts_with(|c: char| c.is_ascii_digit()) {
        name.push('_');
        changed = true;
    }
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':') {
            name.push(c);
        } else {
            name.push('_');
            changed |= c != '.' || dot_is_change;
        }
    }
    Sanitized { name, changed }
}

/// A metric name in Prometheus form: `.` → `_` (the agent's naming, not a change), any
/// other character outside `[a-zA-Z0-9_:]` → `_`, and `_` before a leading digit.
pub fn sanitize_name(raw: &str) -> Sanitized {
    sanitize(raw, true, false)
}

/// A tag key in Prometheus label form: any character outside `[a-zA-Z0-9_]` (a `.`
/// included) → `_`, and `_` before a leading digit.
pub fn sanitize_tag_key(raw: &str) -> Sanitized {
    sanitize(raw, false, true)
}

/// The names a family of `kind` called `name` puts in an exposition.
pub(super) fn rendered(name: &str, kind: &str) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        "gauge" => &[""],
        "counter" => &["", "_total", "_created"],
        "histogram" => &["", "_bucket", "_count", "_sum", "_created"],
        _ => &[
            "", "_total", "_created", "_bucket", "_count", "_sum", "_info",
        ],
    };
    suffixes.iter().map(|s| format!("{name}{s}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(raw: &str) -> (String, bool) {
        let s = sanitize_name(raw);
        (s.name, s.changed)
    }

    #[test]
    fn names_follow_the_statsd_exporter_rule() {
        assert_eq!(name("api.hits"), ("api_hits".into(), false));
        assert_eq!(name("my-app.req"), ("my_app_req".into(), true));
        assert_eq!(name("a/b"), ("a_b".into(), true));
        assert_eq!(name("9lives"), ("_9lives".into(), true));
        assert_eq!(name("with space"), ("with_space".into(), true));
        assert_eq!(name("é.x"), ("__x".into(), true), "one _ per character");
        assert_eq!(name("a:b_C9"), ("a:b_C9".into(), false));
        assert_eq!(name(".x"), ("_x".into(), false));
    }

    #[test]
    fn tag_keys_lose_colons_and_dots_too() {
        let k = |raw: &str| {
            let s = sanitize_tag_key(raw);
            (s.name, s.changed)
        };
        assert_eq!(k("route"), ("route".into(), false));
        assert_eq!(k("weird-key"), ("weird_key".into(), true));
        assert_eq!(k("kube.ns"), ("kube_ns".into(), true));
        assert_eq!(k("1st"), ("_1st".into(), true));
        for raw in ["a-b", "9", "x y/z", "\u{0}"] {
            assert!(tallyho::name::label_name(&k(raw).0).is_ok() || k(raw).0.starts_with("__"));
        }
    }
}
