//! Evaluation of a parsed template: dot, variables, control flow, field chains and calls.

use std::io::Write;

use serde_json::Value;

use super::funcs::{call_func, check_arity, truth};
use super::parse::{Cmd, Node, Operand, Pipe, Term};
use super::print::{go_fmt, type_name};
use super::{line_of, Template, V};

/// How a list of nodes ended: normally, or at `{{break}}`/`{{continue}}`.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// One execution: the variables in scope, header mode, and the output not yet written.
struct State<'a> {
    src: &'a str,
    vars: Vec<(String, V)>,
    header: Option<&'a dyn Fn(&str) -> String>,
    out: String,
    sink: &'a mut dyn Write,
}

/// Output is passed on in pieces of about this size: a template that prints gigabytes
/// (`{{range 1000000000}}x{{end}}`) runs in constant memory.
const FLUSH_AT: usize = 64 * 1024;

/// Executes `t` with `data` as dot into `sink`, as Go's Execute does: what was produced
/// before an error has been written. `header` turns on table-header mode.
pub(super) fn run(
    t: &Template,
    data: &Value,
    header: Option<&dyn Fn(&str) -> String>,
    sink: &mut dyn Write,
) -> Result<(), String> {
    let mut s = State {
        src: &t.src,
        vars: vec![("$".into(), Some(data.clone()))],
        header,
        out: String::new(),
        sink,
    };
    let walked = s.walk(data, &t.nodes).map(|_| ());
    let flushed = s.flush();
    walked.and(flushed)
}

impl State<'_> {
    fn emit(&mut self, text: &str) -> Result<(), String> {
        self.out.push_str(text);
        if self.out.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        let written = self.sink.write_all(self.out.as_bytes());
        self.out.clear();
        written.map_err(|e| format!("template: writing the output: {e}"))
    }

    fn fail(&self, pos: usize, ctx: &str, msg: &str) -> String {
        let line_start = self.src[..pos.min(self.src.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let ctx: String = if ctx.chars().count() > 20 {
            format!("{}...", ctx.chars().take(20).collect::<String>())
        } else {
            ctx.into()
        };
        format!(
            "template: :{}:{}: executing \"\" at <{ctx}>: {msg}",
            line_of(self.src, pos),
            pos - line_start
        )
    }

    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> Result<Flow, String> {
        for node in nodes {
            let flow = match node {
                Node::Text(t) => {
                    self.emit(t)?;
                    Flow::Normal
                }
                Node::Print(p) => {
                    let v = self.pipe(dot, p, true)?;
                    if p.decl.is_empty() {
                        self.emit(&v.as_ref().map_or_else(|| "<no value>".into(), go_fmt))?;
                    }
                    Flow::Normal
                }
                Node::If(p, body, alt) | Node::With(p, body, alt) => {
                    let mark = self.vars.len();
                    let v = self.pipe(dot, p, true)?;
                    let flow = match (truth(&v), node) {
                        (true, Node::With(..)) => {
                            self.walk(v.as_ref().unwrap_or(&Value::Null), body)?
                        }
                        (true, _) => self.walk(dot, body)?,
                        (false, _) => self.walk(dot, alt)?,
                    };
                    self.vars.truncate(mark);
                    flow
                }
                Node::Range(p, body, alt) => self.range(dot, p, body, alt)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn range(
        &mut self,
        dot: &Value,
        p: &Pipe,
        body: &[Node],
        alt: &[Node],
    ) -> Result<Flow, String> {
        let mark = self.vars.len();
        let v = self.pipe(dot, p, false)?;
        // Lazily: `{{range N}}` counts, it does not build a list of N numbers first.
        let items: Box<dyn Iterator<Item = (Value, Value)>> = match v {
            None | Some(Value::Null) => Box::new(std::iter::empty()),
            Some(Value::Array(a)) => {
                Box::new(a.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)))
            }
            Some(Value::Object(m)) => {
                let mut items: Vec<(Value, Value)> =
                    m.into_iter().map(|(k, v)| (Value::String(k), v)).collect();
                items.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
                Box::new(items.into_iter())
            }
            Some(Value::Number(n)) if n.is_i64() => {
                Box::new((0..n.as_i64().unwrap_or(0)).map(|i| (Value::from(i), Value::from(i))))
            }
            Some(other) => {
                let (pos, text) = p.cmds.first().map_or((0, ""), |c| (c.pos, c.text.as_str()));
                return Err(self.fail(
                    pos,
                    text,
                    &format!("range can't iterate over {}", go_fmt(&other)),
                ));
            }
        };
        let mut items = items.peekable();
        if items.peek().is_none() {
            let flow = self.walk(dot, alt)?;
            self.vars.truncate(mark);
            return Ok(flow);
        }
        for (key, elem) in items {
            self.vars.truncate(mark);
            match p.decl.as_slice() {
                [v] => self.vars.push((v.clone(), Some(elem.clone()))),
                [k, v] => {
                    self.vars.push((k.clone(), Some(key)));
                    self.vars.push((v.clone(), Some(elem.clone())));
                }
                _ => {}
            }
            if let Flow::Break = self.walk(&elem, body)? {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    /// Evaluates a pipeline; `declare` is false for range, which binds its variables per item.
    fn pipe(&mut self, dot: &Value, p: &Pipe, declare: bool) -> Result<V, String> {
        let mut val: Option<V> = None;
        for cmd in &p.cmds {
            val = Some(self.command(dot, cmd, val)?);
        }
        // Go turns a nil interface{} result into an invalid value: `<no value>`.
        let v = val.flatten().filter(|v| !v.is_null());
        if declare {
            for name in &p.decl {
                if p.assign {
                    if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                        slot.1 = v.clone();
                    }
                } else {
                    self.vars.push((name.clone(), v.clone()));
                }
            }
        }
        Ok(v)
    }

    fn command(&mut self, dot: &Value, cmd: &Cmd, fin: Option<V>) -> Result<V, String> {
        let first = &cmd.args[0];
        let has_args = cmd.args.len() > 1 || fin.is_some();
        match &first.term {
            Term::Func(name) if first.fields.is_empty() => {
                self.call(dot, cmd, name, &cmd.args[1..], fin)
            }
            Term::Field | Term::Var(_) | Term::Sub(_) => {
                let base = self.term(dot, first)?;
                self.fields(first, base, has_args)
            }
            _ if has_args => Err(self.fail(
                cmd.pos,
                &cmd.text,
                &format!("can't give argument to non-function {}", first.text),
            )),
            Term::Nil => Err(self.fail(cmd.pos, &cmd.text, "nil is not a command")),
            _ => self.arg(dot, first),
        }
    }

    fn term(&mut self, dot: &Value, op: &Operand) -> Result<V, String> {
        Ok(match &op.term {
            Term::Dot | Term::Field => Some(dot.clone()),
            Term::Nil => Some(Value::Null),
            Term::Bool(b) => Some(Value::Bool(*b)),
            Term::Num(n) => Some(n.clone()),
            Term::Str(s) => Some(Value::String(s.clone())),
            Term::Var(name) => self
                .vars
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.clone()),
            Term::Func(name) => self.call(
                dot,
                &Cmd {
                    pos: op.pos,
                    text: op.text.clone(),
                    args: Vec::new(),
                },
                name,
                &[],
                None,
            )?,
            Term::Sub(p) => {
                let p = Pipe {
                    decl: Vec::new(),
                    assign: false,
                    cmds: p.cmds.clone(),
                };
                self.pipe(dot, &p, false)?
            }
        })
    }

    /// Reads `op`'s field chain from `base`, the way Go reads keys of a map[string]interface{}.
    fn fields(&self, op: &Operand, base: V, has_args: bool) -> Result<V, String> {
        let on_data = match &op.term {
            Term::Field => true,
            Term::Var(v) => v == "$",
            _ => false,
        };
        if let (Some(h), true) = (self.header, on_data) {
            return Ok(op.fields.last().map(|f| Value::String(h(f))));
        }
        let mut cur = base;
        for (i, name) in op.fields.iter().enumerate() {
            cur = match cur {
                None => return Ok(None),
                Some(Value::Object(mut m)) => {
                    if has_args && i + 1 == op.fields.len() {
                        return Err(self.fail(
                            op.pos,
                            &op.text,
                            &format!("{name} is not a method but has arguments"),
                        ));
                    }
                    m.remove(name)
                }
                Some(Value::Null) => {
                    return Err(self.fail(
                        op.pos,
                        &op.text,
                        &format!("nil pointer evaluating interface {{}}.{name}"),
                    ))
                }
                other => {
                    return Err(self.fail(
                        op.pos,
                        &op.text,
                        &format!("can't evaluate field {name} in type {}", type_name(&other)),
                    ))
                }
            };
        }
        Ok(cur)
    }

    fn arg(&mut self, dot: &Value, op: &Operand) -> Result<V, String> {
        let base = self.term(dot, op)?;
        if op.fields.is_empty() && !matches!(op.term, Term::Field) {
            return Ok(base);
        }
        self.fields(op, base, false)
    }

    fn call(
        &mut self,
        dot: &Value,
        cmd: &Cmd,
        name: &str,
        ops: &[Operand],
        fin: Option<V>,
    ) -> Result<V, String> {
        let fail = |s: &Self, msg: String| s.fail(cmd.pos, &cmd.text, &msg);
        let argc = ops.len() + usize::from(fin.is_some());
        // and/or stop at the first deciding operand, so `and .X (index .X 0)` is safe.
        if name == "and" || name == "or" {
            if argc == 0 {
                return Err(fail(
                    self,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = None;
            for op in ops {
                let v = self.arg(dot, op)?;
                if truth(&v) == (name == "or") {
                    return Ok(v);
                }
                last = v;
            }
            return Ok(fin.unwrap_or(last));
        }
        let mut args = Vec::with_capacity(argc);
        for op in ops {
            args.push(self.arg(dot, op)?);
        }
        args.extend(fin);
        check_arity(name, argc).map_err(|e| fail(self, e))?;
        if self.header.is_some()
            && matches!(
                name,
                "json" | "split" | "join" | "title" | "lower" | "upper" | "truncate" | "index"
            )
        {
            return Ok(args.swap_remove(0));
        }
        call_func(name, &args).map_err(|e| fail(self, e))
    }
}
