//! Go's `text/template` syntax, the subset Prometheus rule templates use: text, actions with
//! pipelines, variables, fields, function calls, `if`/`else if`/`else`, `with`, `range`,
//! comments and the `{{-`/`-}}` trim markers.

/// Deepest nesting of blocks and parentheses accepted.
const MAX_DEPTH: usize = 64;

/// A parsed template body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Text(String),
    Action(Pipeline, usize),
    If(Vec<(Pipeline, Vec<Node>)>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
}

/// `$a := cmd | cmd` or `cmd | cmd`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipeline {
    pub decl: Vec<String>,
    /// `=` (assign to an existing variable) rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Vec<Arg>>,
    pub line: usize,
}

/// One operand of a command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// `.a.b` from dot; empty path is `.` itself.
    Field(Vec<String>),
    /// `$x.a.b`; `$` alone is the root data.
    Var(String, Vec<String>),
    Func(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Sub(Box<Pipeline>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Field(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Num(String),
    Pipe,
    Open,
    Close(Vec<String>),
    Declare,
    Assign,
    Comma,
}

/// Splits text and `{{ }}` actions, applying trim markers. Returns (text | action tokens, line).
/// Text, or an action's tokens, with the line it starts on.
type Item = (Result<String, Vec<Tok>>, usize);

fn split(src: &str) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut line = 1usize;
    let mut trim_next = false;
    while !rest.is_empty() {
        let Some(open) = rest.find("{{") else {
            let text = if trim_next { rest.trim_start() } else { rest };
            out.push((Ok(text.to_string()), line));
            break;
        };
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let mut body = &rest[open + 2..];
        if body.starts_with("- ") || body.starts_with("-\t") || body.starts_with("-\n") {
            text = text.trim_end();
            body = &body[1..];
        }
        if !text.is_empty() {
            out.push((Ok(text.to_string()), line));
        }
        line += rest[..open].matches('\n').count();
        let trimmed = body.trim_start();
        let (toks, used, trim) = if let Some(c) = trimmed.strip_prefix("/*") {
            let end = c
                .find("*/")
                .ok_or_else(|| format!("{line}: unclosed comment"))?;
            let after = c[end + 2..].trim_start();
            let (trim, tail) = if let Some(t) = after.strip_prefix("-}}") {
                (true, t)
            } else if let Some(t) = after.strip_prefix("}}") {
                (false, t)
            } else {
                return Err(format!("{line}: comment ends before closing delimiter"));
            };
            (None, body.len() - tail.len(), trim)
        } else {
            let (toks, used, trim) = lex_action(body, line)?;
            (Some(toks), used, trim)
        };
        line += body[..used].matches('\n').count();
        if let Some(toks) = toks {
            out.push((Err(toks), line));
        }
        trim_next = trim;
        rest = &body[used..];
    }
    Ok(out)
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Reads `.a.b.c` at the start of `s`; returns the names and the bytes used.
fn field_chain(s: &str) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut used = 0;
    while s[used..].starts_with('.') {
        let name: String = s[used + 1..]
            .chars()
            .take_while(|c| ident_char(*c))
            .collect();
        if name.is_empty() {
            break;
        }
        used += 1 + name.len();
        names.push(name);
    }
    (names, used)
}

/// Tokens of one action; returns them, bytes consumed through `}}`, and whether it ended `-}}`.
fn lex_action(body: &str, line: usize) -> Result<(Vec<Tok>, usize, bool), String> {
    let mut toks = Vec::new();
    let mut i = 0;
    let b = body.as_bytes();
    loop {
        let rest = &body[i..];
        let Some(c) = rest.chars().next() else {
            return Err(format!("{line}: unclosed action"));
        };
        if rest.starts_with("}}") {
            return Ok((toks, i + 2, false));
        }
        if (rest.starts_with(" -}}") || rest.starts_with("\t-}}") || rest.starts_with("\n-}}"))
            && !toks.is_empty()
        {
            return Ok((toks, i + 4, true));
        }
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        match c {
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                let (chain, used) = field_chain(&body[i + 1..]);
                toks.push(Tok::Close(chain));
                i += 1 + used;
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if rest.starts_with(":=") => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            '"' | '`' => {
                let (s, used) = string_lit(rest, line)?;
                toks.push(Tok::Str(s));
                i += used;
            }
            '$' => {
                let name: String = rest[1..].chars().take_while(|c| ident_char(*c)).collect();
                let (chain, used) = field_chain(&rest[1 + name.len()..]);
                toks.push(Tok::Var(format!("${name}"), chain));
                i += 1 + name.len() + used;
            }
            '.' if !rest[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                let (chain, used) = field_chain(rest);
                toks.push(Tok::Field(chain));
                i += used.max(1);
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let n: String = rest
                    .chars()
                    .enumerate()
                    .take_while(|(k, c)| {
                        c.is_ascii_alphanumeric()
                            || *c == '.'
                            || *c == '_'
                            || (*k == 0 && (*c == '-' || *c == '+'))
                            || ((*c == '-' || *c == '+')
                                && *k > 0
                                && matches!(b[i + k - 1], b'e' | b'E'))
                    })
                    .map(|(_, c)| c)
                    .collect();
                i += n.len();
                toks.push(Tok::Num(n));
            }
            c if ident_char(c) => {
                let name: String = rest.chars().take_while(|c| ident_char(*c)).collect();
                i += name.len();
                toks.push(Tok::Ident(name));
            }
            other => return Err(format!("{line}: unexpected {other:?} in command")),
        }
    }
}

/// A quoted ("…" with Go escapes) or raw (`…`) string at the start of `s`.
fn string_lit(s: &str, line: usize) -> Result<(String, usize), String> {
    let mut chars = s.char_indices();
    let quote = chars.next().map(|(_, c)| c).unwrap_or('"');
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, i + 1));
        }
        if quote == '"' && c == '\n' {
            break;
        }
        if quote == '"' && c == '\\' {
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                other => return Err(format!("{line}: unknown escape sequence: \\{other}")),
            }
            continue;
        }
        out.push(c);
    }
    Err(format!("{line}: unterminated quoted string"))
}

/// Parses a template, checking that every function is one of `known`.
pub(crate) fn parse(src: &str, known: &dyn Fn(&str) -> bool) -> Result<Vec<Node>, String> {
    let items = split(src)?;
    let mut p = Parser {
        items,
        pos: 0,
        known,
        vars: vec![vec![
            "$".into(),
            "$labels".into(),
            "$externalLabels".into(),
            "$externalURL".into(),
            "$value".into(),
        ]],
    };
    let (nodes, end) = p.list(0)?;
    match end {
        None => Ok(nodes),
        Some((word, line)) => Err(format!("{line}: unexpected {{{{{word}}}}}")),
    }
}

struct Parser<'a> {
    items: Vec<Item>,
    pos: usize,
    known: &'a dyn Fn(&str) -> bool,
    /// Declared variables, one scope per block.
    vars: Vec<Vec<String>>,
}

impl Parser<'_> {
    /// Nodes until `{{end}}`/`{{else…}}` (returned as the terminator) or the end of input.
    #[allow(clippy::type_complexity)]
    fn list(&mut self, depth: usize) -> Result<(Vec<Node>, Option<(String, usize)>), String> {
        if depth > MAX_DEPTH {
            return Err("template nested too deeply".into());
        }
        let mut nodes = Vec::new();
        while self.pos < self.items.len() {
            let (item, line) = self.items[self.pos].clone();
            self.pos += 1;
            let toks = match item {
                Ok(text) => {
                    nodes.push(Node::Text(text));
                    continue;
                }
                Err(toks) => toks,
            };
            match toks.first() {
                Some(Tok::Ident(w)) if w == "end" => {
                    return Ok((nodes, Some(("end".into(), line))))
                }
                Some(Tok::Ident(w)) if w == "else" => {
                    let word = match toks.get(1) {
                        Some(Tok::Ident(w2)) if w2 == "if" => "else if",
                        _ => "else",
                    };
                    // Leave the tokens for the caller to read the `else if` condition.
                    self.pos -= 1;
                    return Ok((nodes, Some((word.into(), line))));
                }
                Some(Tok::Ident(w)) if w == "if" || w == "with" || w == "range" => {
                    let kw = w.clone();
                    nodes.push(self.block(&kw, &toks[1..], line, depth)?);
                }
                Some(Tok::Ident(w))
                    if ["define", "template", "block", "break", "continue"]
                        .contains(&w.as_str()) =>
                {
                    return Err(format!(
                        "{line}: {{{{{w}}}}} is not supported in rule templates"
                    ));
                }
                _ => {
                    let pipe = self.pipeline(&toks, line, depth, true)?;
                    nodes.push(Node::Action(pipe, line));
                }
            }
        }
        Ok((nodes, None))
    }

    fn block(&mut self, kw: &str, toks: &[Tok], line: usize, depth: usize) -> Result<Node, String> {
        self.vars.push(Vec::new());
        let cond = self.pipeline(toks, line, depth, true)?;
        let (body, end) = self.list(depth + 1)?;
        let mut arms = vec![(cond, body)];
        let mut otherwise = Vec::new();
        let mut end = end;
        loop {
            match end {
                None => return Err(format!("{line}: unexpected EOF")),
                Some((w, _)) if w == "end" => break,
                Some((w, l)) if w == "else if" && kw == "if" => {
                    let (item, _) = self.items[self.pos].clone();
                    self.pos += 1;
                    let toks = item.err().unwrap_or_default();
                    let cond = self.pipeline(&toks[2..], l, depth, true)?;
                    let (body, e) = self.list(depth + 1)?;
                    arms.push((cond, body));
                    end = e;
                }
                Some((w, l)) if w == "else" => {
                    self.pos += 1;
                    let (body, e) = self.list(depth + 1)?;
                    otherwise = body;
                    match e {
                        Some((w, _)) if w == "end" => break,
                        _ => return Err(format!("{l}: expected end; found {{{{else}}}}")),
                    }
                }
                Some((w, l)) => return Err(format!("{l}: unexpected {{{{{w}}}}}")),
            }
        }
        self.vars.pop();
        Ok(match kw {
            "if" => Node::If(arms, otherwise),
            "with" => {
                let (c, b) = arms.remove(0);
                Node::With(c, b, otherwise)
            }
            _ => {
                let (c, b) = arms.remove(0);
                Node::Range(c, b, otherwise)
            }
        })
    }

    fn declared(&self, name: &str) -> bool {
        self.vars.iter().any(|s| s.iter().any(|v| v == name))
    }

    fn pipeline(
        &mut self,
        toks: &[Tok],
        line: usize,
        depth: usize,
        top: bool,
    ) -> Result<Pipeline, String> {
        if depth > MAX_DEPTH {
            return Err("template nested too deeply".into());
        }
        let mut toks = toks;
        let mut decl = Vec::new();
        let mut assign = false;
        if top {
            let mut k = 0;
            let mut names = Vec::new();
            while let Some(Tok::Var(name, chain)) = toks.get(k) {
                if !chain.is_empty() {
                    break;
                }
                names.push(name.clone());
                match toks.get(k + 1) {
                    Some(Tok::Comma) => k += 2,
                    Some(Tok::Declare) | Some(Tok::Assign) => {
                        assign = toks.get(k + 1) == Some(&Tok::Assign);
                        toks = &toks[k + 2..];
                        decl = std::mem::take(&mut names);
                        break;
                    }
                    _ => break,
                }
            }
        }
        for name in &decl {
            if assign && !self.declared(name) {
                return Err(format!("{line}: undefined variable: {name}"));
            }
            if let Some(scope) = self.vars.last_mut() {
                scope.push(name.clone());
            }
        }
        let mut cmds = Vec::new();
        let mut cmd = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            match &toks[i] {
                Tok::Pipe => {
                    if cmd.is_empty() {
                        return Err(format!("{line}: missing command"));
                    }
                    cmds.push(std::mem::take(&mut cmd));
                }
                Tok::Open => {
                    let close = matching_close(toks, i)
                        .ok_or_else(|| format!("{line}: unclosed left paren"))?;
                    let inner = self.pipeline(&toks[i + 1..close], line, depth + 1, false)?;
                    let chain = match &toks[close] {
                        Tok::Close(c) => c.clone(),
                        _ => Vec::new(),
                    };
                    cmd.push(Arg::Sub(Box::new(inner), chain));
                    i = close;
                }
                Tok::Close(_) => return Err(format!("{line}: unexpected right paren")),
                other => cmd.push(self.operand(other, line)?),
            }
            i += 1;
        }
        if cmd.is_empty() {
            return Err(format!("{line}: missing value for command"));
        }
        cmds.push(cmd);
        Ok(Pipeline {
            decl,
            assign,
            cmds,
            line,
        })
    }

    fn operand(&self, tok: &Tok, line: usize) -> Result<Arg, String> {
        Ok(match tok {
            Tok::Ident(w) => match w.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                name if (self.known)(name) => Arg::Func(name.to_string()),
                name => return Err(format!("{line}: function {name:?} not defined")),
            },
            Tok::Field(chain) => Arg::Field(chain.clone()),
            Tok::Var(name, chain) => {
                if !self.declared(name) {
                    return Err(format!("{line}: undefined variable {name:?}"));
                }
                Arg::Var(name.clone(), chain.clone())
            }
            Tok::Str(s) => Arg::Str(s.clone()),
            Tok::Num(n) => number(n).ok_or_else(|| format!("{line}: bad number syntax: {n:?}"))?,
            other => return Err(format!("{line}: unexpected {other:?} in operand")),
        })
    }
}

fn matching_close(toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Open => depth += 1,
            Tok::Close(_) => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

fn number(n: &str) -> Option<Arg> {
    let clean = n.replace('_', "");
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let int = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(h, 16).ok()
    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(v) = int {
        return Some(Arg::Int(if neg { -v } else { v }));
    }
    let f: f64 = digits.parse().ok()?;
    f.is_finite()
        .then_some(Arg::Float(if neg { -f } else { f }))
}
