//! The functions a template may call: Go's builtins and those docker's CLI adds.

use serde_json::Value;

use super::print::{fmt_arg, go_fmt, sprint, sprintf, type_name};
use super::V;

/// Functions a template may call: Go's builtins plus those docker's CLI adds.
pub(super) const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt",
    "ge", "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

/// Checks the argument count of a function with a fixed or minimum arity, as Go reports it.
pub(super) fn check_arity(name: &str, argc: usize) -> Result<(), String> {
    let want = match name {
        "not" | "len" | "json" | "title" | "lower" | "upper" => Some(1),
        "split" | "join" | "truncate" | "lt" | "le" | "gt" | "ge" | "ne" => Some(2),
        "pad" => Some(3),
        _ => None,
    };
    if let Some(want) = want.filter(|&w| w != argc) {
        return Err(format!(
            "wrong number of args for {name}: want {want} got {argc}"
        ));
    }
    let min = match name {
        "index" | "printf" => 1,
        "eq" => 2,
        _ => 0,
    };
    if argc < min {
        return Err(format!(
            "wrong number of args for {name}: want at least {min} got {argc}"
        ));
    }
    Ok(())
}

/// Go's truth: false, 0, nil, and an empty string, array or map are false.
pub(super) fn truth(v: &V) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
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

/// Go's `index`: arrays by integer, maps by string, strings by byte.
fn index(item: &V, keys: &[V]) -> Result<V, String> {
    let mut cur = item.clone();
    for key in keys {
        cur = match (&cur, key) {
            (None | Some(Value::Null), _) => {
                return Err("error calling index: index of untyped nil".into())
            }
            (Some(Value::Array(a)), Some(Value::Number(n))) => {
                let i = n.as_u64().and_then(|i| usize::try_from(i).ok());
                let item = i.and_then(|i| a.get(i));
                let item =
                    item.ok_or_else(|| format!("error calling index: index out of range: {n}"))?;
                Some(item.clone())
            }
            (Some(Value::String(s)), Some(Value::Number(n))) => {
                let i = n.as_u64().and_then(|i| usize::try_from(i).ok());
                let byte = i.and_then(|i| s.as_bytes().get(i));
                let byte =
                    byte.ok_or_else(|| format!("error calling index: index out of range: {n}"))?;
                Some(Value::from(*byte))
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

pub(super) fn call_func(name: &str, a: &[V]) -> Result<V, String> {
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
                usize::try_from(as_int(&a[1])?).unwrap_or(0),
                usize::try_from(as_int(&a[2])?).unwrap_or(0),
            );
            if x.is_empty() {
                return s(String::new());
            }
            s(format!("{}{x}{}", " ".repeat(pre), " ".repeat(post)))
        }
        "truncate" => {
            let (x, n) = (as_str(&a[0])?, usize::try_from(as_int(&a[1])?).unwrap_or(0));
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
