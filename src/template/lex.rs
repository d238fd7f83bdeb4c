//! Tokens of a template: text between actions, and the words, literals and symbols inside them.

use serde_json::Value;

use super::line_of;

/// A token's kind and value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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

/// A token and the byte offset where it starts.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
    /// Whitespace came right before this token: `$x .A` is two operands, `$x.A` one.
    pub(super) spaced: bool,
}

/// Splits `src` into tokens, ending with `Tok::Eof`.
pub(super) fn lex(src: &str) -> Result<Vec<Token>, String> {
    Lexer {
        src,
        pos: 0,
        toks: Vec::new(),
    }
    .run()
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

/// How Go names a token in its `unexpected ...` errors.
pub(super) fn describe(t: &Tok) -> String {
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
