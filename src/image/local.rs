//! Adding images made on this machine (commit, import, load): the layers and blobs go in
//! under the pull lock (so the debris sweep leaves them alone), the image is recorded last,
//! and any failure before that takes back what was added, as a failed pull does.

use std::fs::File;
use std::io::BufReader;

use serde_json::{json, Value};

use super::debris::{self, Additions, PullGuard};
use super::ingest::{Ingested, TempBlob};
use super::{Error, ImageRecord, ImageStore, Result};
use crate::overlay::{decompress, LayerInfo, LayerStore};
use crate::registry::Reference;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// An addition under way. Dropped before `record`, it removes what it added.
pub struct Adding<'a> {
    pub images: &'a ImageStore,
    pub layers: &'a LayerStore,
    guard: Option<PullGuard>,
    added: Additions,
}

/// One layer of a new image, as its manifest and record name it.
#[derive(Clone, Debug)]
pub struct NewLayer {
    pub chain_id: String,
    pub diff_id: String,
    pub blob_digest: String,
    pub blob_size: u64,
    pub media_type: String,
    /// Unpacked size.
    pub size: u64,
}

impl<'a> Adding<'a> {
    pub fn begin(images: &'a ImageStore, layers: &'a LayerStore) -> Result<Adding<'a>> {
        let guard = debris::hold_pull(images)?;
        layers.clean_stale()?;
        images.clean_stale();
        Ok(Adding {
            images,
            layers,
            guard: Some(guard),
            added: Additions {
                layers: Vec::new(),
                blobs: Vec::new(),
            },
        })
    }

    /// The stores this addition writes to.
    pub fn stores(&self) -> (&'a ImageStore, &'a LayerStore) {
        (self.images, self.layers)
    }

    /// Put an ingested layer in place as the layer on top of `parent`, and keep its blob.
    /// A layer already placed under another parent is unpacked again from its blob.
    pub fn place(
        &mut self,
        ing: &mut Ingested<'a>,
        media_type: &str,
        parent: Option<&str>,
    ) -> Result<NewLayer> {
        let chain_id = chain_on(parent, &ing.diff_id);
        let info = if self.layers.exists(&chain_id) {
            self.layers.info(&chain_id)?
        } else if let Some(staged) = ing.staged.take() {
            let (info, added) = staged.place(&chain_id, parent)?;
            if added {
                self.added.layers.push(chain_id.clone());
            }
            info
        } else {
            let path = ing.blob.current_path(self.images);
            let file = File::open(&path).map_err(|e| Error::io("cannot open blob", &path, e))?;
            let mut tar = decompress(Box::new(BufReader::with_capacity(1 << 18, file)))?;
            let info = self
                .layers
                .unpack(&chain_id, &ing.diff_id, parent, &mut tar)?;
            self.added.layers.push(chain_id.clone());
            info
        };
        self.keep_blob(&mut ing.blob)?;
        Ok(new_layer(&info, &ing.blob, media_type))
    }

    pub fn keep_blob(&mut self, blob: &mut TempBlob) -> Result<()> {
        if blob.keep(self.images)? {
            self.added.blobs.push(blob.digest.clone());
        }
        Ok(())
    }

    /// Store a small blob (a config or manifest) named by its digest.
    pub fn write_blob(&mut self, bytes: &[u8]) -> Result<String> {
        let digest = sha256(bytes);
        if !self.images.has_blob(&digest) {
            self.images.write_blob(&digest, bytes)?;
            self.added.blobs.push(digest.clone());
        }
        Ok(digest)
    }

    /// An image record for `config` and its layers, its config and an OCI manifest stored.
    pub fn image(
        &mut self,
        config: &Value,
        layers: &[NewLayer],
        tags: Vec<String>,
    ) -> Result<ImageRecord> {
        let config_bytes =
            serde_json::to_vec(config).map_err(|e| Error::Other(format!("image config: {e}")))?;
        self.image_from(&config_bytes, None, layers, tags)
    }

    /// An image record for the config blob `config_bytes` (kept byte for byte: its digest is
    /// the image ID) with `manifest` (bytes and media type) as given, else an OCI manifest made
    /// for it.
    pub fn image_from(
        &mut self,
        config_bytes: &[u8],
        manifest: Option<(&[u8], &str)>,
        layers: &[NewLayer],
        tags: Vec<String>,
    ) -> Result<ImageRecord> {
        let id = self.write_blob(config_bytes)?;
        let made;
        let (manifest_bytes, media_type) = match manifest {
            Some(m) => m,
            None => {
                made = serde_json::to_vec(&oci_manifest(&id, config_bytes.len(), layers))
                    .map_err(|e| Error::Other(format!("manifest: {e}")))?;
                (&made[..], OCI_MANIFEST)
            }
        };
        let manifest_digest = self.write_blob(manifest_bytes)?;
        let created = serde_json::from_slice::<Value>(config_bytes)
            .ok()
            .and_then(|c| c["created"].as_str().map(str::to_string));
        Ok(ImageRecord {
            id,
            manifest_digest,
            manifest_media_type: media_type.to_string(),
            repo_tags: tags,
            repo_digests: Vec::new(),
            layers: layers.iter().map(|l| l.chain_id.clone()).collect(),
            layer_blobs: layers.iter().map(|l| l.blob_digest.clone()).collect(),
            size: layers.iter().map(|l| l.size).sum(),
            created,
            stored_at: crate::time::now().0,
            build_key: None,
        })
    }

    /// Write the records: the addition is complete. A record whose image is already stored
    /// only adds its tags to it; `retag` gives more tags to images already stored (by ID).
    /// Tags move from any other image, as with pull and tag.
    pub fn record(
        mut self,
        records: Vec<ImageRecord>,
        retag: Vec<(String, Vec<String>)>,
    ) -> Result<()> {
        self.images.update(|all| {
            for rec in records {
                merge_record(all, rec);
            }
            for (id, tags) in retag {
                if !all.iter().any(|i| i.id == id) {
                    return Err(Error::Other(format!(
                        "image {id} was removed while it was being loaded"
                    )));
                }
                let mut rec = all.iter().find(|i| i.id == id).cloned().ok_or_else(|| {
                    Error::Other(format!("image {id} was removed while it was being loaded"))
                })?;
                rec.repo_tags = tags;
                merge_record(all, rec);
            }
            Ok(())
        })?;
        self.guard = None;
        Ok(())
    }
}

impl Drop for Adding<'_> {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            debris::undo_pull(self.images, self.layers, guard, &self.added);
        }
    }
}

/// An OCI image manifest for a config blob and its layer blobs.
pub fn oci_manifest(config_digest: &str, config_size: usize, layers: &[NewLayer]) -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size },
        "layers": layers.iter().map(|l| json!({
            "mediaType": l.media_type, "digest": l.blob_digest, "size": l.blob_size,
        })).collect::<Vec<_>>(),
    })
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        crate::overlay::hex(&sha2::Sha256::digest(bytes))
    )
}

/// The chain ID of a layer with this diff_id on top of `parent`.
pub fn chain_on(parent: Option<&str>, diff_id: &str) -> String {
    match parent {
        None => diff_id.to_string(),
        Some(p) => {
            let both = crate::overlay::chain_ids(&[p.to_string(), diff_id.to_string()]);
            both[1].clone()
        }
    }
}

pub fn new_layer(info: &LayerInfo, blob: &TempBlob, media_type: &str) -> NewLayer {
    NewLayer {
        chain_id: info.chain_id.clone(),
        diff_id: info.diff_id.clone(),
        blob_digest: blob.digest.clone(),
        blob_size: blob.size,
        media_type: media_type.to_string(),
        size: info.size,
    }
}

/// Put `rec` into the list; an image already there only gains the tags.
fn merge_record(all: &mut Vec<ImageRecord>, rec: ImageRecord) {
    for img in all.iter_mut() {
        if img.id != rec.id {
            img.repo_tags.retain(|t| !rec.repo_tags.contains(t));
        }
    }
    match all.iter_mut().find(|i| i.id == rec.id) {
        Some(existing) => {
            for t in rec.repo_tags {
                if !existing.repo_tags.contains(&t) {
                    existing.repo_tags.push(t);
                }
            }
        }
        None => all.push(rec),
    }
}

/// The full tagged name an image gets from what the user typed (`app`, `app:1`,
/// `host:5000/app:1`), normalised as `tag` does; a digest is refused.
pub fn tag_name(input: &str, conf: &crate::registry::RegistriesConf) -> Result<String> {
    let r = Reference::parse(input, conf)?;
    if r.digest.is_some() {
        return Err(Error::Other(
            "refusing to create a tag with a digest reference".into(),
        ));
    }
    Ok(r.tagged_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_follow_the_oci_rule() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        assert_eq!(chain_on(None, &a), a);
        assert_eq!(
            chain_on(Some(&a), &b),
            crate::overlay::chain_ids(&[a.clone(), b.clone()])[1]
        );
    }

    #[test]
    fn merged_records_keep_the_stored_image_and_move_tags() {
        let rec = |id: &str, tags: &[&str]| ImageRecord {
            id: id.into(),
            manifest_digest: format!("m-{id}"),
            manifest_media_type: String::new(),
            repo_tags: tags.iter().map(|t| t.to_string()).collect(),
            repo_digests: vec![],
            layers: vec![],
            layer_blobs: vec![],
            size: 0,
            created: None,
            stored_at: 0,
            build_key: None,
        };
        let mut all = vec![rec("a", &["x:1", "y:1"]), rec("b", &[])];
        let mut newer = rec("b", &["x:1"]);
        newer.manifest_digest = "other".into();
        merge_record(&mut all, newer);
        assert_eq!(all[0].repo_tags, ["y:1"]);
        assert_eq!(all[1].repo_tags, ["x:1"]);
        assert_eq!(all[1].manifest_digest, "m-b");
        merge_record(&mut all, rec("c", &["y:1"]));
        assert_eq!(all.len(), 3);
        assert!(all[0].repo_tags.is_empty());
    }
}
