//! A subset of Go's text/template for `--format`, run over JSON values with docker's functions.
//!
//! Lexing and parsing live here; evaluation is in `template_exec.rs`, included below, so that
//! each half stays readable. Error texts copy Go's so scripts that match on them keep working.

use serde_json::Value;

#[path = "template_exec.rs"]
mod exec;

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;

/// Functions a template may call: Go's builtins plus those docker's CLI adds.
const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge", "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

/// A parsed `--format` template.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Print(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    pos: usize,
    text: String,
    args: Vec<Operand>,
}

#[derive(Debug, Clone)]
struct Operand {
    pos: usize,
    text: String,
    term: Term,
    /// Fields read from the term's value: `(index .A 0).Name`, `$x.Name`.
    fields: Vec<String>,
}

#[derive(Debug, Clone)]
enum Term {
    Dot,
    Nil,
    Bool(bool),
    Num(Value),
    Str(String),
    /// `.A.B`: fields of dot, kept in `Operand::fields`.
    Field,
    Var(String),
    Func(String),
    Sub(Box<Pipe>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Text(String),
    Left,
    Right,
    Field(String),
    Dot,
    Var(String),
    Ident(String),
    Str(String),
    Num(Value),
    Pipe,
    LParen,
    RParen,
    Comma,
    Decl,
    Assign,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
    /// Whitespace came right before this token: `$x .A` is two operands, `$x.A` one.
    spaced: bool,
}

fn line_of(src: &str, pos: usize) -> usize {
    1 + src[..pos.min(src.len())].matches('\n').count()
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// docker turns `\t` and `\n` typed on a command line into real ones before parsing.
fn unescape_text(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    toks: Vec<Token>,
}

impl<'a> Lexer<'a> {
    fn err(&self, pos: usize, msg: &str) -> String {
        format!("template: :{}: {msg}", line_of(self.src, pos))
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn push(&mut self, tok: Tok, pos: usize, spaced: bool) {
        self.toks.push(Token { tok, pos, spaced });
    }

    fn run(mut self) -> Result<Vec<Token>, String> {
        let mut trim_next = false;
        while self.pos < self.src.len() {
            let start = self.pos;
            let end = self.rest().find("{{").map_or(self.src.len(), |i| start + i);
            let mut text = unescape_text(&self.src[start..end]);
            if trim_next {
                text = text.trim_start_matches(is_space).to_string();
            }
            self.pos = end;
            let trim_left = self.src[end..].starts_with("{{- ")
                || self.src[end..].starts_with("{{-\t")
                || self.src[end..].starts_with("{{-\n")
                || self.src[end..].starts_with("{{-\r");
            if trim_left {
                text = text.trim_end_matches(is_space).to_string();
            }
            if !text.is_empty() {
                self.push(Tok::Text(text), start, false);
            }
            if end == self.src.len() {
                break;
            }
            self.pos = end + if trim_left { 4 } else { 2 };
            trim_next = self.action(end)?;
        }
        let end = self.src.len();
        self.push(Tok::Eof, end, false);
        Ok(self.toks)
    }

    /// Lexes one action after its `{{`; returns whether it ended with a trim marker.
    fn action(&mut self, open: usize) -> Result<bool, String> {
        if self.rest().starts_with("/*") {
            let close = self
                .rest()
                .find("*/")
                .ok_or_else(|| self.err(open, "unclosed comment"))?;
            self.pos += close + 2;
            let trim = self.rest().starts_with(" -}}");
            if trim {
                self.pos += 4;
            } else if self.rest().starts_with("}}") {
                self.pos += 2;
            } else {
                return Err(self.err(open, "comment ends before closing delimiter"));
            }
            return Ok(trim);
        }
        self.push(Tok::Left, open, false);
        let mut spaced = false;
        loop {
            let rest = self.rest();
            let pos = self.pos;
            let Some(c) = rest.chars().next() else {
                return Err(self.err(open, "unclosed action"));
            };
            if is_space(c) {
                let n = rest.len() - rest.trim_start_matches(is_space).len();
                if rest[n..].starts_with("-}}") {
                    self.push(Tok::Right, pos, true);
                    self.pos += n + 3;
                    return Ok(true);
                }
                self.pos += n;
                spaced = true;
                continue;
            }
            if rest.starts_with("}}") {
                self.push(Tok::Right, pos, spaced);
                self.pos += 2;
                return Ok(false);
            }
            let (tok, len) = self.token(rest, pos)?;
            self.push(tok, pos, spaced);
            self.pos += len;
            spaced = false;
        }
    }

    fn token(&self, rest: &str, pos: usize) -> Result<(Tok, usize), String> {
        let bytes = rest.as_bytes();
        let next = rest.chars().nth(1);
        let word = |from: usize| {
            from + rest[from..]
                .find(|c: char| !is_alnum(c))
                .unwrap_or(rest.len() - from)
        };
        Ok(match bytes[0] {
            b'|' => (Tok::Pipe, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b'=' => (Tok::Assign, 1),
            b':' if next == Some('=') => (Tok::Decl, 2),
            b'"' => self.quoted(rest, pos)?,
            b'`' => match rest[1..].find('`') {
                Some(i) => (Tok::Str(rest[1..1 + i].to_string()), i + 2),
                None => return Err(self.err(pos, "unterminated raw quoted string")),
            },
            b'$' => {
                let n = word(1);
                (Tok::Var(rest[..n].to_string()), n)
            }
            b'.' if next.is_some_and(|c| c.is_ascii_digit()) => number(rest),
            b'.' if next.is_some_and(is_alnum) => {
                let n = word(1);
                (Tok::Field(rest[1..n].to_string()), n)
            }
            b'.' => (Tok::Dot, 1),
            b'0'..=b'9' => number(rest),
            b'-' | b'+' if next.is_some_and(|c| c.is_ascii_digit() || c == '.') => number(rest),
            b'\'' => {
                let mut it = rest[1..].char_indices();
                match (it.next(), it.next()) {
                    (Some((_, c)), Some((i, '\''))) if c != '\\' => {
                        (Tok::Num(Value::from(c as u32)), i + 2)
                    }
                    _ => return Err(self.err(pos, "unterminated character constant")),
                }
            }
            _ => {
                let c = rest.chars().next().unwrap_or(' ');
                if !is_alnum(c) {
                    let msg = format!("unrecognized character in action: U+{:04X} '{c}'", c as u32);
                    return Err(self.err(pos, &msg));
                }
                let n = word(0);
                let tok = match &rest[..n] {
                    "true" => Tok::Num(Value::Bool(true)),
                    "false" => Tok::Num(Value::Bool(false)),
                    w => Tok::Ident(w.to_string()),
                };
                (tok, n)
            }
        })
    }

    fn quoted(&self, rest: &str, pos: usize) -> Result<(Tok, usize), String> {
        let unterminated = || self.err(pos, "unterminated quoted string");
        let mut out = String::new();
        let mut it = rest.char_indices().skip(1);
        while let Some((i, c)) = it.next() {
            match c {
                '"' => return Ok((Tok::Str(out), i + 1)),
                // Go refuses a raw newline here, but callers may have already turned a typed
                // `\n` into one, as docker does for the whole format string.
                '\\' => {
                    let (_, e) = it.next().ok_or_else(unterminated)?;
                    let hex = |n: usize, it: &mut dyn Iterator<Item = (usize, char)>| {
                        let digits: String = it.take(n).map(|(_, c)| c).collect();
                        u32::from_str_radix(&digits, 16)
                            .ok()
                            .and_then(char::from_u32)
                    };
                    let ch = match e {
                        'n' => Some('\n'),
                        't' => Some('\t'),
                        'r' => Some('\r'),
                        '0' => Some('\0'),
                        'a' => Some('\x07'),
                        'b' => Some('\x08'),
                        'f' => Some('\x0c'),
                        'v' => Some('\x0b'),
                        '\\' | '"' | '\'' => Some(e),
                        'x' => hex(2, &mut it),
                        'u' => hex(4, &mut it),
                        'U' => hex(8, &mut it),
                        _ => None,
                    };
                    out.push(ch.ok_or_else(|| self.err(pos, "invalid syntax in quoted string"))?);
                }
                c => out.push(c),
            }
        }
        Err(unterminated())
    }
}

fn number(rest: &str) -> (Tok, usize) {
    let n = rest
        .char_indices()
        .find(|&(i, c)| {
            let prev = rest[..i].chars().last();
            let sign_ok = matches!(c, '+' | '-') && (i == 0 || matches!(prev, Some('e' | 'E')));
            !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || sign_ok)
        })
        .map_or(rest.len(), |(i, _)| i);
    let text = rest[..n].replace('_', "");
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.trim_start_matches('+')),
    };
    let int = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(h, 16).ok()
    } else {
        digits.parse::<i64>().ok()
    };
    let value = match (int, text.parse::<f64>()) {
        (Some(i), _) => Value::from(if neg { -i } else { i }),
        (None, Ok(f)) => Value::from(f),
        // Not a number: keep the text so the parser can report it.
        _ => Value::String(text.clone()),
    };
    (Tok::Num(value), n)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
}

/// What ended a list of nodes.
enum Stop {
    Eof,
    End,
    Else(usize),
}

impl Parser<'_> {
    fn err(&self, pos: usize, msg: &str) -> String {
        format!("template: :{}: {msg}", line_of(self.src, pos))
    }

    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn expect_right(&mut self, ctx: &str) -> Result<(), String> {
        let t = self.next();
        if t.tok == Tok::Right {
            return Ok(());
        }
        Err(self.err(t.pos, &format!("unexpected {} in {ctx}", describe(&t.tok))))
    }

    fn list(&mut self) -> Result<(Vec<Node>, Stop), String> {
        let mut nodes = Vec::new();
        loop {
            let t = self.next();
            match t.tok {
                Tok::Eof => return Ok((nodes, Stop::Eof)),
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::Left => match self.peek().tok.clone() {
                    Tok::Ident(w) if is_keyword(&w) => {
                        let kw = self.next();
                        match w.as_str() {
                            "end" => {
                                self.expect_right("end")?;
                                return Ok((nodes, Stop::End));
                            }
                            "else" => return Ok((nodes, Stop::Else(kw.pos))),
                            "break" | "continue" => {
                                if self.range_depth == 0 {
                                    return Err(self.err(
                                        kw.pos,
                                        &format!("{{{{{w}}}}} outside {{{{range}}}}"),
                                    ));
                                }
                                self.expect_right(&w)?;
                                nodes.push(if w == "break" {
                                    Node::Break
                                } else {
                                    Node::Continue
                                });
                            }
                            "if" | "with" | "range" => nodes.push(self.control(&w, kw.pos)?),
                            _ => {
                                return Err(
                                    self.err(kw.pos, &format!("{{{{{w}}}}} is not supported"))
                                )
                            }
                        }
                    }
                    _ => {
                        let pipe = self.pipeline("command", Tok::Right)?;
                        nodes.push(Node::Print(pipe));
                    }
                },
                other => return Err(self.err(t.pos, &format!("unexpected {}", describe(&other)))),
            }
        }
    }

    /// Parses `if`/`with`/`range` after its keyword, through its `{{end}}`.
    fn control(&mut self, kw: &str, pos: usize) -> Result<Node, String> {
        let mark = self.vars.len();
        let pipe = self.pipeline(kw, Tok::Right)?;
        if pipe.cmds.is_empty() {
            return Err(self.err(pos, &format!("missing value for {kw}")));
        }
        let max_decl = if kw == "range" { 2 } else { 1 };
        if pipe.decl.len() > max_decl {
            return Err(self.err(pos, &format!("too many declarations in {kw}")));
        }
        if kw == "range" {
            self.range_depth += 1;
        }
        let body = self.list();
        if kw == "range" {
            self.range_depth -= 1;
        }
        let (body, end) = body?;
        let alt = match end {
            Stop::Eof => return Err(self.err(self.src.len(), "unexpected EOF")),
            Stop::End => Vec::new(),
            Stop::Else(epos) => match self.peek().tok.clone() {
                // `{{else if ...}}` opens a nested control whose `{{end}}` closes both.
                Tok::Ident(w) if w == "if" || (w == "with" && kw == "with") => {
                    let inner = self.next();
                    vec![self.control(&w, inner.pos)?]
                }
                _ => {
                    self.expect_right("else")?;
                    match self.list()? {
                        (nodes, Stop::End) => nodes,
                        (_, Stop::Else(p)) => {
                            return Err(self.err(p, "expected end; found {{else}}"))
                        }
                        (_, Stop::Eof) => {
                            return Err(self.err(epos.max(self.src.len()), "unexpected EOF"))
                        }
                    }
                }
            },
        };
        self.vars.truncate(mark);
        Ok(match kw {
            "if" => Node::If(pipe, body, alt),
            "with" => Node::With(pipe, body, alt),
            _ => Node::Range(pipe, body, alt),
        })
    }

    /// Parses `[$a[, $b] :=] cmd | cmd ...` up to `close` (a right delimiter or parenthesis).
    fn pipeline(&mut self, ctx: &str, close: Tok) -> Result<Pipe, String> {
        let mut decl = Vec::new();
        let mut assign = false;
        let start = self.i;
        while let Tok::Var(name) = self.peek().tok.clone() {
            self.i += 1;
            match self.next().tok {
                Tok::Decl | Tok::Assign if decl.len() < 2 => {
                    assign = self.toks[self.i - 1].tok == Tok::Assign;
                    decl.push(name);
                    break;
                }
                Tok::Comma if ctx == "range" && decl.is_empty() => decl.push(name),
                _ => {
                    // Not a declaration after all: `{{$x}}`, `{{$x | json}}`.
                    self.i = start;
                    decl.clear();
                    break;
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            let t = self.peek().clone();
            if t.tok == close {
                self.i += 1;
                break;
            }
            let cmd = self.command(&close)?;
            if !cmds.is_empty()
                && matches!(
                    cmd.args[0].term,
                    Term::Dot | Term::Nil | Term::Bool(_) | Term::Num(_) | Term::Str(_)
                )
            {
                return Err(self.err(
                    cmd.pos,
                    &format!(
                        "non executable command in pipeline stage {}",
                        cmds.len() + 1
                    ),
                ));
            }
            cmds.push(cmd);
            if self.peek().tok == Tok::Pipe {
                self.i += 1;
            }
        }
        if cmds.is_empty() && (ctx == "command" || !decl.is_empty()) {
            return Err(self.err(self.peek().pos, "missing value for command"));
        }
        if assign {
            if let Some(v) = decl.iter().find(|v| !self.vars.contains(v)) {
                return Err(self.err(self.peek().pos, &format!("undefined variable \"{v}\"")));
            }
        } else {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipe { decl, assign, cmds })
    }

    fn command(&mut self, close: &Tok) -> Result<Cmd, String> {
        let pos = self.peek().pos;
        let mut args = Vec::new();
        loop {
            let t = self.peek().clone();
            if t.tok == *close || t.tok == Tok::Pipe {
                break;
            }
            if !args.is_empty() && !t.spaced && t.tok != Tok::LParen {
                return Err(self.err(
                    t.pos,
                    &format!("unexpected {} in operand", describe(&t.tok)),
                ));
            }
            args.push(self.operand()?);
        }
        let end = self.peek().pos;
        if args.is_empty() {
            return Err(self.err(pos, "missing value for command"));
        }
        Ok(Cmd {
            pos,
            text: self.src[pos..end].trim().to_string(),
            args,
        })
    }

    fn operand(&mut self) -> Result<Operand, String> {
        let t = self.next();
        let mut fields = Vec::new();
        let term = match t.tok {
            Tok::Dot => Term::Dot,
            Tok::Num(Value::Bool(b)) => Term::Bool(b),
            Tok::Num(Value::String(s)) => {
                return Err(self.err(t.pos, &format!("bad number syntax: \"{s}\"")))
            }
            Tok::Num(n) => Term::Num(n),
            Tok::Str(s) => Term::Str(s),
            Tok::Field(f) => {
                fields.push(f);
                Term::Field
            }
            Tok::Var(v) => {
                if v != "$" && !self.vars.contains(&v) {
                    return Err(self.err(t.pos, &format!("undefined variable \"{v}\"")));
                }
                Term::Var(v)
            }
            Tok::Ident(w) if w == "nil" => Term::Nil,
            Tok::Ident(w) => {
                if !FUNCS.contains(&w.as_str()) {
                    return Err(self.err(t.pos, &format!("function \"{w}\" not defined")));
                }
                Term::Func(w)
            }
            Tok::LParen => {
                let pipe = self.pipeline("parenthesized pipeline", Tok::RParen)?;
                if pipe.cmds.is_empty() {
                    return Err(self.err(t.pos, "missing value for parenthesized pipeline"));
                }
                Term::Sub(Box::new(pipe))
            }
            Tok::Eof | Tok::Text(_) => return Err(self.err(t.pos, "unclosed left paren")),
            other => {
                return Err(self.err(
                    t.pos,
                    &format!("unexpected {} in operand", describe(&other)),
                ))
            }
        };
        // Go reports a field chain at its second link, so errors point at the same column.
        let mut pos = t.pos;
        while let Tok::Field(f) = &self.peek().tok {
            if self.peek().spaced
                || matches!(
                    term,
                    Term::Func(_) | Term::Num(_) | Term::Str(_) | Term::Bool(_) | Term::Nil
                )
            {
                break;
            }
            if fields.len() == 1 && matches!(term, Term::Field) {
                pos = self.peek().pos;
            }
            fields.push(f.clone());
            self.i += 1;
        }
        let end = self.peek().pos;
        Ok(Operand {
            pos,
            text: self.src[t.pos..end].trim().to_string(),
            term,
            fields,
        })
    }
}

fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "if" | "else"
            | "end"
            | "range"
            | "with"
            | "break"
            | "continue"
            | "define"
            | "template"
            | "block"
    )
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Right => "\"}}\"".into(),
        Tok::RParen => "right paren".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Decl => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Eof => "EOF".into(),
        Tok::Left => "\"{{\"".into(),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Var(v) | Tok::Ident(v) => format!("<{v}>"),
        Tok::Dot => "<.>".into(),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Num(n) => format!("<{n}>"),
        Tok::Text(_) => "text".into(),
    }
}

impl Template {
    /// Parses a Go template; errors read like Go's: `template: :1: function "foo" not defined`.
    pub fn parse(src: &str) -> Result<Template, String> {
        let toks = Lexer {
            src,
            pos: 0,
            toks: Vec::new(),
        }
        .run()?;
        let mut p = Parser {
            src,
            toks,
            i: 0,
            vars: vec!["$".into()],
            range_depth: 0,
        };
        match p.list()? {
            (nodes, Stop::Eof) => Ok(Template {
                src: src.to_string(),
                nodes,
            }),
            (_, Stop::End) => Err(p.err(p.toks[p.i - 2].pos, "unexpected {{end}}")),
            (_, Stop::Else(pos)) => Err(p.err(pos, "unexpected {{else}}")),
        }
    }

    /// Evaluates the template with `data` as dot.
    pub fn render(&self, data: &Value) -> Result<String, String> {
        exec::run(self, data, None)
    }

    /// Renders a table header: every field reads as `headers(name)`, and the functions that
    /// would change a value (json, upper, join...) pass it through, as docker does.
    pub fn render_header(&self, headers: &dyn Fn(&str) -> String) -> Result<String, String> {
        exec::run(self, &Value::Object(Default::default()), Some(headers))
    }
}
