//! `commit`, for any front end: a container's changes (its overlay upper directory) become a
//! new layer on top of its image — or, squashed, its whole root one single layer — and its
//! config (env, command, ports, labels ...) merged into the image's as docker does. A running
//! container is paused while its files are read.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{layout, to_spec, ContainerRecord, ContainerStore, Error, Result, Status};
use crate::image::ingest::ingest_written;
use crate::image::local::{Adding, NewLayer};
use crate::image::{change, ImageRecord, ImageStore};
use crate::overlay::{write_diff_tar, DiffOptions, LayerStore};
use crate::paths::Paths;

pub struct CommitRequest {
    /// Full tagged name (`docker.io/library/app:latest`), already normalised.
    pub tag: Option<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    /// Dockerfile instructions (`CMD ["sh"]`), applied in order.
    pub changes: Vec<String>,
    /// Pause a running container while its files are read.
    pub pause: bool,
    /// One layer holding the whole root file system instead of a layer on the image's.
    pub squash: bool,
}

/// Commit `rec`; returns the new image's ID (`sha256:...`).
pub fn commit(
    store: &ContainerStore,
    paths: &Paths,
    userxattr: bool,
    rec: &ContainerRecord,
    req: &CommitRequest,
) -> Result<String> {
    change::validate(&req.changes).map_err(image_error)?;
    let images = ImageStore::open(&paths.root);
    let base = images
        .load()
        .map_err(image_error)?
        .into_iter()
        .find(|i| i.id == rec.image)
        .ok_or_else(|| {
            Error::Other(format!("the image {} of this container is gone", rec.image))
        })?;
    let st = store.live_state(rec);
    let running = st.status == Status::Running && st.pid > 0;
    let paused_here = req.pause && running && !st.paused && super::pause(store, rec).is_ok();
    let done = (|| {
        let _lock = store.lock_record(rec)?;
        let source = Source::find(paths, rec, req.squash, running.then_some(st.pid))?;
        let layers = LayerStore::open(paths.overlay_root(), userxattr);
        let mut adding = Adding::begin(&images, &layers).map_err(image_error)?;
        let skip = source.skip.clone();
        let dir = source.dir.clone();
        let opts = DiffOptions {
            userxattr,
            skip: &skip,
            one_fs: req.squash,
        };
        let (mut ingested, report) =
            ingest_written(&images, &layers, "the container's changes", |out| {
                write_diff_tar(&dir, &opts, out).map_err(crate::image::Error::from)
            })
            .map_err(image_error)?;
        for what in &report.skipped {
            crate::warn!("not committed (a tar archive cannot hold it): {what}");
        }
        let mut new_layers = if req.squash {
            Vec::new()
        } else {
            base_layers(&images, &layers, &base)?
        };
        let empty = report.entries == 0 && !req.squash;
        if !empty {
            let parent = new_layers.last().map(|l| l.chain_id.clone());
            let media_type = ingested.media_type();
            let layer = adding
                .place(&mut ingested, media_type, parent.as_deref())
                .map_err(image_error)?;
            new_layers.push(layer);
        }
        let mut config: Value =
            serde_json::from_slice(&images.read_blob(&base.id).map_err(image_error)?)
                .map_err(|e| Error::Other(format!("image config of {}: {e}", base.id)))?;
        new_config(&mut config, rec, req, &new_layers, empty)?;
        let record = adding
            .image(&config, &new_layers, req.tag.iter().cloned().collect())
            .map_err(image_error)?;
        let id = record.id.clone();
        adding
            .record(vec![record], Vec::new())
            .map_err(image_error)?;
        Ok(id)
    })();
    if paused_here {
        let _ = super::unpause(store, rec);
    }
    done
}

/// A stopped container's changes (its overlay upper directory, cove's own mount points left
/// out) as a new layer on `parent`, placed by `adding`; None when nothing changed. For build
/// steps, whose image config the builder writes itself.
pub fn changes_layer<'a>(
    paths: &Paths,
    userxattr: bool,
    rec: &ContainerRecord,
    adding: &mut Adding<'a>,
    parent: Option<&str>,
    extra_skip: &[String],
) -> Result<Option<NewLayer>> {
    let (images, layers) = adding.stores();
    let mut source = Source::find(paths, rec, false, None)?;
    source.skip.extend(
        extra_skip
            .iter()
            .map(|p| PathBuf::from(p.trim_start_matches('/'))),
    );
    let opts = DiffOptions {
        userxattr,
        skip: &source.skip,
        one_fs: false,
    };
    let dir = source.dir.clone();
    let (mut ingested, report) = ingest_written(images, layers, "the step's changes", |out| {
        write_diff_tar(&dir, &opts, out).map_err(crate::image::Error::from)
    })
    .map_err(image_error)?;
    for what in &report.skipped {
        crate::warn!("not in the layer (a tar archive cannot hold it): {what}");
    }
    if report.entries == 0 {
        return Ok(None);
    }
    let media_type = ingested.media_type();
    adding
        .place(&mut ingested, media_type, parent)
        .map(Some)
        .map_err(image_error)
}

/// What is read for the layer: the upper directory, or for a squash the whole merged root.
struct Source {
    dir: PathBuf,
    skip: Vec<PathBuf>,
}

impl Source {
    fn find(
        paths: &Paths,
        rec: &ContainerRecord,
        squash: bool,
        pid: Option<i32>,
    ) -> Result<Source> {
        let spec = to_spec(paths, rec).map_err(Error::Spawn)?;
        let skip: Vec<PathBuf> = super::diff::cove_mount_points(paths, rec, &spec)
            .iter()
            .map(|p| PathBuf::from(p.trim_start_matches('/')))
            .collect();
        let copied = layout::merged_dir(paths, &rec.id).with_extension("copied");
        if copied.exists() && !squash {
            return Err(Error::Other(format!(
                "cannot commit {}: its root file system is a copy of the layers (overlayfs was \
                 not available), which holds no separate changes; use --squash",
                rec.name
            )));
        }
        if !squash {
            return Ok(Source {
                dir: spec.rootfs.upper,
                skip,
            });
        }
        let dir = match pid {
            Some(pid) if Path::new(&format!("/proc/{pid}/root/")).is_dir() => {
                PathBuf::from(format!("/proc/{pid}/root"))
            }
            _ => {
                crate::sandbox::mount_private(&spec.rootfs).map_err(Error::Spawn)?;
                spec.rootfs.merged
            }
        };
        Ok(Source { dir, skip })
    }
}

/// The base image's layers as the new manifest names them again.
pub fn base_layers(
    images: &ImageStore,
    layers: &LayerStore,
    base: &ImageRecord,
) -> Result<Vec<NewLayer>> {
    let manifest: Value = serde_json::from_slice(
        &images
            .read_blob(&base.manifest_digest)
            .map_err(image_error)?,
    )
    .map_err(|e| Error::Other(format!("manifest of {}: {e}", base.id)))?;
    let descs = manifest["layers"].as_array().cloned().unwrap_or_default();
    if descs.len() != base.layers.len() || base.layer_blobs.len() != base.layers.len() {
        return Err(Error::Other(format!(
            "image {}: its manifest and its layers disagree",
            base.id
        )));
    }
    let mut out = Vec::new();
    for ((chain, blob), desc) in base.layers.iter().zip(&base.layer_blobs).zip(&descs) {
        let info = layers
            .info(chain)
            .map_err(|e| Error::Other(e.to_string()))?;
        out.push(NewLayer {
            chain_id: chain.clone(),
            diff_id: info.diff_id,
            blob_digest: blob.clone(),
            blob_size: desc["size"].as_u64().unwrap_or(0),
            media_type: desc["mediaType"].as_str().unwrap_or_default().to_string(),
            size: info.size,
        });
    }
    Ok(out)
}

/// The image's config with the container's merged in, the changes applied, the new layer
/// and a history entry added (as docker's commit writes them).
fn new_config(
    config: &mut Value,
    rec: &ContainerRecord,
    req: &CommitRequest,
    layers: &[NewLayer],
    empty: bool,
) -> Result<()> {
    let c = &rec.config;
    let mut run = config["config"].take();
    if !run.is_object() {
        run = json!({});
    }
    let list = |v: &Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    run["Env"] = list(&c.env);
    run["Cmd"] = list(&c.cmd);
    run["Entrypoint"] = list(&c.entrypoint);
    run["WorkingDir"] = json!(c.working_dir);
    run["User"] = json!(c.user);
    run["Labels"] = if c.labels.is_empty() {
        Value::Null
    } else {
        json!(c.labels)
    };
    run["ExposedPorts"] = if c.exposed_ports.is_empty() {
        Value::Null
    } else {
        json!(c.exposed_ports)
    };
    if !c.stop_signal.is_empty() {
        run["StopSignal"] = json!(c.stop_signal);
    }
    change::apply(&req.changes, &mut run).map_err(image_error)?;
    if let Some(m) = run.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    config["config"] = run;
    let now = crate::time::now_rfc3339();
    config["created"] = json!(now);
    config["container"] = json!(rec.id);
    match &req.author {
        Some(a) => config["author"] = json!(a),
        None => {
            if let Some(m) = config.as_object_mut() {
                m.remove("author");
            }
        }
    }
    let mut history = config["history"].as_array().cloned().unwrap_or_default();
    if req.squash {
        for h in &mut history {
            h["empty_layer"] = json!(true);
        }
    }
    let mut entry = json!({ "created": now, "created_by": c.cmd.join(" ") });
    if let Some(a) = &req.author {
        entry["author"] = json!(a);
    }
    if let Some(m) = &req.message {
        entry["comment"] = json!(m);
    }
    if empty {
        entry["empty_layer"] = json!(true);
    }
    history.push(entry);
    config["history"] = Value::Array(history);
    config["rootfs"] = json!({
        "type": "layers",
        "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
    });
    Ok(())
}

fn image_error(e: crate::image::Error) -> Error {
    Error::Other(e.to_string())
}
