//! `load`: an archive read in one pass (see `read`), then understood as docker-archive
//! (`manifest.json`: classic `<id>/layer.tar`, skopeo's `<hex>.tar`, or docker 25's OCI layout
//! beside it) or as an OCI archive (`index.json`, `blobs/sha256/...`), every digest checked,
//! and its images recorded — all of them or, on any error, none.

use std::collections::HashSet;
use std::io::Read;

use serde::Deserialize;

use super::super::config::ImageConfig;
use super::super::local::{sha256, Adding, NewLayer};
use super::super::{Error, ImageRecord, ImageStore, Result};
use super::read::{read_archive, Contents};
use crate::overlay::{chain_ids, LayerStore};
use crate::paths::Paths;
use crate::registry::{Platform, Reference, RegistriesConf};

/// One image found in the archive.
pub struct Loaded {
    /// `sha256:` of its config.
    pub id: String,
    /// Full tagged names (`docker.io/library/busybox:latest`).
    pub tags: Vec<String>,
}

/// What an image of the archive is made of, before anything is placed.
pub struct Plan {
    /// Who names the image, for errors ("manifest.json", "index.json").
    pub why: String,
    pub config: Vec<u8>,
    /// An OCI archive's own manifest (bytes and media type), kept as it is.
    pub manifest: Option<(Vec<u8>, String)>,
    /// Archive members holding the layers, bottom first.
    pub layers: Vec<String>,
    pub diff_ids: Vec<String>,
    /// What the manifest says of each layer blob: digest, size and media type.
    pub blobs: Vec<Option<(String, u64, String)>>,
    pub tags: Vec<String>,
}

/// Load every image of the archive; with `platform`, only those of that platform.
pub fn load(
    paths: &Paths,
    userxattr: bool,
    input: &mut dyn Read,
    platform: Option<&Platform>,
) -> Result<Vec<Loaded>> {
    let images = ImageStore::open(&paths.root);
    let layers = LayerStore::open(paths.overlay_root(), userxattr);
    let mut adding = Adding::begin(&images, &layers)?;
    let mut contents = read_archive(&images, &layers, input)?;
    let host = Platform::host();
    let mut plans = if contents.has("manifest.json") {
        docker_plans(&contents)?
    } else if contents.has("index.json") {
        super::oci::plans(&contents, platform.unwrap_or(&host))?
    } else {
        return Err(Error::Other(
            "this does not look like a docker or OCI image archive (it has no manifest.json \
             and no index.json)"
                .into(),
        ));
    };
    if plans.is_empty() {
        return Err(Error::Other("the archive holds no image".into()));
    }
    if let Some(want) = platform {
        plans.retain(|p| {
            ImageConfig::parse(&p.config).is_ok_and(|c| {
                c.os == want.os
                    && c.architecture == want.architecture
                    && (want.variant.is_none() || c.variant.is_none() || c.variant == want.variant)
            })
        });
        if plans.is_empty() {
            return Err(Error::Other(format!(
                "the archive holds no image for {want}"
            )));
        }
    }
    let stored: HashSet<String> = images.load()?.into_iter().map(|i| i.id).collect();
    let mut records: Vec<ImageRecord> = Vec::new();
    let mut retag = Vec::new();
    let mut loaded = Vec::new();
    for plan in &plans {
        let id = sha256(&plan.config);
        if stored.contains(&id) {
            retag.push((id.clone(), plan.tags.clone()));
        } else if let Some(rec) = records.iter_mut().find(|r| r.id == id) {
            rec.repo_tags.extend(plan.tags.iter().cloned());
        } else {
            let new_layers = place_layers(&mut adding, &mut contents, plan)?;
            let manifest = plan.manifest.as_ref().map(|(b, t)| (&b[..], t.as_str()));
            records.push(adding.image_from(
                &plan.config,
                manifest,
                &new_layers,
                plan.tags.clone(),
            )?);
        }
        loaded.push(Loaded {
            id,
            tags: plan.tags.clone(),
        });
    }
    adding.record(records, retag)?;
    Ok(loaded)
}

/// Check each layer member against what the plan says of it, and put it in place.
fn place_layers<'s>(
    adding: &mut Adding<'s>,
    contents: &mut Contents<'s>,
    plan: &Plan,
) -> Result<Vec<NewLayer>> {
    let chain = chain_ids(&plan.diff_ids);
    let mut out: Vec<NewLayer> = Vec::new();
    for (i, member) in plan.layers.iter().enumerate() {
        let ing = contents.blob(member, &plan.why)?;
        let wrong = |what: &str, got: &str| {
            Error::Other(format!(
                "layer {member} does not match its digest: {what} {got}, its content is {}",
                ing.blob.digest
            ))
        };
        if let Some(hex) = member.strip_prefix("blobs/sha256/") {
            if ing.blob.digest.strip_prefix("sha256:") != Some(hex) {
                return Err(wrong("its name says", &format!("sha256:{hex}")));
            }
        }
        let mut media_type = ing.media_type().to_string();
        if let Some((digest, size, mt)) = &plan.blobs[i] {
            if *digest != ing.blob.digest {
                return Err(wrong("the manifest says", digest));
            }
            if *size != ing.blob.size {
                return Err(Error::Other(format!(
                    "layer {member} is {} bytes, its manifest says {size}",
                    ing.blob.size
                )));
            }
            media_type = mt.clone();
        }
        if ing.diff_id != plan.diff_ids[i] {
            return Err(Error::Other(format!(
                "layer {member} does not match the image config: it unpacks to {}, the config \
                 says {}",
                ing.diff_id, plan.diff_ids[i]
            )));
        }
        let parent = out.last().map(|l| l.chain_id.clone());
        let layer = adding.place(ing, &media_type, parent.as_deref())?;
        debug_assert_eq!(layer.chain_id, chain[i]);
        out.push(layer);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// docker-archive: `manifest.json` lists each image's config, tags and layer members.
fn docker_plans(contents: &Contents) -> Result<Vec<Plan>> {
    let bad = |e: String| Error::Other(format!("manifest.json: {e}"));
    let entries: Vec<DockerEntry> =
        serde_json::from_slice(contents.file("manifest.json", "the archive")?)
            .map_err(|e| bad(e.to_string()))?;
    let mut plans = Vec::new();
    for e in entries {
        let config = contents.file(&e.config, "manifest.json")?.to_vec();
        check_named(&e.config, &config)?;
        let cfg = ImageConfig::parse(&config).map_err(|r| bad(format!("{}: {r}", e.config)))?;
        if cfg.rootfs.diff_ids.len() != e.layers.len() {
            return Err(bad(format!(
                "{} lists {} layers but its config {} lists {}",
                e.config,
                e.layers.len(),
                e.config,
                cfg.rootfs.diff_ids.len()
            )));
        }
        let tags = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| archive_tag(t).map_err(|r| bad(r.to_string())))
            .collect::<Result<Vec<_>>>()?;
        plans.push(Plan {
            why: "manifest.json".into(),
            config,
            manifest: None,
            blobs: vec![None; e.layers.len()],
            layers: e.layers,
            diff_ids: cfg.rootfs.diff_ids,
            tags,
        });
    }
    Ok(plans)
}

/// A JSON member named `blobs/sha256/<hex>` must hash to its name.
pub fn check_named(member: &str, data: &[u8]) -> Result<()> {
    let Some(hex) = member
        .trim_start_matches("./")
        .strip_prefix("blobs/sha256/")
    else {
        return Ok(());
    };
    let got = sha256(data);
    if got.strip_prefix("sha256:") != Some(hex) {
        return Err(Error::Other(format!(
            "archive member {member} does not match its digest (its content is {got})"
        )));
    }
    Ok(())
}

/// A name as an archive writes it (`busybox:latest`, `host:5000/app:1`, full names too),
/// normalised by docker's rules, whatever this machine's search registries are.
pub fn archive_tag(name: &str) -> Result<String> {
    let r = Reference::parse(name, &RegistriesConf::default())?;
    if r.digest.is_some() {
        return Err(Error::Other(format!("{name:?} is not a tag")));
    }
    Ok(r.tagged_name())
}
