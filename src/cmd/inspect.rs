//! `cove inspect`, `cove image inspect` and `cove history`: docker-shaped JSON and tables.

use serde_json::{json, Value};

use super::format::{self, Format};
use super::image_flags::*;
use super::images::{created, show_id};
use super::Context;
use crate::error::{Error, Result};
use crate::fsutil::human_size;
use crate::image::lookup::{self, familiar};
use crate::image::{ImageRecord, ImageStore};
use crate::overlay::LayerStore;
use crate::registry::RegistriesConf;
use crate::template::Template;
use crate::time;

pub fn inspect(ctx: &Context, args: InspectArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let store = ImageStore::open(&paths.root);
    let images = store.load()?;
    let layers = LayerStore::open(paths.overlay_root(), paths.rootless);
    let template = match args.format.as_deref() {
        None | Some("json") => None,
        Some(f) => Some(Template::parse(&unescape(f)).map_err(Error::msg)?),
    };
    let mut values = Vec::new();
    let mut missing = None;
    let containers = match args.kind.as_deref() {
        Some("image") => None,
        _ => Some(crate::container::ContainerStore::open(&paths)?),
    };
    for name in &args.names {
        if let Some(store) = &containers {
            match store.find(name) {
                Ok(rec) => {
                    let st = store.live_state(&rec);
                    values.push(super::ps::container_json(&paths, &rec, &st));
                    continue;
                }
                Err(e) if args.kind.as_deref() == Some("container") => {
                    if args.names.len() == 1 {
                        return Err(e.into());
                    }
                    missing.get_or_insert(crate::image::Error::Other(e.to_string()));
                    continue;
                }
                Err(_) => {}
            }
        }
        match lookup::find(&images, name, &conf) {
            Ok(found) => values.push(image_json(&images[found.index], &store, &layers)?),
            Err(e) => {
                let e = match (&e, &containers) {
                    (crate::image::Error::NoSuchImage(n), Some(_)) => {
                        crate::image::Error::Other(format!("No such object: {n}"))
                    }
                    _ => e,
                };
                if args.names.len() == 1 {
                    return Err(e.into());
                }
                missing.get_or_insert(e);
            }
        }
    }
    match template {
        None => println!("{}", json_indent(&Value::Array(values))),
        Some(t) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for v in &values {
                t.render_to(v, &mut out).map_err(Error::msg)?;
                writeln!(out).map_err(|e| Error::msg(format!("writing the output: {e}")))?;
            }
        }
    }
    match missing {
        Some(e) => {
            eprintln!("Error: {}", crate::error::printable(&e.to_string()));
            Err(Error::Exit(crate::error::EXIT_ENGINE))
        }
        None => Ok(0),
    }
}

/// Docker's `--format` strings may carry `\t` and `\n` escapes.
fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

/// JSON indented with four spaces, as `docker inspect` prints it.
pub fn json_indent(value: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    if value.serialize(&mut ser).is_err() {
        return value.to_string();
    }
    String::from_utf8(out).unwrap_or_else(|_| value.to_string())
}

fn image_json(img: &ImageRecord, store: &ImageStore, layers: &LayerStore) -> Result<Value> {
    let cfg = store.config(img)?;
    let run = cfg.config.clone().unwrap_or_default();
    let top = img.layers.last();
    let lower: Vec<String> = img
        .layers
        .iter()
        .rev()
        .map(|c| layers.diff_dir(c).display().to_string())
        .collect();
    let mut out = json!({
        "Id": img.id,
        "RepoTags": img.repo_tags.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "RepoDigests": img.repo_digests.iter().map(|d| familiar(d)).collect::<Vec<_>>(),
        "Parent": "",
        "Comment": cfg.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": cfg.created.clone().unwrap_or_default(),
        "DockerVersion": "",
        "Author": cfg.author.clone().unwrap_or_default(),
        "Config": {
            "Hostname": "",
            "Domainname": "",
            "User": run.user.clone().unwrap_or_default(),
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "ExposedPorts": run.exposed_ports,
            "Tty": false,
            "OpenStdin": false,
            "StdinOnce": false,
            "Env": run.env,
            "Cmd": run.cmd,
            "Image": "",
            "Volumes": run.volumes,
            "WorkingDir": run.working_dir.clone().unwrap_or_default(),
            "Entrypoint": run.entrypoint,
            "OnBuild": run.on_build,
            "Labels": run.labels,
            "StopSignal": run.stop_signal,
        },
        "Architecture": cfg.architecture,
        "Os": cfg.os,
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "LowerDir": lower.get(1..).map(|l| l.join(":")).unwrap_or_default(),
                "UpperDir": top.map(|c| layers.diff_dir(c).display().to_string()),
            }
        },
        "RootFS": {
            "Type": "layers",
            "Layers": cfg.rootfs.diff_ids,
        },
        "Metadata": { "LastTagTime": format::rfc3339(img.stored_at, 0) },
    });
    if let Some(v) = &cfg.variant {
        out["Variant"] = json!(v);
    }
    if out["Config"]["StopSignal"].is_null() {
        if let Some(c) = out["Config"].as_object_mut() {
            c.remove("StopSignal");
        }
    }
    // docker shows these only when the image has them.
    if let Some(h) = &run.healthcheck {
        out["Config"]["Healthcheck"] = h.clone();
    }
    if let Some(s) = &run.shell {
        out["Config"]["Shell"] = json!(s);
    }
    Ok(out)
}

pub fn history(ctx: &Context, args: HistoryArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let store = ImageStore::open(&paths.root);
    let images = store.load()?;
    let layers = LayerStore::open(paths.overlay_root(), paths.rootless);
    let img = &images[lookup::find(&images, &args.image, &conf)?.index];
    let cfg = store.config(img)?;
    let now = time::now().0;

    // Sizes of the non-empty history entries come from the layers, in order.
    let mut layer_sizes = img
        .layers
        .iter()
        .map(|c| layers.info(c).map(|i| i.size).unwrap_or(0));
    let mut rows = Vec::new();
    let entries: Vec<_> = if cfg.history.is_empty() {
        img.layers.iter().map(|_| Default::default()).collect()
    } else {
        cfg.history.clone()
    };
    for h in &entries {
        let size = if h.empty_layer {
            0
        } else {
            layer_sizes.next().unwrap_or(0)
        };
        let t = h
            .created
            .as_deref()
            .and_then(format::parse_rfc3339)
            .map(|(s, _)| s)
            .unwrap_or_else(|| created(img));
        let by = h.created_by.clone().unwrap_or_default();
        rows.push((t, by, size, h.comment.clone().unwrap_or_default()));
    }
    rows.reverse();
    let id = show_id(&img.id, args.no_trunc);
    if args.quiet {
        for i in 0..rows.len() {
            println!("{}", if i == 0 { id.as_str() } else { "<missing>" });
        }
        return Ok(0);
    }
    let values: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, (t, by, size, comment))| {
            let by = if args.no_trunc { by.clone() } else { truncate(by, 45) };
            json!({
                "ID": if i == 0 { id.clone() } else { "<missing>".into() },
                "CreatedSince": if args.human { format::time_ago(*t, now) } else { format::rfc3339(*t, 0) },
                "CreatedAt": format::rfc3339(*t, 0),
                "CreatedBy": by,
                "Size": if args.human { human_size(*size) } else { size.to_string() },
                "Comment": comment,
            })
        })
        .collect();
    let fmt = format::parse_format(args.format.as_deref()).map_err(Error::msg)?;
    let header = |f: &str| match f {
        "ID" => "IMAGE".to_string(),
        "CreatedSince" => "CREATED".to_string(),
        "CreatedAt" => "CREATED AT".to_string(),
        "CreatedBy" => "CREATED BY".to_string(),
        other => other.to_ascii_uppercase(),
    };
    let default = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
    let fmt = match fmt {
        Format::Default => format::parse_format(Some(default)).map_err(Error::msg)?,
        f => f,
    };
    let mut out = std::io::stdout().lock();
    format::write_rows(&fmt, &values, &header, default, true, &mut out).map_err(Error::msg)?;
    Ok(0)
}

/// Shorten to `max` characters with an ellipsis, as docker does for CREATED BY.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}
