//! Executes a parsed template over Prometheus' template data.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::funcs;
use super::gofmt::format_g;
use super::parse::{Arg, Node, Pipeline};

/// Largest output one template may produce.
pub(crate) const MAX_OUTPUT: usize = 1 << 20;

/// A template value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A label map (`$labels`, `$externalLabels`, a sample's `.Labels`).
    Map(Rc<BTreeMap<String, String>>),
    /// A query result element: `.Labels` and `.Value`.
    Sample(Rc<QuerySample>),
    /// A query result.
    List(Rc<Vec<Val>>),
    /// The root data: `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`.
    Root(Rc<Root>),
}

/// One element of a `query` result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuerySample {
    pub labels: Rc<BTreeMap<String, String>>,
    pub value: f64,
}

/// The data a rule template sees.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Root {
    pub labels: Rc<BTreeMap<String, String>>,
    pub external_labels: Rc<BTreeMap<String, String>>,
    pub external_url: String,
    pub value: f64,
}

impl Val {
    /// Go's name for the value's type, as error messages show it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Nil => "nil",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Str(_) => "string",
            Val::Map(_) => "map[string]string",
            Val::Sample(_) => "*template.sample",
            Val::List(_) => "template.queryResult",
            Val::Root(_) => "*template.tmplData",
        }
    }

    /// Go's truth: false, 0, nil and empty values are false.
    pub fn truthy(&self) -> bool {
        match self {
            Val::Nil => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::Map(m) => !m.is_empty(),
            Val::List(l) => !l.is_empty(),
            Val::Sample(_) | Val::Root(_) => true,
        }
    }

    /// How `{{ . }}` prints the value (Go's `fmt.Sprint`).
    pub fn print(&self) -> String {
        match self {
            Val::Nil => "<no value>".into(),
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => format_g(*f, None),
            Val::Str(s) => s.clone(),
            Val::Map(m) => {
                let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", inner.join(" "))
            }
            Val::Sample(s) => format!(
                "&{{{} {}}}",
                Val::Map(s.labels.clone()).print(),
                format_g(s.value, None)
            ),
            Val::List(l) => {
                let inner: Vec<String> = l.iter().map(Val::print).collect();
                format!("[{}]", inner.join(" "))
            }
            Val::Root(_) => "{…}".into(),
        }
    }

    /// A field of the value: a map key (missing keys are `""`), or a struct field.
    fn field(&self, name: &str) -> Result<Val, String> {
        match self {
            Val::Map(m) => Ok(Val::Str(m.get(name).cloned().unwrap_or_default())),
            Val::Sample(s) => match name {
                "Labels" => Ok(Val::Map(s.labels.clone())),
                "Value" => Ok(Val::Float(s.value)),
                _ => Err(format!(
                    "can't evaluate field {name} in type *template.sample"
                )),
            },
            Val::Root(r) => match name {
                "Labels" => Ok(Val::Map(r.labels.clone())),
                "ExternalLabels" => Ok(Val::Map(r.external_labels.clone())),
                "ExternalURL" => Ok(Val::Str(r.external_url.clone())),
                "Value" => Ok(Val::Float(r.value)),
                _ => Err(format!(
                    "can't evaluate field {name} in type *template.tmplData"
                )),
            },
            Val::Nil => Err(format!("nil pointer evaluating interface {{}}.{name}")),
            other => Err(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            )),
        }
    }
}

/// What a function call needs from outside: a PromQL query at the evaluation time.
pub(crate) trait Env {
    /// Runs `query`, giving its samples or an error message.
    fn query(&self, query: &str) -> Result<Vec<Val>, String>;
}

/// A failure while executing, with the action's line and the call it was in.
pub(crate) struct ExecError {
    pub line: usize,
    pub at: String,
    pub message: String,
}

pub(crate) struct Exec<'a> {
    pub env: &'a dyn Env,
    pub vars: Vec<(String, Val)>,
    pub out: String,
}

impl Exec<'_> {
    pub fn run(&mut self, nodes: &[Node], dot: &Val) -> Result<(), ExecError> {
        for node in nodes {
            match node {
                Node::Text(t) => self.write(t, 0)?,
                Node::Action(p, line) => {
                    let v = self.pipeline(p, dot)?;
                    if p.decl.is_empty() {
                        self.write(&v.print(), *line)?;
                    }
                }
                Node::If(arms, otherwise) => {
                    let mark = self.vars.len();
                    let mut done = false;
                    for (cond, body) in arms {
                        if self.pipeline(cond, dot)?.truthy() {
                            self.run(body, dot)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.run(otherwise, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With(cond, body, otherwise) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(cond, dot)?;
                    if v.truthy() {
                        self.run(body, &v)?;
                    } else {
                        self.run(otherwise, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, otherwise) => self.range(p, body, otherwise, dot)?,
            }
        }
        Ok(())
    }

    fn write(&mut self, s: &str, line: usize) -> Result<(), ExecError> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(ExecError {
                line,
                at: String::new(),
                message: format!("output longer than {MAX_OUTPUT} bytes"),
            });
        }
        self.out.push_str(s);
        Ok(())
    }

    fn range(
        &mut self,
        p: &Pipeline,
        body: &[Node],
        otherwise: &[Node],
        dot: &Val,
    ) -> Result<(), ExecError> {
        let mark = self.vars.len();
        let mut plain = p.clone();
        let names = std::mem::take(&mut plain.decl);
        let v = self.pipeline(&plain, dot)?;
        let items: Vec<(Val, Val)> = match &v {
            Val::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, v)| (Val::Int(i as i64), v.clone()))
                .collect(),
            Val::Map(m) => m
                .iter()
                .map(|(k, v)| (Val::Str(k.clone()), Val::Str(v.clone())))
                .collect(),
            Val::Nil => Vec::new(),
            other => {
                return Err(ExecError {
                    line: p.line,
                    at: "range".into(),
                    message: format!("range can't iterate over {}", other.print()),
                })
            }
        };
        if items.is_empty() {
            self.run(otherwise, dot)?;
        }
        for (k, item) in items {
            let inner = self.vars.len();
            match names.as_slice() {
                [v] => self.vars.push((v.clone(), item.clone())),
                [kname, vname] => {
                    self.vars.push((kname.clone(), k));
                    self.vars.push((vname.clone(), item.clone()));
                }
                _ => {}
            }
            self.run(body, &item)?;
            self.vars.truncate(inner);
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn lookup(&self, name: &str) -> Val {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(Val::Nil)
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Val) -> Result<Val, ExecError> {
        let mut piped: Option<Val> = None;
        for cmd in &p.cmds {
            piped = Some(self.command(cmd, dot, piped, p.line)?);
        }
        let v = piped.unwrap_or(Val::Nil);
        if let Some(name) = p.decl.first() {
            if p.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = v.clone();
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn command(
        &mut self,
        cmd: &[Arg],
        dot: &Val,
        piped: Option<Val>,
        line: usize,
    ) -> Result<Val, ExecError> {
        let err = |at: &str, message: String| ExecError {
            line,
            at: at.to_string(),
            message,
        };
        let Some(first) = cmd.first() else {
            return Ok(Val::Nil);
        };
        if let Arg::Func(name) = first {
            if name == "and" || name == "or" {
                return self.logic(name, &cmd[1..], dot, piped, line);
            }
            let mut args = Vec::with_capacity(cmd.len());
            for a in &cmd[1..] {
                args.push(self.operand(a, dot, line)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            return funcs::call(name, &args, self.env)
                .map_err(|m| err(name, format!("error calling {name}: {m}")));
        }
        if cmd.len() > 1 || piped.is_some() {
            return Err(err(
                "",
                format!("can't give argument to non-function {}", describe(first)),
            ));
        }
        self.operand(first, dot, line)
    }

    fn logic(
        &mut self,
        name: &str,
        args: &[Arg],
        dot: &Val,
        piped: Option<Val>,
        line: usize,
    ) -> Result<Val, ExecError> {
        let mut last = Val::Nil;
        let count = args.len() + usize::from(piped.is_some());
        if count == 0 {
            return Err(ExecError {
                line,
                at: name.into(),
                message: format!("wrong number of args for {name}: want at least 1 got 0"),
            });
        }
        for a in args {
            last = self.operand(a, dot, line)?;
            if last.truthy() == (name == "or") {
                return Ok(last);
            }
        }
        if let Some(p) = piped {
            last = p;
        }
        Ok(last)
    }

    fn operand(&mut self, a: &Arg, dot: &Val, line: usize) -> Result<Val, ExecError> {
        let chain = |mut v: Val, names: &[String]| -> Result<Val, ExecError> {
            for n in names {
                v = v.field(n).map_err(|m| ExecError {
                    line,
                    at: format!(".{n}"),
                    message: m,
                })?;
            }
            Ok(v)
        };
        match a {
            Arg::Field(names) => chain(dot.clone(), names),
            Arg::Var(name, names) => chain(self.lookup(name), names),
            Arg::Func(name) => funcs::call(name, &[], self.env).map_err(|m| ExecError {
                line,
                at: name.clone(),
                message: format!("error calling {name}: {m}"),
            }),
            Arg::Str(s) => Ok(Val::Str(s.clone())),
            Arg::Int(i) => Ok(Val::Int(*i)),
            Arg::Float(f) => Ok(Val::Float(*f)),
            Arg::Bool(b) => Ok(Val::Bool(*b)),
            Arg::Nil => Ok(Val::Nil),
            Arg::Sub(p, names) => {
                let v = self.pipeline(p, dot)?;
                chain(v, names)
            }
        }
    }
}

fn describe(a: &Arg) -> String {
    match a {
        Arg::Field(n) => format!(".{}", n.join(".")),
        Arg::Var(v, n) if n.is_empty() => v.clone(),
        Arg::Var(v, n) => format!("{v}.{}", n.join(".")),
        Arg::Str(s) => format!("{s:?}"),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => f.to_string(),
        Arg::Bool(b) => b.to_string(),
        Arg::Nil => "nil".into(),
        Arg::Func(f) => f.clone(),
        Arg::Sub(..) => "(…)".into(),
    }
}
