//! `commit -c` and `import -c`: the Dockerfile instructions that change an image's config
//! (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME,
//! WORKDIR), parsed as docker's builder does and applied to docker's `Config` object.

mod words;

use serde_json::{json, Map, Value};

use super::{Error, Result};

const ALLOWED: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Check every change before anything is done, so a bad one fails the command at once.
pub fn validate(changes: &[String]) -> Result<()> {
    let mut scratch = json!({});
    apply(changes, &mut scratch)
}

/// Apply `changes` in order to `config` (docker's `Config` object: `Cmd`, `Env`, ...).
pub fn apply(changes: &[String], config: &mut Value) -> Result<()> {
    if !config.is_object() {
        *config = json!({});
    }
    let mut cmd_set = false;
    for change in changes {
        let line = change.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(w, r)| (w, r.trim()));
        let instruction = word.to_ascii_uppercase();
        if !ALLOWED.contains(&instruction.as_str()) {
            return Err(Error::Other(format!(
                "{word} is not a valid change command"
            )));
        }
        let fail = |e: String| Error::Other(format!("{instruction}: {e}"));
        apply_one(&instruction, rest, config, &mut cmd_set).map_err(fail)?;
    }
    Ok(())
}

fn apply_one(
    instruction: &str,
    rest: &str,
    config: &mut Value,
    cmd_set: &mut bool,
) -> Result<(), String> {
    let env = env_of(config);
    let one_arg = || -> Result<String, String> {
        let words = words::split(rest)?;
        match words.as_slice() {
            [w] => words::process(w, &env),
            [] => Err("requires exactly one argument".into()),
            _ => Err("requires exactly one argument".into()),
        }
    };
    match instruction {
        "CMD" => {
            config["Cmd"] = json!(command(rest, config)?);
            *cmd_set = true;
        }
        "ENTRYPOINT" => {
            config["Entrypoint"] = json!(command(rest, config)?);
            // As in a Dockerfile: a new entrypoint drops the inherited command.
            if !*cmd_set {
                config["Cmd"] = Value::Null;
            }
        }
        "ENV" => {
            let mut env = env;
            for (k, v) in pairs(rest, &env.clone(), "ENV")? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != k);
                env.push(format!("{k}={v}"));
                // Later pairs of the same line see the earlier ones, as docker expands them.
            }
            config["Env"] = json!(env);
        }
        "LABEL" => {
            let labels = pairs(rest, &env, "LABEL")?;
            insert_all(
                config,
                "Labels",
                labels.into_iter().map(|(k, v)| (k, json!(v))),
            );
        }
        "EXPOSE" => {
            let mut ports = Vec::new();
            for w in words::split(rest)? {
                ports.extend(expose(&words::process(&w, &env)?)?);
            }
            if ports.is_empty() {
                return Err("requires at least one argument".into());
            }
            insert_all(
                config,
                "ExposedPorts",
                ports.into_iter().map(|p| (p, json!({}))),
            );
        }
        "VOLUME" => {
            let list = match json_array(rest) {
                Some(list) => list,
                None => words::split(rest)?
                    .iter()
                    .map(|w| words::process(w, &env))
                    .collect::<Result<_, _>>()?,
            };
            if list.iter().any(|v| v.trim().is_empty()) || list.is_empty() {
                return Err("VOLUME specified can not be an empty string".into());
            }
            insert_all(config, "Volumes", list.into_iter().map(|v| (v, json!({}))));
        }
        "USER" => config["User"] = json!(one_arg()?),
        "STOPSIGNAL" => {
            let sig = one_arg()?;
            let name_ok = sig
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-');
            if sig.is_empty() || !name_ok {
                return Err(format!("invalid signal: {sig}"));
            }
            config["StopSignal"] = json!(sig);
        }
        "WORKDIR" => {
            let dir = one_arg()?;
            let base = config["WorkingDir"].as_str().unwrap_or("/").to_string();
            config["WorkingDir"] = json!(workdir(&base, &dir));
        }
        "ONBUILD" => {
            let inner = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match inner.as_str() {
                "" => return Err("requires at least one argument".into()),
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into())
                }
                "FROM" | "MAINTAINER" => {
                    return Err(format!("{inner} isn't allowed as an ONBUILD trigger"))
                }
                _ => {}
            }
            let list = config["OnBuild"].as_array().cloned().unwrap_or_default();
            let mut list = list;
            list.push(json!(rest));
            config["OnBuild"] = Value::Array(list);
        }
        "HEALTHCHECK" => config["Healthcheck"] = healthcheck(rest)?,
        _ => return Err("is not a valid change command".into()),
    }
    Ok(())
}

/// CMD and ENTRYPOINT: a JSON array of strings (exec form) or a command line run by the
/// image's shell (`/bin/sh -c` unless its config says otherwise).
fn command(rest: &str, config: &Value) -> Result<Vec<String>, String> {
    if let Some(list) = json_array(rest) {
        return Ok(list);
    }
    let mut shell: Vec<String> = config["Shell"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .filter(|s: &Vec<String>| !s.is_empty())
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    shell.push(rest.to_string());
    Ok(shell)
}

/// `["a", "b"]`: only an array of strings counts; anything else is the shell form.
fn json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(rest).ok()
}

/// `k=v k2="v 2"`, or the old one-pair form `k v w` (the value is the rest of the line).
fn pairs(rest: &str, env: &[String], what: &str) -> Result<Vec<(String, String)>, String> {
    let ws = words::split(rest)?;
    let Some(first) = ws.first() else {
        return Err(format!("{what} requires at least one argument"));
    };
    if !first.contains('=') {
        let value = rest[first.len()..].trim();
        if value.is_empty() {
            return Err(format!("{what} must have two arguments"));
        }
        return Ok(vec![(
            words::process(first, env)?,
            words::process(value, env)?,
        )]);
    }
    let mut env = env.to_vec();
    let mut out = Vec::new();
    for w in &ws {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "{what} names can not be blank or lack a value: {w:?}"
            ));
        };
        let key = words::process(k, &env)?;
        if key.is_empty() {
            return Err(format!("{what} names can not be blank"));
        }
        let value = words::process(v, &env)?;
        if what == "ENV" {
            env.push(format!("{key}={value}"));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// `80`, `80/udp`, `8000-8002/tcp` -> "80/tcp" ...
fn expose(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(format!("invalid proto: {proto}"));
    }
    let bad = || format!("invalid containerPort: {ports}");
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if hi < lo {
        return Err(bad());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// WORKDIR: relative to the current one, cleaned like Go's path.Clean.
fn workdir(base: &str, dir: &str) -> String {
    let joined = if dir.starts_with('/') {
        dir.to_string()
    } else {
        format!("{base}/{dir}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// HEALTHCHECK NONE | [--interval=D --timeout=D --start-period=D --start-interval=D
/// --retries=N] CMD command
fn healthcheck(rest: &str) -> Result<Value, String> {
    let mut hc = Map::new();
    let mut rest = rest.trim();
    if rest.eq_ignore_ascii_case("NONE") {
        hc.insert("Test".into(), json!(["NONE"]));
        return Ok(Value::Object(hc));
    }
    while let Some(flag) = rest.strip_prefix("--") {
        let (opt, after) = flag
            .split_once(char::is_whitespace)
            .map_or((flag, ""), |(o, a)| (o, a.trim_start()));
        let (name, value) = opt
            .split_once('=')
            .ok_or_else(|| format!("flag --{opt} needs a value"))?;
        let key = match name {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => "Retries",
            other => return Err(format!("unknown flag: --{other}")),
        };
        let v = if key == "Retries" {
            json!(value
                .parse::<i64>()
                .map_err(|_| format!("invalid --retries: {value}"))?)
        } else {
            let ns = crate::time::parse_duration(value)
                .filter(|d| *d >= 0)
                .ok_or_else(|| format!("invalid --{name}: {value}"))?;
            json!(i64::try_from(ns).map_err(|_| format!("invalid --{name}: {value}"))?)
        };
        hc.insert(key.into(), v);
        rest = after;
    }
    let (word, cmd) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(w, c)| (w, c.trim()));
    if !word.eq_ignore_ascii_case("CMD") || cmd.is_empty() {
        return Err("Unknown type: expected CMD or NONE".into());
    }
    let test = match json_array(cmd) {
        Some(list) => std::iter::once("CMD".to_string()).chain(list).collect(),
        None => vec!["CMD-SHELL".to_string(), cmd.to_string()],
    };
    hc.insert("Test".into(), json!(test));
    Ok(Value::Object(hc))
}

fn env_of(config: &Value) -> Vec<String> {
    config["Env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Add `items` to the object at `config[key]` (made when missing or null).
fn insert_all(config: &mut Value, key: &str, items: impl IntoIterator<Item = (String, Value)>) {
    let mut map = match config[key].take() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    map.extend(items);
    config[key] = Value::Object(map);
}

#[cfg(test)]
mod tests;
