//! The instructions that change only the image config (ENV, LABEL, CMD, ENTRYPOINT, WORKDIR,
//! USER, EXPOSE, VOLUME, STOPSIGNAL, MAINTAINER, SHELL, HEALTHCHECK, ONBUILD), applied as
//! docker applies them; each returns the history line it leaves.

use serde_json::{json, Value};

use super::dockerfile::{expand::expand, Command, Healthcheck, Kind};
use super::state::{strings, State};

/// Substitute variables in `word` from the state (ENV, then ARG).
pub fn sub(state: &State, escape: char, word: &str) -> Result<String, String> {
    expand(word, escape, &|name| state.lookup(name))
}

/// Apply a config-only instruction; Ok(None) when `kind` is not one.
pub fn apply(state: &mut State, escape: char, kind: &Kind) -> Result<Option<String>, String> {
    let shown = match kind {
        Kind::Env(pairs) => {
            let mut shown = Vec::new();
            for (k, v) in pairs {
                let k = sub(state, escape, k)?;
                let v = sub(state, escape, v)?;
                if k.is_empty() {
                    return Err("ENV names can not be blank".into());
                }
                shown.push(format!("{k}={v}"));
                state.set_env(&k, &v);
            }
            format!("ENV {}", shown.join(" "))
        }
        Kind::Label(pairs) => {
            let mut labels = state
                .run_config()
                .get("Labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut shown = Vec::new();
            for (k, v) in pairs {
                let k = sub(state, escape, k)?;
                let v = sub(state, escape, v)?;
                if k.is_empty() {
                    return Err("LABEL names can not be blank".into());
                }
                shown.push(format!("{k}={v}"));
                labels.insert(k, json!(v));
            }
            state
                .run_config()
                .insert("Labels".into(), Value::Object(labels));
            format!("LABEL {}", shown.join(" "))
        }
        Kind::Cmd(c) => {
            let cmd = command(state, c);
            state.run_config().insert("Cmd".into(), json!(cmd));
            state.cmd_set = true;
            format!("CMD {}", json!(cmd))
        }
        Kind::Entrypoint(c) => {
            let ep = command(state, c);
            state.run_config().insert("Entrypoint".into(), json!(ep));
            // docker: an ENTRYPOINT resets a CMD the stage did not set itself.
            if !state.cmd_set {
                state.run_config().insert("Cmd".into(), Value::Null);
            }
            format!("ENTRYPOINT {}", json!(ep))
        }
        Kind::Workdir(w) => {
            let w = sub(state, escape, w)?;
            if w.is_empty() {
                return Err("WORKDIR requires exactly one argument".into());
            }
            let dir = join_workdir(&state.workdir(), &w);
            state.run_config().insert("WorkingDir".into(), json!(dir));
            format!("WORKDIR {dir}")
        }
        Kind::User(u) => {
            let u = sub(state, escape, u)?;
            state.run_config().insert("User".into(), json!(u));
            format!("USER {u}")
        }
        Kind::Expose(ports) => {
            let mut exposed = state
                .run_config()
                .get("ExposedPorts")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut shown = Vec::new();
            for p in ports {
                let p = sub(state, escape, p)?;
                let port = if p.contains('/') {
                    p.to_lowercase()
                } else {
                    format!("{p}/tcp")
                };
                let (num, proto) = port.split_once('/').unwrap_or((&port, "tcp"));
                let valid = num
                    .split('-')
                    .all(|n| n.parse::<u16>().is_ok_and(|n| n > 0))
                    && matches!(proto, "tcp" | "udp" | "sctp");
                if !valid {
                    return Err(format!("invalid containerPort: {p}"));
                }
                exposed.insert(port.clone(), json!({}));
                shown.push(port);
            }
            state
                .run_config()
                .insert("ExposedPorts".into(), Value::Object(exposed));
            format!("EXPOSE map[{}]", shown.join(" "))
        }
        Kind::Volume(vols) => {
            let mut volumes = state
                .run_config()
                .get("Volumes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for v in vols {
                let v = sub(state, escape, v)?;
                if v.trim().is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                volumes.insert(v, json!({}));
            }
            let shown: Vec<String> = volumes.keys().cloned().collect();
            state
                .run_config()
                .insert("Volumes".into(), Value::Object(volumes));
            format!("VOLUME {}", json!(shown))
        }
        Kind::StopSignal(s) => {
            let s = sub(state, escape, s)?;
            crate::container::parse_signal(&s).map_err(|e| e.to_string())?;
            state.run_config().insert("StopSignal".into(), json!(s));
            format!("STOPSIGNAL {s}")
        }
        Kind::Maintainer(m) => {
            state.config["author"] = json!(m);
            format!("MAINTAINER {m}")
        }
        Kind::Shell(sh) => {
            if sh.is_empty() {
                return Err("SHELL requires at least one argument".into());
            }
            state.run_config().insert("Shell".into(), json!(sh));
            format!("SHELL {}", json!(sh))
        }
        Kind::Healthcheck(h) => {
            let hc = healthcheck(state, h)?;
            let shown = format!("HEALTHCHECK {}", hc["Test"]);
            state.run_config().insert("Healthcheck".into(), hc);
            shown
        }
        Kind::Onbuild(trigger) => {
            let mut triggers = strings(&state.config["config"]["OnBuild"]);
            triggers.push(trigger.clone());
            state.run_config().insert("OnBuild".into(), json!(triggers));
            format!("ONBUILD {trigger}")
        }
        _ => return Ok(None),
    };
    Ok(Some(shown))
}

/// A CMD/ENTRYPOINT/RUN command as argv: exec form as is, shell form through SHELL.
pub fn command(state: &State, c: &Command) -> Vec<String> {
    match c {
        Command::Exec(v) => v.clone(),
        Command::Shell(s) => {
            let mut argv = state.shell();
            argv.push(s.clone());
            argv
        }
    }
}

/// WORKDIR chaining: a relative path is below the current one; the result is cleaned.
pub fn join_workdir(current: &str, w: &str) -> String {
    let joined = if w.starts_with('/') {
        w.to_string()
    } else {
        format!("{}/{w}", current.trim_end_matches('/'))
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

fn healthcheck(state: &State, h: &Healthcheck) -> Result<Value, String> {
    let Some(c) = &h.command else {
        return Ok(json!({"Test": ["NONE"]}));
    };
    let test = match c {
        Command::Exec(v) => {
            let mut t = vec!["CMD".to_string()];
            t.extend(v.iter().cloned());
            t
        }
        Command::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
    };
    let _ = state;
    let mut hc = json!({ "Test": test });
    for (k, v) in &h.flags {
        let field = match k.as_str() {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("HEALTHCHECK --retries={v}: not a number"))?;
                hc["Retries"] = json!(n);
                continue;
            }
            other => return Err(format!("unknown flag: --{other}")),
        };
        hc[field] = json!(duration_ns(v).ok_or_else(|| {
            format!("HEALTHCHECK --{k}={v}: not a duration (like 30s or 1m30s)")
        })?);
    }
    Ok(hc)
}

/// Go's `time.ParseDuration` (a bare number other than 0 is refused), in nanoseconds.
pub fn duration_ns(s: &str) -> Option<i64> {
    if s != "0" && s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    crate::time::parse_duration(s).and_then(|n| i64::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdirs_chain() {
        assert_eq!(join_workdir("/", "a"), "/a");
        assert_eq!(join_workdir("/a", "b/c"), "/a/b/c");
        assert_eq!(join_workdir("/a/b", "../d"), "/a/d");
        assert_eq!(join_workdir("/a", "/x/"), "/x");
    }

    #[test]
    fn durations_as_go() {
        assert_eq!(duration_ns("30s"), Some(30_000_000_000));
        assert_eq!(duration_ns("1m30s"), Some(90_000_000_000));
        assert_eq!(duration_ns("300ms"), Some(300_000_000));
        assert_eq!(duration_ns("1.5s"), Some(1_500_000_000));
        assert_eq!(duration_ns("10"), None);
        assert_eq!(duration_ns("x"), None);
    }

    #[test]
    fn entrypoint_resets_an_inherited_cmd() {
        let mut s = State::scratch("linux", "amd64", None);
        s.run_config().insert("Cmd".into(), json!(["sh"]));
        apply(
            &mut s,
            '\\',
            &Kind::Entrypoint(Command::Exec(vec!["/app".into()])),
        )
        .unwrap();
        assert!(s.config["config"]["Cmd"].is_null());
        apply(&mut s, '\\', &Kind::Cmd(Command::Shell("echo hi".into()))).unwrap();
        apply(
            &mut s,
            '\\',
            &Kind::Entrypoint(Command::Exec(vec!["/x".into()])),
        )
        .unwrap();
        assert_eq!(
            s.config["config"]["Cmd"],
            json!(["/bin/sh", "-c", "echo hi"])
        );
    }
}
