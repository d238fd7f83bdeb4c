//! Looking at containers: ps, logs, top, port, diff, and the container half of inspect.

use std::io::Write;

use serde_json::{json, Value};

use super::container::Session;
use super::container_flags::{LogsArgs, NamesArgs, PortArgs, PsArgs, TopArgs};
use super::format;
use super::Context;
use crate::container::logs::{self, LogOptions, Stream};
use crate::container::{self, ContainerRecord, State, Status};
use crate::error::{Error, Result};
use crate::fsutil::human_size;
use crate::time;

pub fn ps(ctx: &Context, args: PsArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    // ps only reads records and run state: no user namespace needed, which keeps it fast.
    let store = container::ContainerStore::open(&paths)?;
    let filters = format::parse_filters(&args.filter).map_err(Error::msg)?;
    const KNOWN: [&str; 6] = ["status", "name", "id", "label", "ancestor", "exited"];
    if let Some((k, _)) = filters.iter().find(|(k, _)| !KNOWN.contains(&k.as_str())) {
        return Err(Error::msg(format!("invalid filter '{k}'")));
    }
    let mut list = store.list()?;
    // docker: `-n -1` (its default) lists as without -n; `-n 0` every state, no limit.
    let last = args.last.filter(|n| *n >= 0);
    let limit = if args.latest { Some(1) } else { last };
    let all = args.all || limit.is_some();
    if let Some(n) = limit
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
    {
        list.truncate(n);
    }
    let now = time::now().0;
    let mut rows = Vec::new();
    for rec in &list {
        let st = store.live_state(rec);
        let running = matches!(st.status, Status::Running | Status::Restarting);
        let status_filtered = filters.iter().any(|(k, _)| k == "status" || k == "exited");
        if !all && !running && !status_filtered {
            continue;
        }
        if !keep(rec, &st, &filters)? {
            continue;
        }
        rows.push((rec, st));
    }
    if let Some(key) = &args.sort {
        sort_rows(&paths, &mut rows, key);
    }
    if args.quiet {
        for (rec, _) in &rows {
            println!(
                "{}",
                if args.no_trunc {
                    &rec.id
                } else {
                    rec.short_id()
                }
            );
        }
        return Ok(0);
    }
    let values: Vec<Value> = rows
        .iter()
        .map(|(rec, st)| row(&paths, rec, st, now, args.no_trunc, args.size))
        .collect();
    let fmt = format::parse_format(args.format.as_deref()).map_err(Error::msg)?;
    let default = if args.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let header = |f: &str| match f {
        "ID" => "CONTAINER ID".to_string(),
        "RunningFor" => "CREATED".to_string(),
        "CreatedAt" => "CREATED AT".to_string(),
        other => other.to_ascii_uppercase(),
    };
    let heading = !args.noheading;
    let mut out = std::io::stdout().lock();
    format::write_rows(&fmt, &values, &header, default, heading, &mut out).map_err(Error::msg)?;
    Ok(0)
}

/// podman's `ps --sort`: newest first by creation, else ascending.
fn sort_rows(paths: &crate::paths::Paths, rows: &mut [(&ContainerRecord, State)], key: &str) {
    match key {
        "id" => rows.sort_by(|a, b| a.0.id.cmp(&b.0.id)),
        "image" => rows.sort_by(|a, b| a.0.image_name.cmp(&b.0.image_name)),
        "names" => rows.sort_by(|a, b| a.0.name.cmp(&b.0.name)),
        "status" => rows.sort_by(|a, b| a.1.status.as_str().cmp(b.1.status.as_str())),
        "size" => rows.sort_by_cached_key(|r| dir_size(&container::upper_dir(paths, &r.0.id))),
        _ => rows.sort_by(|a, b| b.0.created.cmp(&a.0.created)),
    }
}

fn keep(rec: &ContainerRecord, st: &State, filters: &[(String, String)]) -> Result<bool> {
    for (k, v) in filters {
        let ok = match k.as_str() {
            "status" if st.paused => v == "paused",
            "status" => st.status.as_str() == v,
            "name" => rec.name.contains(v.trim_start_matches('/')),
            "id" => rec.id.starts_with(v),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => rec.config.labels.get(lk).map(String::as_str) == Some(lv),
                None => rec.config.labels.contains_key(v),
            },
            "ancestor" => {
                let hex = rec.image.trim_start_matches("sha256:");
                rec.image_name == *v
                    || rec.image_name == format!("{v}:latest")
                    || (v.len() >= 3 && hex.starts_with(v.trim_start_matches("sha256:")))
            }
            "exited" => {
                st.status == Status::Exited
                    && v.parse::<i32>()
                        .map_err(|_| Error::msg(format!("invalid filter 'exited={v}'")))?
                        == st.exit_code
            }
            other => return Err(Error::msg(format!("invalid filter '{other}'"))),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn row(
    paths: &crate::paths::Paths,
    rec: &ContainerRecord,
    st: &State,
    now: i64,
    no_trunc: bool,
    size: bool,
) -> Value {
    let created = time::parse_rfc3339(&rec.created).map(|t| t.0).unwrap_or(0);
    let argv = rec.argv();
    let command = argv
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let command = if no_trunc {
        command
    } else {
        ellipsis(&command, 20)
    };
    let labels = rec
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut v = json!({
        "ID": if no_trunc { rec.id.clone() } else { rec.short_id().to_string() },
        "Image": rec.image_name,
        "Command": format!("\"{command}\""),
        "CreatedAt": format::docker_created_at(created),
        "RunningFor": format::time_ago(created, now),
        "Status": container::status_text(st, now, format::human_duration),
        "State": st.status.as_str(),
        "Ports": "",
        "Names": rec.name,
        "Labels": labels,
        "Mounts": rec.host.binds.join(","),
        "Networks": rec.host.network_mode,
    });
    if size {
        v["Size"] = json!(human_size(dir_size(&container::upper_dir(paths, &rec.id))));
    }
    v
}

fn dir_size(dir: &std::path::Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

pub fn logs(ctx: &Context, args: LogsArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let store = container::ContainerStore::open(&paths)?;
    let rec = store.find(&args.container)?;
    let now = time::now();
    let parse_time = |v: &Option<String>| -> Result<Option<(i64, u32)>> {
        match v {
            None => Ok(None),
            Some(v) => time::parse_time_arg(v, now)
                .map(Some)
                .ok_or_else(|| Error::msg(format!("invalid time value: {v}"))),
        }
    };
    let tail = match args.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse::<usize>()
                .map_err(|_| Error::msg(format!("invalid tail value: {n}")))?,
        ),
    };
    let path = container::log_file(&paths, &rec)
        .ok_or_else(|| Error::msg("configured logging driver does not support reading"))?;
    let opts = LogOptions {
        follow: args.follow,
        tail,
        since: parse_time(&args.since)?,
        until: parse_time(&args.until)?,
    };
    let running = || {
        store
            .load(&rec.id)
            .map(|r| {
                matches!(
                    store.live_state(&r).status,
                    Status::Running | Status::Restarting
                )
            })
            .unwrap_or(false)
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let result = logs::read(&path, &opts, &running, &mut |e| {
        let text = e.render(args.timestamps);
        match e.stream {
            Stream::Stdout => stdout.lock().write_all(text.as_bytes()),
            Stream::Stderr => stderr.lock().write_all(text.as_bytes()),
        }
    });
    match result {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::msg(format!(
            "cannot read the logs of {}: {e}",
            args.container
        ))),
    }
}

pub fn top(ctx: &Context, args: TopArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = s.store.find(&args.container)?;
    print!("{}", container::top(&s.store, &rec, &args.ps_args)?);
    Ok(0)
}

pub fn port(ctx: &Context, args: PortArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let store = container::ContainerStore::open(&paths)?;
    let rec = store.find(&args.container)?;
    // Ports are published with the networking issue; host networking publishes none.
    if let Some(p) = args.port {
        return Err(Error::msg(format!(
            "No public port '{p}' published for {}",
            rec.name
        )));
    }
    Ok(0)
}

/// `diff`: what the container changed (A added, C changed, D deleted).
pub fn diff(ctx: &Context, args: NamesArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let [name] = args.containers.as_slice() else {
        return Err(Error::msg("diff takes exactly one container"));
    };
    let rec = s.store.find(name)?;
    for change in container::diff(&s.paths, &rec)? {
        println!("{} {}", change.kind, change.path);
    }
    Ok(0)
}

/// docker inspect's shape for a container.
pub fn container_json(paths: &crate::paths::Paths, rec: &ContainerRecord, st: &State) -> Value {
    let argv = rec.argv();
    json!({
        "Id": rec.id,
        "Created": rec.created,
        "Path": argv.first().cloned().unwrap_or_default(),
        "Args": argv.get(1..).map(|a| a.to_vec()).unwrap_or_default(),
        "State": {
            "Status": if st.paused { "paused" } else { st.status.as_str() },
            "Running": st.status == Status::Running,
            "Paused": st.paused,
            "Restarting": st.status == Status::Restarting,
            "OOMKilled": false,
            "Dead": false,
            "Pid": if st.status == Status::Running { st.pid } else { 0 },
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": if st.started_at.is_empty() { "0001-01-01T00:00:00Z".to_string() } else { st.started_at.clone() },
            "FinishedAt": if st.finished_at.is_empty() { "0001-01-01T00:00:00Z".to_string() } else { st.finished_at.clone() },
        },
        "Image": rec.image,
        "ResolvConfPath": container::userdata_dir(paths, &rec.id).join("resolv.conf"),
        "HostnamePath": container::userdata_dir(paths, &rec.id).join("hostname"),
        "HostsPath": container::userdata_dir(paths, &rec.id).join("hosts"),
        "LogPath": container::log_file(paths, rec).unwrap_or_default(),
        "Name": format!("/{}", rec.name),
        "RestartCount": rec.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "RootfsMode": rec.rootfs_mode,
        "HostConfig": rec.host,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "UpperDir": container::upper_dir(paths, &rec.id),
                "WorkDir": container::work_dir(paths, &rec.id),
                "MergedDir": container::merged_dir(paths, &rec.id),
            }
        },
        "Mounts": mounts_json(rec),
        "Config": rec.config,
    })
}

fn mounts_json(rec: &ContainerRecord) -> Value {
    let mut out = Vec::new();
    for b in &rec.host.binds {
        if let Ok(b) = container::mounts::parse_volume(b) {
            out.push(
                json!({"Type": "bind", "Source": b.source, "Destination": b.target,
                "Mode": "", "RW": !b.read_only, "Propagation": "rprivate"}),
            );
        }
    }
    for m in &rec.host.mounts {
        out.push(
            json!({"Type": m.kind, "Source": m.source, "Destination": m.target,
            "Mode": "", "RW": !m.read_only, "Propagation": "rprivate"}),
        );
    }
    for dir in rec.host.tmpfs.keys() {
        out.push(
            json!({"Type": "tmpfs", "Source": "", "Destination": dir, "Mode": "", "RW": true}),
        );
    }
    Value::Array(out)
}
