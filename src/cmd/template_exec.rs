//! Evaluation of a parsed template: Go's printing rules, truth, variables and functions.

use serde_json::Value;

use super::{line_of, Cmd, Node, Operand, Pipe, Template, Term};

/// A value, or Go's "invalid" value (a missing map key), which prints as `<no value>`.
type V = Option<Value>;

enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'a> {
    src: &'a str,
    vars: Vec<(String, V)>,
    header: Option<&'a dyn Fn(&str) -> String>,
    out: String,
}

pub(super) fn run(
    t: &Template,
    data: &Value,
    header: Option<&dyn Fn(&str) -> String>,
) -> Result<String, String> {
    let mut s = State {
        src: &t.src,
        vars: vec![("$".into(), Some(data.clone()))],
        header,
        out: String::new(),
    };
    s.walk(data, &t.nodes)?;
    Ok(s.out)
}

/// Go's name for the type a JSON value would decode to, for error messages.
fn type_name(v: &V) -> &'static str {
    match v {
        None | Some(Value::Null) => "<nil>",
        Some(Value::Bool(_)) => "bool",
        Some(Value::Number(n)) if n.is_f64() => "float64",
        Some(Value::Number(_)) => "int",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "[]interface {}",
        Some(Value::Object(_)) => "map[string]interface {}",
    }
}

fn truth(v: &V) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

/// Go's `%g` with the shortest precision, which is what `%v` prints for a float64.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

/// Prints a value the way Go's fmt `%v` prints the interface{} it would decode to.
pub(super) fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_fmt).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_fmt(&m[*k])))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

fn fmt_arg(v: &V) -> String {
    v.as_ref().map_or_else(|| "<nil>".into(), go_fmt)
}

fn as_str(v: &V) -> Result<&str, String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        None => Err("invalid value; expected string".into()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            type_name(other)
        )),
    }
}

fn as_int(v: &V) -> Result<i64, String> {
    match v {
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap_or(0)),
        None => Err("invalid value; expected int".into()),
        other => Err(format!(
            "wrong type for value; expected int; got {}",
            type_name(other)
        )),
    }
}

impl State<'_> {
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
                    self.out.push_str(t);
                    Flow::Normal
                }
                Node::Print(p) => {
                    let v = self.pipe(dot, p, true)?;
                    if p.decl.is_empty() {
                        self.out
                            .push_str(&v.as_ref().map_or_else(|| "<no value>".into(), go_fmt));
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
        let items: Vec<(Value, Value)> = match v {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), v))
                .collect(),
            Some(Value::Object(m)) => {
                let mut items: Vec<(Value, Value)> =
                    m.into_iter().map(|(k, v)| (Value::String(k), v)).collect();
                items.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
                items
            }
            Some(Value::Number(n)) if n.is_i64() => (0..n.as_i64().unwrap_or(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            Some(other) => {
                let (pos, text) = p.cmds.first().map_or((0, ""), |c| (c.pos, c.text.as_str()));
                return Err(self.fail(
                    pos,
                    text,
                    &format!("range can't iterate over {}", go_fmt(&other)),
                ));
            }
        };
        if items.is_empty() {
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
        let want = match name {
            "not" | "len" | "json" | "title" | "lower" | "upper" => Some(1),
            "split" | "join" | "truncate" | "lt" | "le" | "gt" | "ge" | "ne" => Some(2),
            "pad" => Some(3),
            _ => None,
        };
        if let Some(want) = want.filter(|&w| w != argc) {
            return Err(fail(
                self,
                format!("wrong number of args for {name}: want {want} got {argc}"),
            ));
        }
        let min = match name {
            "index" | "printf" => 1,
            "eq" => 2,
            _ => 0,
        };
        if argc < min {
            return Err(fail(
                self,
                format!("wrong number of args for {name}: want at least {min} got {argc}"),
            ));
        }
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

/// Go's `index`: arrays by integer, maps by string, strings by byte.
fn index(item: &V, keys: &[V]) -> Result<V, String> {
    let mut cur = item.clone();
    for key in keys {
        cur = match (&cur, key) {
            (None | Some(Value::Null), _) => {
                return Err("error calling index: index of untyped nil".into())
            }
            (Some(Value::Array(a)), Some(Value::Number(n))) => {
                let i = n.as_i64().filter(|&i| i >= 0 && (i as usize) < a.len());
                let i = i.ok_or_else(|| format!("error calling index: index out of range: {n}"))?;
                Some(a[i as usize].clone())
            }
            (Some(Value::String(s)), Some(Value::Number(n))) => {
                let i = n.as_i64().filter(|&i| i >= 0 && (i as usize) < s.len());
                let i = i.ok_or_else(|| format!("error calling index: index out of range: {n}"))?;
                Some(Value::from(s.as_bytes()[i as usize]))
            }
            (Some(Value::Array(_) | Value::String(_)), k) => {
                return Err(format!(
                    "error calling index: cannot index slice/array with type {}",
                    type_name(k)
                ))
            }
            // A missing key gives the zero value, which prints as `<no value>`.
            (Some(Value::Object(m)), Some(Value::String(k))) => {
                Some(m.get(k).cloned().unwrap_or(Value::Null))
            }
            (Some(Value::Object(_)), k) => {
                return Err(format!(
                    "error calling index: value has type {}; should be string",
                    type_name(k)
                ))
            }
            (c, _) => {
                return Err(format!(
                    "error calling index: can't index item of type {}",
                    type_name(c)
                ))
            }
        };
    }
    Ok(cur)
}

fn compare(name: &str, a: &V, b: &V) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    let bad = || format!("error calling {name}: incompatible types for comparison");
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return Ok(x.cmp(&y));
            }
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x.partial_cmp(&y).ok_or_else(bad)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => Ok(x.cmp(y)),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) if matches!(name, "eq" | "ne") => Ok(x.cmp(y)),
        (None | Some(Value::Null), None | Some(Value::Null)) if matches!(name, "eq" | "ne") => {
            Ok(Ordering::Equal)
        }
        (Some(Value::Array(_) | Value::Object(_)), _)
        | (_, Some(Value::Array(_) | Value::Object(_))) => {
            Err(format!("error calling {name}: non-comparable type"))
        }
        _ if matches!(name, "eq" | "ne") => Err(bad()),
        _ => Err(format!("error calling {name}: invalid type for comparison")),
    }
}

/// Go's strings.Title: upper-case each letter that follows a separator.
fn title(s: &str) -> String {
    let mut prev_sep = true;
    s.chars()
        .map(|c| {
            let out = if prev_sep {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c
            };
            prev_sep = !(c.is_alphanumeric() || c == '_');
            out
        })
        .collect()
}

/// Go's fmt.Sprint: a space between operands when neither is a string.
fn sprint(args: &[V]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &V| matches!(v, Some(Value::String(_)));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&fmt_arg(a));
    }
    out
}

/// Go's fmt.Sprintf for the verbs people use in `--format`: %v %s %q %d %t %f %x %X %%.
fn sprintf(f: &str, args: &[V]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero, mut plus) = (false, false, false);
        while let Some(&fl) = chars.peek() {
            match fl {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let num = |chars: &mut std::iter::Peekable<std::str::Chars>| {
            let mut n = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        let width = num(&mut chars);
        let prec = if chars.peek() == Some(&'.') {
            chars.next();
            Some(num(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let bad = || format!("%!{verb}({}={})", type_name(arg), fmt_arg(arg));
        let num_sign = |s: String| {
            if plus && !s.starts_with('-') {
                format!("+{s}")
            } else {
                s
            }
        };
        let text = match (verb, arg) {
            ('v' | 's', _) => {
                let s = fmt_arg(arg);
                match prec {
                    Some(p) if verb == 's' => s.chars().take(p).collect(),
                    _ => s,
                }
            }
            ('q', Some(Value::String(s))) => serde_json::to_string(s).unwrap_or_default(),
            ('t', Some(Value::Bool(b))) => b.to_string(),
            ('d', Some(Value::Number(n))) if !n.is_f64() => num_sign(n.to_string()),
            ('f', Some(Value::Number(n))) => num_sign(format!(
                "{:.*}",
                prec.unwrap_or(6),
                n.as_f64().unwrap_or(0.0)
            )),
            ('x' | 'X', Some(Value::Number(n))) if n.is_i64() => {
                let i = n.as_i64().unwrap_or(0);
                let s = if i < 0 {
                    format!("-{:x}", i.unsigned_abs())
                } else {
                    format!("{i:x}")
                };
                if verb == 'X' {
                    s.to_uppercase()
                } else {
                    s
                }
            }
            ('x' | 'X', Some(Value::String(s))) => {
                let h: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                if verb == 'X' {
                    h.to_uppercase()
                } else {
                    h
                }
            }
            _ => bad(),
        };
        let pad = width.unwrap_or(0).saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else if zero && matches!(verb, 'd' | 'f' | 'x' | 'X') {
            let (sign, digits) = if text.starts_with(['-', '+']) {
                text.split_at(1)
            } else {
                ("", text.as_str())
            };
            out.push_str(&format!("{sign}{}{digits}", "0".repeat(pad)));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    let extra: Vec<String> = args
        .map(|a| format!("{}={}", type_name(a), fmt_arg(a)))
        .collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn call_func(name: &str, a: &[V]) -> Result<V, String> {
    let s = |v: String| Ok(Some(Value::String(v)));
    match name {
        "not" => Ok(Some(Value::Bool(!truth(&a[0])))),
        "len" => match &a[0] {
            Some(Value::String(x)) => Ok(Some(Value::from(x.len()))),
            Some(Value::Array(x)) => Ok(Some(Value::from(x.len()))),
            Some(Value::Object(x)) => Ok(Some(Value::from(x.len()))),
            None | Some(Value::Null) => Err("error calling len: len of nil pointer".into()),
            other => Err(format!(
                "error calling len: len of type {}",
                type_name(other)
            )),
        },
        "index" => index(&a[0], &a[1..]),
        "print" => s(sprint(a)),
        "println" => s(format!(
            "{}\n",
            a.iter().map(fmt_arg).collect::<Vec<_>>().join(" ")
        )),
        "printf" => s(sprintf(as_str(&a[0])?, &a[1..])),
        "eq" => {
            for b in &a[1..] {
                if compare(name, &a[0], b)?.is_eq() {
                    return Ok(Some(Value::Bool(true)));
                }
            }
            Ok(Some(Value::Bool(false)))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            let o = compare(name, &a[0], &a[1])?;
            let r = match name {
                "ne" => o.is_ne(),
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            };
            Ok(Some(Value::Bool(r)))
        }
        "json" => s(serde_json::to_string(a[0].as_ref().unwrap_or(&Value::Null))
            .map_err(|e| format!("error calling json: {e}"))?),
        "split" => {
            let (x, sep) = (as_str(&a[0])?, as_str(&a[1])?);
            let parts: Vec<Value> = if sep.is_empty() {
                x.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                x.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Ok(Some(Value::Array(parts)))
        }
        "join" => {
            let sep = as_str(&a[1])?;
            match &a[0] {
                Some(Value::Array(items)) => {
                    s(items.iter().map(go_fmt).collect::<Vec<_>>().join(sep))
                }
                other => Err(format!(
                    "wrong type for value; expected []string; got {}",
                    type_name(other)
                )),
            }
        }
        "title" => s(title(as_str(&a[0])?)),
        "lower" => s(as_str(&a[0])?.to_lowercase()),
        "upper" => s(as_str(&a[0])?.to_uppercase()),
        "pad" => {
            let x = as_str(&a[0])?;
            let (pre, post) = (
                as_int(&a[1])?.max(0) as usize,
                as_int(&a[2])?.max(0) as usize,
            );
            if x.is_empty() {
                return s(String::new());
            }
            s(format!("{}{x}{}", " ".repeat(pre), " ".repeat(post)))
        }
        "truncate" => {
            let (x, n) = (as_str(&a[0])?, as_int(&a[1])?.max(0) as usize);
            if x.len() < n {
                return s(x.to_string());
            }
            let mut end = n;
            while !x.is_char_boundary(end) {
                end -= 1;
            }
            s(x[..end].to_string())
        }
        _ => Err(format!("function \"{name}\" not defined")),
    }
}
