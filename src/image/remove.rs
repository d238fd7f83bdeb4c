//! Removing images: untag, delete records, then free the layers and blobs that no remaining
//! image uses. Records change first, so a record never names a layer that is gone.

use std::collections::HashSet;

use super::lookup::{self, familiar};
use super::{Error, ImageRecord, ImageStore, Result};
use crate::fsutil::short_id;
use crate::overlay::LayerStore;
use crate::registry::RegistriesConf;

/// What `rmi` did, in docker's words: "Untagged: x", "Deleted: sha256:...".
#[derive(Default)]
pub struct Removed {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
    pub reclaimed: u64,
}

/// `rmi`: remove the tag `input` names, or the whole image when it was the last tag or
/// `input` is an ID. An image with several tags removed by ID needs `force`.
pub fn remove_image(
    images: &ImageStore,
    layers: &LayerStore,
    conf: &RegistriesConf,
    input: &str,
    force: bool,
    in_use: &dyn Fn(&str) -> Option<String>,
) -> Result<Removed> {
    let (mut out, gone) = images.update(|all| {
        let found = lookup::find(all, input, conf)?;
        let mut out = Removed::default();
        let img = &mut all[found.index];
        match found.tag {
            Some(tag) if img.repo_tags.len() > 1 => {
                img.repo_tags.retain(|t| t != &tag);
                out.untagged.push(familiar(&tag));
                return Ok((out, Vec::new()));
            }
            None if img.repo_tags.len() > 1 && !force => {
                return Err(Error::Other(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    short_id(&img.id)
                )));
            }
            _ => {}
        }
        if let Some(container) = in_use(&img.id) {
            if !force {
                return Err(Error::Other(format!(
                    "conflict: unable to remove repository reference \"{input}\" (must force) - container {} is using its referenced image {}",
                    short_id(&container),
                    short_id(&img.id)
                )));
            }
            // Forced: the tags go, the image stays (dangling) for the container using it.
            out.untagged.extend(img.repo_tags.drain(..).map(|t| familiar(&t)));
            return Ok((out, Vec::new()));
        }
        let img = all.remove(found.index);
        out.untagged.extend(img.repo_tags.iter().map(|t| familiar(t)));
        out.untagged.extend(img.repo_digests.iter().map(|d| familiar(d)));
        out.deleted.push(img.id.clone());
        Ok((out, vec![img]))
    })?;
    out.reclaimed = free_unused(images, layers, &gone)?;
    Ok(out)
}

/// `image prune`: remove dangling images (no tag), or with `all` every image, except those
/// a container uses; then what interrupted pulls left (staging files, layers and blobs no
/// image uses), unless a pull is running.
pub fn prune(
    images: &ImageStore,
    layers: &LayerStore,
    select: &dyn Fn(&ImageRecord) -> bool,
    in_use: &dyn Fn(&str) -> Option<String>,
) -> Result<Removed> {
    let gone = images.update(|list| {
        let (gone, keep): (Vec<ImageRecord>, Vec<ImageRecord>) = list
            .drain(..)
            .partition(|img| select(img) && in_use(&img.id).is_none());
        *list = keep;
        Ok(gone)
    })?;
    let mut out = Removed::default();
    for img in &gone {
        out.untagged
            .extend(img.repo_tags.iter().map(|t| familiar(t)));
        out.untagged
            .extend(img.repo_digests.iter().map(|d| familiar(d)));
        out.deleted.push(img.id.clone());
    }
    out.reclaimed = free_unused(images, layers, &gone)?;
    out.reclaimed += super::debris::scan(images, layers)?.remove(images, layers)?;
    Ok(out)
}

/// What `image prune` removes: untagged images (not the build cache, which `builder prune`
/// removes), or with `all` every image no container uses.
pub fn dangling_or_all(all: bool) -> impl Fn(&ImageRecord) -> bool {
    move |img| all || (img.repo_tags.is_empty() && img.build_key.is_none())
}

/// Remove the records of the images `ids` and free what no remaining image uses (damaged
/// images, for `system check --repair`). Returns the bytes freed.
pub fn remove_records(images: &ImageStore, layers: &LayerStore, ids: &[String]) -> Result<u64> {
    let gone = images.update(|list| {
        let (gone, keep): (Vec<ImageRecord>, Vec<ImageRecord>) =
            list.drain(..).partition(|img| ids.contains(&img.id));
        *list = keep;
        Ok(gone)
    })?;
    free_unused(images, layers, &gone)
}

/// Delete the layers and blobs of `gone` images that no image in the store still uses.
/// Returns the bytes freed (unpacked layer sizes).
fn free_unused(images: &ImageStore, layers: &LayerStore, gone: &[ImageRecord]) -> Result<u64> {
    if gone.is_empty() {
        return Ok(0);
    }
    let remaining = images.load()?;
    let used_layers: HashSet<&str> = remaining
        .iter()
        .flat_map(|i| i.layers.iter().map(String::as_str))
        .collect();
    let mut used_blobs: HashSet<String> = HashSet::new();
    for img in &remaining {
        used_blobs.insert(img.id.clone());
        used_blobs.insert(img.manifest_digest.clone());
        used_blobs.extend(img.layer_blobs.iter().cloned());
        used_blobs.extend(img.repo_digests.iter().filter_map(|d| digest_of(d)));
    }
    let mut freed = 0;
    for img in gone {
        for chain in &img.layers {
            if !used_layers.contains(chain.as_str()) && layers.exists(chain) {
                freed += layers.info(chain).map(|i| i.size).unwrap_or(0);
                layers.remove(chain)?;
            }
        }
        let mut blobs = vec![img.id.clone(), img.manifest_digest.clone()];
        blobs.extend(img.layer_blobs.iter().cloned());
        blobs.extend(img.repo_digests.iter().filter_map(|d| digest_of(d)));
        for blob in blobs {
            if !used_blobs.contains(&blob) {
                images.remove_blob(&blob)?;
                super::compressed::drop_copy(images, &blob, &used_blobs)?;
            }
        }
    }
    Ok(freed)
}

fn digest_of(repo_digest: &str) -> Option<String> {
    repo_digest.rsplit_once('@').map(|(_, d)| d.to_string())
}
