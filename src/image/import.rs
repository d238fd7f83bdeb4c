//! `import`: a root file system tarball (plain, gzip or zstd; a file, stdin or an http(s)
//! URL) becomes a single-layer image, its config made from the `-c` changes.

use std::io::Read;

use serde_json::{json, Value};

use super::local::Adding;
use super::{change, Error, ImageStore, Result};
use crate::overlay::LayerStore;
use crate::paths::Paths;
use crate::registry::Platform;

pub struct ImportRequest {
    /// Full tagged name, already normalised.
    pub tag: Option<String>,
    pub changes: Vec<String>,
    /// The history comment; docker's "Imported from SOURCE" when none is given.
    pub message: Option<String>,
    pub platform: Option<String>,
    /// What the user named as the source (a path, `-` or a URL), for the default message.
    pub source: String,
}

/// Import the tarball read from `tar`; returns the new image's ID.
pub fn import(
    paths: &Paths,
    userxattr: bool,
    tar: &mut dyn Read,
    req: &ImportRequest,
) -> Result<String> {
    change::validate(&req.changes)?;
    let platform = match &req.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let images = ImageStore::open(&paths.root);
    let layers = LayerStore::open(paths.overlay_root(), userxattr);
    let mut adding = Adding::begin(&images, &layers)?;
    let what = format!("importing {}", req.source);
    let mut ingested = super::ingest::ingest(&images, &layers, tar, &what)?;
    let media_type = ingested.media_type();
    let layer = adding.place(&mut ingested, media_type, None)?;
    let config = import_config(req, &platform, &layer.diff_id)?;
    let record = adding.image(&config, &[layer], req.tag.iter().cloned().collect())?;
    let id = record.id.clone();
    adding.record(vec![record], Vec::new())?;
    Ok(id)
}

fn import_config(req: &ImportRequest, platform: &Platform, diff_id: &str) -> Result<Value> {
    let mut run = json!({});
    change::apply(&req.changes, &mut run)?;
    if let Some(m) = run.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    let now = crate::time::now_rfc3339();
    let comment = req
        .message
        .clone()
        .unwrap_or_else(|| format!("Imported from {}", req.source));
    let mut config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "created": now,
        "comment": comment,
        "config": run,
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": now, "comment": comment }],
    });
    if let Some(v) = &platform.variant {
        config["variant"] = json!(v);
    }
    Ok(config)
}

/// The body of an http(s) URL, streamed.
pub fn fetch_url(url: &str) -> Result<Box<dyn Read + Send>> {
    let agent = ureq::AgentBuilder::new()
        .user_agent(concat!("cove/", env!("CARGO_PKG_VERSION")))
        .build();
    match agent.get(url).call() {
        Ok(resp) => Ok(Box::new(resp.into_reader())),
        Err(ureq::Error::Status(code, resp)) => Err(Error::Other(format!(
            "{url}: the server answered {code} {}",
            resp.status_text()
        ))),
        Err(e) => Err(Error::Other(format!("{url}: {e}"))),
    }
}
