//! A stage while it builds: the image so far (layers, config, the step's cache key) and the
//! ARG values in scope, with the lookups variable substitution and RUN need.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::image::local::NewLayer;

#[derive(Clone, Debug)]
pub struct State {
    /// The stored image of the last step; None for `scratch` before its first step.
    pub image: Option<String>,
    pub layers: Vec<NewLayer>,
    /// The whole image config (`architecture`, `config`, `history`, `rootfs`, ...).
    pub config: Value,
    /// The cache key of the last step.
    pub key: String,
    /// ARGs declared in this stage, with their values (None: declared, no value).
    pub args: BTreeMap<String, Option<String>>,
    /// A CMD instruction ran in this stage (an ENTRYPOINT after it keeps it).
    pub cmd_set: bool,
}

pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

impl State {
    /// An empty image for `scratch`, for this platform.
    pub fn scratch(os: &str, arch: &str, variant: Option<&str>) -> State {
        let mut config = json!({
            "architecture": arch,
            "os": os,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [],
        });
        if let Some(v) = variant {
            config["variant"] = json!(v);
        }
        State {
            image: None,
            layers: Vec::new(),
            config,
            key: "scratch".into(),
            args: BTreeMap::new(),
            cmd_set: false,
        }
    }

    /// The container config part (`config` of the image config), made an object if needed.
    pub fn run_config(&mut self) -> &mut Map<String, Value> {
        let v = &mut self.config["config"];
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        match v {
            Value::Object(m) => m,
            _ => unreachable!("made an object just above"),
        }
    }

    fn get(&self, field: &str) -> &Value {
        &self.config["config"][field]
    }

    pub fn env(&self) -> Vec<String> {
        strings(self.get("Env"))
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        let mut env = self.env();
        let prefix = format!("{key}=");
        env.retain(|e| !e.starts_with(&prefix) && e != key);
        env.push(format!("{key}={value}"));
        self.run_config().insert("Env".into(), json!(env));
    }

    /// A variable as substitution sees it: ENV wins over ARG.
    pub fn lookup(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        if let Some(v) = self.env().iter().find_map(|e| e.strip_prefix(&prefix)) {
            return Some(v.to_string());
        }
        self.args.get(name).cloned().flatten()
    }

    /// ARGs with values, as RUN's environment gets them (ENV of the same name wins).
    pub fn arg_env(&self) -> Vec<String> {
        let env = self.env();
        self.args
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
            .filter(|(k, _)| !env.iter().any(|e| e.starts_with(&format!("{k}="))))
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    pub fn shell(&self) -> Vec<String> {
        let s = strings(self.get("Shell"));
        if s.is_empty() {
            DEFAULT_SHELL.iter().map(|s| s.to_string()).collect()
        } else {
            s
        }
    }

    pub fn workdir(&self) -> String {
        self.get("WorkingDir")
            .as_str()
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_string()
    }

    pub fn user(&self) -> String {
        self.get("User").as_str().unwrap_or_default().to_string()
    }

    /// Append a history entry (BuildKit's form: the instruction as `created_by`).
    pub fn history(&mut self, created_by: &str, empty_layer: bool) {
        let mut entry = json!({
            "created": crate::time::now_rfc3339(),
            "created_by": created_by,
            "comment": "buildkit.dockerfile.v0",
        });
        if empty_layer {
            entry["empty_layer"] = json!(true);
        }
        match self.config["history"].as_array_mut() {
            Some(h) => h.push(entry),
            None => self.config["history"] = json!([entry]),
        }
    }

    /// The config with `rootfs` naming the layers, nulls dropped, the creation time now.
    pub fn finished_config(&self) -> Value {
        let mut c = self.config.clone();
        c["rootfs"] = json!({
            "type": "layers",
            "diff_ids": self.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
        });
        c["created"] = json!(crate::time::now_rfc3339());
        if let Some(m) = c["config"].as_object_mut() {
            m.retain(|_, v| !v.is_null());
        }
        if let Some(m) = c.as_object_mut() {
            m.remove("container");
            m.remove("container_config");
        }
        c
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_args() {
        let mut s = State::scratch("linux", "amd64", None);
        s.args.insert("A".into(), Some("arg".into()));
        s.args.insert("B".into(), Some("b".into()));
        s.args.insert("C".into(), None);
        assert_eq!(s.lookup("A").as_deref(), Some("arg"));
        s.set_env("A", "env");
        s.set_env("A", "env2");
        assert_eq!(s.env(), ["A=env2"]);
        assert_eq!(s.lookup("A").as_deref(), Some("env2"));
        assert_eq!(s.lookup("C"), None);
        assert_eq!(s.arg_env(), ["B=b"]);
        assert_eq!(s.shell(), ["/bin/sh", "-c"]);
        assert_eq!(s.workdir(), "/");
    }
}
