//! RUN: the command (shell form through SHELL, heredocs as docker runs them), its flags
//! (`--mount=type=cache|tmpfs|secret|bind`, `--network`), its cache key (the command, the ARGs
//! in scope, the mounts), and its layer: the step container's changes, mount points left out.

use sha2::{Digest, Sha256};

use super::dockerfile::{Command, Heredoc, Instruction, Kind};
use super::run::RunSpec;
use super::state::State;
use super::step::{key_of, Builder};
use super::{BuildError, Result};

/// Runs the script given as `$0` from a temporary file, removed afterwards.
const SCRIPT_RUNNER: &str = "f=$(mktemp \"${TMPDIR:-/tmp}/cove-heredoc.XXXXXX\") || exit 1; \
    printf '%s' \"$0\" > \"$f\" && chmod 700 \"$f\" && \"$f\"; r=$?; rm -f \"$f\"; exit $r";

/// The argv of a RUN: exec form as is; shell form through SHELL; a command that is only a
/// heredoc runs the heredoc's body as the script; other heredocs go to the shell with the
/// command, which feeds them as a shell does.
pub fn argv_of(state: &State, command: &Command, heredocs: &[Heredoc]) -> Vec<String> {
    let mut argv = state.shell();
    match command {
        Command::Exec(v) => return v.clone(),
        Command::Shell(s) if heredocs.is_empty() => argv.push(s.clone()),
        Command::Shell(s) => {
            let only = heredocs.len() == 1 && {
                let t = s.trim().trim_start_matches("<<").trim_start_matches('-');
                let t = t.trim_matches(|c| c == '"' || c == '\'');
                t == heredocs[0].name
            };
            if only && heredocs[0].content.starts_with("#!") {
                // A script with its own interpreter runs as a file, as BuildKit runs it.
                argv.push(SCRIPT_RUNNER.to_string());
                argv.push(heredocs[0].content.clone());
            } else if only {
                argv.push(heredocs[0].content.clone());
            } else {
                let mut text = s.clone();
                text.push('\n');
                for h in heredocs {
                    text.push_str(&h.content);
                    text.push_str(&h.name);
                    text.push('\n');
                }
                argv.push(text);
            }
        }
    }
    argv
}

/// The mounts and network of a RUN, and the text they add to its cache key.
struct Mounts {
    volumes: Vec<String>,
    tmpfs: Vec<String>,
    /// Mount points to leave out of the layer.
    skip: Vec<String>,
    network: String,
    text: String,
}

fn mounts(b: &Builder, state: &State, ins: &Instruction) -> Result<Mounts> {
    let Kind::Run { flags, .. } = &ins.kind else {
        return Err(BuildError::Engine("not a RUN".into()));
    };
    let bad = |m: String| BuildError::Input(format!("{}:{}: {m}", b.ctx.dockerfile_name, ins.line));
    let mut m = Mounts {
        volumes: Vec::new(),
        tmpfs: Vec::new(),
        skip: Vec::new(),
        network: b.req.network.clone(),
        text: String::new(),
    };
    for (k, v) in flags {
        match k.as_str() {
            "network" => match v.as_str() {
                "none" | "host" => {
                    m.network = v.clone();
                    m.text.push_str(&format!("--network={v} "));
                }
                "default" => {}
                other => return Err(bad(format!("unsupported network mode {other:?}"))),
            },
            "mount" => one_mount(b, state, v, &mut m).map_err(bad)?,
            other => return Err(bad(format!("unknown flag: --{other}"))),
        }
    }
    Ok(m)
}

fn one_mount(b: &Builder, state: &State, spec: &str, m: &mut Mounts) -> Result<(), String> {
    let mut kind = "bind".to_string();
    let mut target = None;
    let mut source = None;
    let mut id = None;
    let mut required = false;
    for part in spec.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, "true"));
        let v = super::config::sub(state, b.df.escape, v)?;
        match k {
            "type" => kind = v,
            "target" | "dst" | "destination" => target = Some(v),
            "source" | "src" => source = Some(v),
            "id" => id = Some(v),
            "required" => required = v == "true",
            "from" => return Err("RUN --mount with from= is not supported yet".into()),
            "sharing" | "mode" | "uid" | "gid" | "ro" | "readonly" | "rw" | "readwrite" => {}
            other => return Err(format!("unexpected key '{other}' in '{spec}'")),
        }
    }
    let need_target = |t: Option<String>| t.ok_or_else(|| format!("--mount {spec}: no target"));
    match kind.as_str() {
        "cache" => {
            let target = need_target(target)?;
            let name = id.unwrap_or_else(|| target.clone());
            let hex = format!("{:x}", Sha256::digest(name.as_bytes()));
            let dir = b.paths.root.join("build-cache").join(&hex[..32]);
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create the cache {}: {e}", dir.display()))?;
            m.volumes.push(format!("{}:{target}", dir.display()));
            m.skip.push(target.clone());
            m.text
                .push_str(&format!("--mount=type=cache,id={name},target={target} "));
        }
        "tmpfs" => {
            let target = need_target(target)?;
            m.tmpfs.push(target.clone());
            m.skip.push(target.clone());
            m.text
                .push_str(&format!("--mount=type=tmpfs,target={target} "));
        }
        "secret" => {
            let id = id
                .or_else(|| {
                    target
                        .as_ref()
                        .and_then(|t| t.rsplit('/').next().map(str::to_string))
                })
                .ok_or_else(|| format!("--mount {spec}: a secret needs an id"))?;
            let target = target.unwrap_or_else(|| format!("/run/secrets/{id}"));
            match b.req.secrets.get(&id) {
                Some(src) => {
                    m.volumes.push(format!("{}:{target}:ro", src.display()));
                    m.skip.push(target.clone());
                }
                None if required => {
                    return Err(format!(
                        "secret {id} not found (give it with --secret id={id},src=FILE)"
                    ))
                }
                None => {}
            }
            // The secret's content never enters the key: only that it was mounted.
            m.text
                .push_str(&format!("--mount=type=secret,id={id},target={target} "));
        }
        "bind" => {
            let target = need_target(target)?;
            let rel = super::context::clean(source.as_deref().unwrap_or("."))
                .map_err(|e| e.to_string())?;
            let host = b.ctx.root.join(&rel);
            if !host.exists() {
                return Err(format!("--mount {spec}: {rel} is not in the build context"));
            }
            m.volumes.push(format!("{}:{target}:ro", host.display()));
            m.skip.push(target.clone());
            let hash = b
                .ctx
                .hash(std::slice::from_ref(&rel))
                .map_err(|e| e.to_string())?;
            m.text.push_str(&format!(
                "--mount=type=bind,source={rel},target={target},content={hash} "
            ));
        }
        other => return Err(format!("unsupported mount type {other:?}")),
    }
    Ok(())
}

/// Why a RUN of a build for another architecture may not run here; empty otherwise.
fn foreign_hint(b: &Builder) -> String {
    let host = crate::registry::Platform::host();
    match b
        .req
        .platform
        .as_deref()
        .and_then(|p| crate::registry::Platform::parse(p).ok())
    {
        Some(p) if p.architecture != host.architecture => format!(
            " (the image is for {}/{}; this machine runs {}/{} programs only)",
            p.os, p.architecture, host.os, host.architecture
        ),
        _ => String::new(),
    }
}

/// The failed step's file system (its changes so far) as an image, and `cmd` run in it
/// through the step's shell with its environment, on the caller's terminal.
fn debug_failed(
    b: &Builder,
    state: &State,
    ctr: &super::run::StepContainer,
    spec: &RunSpec,
    cmd: &str,
    key: &str,
) -> Result<()> {
    let made = b.container_layer(state, &ctr.rec, &[])?;
    let mut failed = state.clone();
    failed.history(
        "(the failed step, for --debug-on-fail)",
        made.layer.is_none(),
    );
    b.finish(&mut failed, key_of(key, "debug-on-fail", ""), made)?;
    eprintln!("The step failed: running {cmd:?} in its file system (exit it to end the build)");
    let mut argv = state.shell();
    argv.push(cmd.to_string());
    let debug = RunSpec {
        argv,
        env: spec.env.clone(),
        network: spec.network.clone(),
        volumes: spec.volumes.clone(),
        tmpfs: spec.tmpfs.clone(),
    };
    super::run::debug(b.paths, &b.store, &failed, &debug, b.out)?;
    Ok(())
}

pub fn run(b: &Builder, state: &mut State, ins: &Instruction) -> Result<()> {
    let Kind::Run {
        command, heredocs, ..
    } = &ins.kind
    else {
        return Err(BuildError::Engine("not a RUN".into()));
    };
    let argv = argv_of(state, command, heredocs);
    let m = mounts(b, state, ins)?;
    let args = state.arg_env();
    let shown_args = if args.is_empty() {
        String::new()
    } else {
        format!("|{} {} ", args.len(), args.join(" "))
    };
    let created_by = format!("RUN {}{shown_args}{}", m.text, argv.join(" "));
    let key = key_of(
        &state.key,
        &created_by,
        &serde_json::json!(argv).to_string(),
    );
    if b.try_cache(state, &key)? {
        return Ok(());
    }
    let spec = RunSpec {
        argv: argv.clone(),
        env: args,
        network: m.network.clone(),
        volumes: m.volumes.clone(),
        tmpfs: m.tmpfs.clone(),
    };
    let hint = foreign_hint(b);
    let where_ = format!("{}:{}", b.ctx.dockerfile_name, ins.line);
    let (ctr, code) = b.step_run(state, &spec).map_err(|e| match e {
        BuildError::Engine(m) => {
            BuildError::StepFailed(format!("{where_}: {}: {m}{hint}", ins.original))
        }
        other => other,
    })?;
    if code != 0 {
        if let Some(cmd) = &b.req.debug_on_fail {
            debug_failed(b, state, &ctr, &spec, cmd, &key)?;
        }
        let hint = if code == 126 || code == 127 {
            hint
        } else {
            String::new()
        };
        return Err(BuildError::StepFailed(format!(
            "{where_}: the command '{}' returned a non-zero code: {code}{hint}",
            argv.join(" ")
        )));
    }
    let made = b.container_layer(state, &ctr.rec, &m.skip)?;
    state.history(&format!("{created_by} # buildkit"), made.layer.is_none());
    b.out.removed(&ctr.rec.id);
    drop(ctr);
    b.finish(state, key, made)?;
    Ok(())
}
