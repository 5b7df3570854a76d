//! A YAML document as a tree of nodes that remember their line and column, so that
//! validation errors can name where the offending value is, as promtool does.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Most nodes one document may expand to (aliases included): a bound against alias bombs.
const MAX_NODES: usize = 1_000_000;

/// Where a node starts: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub col: usize,
}

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// A scalar and whether it was written plain (unquoted), which decides `null`.
    Scalar(String, bool),
    Seq(Vec<Node>),
    /// Keys in document order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Whether this is YAML's null (`~`, `null`, or nothing).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, true) if s.is_empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    }

    /// The scalar's text, or `None` for a sequence or mapping.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    /// YAML's word for the node's kind, as Go's YAML errors name it.
    pub fn tag(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(..) if self.is_null() => "!!null",
            Kind::Scalar(..) => "!!str",
            Kind::Seq(_) => "!!seq",
            Kind::Map(_) => "!!map",
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Parses the first document of `text`; an empty text is `None`.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        pos: pos_of(e.marker()),
        message: e.info().to_string(),
    })?;
    if let Some(message) = builder.error {
        return Err(SyntaxError {
            pos: builder.error_pos,
            message,
        });
    }
    Ok(builder.root)
}

fn pos_of(m: &Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

enum Open {
    Seq(Node, usize),
    Map(Node, usize, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    error: Option<String>,
    error_pos: Pos,
}

impl Builder {
    fn fail(&mut self, pos: Pos, message: &str) {
        if self.error.is_none() {
            self.error = Some(message.to_string());
            self.error_pos = pos;
        }
    }

    /// Attaches a finished node to its parent (or makes it the root).
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Open::Seq(seq, _)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map(map, _, key)) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let Kind::Map(entries) = &mut map.kind {
                        entries.push((k, node));
                    }
                }
            },
        }
    }

    fn count(&mut self, n: usize, pos: Pos) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            self.fail(pos, "document too large: more than 1000000 nodes");
            return false;
        }
        true
    }
}

fn size(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar(..) => 1,
        Kind::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Kind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| size(k) + size(v))
                .sum::<usize>()
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = pos_of(&mark);
        let opens = matches!(
            ev,
            Event::Scalar(..) | Event::SequenceStart(..) | Event::MappingStart(..)
        );
        if opens && !self.count(1, pos) {
            return;
        }
        match ev {
            Event::Scalar(value, style, anchor, _tag) => {
                let plain = style == TScalarStyle::Plain;
                self.push(
                    Node {
                        pos,
                        kind: Kind::Scalar(value, plain),
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                let node = Node {
                    pos,
                    kind: Kind::Seq(Vec::new()),
                };
                self.stack.push(Open::Seq(node, anchor));
            }
            Event::MappingStart(anchor, _) => {
                let node = Node {
                    pos,
                    kind: Kind::Map(Vec::new()),
                };
                self.stack.push(Open::Map(node, anchor, None));
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq(node, anchor)) | Some(Open::Map(node, anchor, _)) => {
                    self.push(node, anchor)
                }
                None => self.fail(pos, "unbalanced collection end"),
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) if self.count(size(&node), pos) => self.push(node, 0),
                Some(_) => {}
                None => self.fail(pos, "unknown anchor"),
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let root = parse("a:\n  - x: 1\n    y: \"2\"\n").unwrap().unwrap();
        let Kind::Map(entries) = &root.kind else {
            panic!("not a map")
        };
        let (k, v) = &entries[0];
        assert_eq!(k.as_str(), Some("a"));
        assert_eq!(k.pos, Pos { line: 1, col: 1 });
        let Kind::Seq(items) = &v.kind else {
            panic!("not a seq")
        };
        let Kind::Map(inner) = &items[0].kind else {
            panic!("not a map")
        };
        assert_eq!(inner[1].1.pos, Pos { line: 3, col: 8 });
        assert_eq!(inner[1].1.kind, Kind::Scalar("2".into(), false));
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.pos.line >= 2, "{err:?}");
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            let list = [prev.as_str(); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{list}]\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("too large"), "{err:?}");
    }
}
