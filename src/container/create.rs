//! `create`: merge the image's defaults with the run flags into a record, check every flag
//! before anything is written, and store the record with its userdata files.

use std::collections::BTreeMap;

use super::mounts::{parse_device, parse_mount, parse_tmpfs, parse_volume};
use super::stdio::{self, Attach, Launch};
use super::{
    create_userdata, parse_extra_host, parse_log_opt, ContainerConfig, ContainerRecord,
    ContainerStore, Error, HostConfig, RestartPolicy, Result, State, Status, Ulimit,
};
use crate::image::config::ImageConfig;
use crate::image::ImageRecord;
use crate::sandbox::{caps, seccomp};
use crate::time;

/// What the user asked for, already split into plain values by the CLI.
#[derive(Default, Debug)]
pub struct CreateRequest {
    /// The image as typed (ps's IMAGE column).
    pub image_name: String,
    pub name: Option<String>,
    pub command: Vec<String>,
    /// `--entrypoint`: Some("") clears the image's entrypoint.
    pub entrypoint: Option<String>,
    /// `NAME=VALUE` pairs from --env-file then -e, in order (later ones win).
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub group_add: Vec<String>,
    pub hostname: Option<String>,
    pub add_hosts: Vec<String>,
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    pub ulimits: Vec<String>,
    pub init: bool,
    pub pid: Option<String>,
    pub ipc: Option<String>,
    pub uts: Option<String>,
    pub userns: Option<String>,
    pub devices: Vec<String>,
    pub labels: Vec<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub restart: String,
    /// `--log-driver` as typed; "" for the default (json-file).
    pub log_driver: String,
    pub log_opts: Vec<String>,
    /// `-a`: the streams a foreground run shows; None for docker's default.
    pub attach: Option<Attach>,
    /// podman's `--timeout`: seconds before a run is killed; 0 for no limit.
    pub timeout: u64,
    /// What the caller does with the container next (some flags need its stdio).
    pub launch: Launch,
    pub detach_keys: Option<String>,
    pub network: String,
    pub tty: bool,
    pub interactive: bool,
    pub auto_remove: bool,
    /// podman's `--tz`.
    pub timezone: Option<String>,
    /// podman's `--passwd-entry`.
    pub passwd_entry: Option<String>,
}

/// Check every host-side flag of `req` and turn them into the record's `HostConfig`, before
/// an image is looked up or pulled: a bad flag fails at once, as docker's CLI does.
pub fn check(req: &CreateRequest) -> Result<HostConfig> {
    host_config(req)
}

/// Build and store the record of a new container (status `created`) from a request whose
/// host side `check` has made.
pub fn create(
    store: &ContainerStore,
    req: &CreateRequest,
    host: HostConfig,
    image: &ImageRecord,
    image_config: &ImageConfig,
) -> Result<ContainerRecord> {
    if host.userns_mode == "keep-id" && !store.paths().rootless {
        return Err(Error::invalid(crate::sandbox::KEEP_ID_ROOTLESS_ONLY));
    }
    let config = container_config(req, image_config)?;
    let name = match &req.name {
        Some(n) => super::validate_name(n)?,
        None => String::new(),
    };
    let rec = ContainerRecord {
        id: String::new(),
        name,
        created: time::now_rfc3339(),
        image: image.id.clone(),
        image_name: req.image_name.clone(),
        config,
        host,
        state: State {
            status: Status::Created,
            ..Default::default()
        },
        restart_count: 0,
        rootfs_mode: String::new(),
    };
    let rec = store.create(rec)?;
    if let Err(e) = create_userdata(store.paths(), &rec) {
        if let Ok(lock) = store.lock(&rec.id) {
            let _ = store.remove(&lock);
        }
        return Err(e);
    }
    Ok(rec)
}

fn container_config(req: &CreateRequest, img: &ImageConfig) -> Result<ContainerConfig> {
    let run = img.config.clone().unwrap_or_default();
    let env = super::env::merge(run.env.clone().unwrap_or_default(), &req.env);
    let (entrypoint, image_cmd) = match &req.entrypoint {
        // A new entrypoint drops the image's CMD, as docker does.
        Some(e) if e.is_empty() => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.clone()], Vec::new()),
        None => (
            run.entrypoint.clone().unwrap_or_default(),
            run.cmd.clone().unwrap_or_default(),
        ),
    };
    let cmd = if req.command.is_empty() {
        image_cmd
    } else {
        req.command.clone()
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(Error::invalid("no command specified"));
    }
    let mut labels: BTreeMap<String, String> = run.labels.clone().unwrap_or_default();
    for l in &req.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    if let Some(w) = &req.workdir {
        if !w.starts_with('/') {
            return Err(Error::invalid(format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            )));
        }
    }
    if let Some(h) = &req.hostname {
        if h.is_empty() || h.len() > 64 || h.contains(['/', ' ']) {
            return Err(Error::invalid(format!("invalid hostname format: {h}")));
        }
    }
    if let Some(sig) = &req.stop_signal {
        super::signal::parse_signal(sig)?;
    }
    // `-a stdin` keeps stdin open as -i does; without -a, stdout and stderr are shown.
    let stdin = req.interactive || req.attach.is_some_and(|a| a.stdin);
    let shown = req.attach.map_or((true, true), |a| (a.stdout, a.stderr));
    Ok(ContainerConfig {
        hostname: req.hostname.clone().unwrap_or_default(),
        user: req.user.clone().or(run.user.clone()).unwrap_or_default(),
        attach_stdin: stdin,
        attach_stdout: shown.0,
        attach_stderr: shown.1,
        exposed_ports: run.exposed_ports.clone().unwrap_or_default(),
        tty: req.tty,
        open_stdin: stdin,
        env,
        cmd,
        image: req.image_name.clone(),
        working_dir: req
            .workdir
            .clone()
            .or(run.working_dir.clone())
            .unwrap_or_default(),
        entrypoint,
        labels,
        stop_signal: req
            .stop_signal
            .clone()
            .or(run.stop_signal.clone())
            .unwrap_or_default(),
        stop_timeout: req.stop_timeout,
        passwd_entry: req.passwd_entry.clone().unwrap_or_default(),
        timezone: match &req.timezone {
            Some(tz) => {
                super::timezone::zone_file(tz)?;
                tz.clone()
            }
            None => String::new(),
        },
        timeout: req.timeout,
        ..Default::default()
    })
}

fn host_config(req: &CreateRequest) -> Result<HostConfig> {
    let mut host = HostConfig::default();
    for v in &req.volumes {
        let b = parse_volume(v)?;
        if !b.source.exists() {
            std::fs::create_dir_all(&b.source).map_err(|e| {
                Error::invalid(format!(
                    "error while creating mount source path '{}': {e}",
                    b.source.display()
                ))
            })?;
        }
        host.binds.push(v.clone());
    }
    for m in &req.mounts {
        host.mounts.push(parse_mount(m)?);
    }
    for t in &req.tmpfs {
        let (dir, opts) = parse_tmpfs(t)?;
        host.tmpfs.insert(dir, opts);
    }
    for d in &req.devices {
        parse_device(d)?;
        host.devices.push(d.clone());
    }
    for h in &req.add_hosts {
        parse_extra_host(h)?;
        host.extra_hosts.push(h.clone());
    }
    for u in &req.ulimits {
        let parsed = Ulimit::parse(u).map_err(|e| {
            Error::invalid(format!(
                "invalid argument \"{u}\" for \"--ulimit\" flag: {e}"
            ))
        })?;
        host.ulimits.push(parsed);
    }
    host.log_config.driver = stdio::log_driver(req)?;
    for o in &req.log_opts {
        parse_log_opt(&mut host, o)?;
    }
    stdio::check(req, &host)?;
    host.restart_policy = RestartPolicy::parse(&req.restart)?;
    if req.auto_remove && host.restart_policy.name != "no" && !host.restart_policy.name.is_empty() {
        return Err(Error::invalid("conflicting options: --restart and --rm"));
    }
    caps::resolve(&req.cap_add, &req.cap_drop, req.privileged)
        .map_err(|e| Error::invalid(e.to_string()))?;
    let (profile, _) = seccomp::parse_security_opts(&req.security_opt)
        .map_err(|e| Error::invalid(e.to_string()))?;
    // The built-in profile is checked by the unit tests; compiling it here would only cost time.
    if profile != seccomp::Seccomp::Default {
        seccomp::validate(&profile).map_err(|e| Error::invalid(e.to_string()))?;
    }
    host.pid_mode = namespace_mode("pid", &req.pid, &["host"])?;
    host.ipc_mode = namespace_mode("ipc", &req.ipc, &["host", "private", "shareable", "none"])?;
    host.uts_mode = namespace_mode("uts", &req.uts, &["host"])?;
    host.userns_mode = namespace_mode("userns", &req.userns, &["keep-id", "host"])?;
    host.network_mode = match req.network.as_str() {
        "" | "host" | "default" => "host".into(),
        "none" => "none".into(),
        other => {
            return Err(Error::invalid(format!(
                "network mode \"{other}\" is not supported yet: use host or none"
            )))
        }
    };
    host.read_only = req.read_only;
    host.cap_add = req.cap_add.clone();
    host.cap_drop = req.cap_drop.clone();
    host.privileged = req.privileged;
    host.security_opt = req.security_opt.clone();
    host.init = req.init;
    host.auto_remove = req.auto_remove;
    host.group_add = req.group_add.clone();
    host.detach_keys = req.detach_keys.clone();
    Ok(host)
}

fn namespace_mode(what: &str, value: &Option<String>, allowed: &[&str]) -> Result<String> {
    match value.as_deref() {
        None | Some("") => Ok(String::new()),
        Some(v) if allowed.contains(&v) => Ok(v.to_string()),
        Some(v) => Err(Error::invalid(format!("invalid --{what} mode: {v}"))),
    }
}
