//! Prometheus' rule file format (`groups:` → `rules:`), read and validated as
//! `promtool check rules` does: unknown fields, names, durations, expressions, templates.

use std::collections::HashMap;

use tallyho_query::promql_parser::parser::Expr;

use crate::duration::parse_duration;
use crate::error::{Problem, RulesError};
use crate::template::Template;
use crate::yaml::{self, Kind, Node, Pos};

/// Largest rule file read (a bound on memory).
pub const MAX_FILE_BYTES: usize = 16 << 20;

/// One group of a rule file.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// The group's name, unique in its file.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// `interval:`, milliseconds; `None` uses the manager's default.
    pub interval_ms: Option<u64>,
    /// `limit:` (0 = none): most alerts or series one rule may produce.
    pub limit: usize,
    /// The rules in order.
    pub rules: Vec<RuleSpec>,
}

/// One rule.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// `alert:` or `record:`.
    pub name: String,
    /// Whether this is an alerting rule (else recording).
    pub alerting: bool,
    /// The expression as written.
    pub expr: String,
    /// `for:` in milliseconds (alerting only).
    pub for_ms: u64,
    /// `keep_firing_for:` in milliseconds (alerting only).
    pub keep_firing_for_ms: u64,
    /// `labels:` in file order (templates for alerting rules).
    pub labels: Vec<(String, String)>,
    /// `annotations:` in file order (alerting only).
    pub annotations: Vec<(String, String)>,
    /// Line of the rule in its file.
    pub line: usize,
    pub(crate) parsed: Expr,
    pub(crate) label_templates: Vec<(String, Template)>,
    pub(crate) annotation_templates: Vec<(String, Template)>,
}

impl RuleSpec {
    /// The expression as Prometheus prints it (its `query` in the API).
    pub fn query(&self) -> String {
        self.parsed.to_string()
    }
}

/// A validated rule file, with lint warnings (duplicate rules) that do not refuse it.
#[derive(Debug, Clone)]
pub struct RuleFile {
    /// The groups in file order.
    pub groups: Vec<GroupSpec>,
    /// Warnings, as `promtool check rules` prints them.
    pub warnings: Vec<String>,
}

/// Whether `s` is a valid metric name.
pub fn valid_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `s` is a valid label name.
pub fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Ctx {
    problems: Vec<Problem>,
}

impl Ctx {
    fn at(&mut self, pos: Option<Pos>, message: String) {
        self.problems.push(Problem {
            line: pos.map(|p| p.line),
            col: pos.map(|p| p.col),
            message,
        });
    }

    /// The entries of a mapping, with unknown keys reported against `ty`.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        ty: &str,
        known: &[&str],
    ) -> HashMap<&'n str, &'n Node> {
        let mut out = HashMap::new();
        let Kind::Map(entries) = &node.kind else {
            if !node.is_null() {
                self.at(
                    Some(node.pos),
                    format!("cannot unmarshal {} into {ty}", node.tag()),
                );
            }
            return out;
        };
        for (k, v) in entries {
            let key = k.as_str().unwrap_or("");
            if !known.contains(&key) {
                self.at(Some(k.pos), format!("field {key} not found in type {ty}"));
            } else if out.insert(key, v).is_some() {
                self.at(Some(k.pos), format!("mapping key {key:?} already defined"));
            }
        }
        out
    }

    fn string(&mut self, node: Option<&&Node>, what: &str) -> String {
        match node {
            None => String::new(),
            Some(n) if n.is_null() => String::new(),
            Some(n) => match n.as_str() {
                Some(s) => s.to_string(),
                None => {
                    self.at(
                        Some(n.pos),
                        format!("cannot unmarshal {} into {what}", n.tag()),
                    );
                    String::new()
                }
            },
        }
    }

    fn duration(&mut self, node: Option<&&Node>) -> u64 {
        let s = self.string(node, "model.Duration");
        if s.is_empty() {
            return 0;
        }
        parse_duration(&s).unwrap_or_else(|e| {
            self.at(node.map(|n| n.pos), e);
            0
        })
    }

    fn string_map(&mut self, node: Option<&&Node>) -> Vec<(String, String, Pos)> {
        let Some(node) = node else { return Vec::new() };
        match &node.kind {
            Kind::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| {
                    let key = k.as_str()?.to_string();
                    let val = self.string(Some(&v), "string");
                    Some((key, val, v.pos))
                })
                .collect(),
            _ if node.is_null() => Vec::new(),
            _ => {
                self.at(
                    Some(node.pos),
                    format!("cannot unmarshal {} into map[string]string", node.tag()),
                );
                Vec::new()
            }
        }
    }
}

/// Reads and validates the rule file at `path`.
///
/// # Errors
/// [`RulesError::Io`] when it cannot be read or is larger than 16 MiB;
/// [`RulesError::Invalid`] listing every problem with its line and column.
pub fn load_file(path: &str) -> Result<RuleFile, RulesError> {
    let io = |message: String| RulesError::Io {
        file: path.to_string(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(io(format!(
            "file is {} bytes, more than the {MAX_FILE_BYTES} allowed",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| io(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| io(format!("not UTF-8: {e}")))?;
    parse_rules(path, &text)
}

/// Validates rule file text; `file` names it in errors.
///
/// # Errors
/// [`RulesError::Invalid`] listing every problem with its line and column.
pub fn parse_rules(file: &str, text: &str) -> Result<RuleFile, RulesError> {
    let invalid = |problems| RulesError::Invalid {
        file: file.to_string(),
        problems,
    };
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Ok(RuleFile {
                groups: Vec::new(),
                warnings: Vec::new(),
            })
        }
        Err(e) => {
            return Err(invalid(vec![Problem {
                line: Some(e.pos.line),
                col: Some(e.pos.col),
                message: format!("yaml: {}", e.message),
            }]))
        }
    };
    let mut cx = Ctx {
        problems: Vec::new(),
    };
    let top = cx.fields(&root, "rulefmt.RuleGroups", &["groups"]);
    let mut groups = Vec::new();
    let mut seen: HashMap<String, ()> = HashMap::new();
    if let Some(list) = top.get("groups") {
        match &list.kind {
            Kind::Seq(items) => {
                for g in items {
                    if let Some(spec) = group(&mut cx, file, g) {
                        if seen.insert(spec.name.clone(), ()).is_some() {
                            cx.at(
                                Some(g.pos),
                                format!("groupname: {:?} is repeated in the same file", spec.name),
                            );
                        }
                        groups.push(spec);
                    }
                }
            }
            _ if list.is_null() => {}
            _ => cx.at(
                Some(list.pos),
                format!("cannot unmarshal {} into []rulefmt.RuleGroup", list.tag()),
            ),
        }
    }
    if !cx.problems.is_empty() {
        return Err(invalid(cx.problems));
    }
    let warnings = duplicates(&groups);
    Ok(RuleFile { groups, warnings })
}

fn group(cx: &mut Ctx, file: &str, node: &Node) -> Option<GroupSpec> {
    let f = cx.fields(
        node,
        "rulefmt.RuleGroup",
        &["name", "interval", "query_offset", "limit", "rules"],
    );
    let name = cx.string(f.get("name"), "string");
    if name.is_empty() {
        cx.at(Some(node.pos), "Groupname must not be empty".into());
    }
    let interval = cx.duration(f.get("interval"));
    let limit_text = cx.string(f.get("limit"), "int");
    let limit = if limit_text.is_empty() {
        0
    } else {
        match limit_text.parse::<i64>() {
            Ok(n) => usize::try_from(n).unwrap_or(0),
            Err(_) => {
                cx.at(
                    f.get("limit").map(|n| n.pos),
                    format!("cannot unmarshal !!str `{limit_text}` into int"),
                );
                0
            }
        }
    };
    let mut rules = Vec::new();
    if let Some(list) = f.get("rules") {
        match &list.kind {
            Kind::Seq(items) => {
                for (i, r) in items.iter().enumerate() {
                    if let Some(spec) = rule(cx, &name, i + 1, r) {
                        rules.push(spec);
                    }
                }
            }
            _ if list.is_null() => {}
            _ => cx.at(
                Some(list.pos),
                format!("cannot unmarshal {} into []rulefmt.RuleNode", list.tag()),
            ),
        }
    }
    Some(GroupSpec {
        name,
        file: file.to_string(),
        interval_ms: (interval > 0).then_some(interval),
        limit,
        rules,
    })
}

const RULE_FIELDS: &[&str] = &[
    "record",
    "alert",
    "expr",
    "for",
    "keep_firing_for",
    "labels",
    "annotations",
];

fn rule(cx: &mut Ctx, group: &str, index: usize, node: &Node) -> Option<RuleSpec> {
    let f = cx.fields(node, "rulefmt.RuleNode", RULE_FIELDS);
    let record = cx.string(f.get("record"), "string");
    let alert = cx.string(f.get("alert"), "string");
    let expr = cx.string(f.get("expr"), "string");
    let for_ms = cx.duration(f.get("for"));
    let keep_ms = cx.duration(f.get("keep_firing_for"));
    let labels = cx.string_map(f.get("labels"));
    let annotations = cx.string_map(f.get("annotations"));
    let name = if alert.is_empty() {
        record.clone()
    } else {
        alert.clone()
    };
    let prefix = format!("group {group:?}, rule {index}, {name:?}");
    let pos_of = |k: &str| f.get(k).map(|n| n.pos);
    let bad = |cx: &mut Ctx, pos: Option<Pos>, msg: String| cx.at(pos, format!("{prefix}: {msg}"));
    let record_pos = pos_of("record");
    match (record.is_empty(), alert.is_empty()) {
        (false, false) => bad(
            cx,
            record_pos,
            "only one of 'record' and 'alert' must be set".into(),
        ),
        (true, true) => bad(
            cx,
            Some(node.pos),
            "one of 'record' or 'alert' must be set".into(),
        ),
        _ => {}
    }
    let parsed = if expr.is_empty() {
        bad(
            cx,
            pos_of("expr").or(Some(node.pos)),
            "field 'expr' must be set in rule".into(),
        );
        None
    } else {
        match tallyho_query::parse(&expr) {
            Ok(e) => Some(e),
            Err(e) => {
                let msg = e
                    .message
                    .strip_prefix("parse error: ")
                    .unwrap_or(&e.message)
                    .to_string();
                bad(
                    cx,
                    pos_of("expr"),
                    format!("could not parse expression: {msg}"),
                );
                None
            }
        }
    };
    if !record.is_empty() {
        if !annotations.is_empty() {
            bad(
                cx,
                record_pos,
                "invalid field 'annotations' in recording rule".into(),
            );
        }
        if for_ms != 0 {
            bad(
                cx,
                record_pos,
                "invalid field 'for' in recording rule".into(),
            );
        }
        if keep_ms != 0 {
            bad(
                cx,
                record_pos,
                "invalid field 'keep_firing_for' in recording rule".into(),
            );
        }
        if !valid_metric_name(&record) {
            bad(
                cx,
                record_pos,
                format!("invalid recording rule name: {record}"),
            );
        }
    }
    for (k, _, pos) in &labels {
        if !valid_label_name(k) || k == "__name__" {
            bad(cx, Some(*pos), format!("invalid label name: {k}"));
        }
    }
    for (k, _, pos) in &annotations {
        if !valid_label_name(k) {
            bad(cx, Some(*pos), format!("invalid annotation name: {k}"));
        }
    }
    let mut label_templates = Vec::new();
    let mut annotation_templates = Vec::new();
    if !alert.is_empty() {
        let tname = format!("__alert_{alert}");
        for (what, list, out) in [
            ("label", &labels, &mut label_templates),
            ("annotation", &annotations, &mut annotation_templates),
        ] {
            for (k, v, pos) in list {
                match Template::parse(&tname, v) {
                    Ok(t) => out.push((k.clone(), t)),
                    Err(e) => bad(cx, Some(*pos), format!("{what} {k:?}: {e}")),
                }
            }
        }
    }
    let parsed = parsed?;
    let strip = |v: Vec<(String, String, Pos)>| v.into_iter().map(|(k, v, _)| (k, v)).collect();
    Some(RuleSpec {
        name,
        alerting: !alert.is_empty(),
        expr,
        for_ms,
        keep_firing_for_ms: keep_ms,
        labels: strip(labels),
        annotations: strip(annotations),
        line: node.pos.line,
        parsed,
        label_templates,
        annotation_templates,
    })
}

/// promtool's lint: rules with the same name and labels in one file.
fn duplicates(groups: &[GroupSpec]) -> Vec<String> {
    let mut seen: HashMap<(String, Vec<(String, String)>), usize> = HashMap::new();
    for g in groups {
        for r in &g.rules {
            let mut labels = r.labels.clone();
            labels.sort();
            *seen.entry((r.name.clone(), labels)).or_default() += 1;
        }
    }
    let mut dups: Vec<_> = seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect();
    dups.sort();
    dups.into_iter()
        .map(|(name, labels)| {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("duplicate rule: {name} with labels {{{}}} (might cause inconsistency while recording expressions)", l.join(", "))
        })
        .collect()
}
