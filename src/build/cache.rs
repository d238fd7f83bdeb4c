//! `--cache-to` / `--cache-from` with a local directory: the build's step images written as
//! one OCI archive (`DIR/cache.tar`), each named after its cache key, and read back into the
//! store as build cache on another machine or a clean store.

use std::path::{Path, PathBuf};

use super::{BuildError, Result};
use crate::image::archive::{self, Format, Target};
use crate::image::{ImageRecord, ImageStore};
use crate::paths::Paths;

/// The repository step images are named in inside a cache archive.
const REPO: &str = "localhost/cove-build-cache";
const FILE: &str = "cache.tar";

/// `type=local,dest=DIR` / `type=local,src=DIR`, or a bare directory.
pub fn parse_dir(spec: &str, key: &str) -> Result<PathBuf> {
    if !spec.contains('=') {
        return Ok(PathBuf::from(spec));
    }
    let mut kind = "local";
    let mut dir = None;
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("type", v)) => kind = if v == "local" { "local" } else { "other" },
            Some((k, v)) if k == key => dir = Some(PathBuf::from(v)),
            Some(("mode" | "compression" | "oci-mediatypes" | "ignore-error", _)) => {}
            _ => return Err(BuildError::Input(format!("invalid cache spec {spec:?}"))),
        }
    }
    if kind != "local" {
        return Err(BuildError::Input(format!(
            "cache {spec:?}: only type=local (a directory) is supported"
        )));
    }
    dir.ok_or_else(|| BuildError::Input(format!("cache {spec:?}: no {key}=DIR")))
}

fn tag_of(key: &str) -> String {
    format!("{REPO}:k{}", key.trim_start_matches("sha256:"))
}

/// Write the images `ids` (with their keys) to `dir`.
pub fn export(paths: &Paths, dir: &Path, ids: &[String]) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| BuildError::Input(format!("cache-to {}: {e}", dir.display())))?;
    let all = ImageStore::open(&paths.root).load()?;
    let chosen: Vec<(ImageRecord, Vec<String>)> = ids
        .iter()
        .filter_map(|id| all.iter().find(|i| i.id == *id))
        .filter_map(|i| i.build_key.as_ref().map(|k| (i.clone(), vec![tag_of(k)])))
        .collect();
    let file = dir.join(FILE);
    let _ = std::fs::remove_file(&file);
    archive::save(paths, &chosen, Format::OciArchive, Target::Path(&file))?;
    Ok(())
}

/// Load `dir`'s archive (when it has one) into the store as build cache.
pub fn import(paths: &Paths, userxattr: bool, dir: &Path) -> Result<()> {
    let file = dir.join(FILE);
    let mut f = match std::fs::File::open(&file) {
        Ok(f) => f,
        // docker goes on without a cache it cannot read.
        Err(_) => return Ok(()),
    };
    let loaded = archive::load(paths, userxattr, &mut f, None)?;
    let prefix = format!("{REPO}:k");
    ImageStore::open(&paths.root).update(|all| {
        for l in &loaded {
            let Some(img) = all.iter_mut().find(|i| i.id == l.id) else {
                continue;
            };
            let key = img
                .repo_tags
                .iter()
                .find_map(|t| t.strip_prefix(&prefix))
                .map(|hex| format!("sha256:{hex}"));
            img.repo_tags.retain(|t| !t.starts_with(REPO));
            if img.build_key.is_none() {
                img.build_key = key;
            }
        }
        Ok(())
    })?;
    Ok(())
}
