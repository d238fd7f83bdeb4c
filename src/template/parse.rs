//! The template's tree and the parser that builds it from tokens, with Go's parse errors.

use serde_json::Value;

use super::funcs::FUNCS;
use super::lex::{describe, lex, Tok, Token};
use super::line_of;

/// One piece of the tree: text, a printed pipeline, or a control action with its bodies.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Print(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

/// `[$a[, $b] :=|=] cmd | cmd ...`: declared or assigned variables and the commands.
#[derive(Debug, Clone)]
pub(super) struct Pipe {
    pub(super) decl: Vec<String>,
    pub(super) assign: bool,
    pub(super) cmds: Vec<Cmd>,
}

/// One stage of a pipeline: a function or value and its arguments; `text` is for errors.
#[derive(Debug, Clone)]
pub(super) struct Cmd {
    pub(super) pos: usize,
    pub(super) text: String,
    pub(super) args: Vec<Operand>,
}

/// One argument of a command, with any field chain read from it.
#[derive(Debug, Clone)]
pub(super) struct Operand {
    pub(super) pos: usize,
    pub(super) text: String,
    pub(super) term: Term,
    /// Fields read from the term's value: `(index .A 0).Name`, `$x.Name`.
    pub(super) fields: Vec<String>,
}

/// What an operand starts with.
#[derive(Debug, Clone)]
pub(super) enum Term {
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

/// Parses a whole template into its top-level nodes.
pub(super) fn parse(src: &str) -> Result<Vec<Node>, String> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        i: 0,
        vars: vec!["$".into()],
        range_depth: 0,
    };
    match p.list()? {
        (nodes, Stop::Eof) => Ok(nodes),
        (_, Stop::End) => Err(p.err(p.toks[p.i - 2].pos, "unexpected {{end}}")),
        (_, Stop::Else(pos)) => Err(p.err(pos, "unexpected {{else}}")),
    }
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
