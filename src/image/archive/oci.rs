//! OCI image layouts in an archive: `index.json` names manifests (or an index of them, one per
//! platform) in `blobs/sha256/`, and their tags in annotations — a full name as podman writes
//! it, or docker 25's `io.containerd.image.name` beside a bare tag.

use serde_json::Value;

use super::super::config::ImageConfig;
use super::super::{Error, Result};
use super::load::{archive_tag, check_named, Plan};
use super::read::Contents;
use crate::registry::{layer_compression, Descriptor, Platform};

pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

pub fn plans(contents: &Contents, platform: &Platform) -> Result<Vec<Plan>> {
    let index = parse_index(contents.file("index.json", "the archive")?, "index.json")?;
    let mut plans: Vec<(String, Plan)> = Vec::new();
    for desc in &index {
        let tag = tag_of(desc)?;
        let chosen = if is_index(desc, contents)? {
            let data = blob(contents, desc, "index.json")?;
            choose_platform(&parse_index(data, &desc.digest)?, &desc.digest, platform)?
        } else {
            desc.clone()
        };
        if let Some((_, plan)) = plans.iter_mut().find(|(d, _)| *d == chosen.digest) {
            plan.tags.extend(tag);
            continue;
        }
        let mut plan = image(contents, &chosen)?;
        plan.tags.extend(tag);
        plans.push((chosen.digest.clone(), plan));
    }
    Ok(plans.into_iter().map(|(_, p)| p).collect())
}

fn parse_index(data: &[u8], what: &str) -> Result<Vec<Descriptor>> {
    let v: Value = serde_json::from_slice(data)
        .map_err(|e| Error::Other(format!("{what}: not an image index: {e}")))?;
    serde_json::from_value(v["manifests"].clone())
        .map_err(|e| Error::Other(format!("{what}: bad manifest list: {e}")))
}

/// Whether `desc` names an index (by its media type, or by the document when it has none).
fn is_index(desc: &Descriptor, contents: &Contents) -> Result<bool> {
    match desc.media_type.as_str() {
        INDEX | DOCKER_LIST => Ok(true),
        "" => {
            let v: Value = serde_json::from_slice(blob(contents, desc, "index.json")?)
                .map_err(|e| Error::Other(format!("{}: {e}", desc.digest)))?;
            Ok(v.get("manifests").is_some())
        }
        _ => Ok(false),
    }
}

/// The manifest for `host` (this machine's platform, or the one asked for) in a
/// multi-platform index.
fn choose_platform(list: &[Descriptor], what: &str, host: &Platform) -> Result<Descriptor> {
    list.iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == host.os && p.architecture == host.architecture)
        })
        .cloned()
        .ok_or_else(|| {
            Error::Other(format!(
                "{what}: no image for {}/{} in the archive",
                host.os, host.architecture
            ))
        })
}

/// The tag an index entry gives its image: containerd's full name, else a reference name
/// that is a full name (podman's, skopeo's `name:tag`); a bare tag names no image.
fn tag_of(desc: &Descriptor) -> Result<Option<String>> {
    let notes = desc.annotations.clone().unwrap_or_default();
    if let Some(name) = notes.get(CONTAINERD_NAME) {
        return archive_tag(name).map(Some);
    }
    match notes.get(REF_NAME) {
        Some(name) if name.contains([':', '/']) => archive_tag(name).map(Some),
        _ => Ok(None),
    }
}

/// A blob member by descriptor, its digest and size checked.
fn blob<'c>(contents: &'c Contents, desc: &Descriptor, why: &str) -> Result<&'c [u8]> {
    let member = member_of(&desc.digest)?;
    let data = contents.file(&member, why)?;
    check_named(&member, data)?;
    if data.len() as u64 != desc.size {
        return Err(Error::Other(format!(
            "{member} is {} bytes, {why} says {}",
            data.len(),
            desc.size
        )));
    }
    Ok(data)
}

/// `blobs/sha256/<hex>` for a digest; other algorithms are refused.
pub fn member_of(digest: &str) -> Result<String> {
    if !crate::registry::is_valid_digest(digest) {
        return Err(Error::Other(format!("unsupported digest {digest:?}")));
    }
    Ok(format!("blobs/sha256/{}", &digest["sha256:".len()..]))
}

/// The plan of one image manifest.
fn image(contents: &Contents, desc: &Descriptor) -> Result<Plan> {
    let data = blob(contents, desc, "index.json")?.to_vec();
    let why = format!("manifest {}", desc.digest);
    let bad = |e: String| Error::Other(format!("{why}: {e}"));
    let v: Value = serde_json::from_slice(&data).map_err(|e| bad(e.to_string()))?;
    let config_desc: Descriptor =
        serde_json::from_value(v["config"].clone()).map_err(|e| bad(format!("config: {e}")))?;
    let layer_descs: Vec<Descriptor> =
        serde_json::from_value(v["layers"].clone()).map_err(|e| bad(format!("layers: {e}")))?;
    if let Some(d) = layer_descs
        .iter()
        .find(|d| layer_compression(&d.media_type).is_none())
    {
        return Err(bad(format!(
            "layer {} has unsupported media type {:?}",
            d.digest, d.media_type
        )));
    }
    let config = blob(contents, &config_desc, &why)?.to_vec();
    let cfg = ImageConfig::parse(&config).map_err(bad)?;
    if cfg.rootfs.diff_ids.len() != layer_descs.len() {
        return Err(bad(format!(
            "it lists {} layers but its config lists {}",
            layer_descs.len(),
            cfg.rootfs.diff_ids.len()
        )));
    }
    let media_type = match v["mediaType"].as_str() {
        Some(t) if !t.is_empty() => t.to_string(),
        _ if !desc.media_type.is_empty() => desc.media_type.clone(),
        _ => super::super::local::OCI_MANIFEST.to_string(),
    };
    Ok(Plan {
        why,
        config,
        manifest: Some((data, media_type)),
        layers: layer_descs
            .iter()
            .map(|d| member_of(&d.digest))
            .collect::<Result<_>>()?,
        diff_ids: cfg.rootfs.diff_ids,
        blobs: layer_descs
            .iter()
            .map(|d| Some((d.digest.clone(), d.size, d.media_type.clone())))
            .collect(),
        tags: Vec::new(),
    })
}
