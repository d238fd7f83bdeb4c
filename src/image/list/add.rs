//! Entries for a list: a local image (described as its push in the docker format would send
//! it) or a registry's manifest (one platform of an index, or all of them with --all), with
//! the platform taken from the image's config and overridden by --arch/--os/--variant.

use std::collections::BTreeMap;

use super::{Entry, ListStore, Source};
use crate::image::config::ImageConfig;
use crate::image::push::{self, BlobEvent, Format, Progress};
use crate::image::{lookup, Error, ImageStore, Result};
use crate::paths::Paths;
use crate::registry::manifest::{parse_manifest, DescriptorPlatform, ParsedManifest};
use crate::registry::{Client, ClientOptions, Descriptor, Platform, Reference, RegistriesConf};

/// Platform fields and annotations to set on entries (`--arch`, `--os`, ..., `--annotation`).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub arch: Option<String>,
    pub os: Option<String>,
    pub variant: Option<String>,
    pub os_version: Option<String>,
    pub os_features: Vec<String>,
    pub annotations: BTreeMap<String, String>,
}

impl Overrides {
    pub fn apply(&self, d: &mut Descriptor) {
        let p = d.platform.get_or_insert_with(DescriptorPlatform::default);
        if let Some(a) = &self.arch {
            p.architecture = a.clone();
        }
        if let Some(o) = &self.os {
            p.os = o.clone();
        }
        if let Some(v) = &self.variant {
            p.variant = Some(v.clone()).filter(|v| !v.is_empty());
        }
        if let Some(v) = &self.os_version {
            p.os_version = Some(v.clone()).filter(|v| !v.is_empty());
        }
        if !self.os_features.is_empty() {
            p.os_features = Some(self.os_features.clone());
        }
        if !self.annotations.is_empty() {
            d.annotations
                .get_or_insert_with(BTreeMap::new)
                .extend(self.annotations.clone());
        }
    }
}

pub struct AddRequest {
    /// What the user typed: a local image, `docker://REF`, `containers-storage:REF`, or a
    /// registry reference.
    pub image: String,
    /// Every platform of an index, not just this host's.
    pub all: bool,
    pub tls_verify: Option<bool>,
    pub overrides: Overrides,
}

/// No progress: describing a local image only compresses its plain layers.
struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &Reference) {}
    fn layer(&self, _: &str, _: BlobEvent) {}
}

/// Add the image's manifest(s) to the list named `list` (which must exist); an entry with the
/// same digest is replaced. Returns the digests added.
pub fn add(
    paths: &Paths,
    conf: &RegistriesConf,
    list: &str,
    req: &AddRequest,
) -> Result<Vec<String>> {
    let lists = ListStore::open(&paths.root);
    if lists.get(list)?.is_none() {
        return Err(super::no_such_list(list));
    }
    let mut entries = resolve(paths, conf, req)?;
    for e in &mut entries {
        req.overrides.apply(&mut e.descriptor);
    }
    let digests = entries
        .iter()
        .map(|e| e.descriptor.digest.clone())
        .collect();
    lists.edit(list, |l| {
        for e in entries {
            l.entries
                .retain(|old| old.descriptor.digest != e.descriptor.digest);
            l.entries.push(e);
        }
        Ok(())
    })?;
    Ok(digests)
}

/// The entries an image argument stands for.
pub fn resolve(paths: &Paths, conf: &RegistriesConf, req: &AddRequest) -> Result<Vec<Entry>> {
    if let Some(r) = req.image.strip_prefix("docker://") {
        return remote(paths, conf, r, req);
    }
    let (name, local_only) = match req.image.strip_prefix("containers-storage:") {
        Some(n) => (n, true),
        None => (req.image.as_str(), false),
    };
    let images = ImageStore::open(&paths.root);
    let all = images.load()?;
    match lookup::find(&all, name, conf) {
        Ok(found) => {
            let mut e = local(&images, &all[found.index])?;
            e.added_as = found.tag.clone();
            Ok(vec![e])
        }
        Err(Error::NoSuchImage(_)) if !local_only => remote(paths, conf, name, req),
        Err(e) => Err(e),
    }
}

fn local(images: &ImageStore, image: &crate::image::ImageRecord) -> Result<Entry> {
    let plan = push::plan(images, image, Format::Docker, &Quiet)?;
    let config = ImageConfig::parse(&images.read_blob(&image.id)?)
        .map_err(|e| Error::Other(format!("{}: {e}", crate::fsutil::short_id(&image.id))))?;
    Ok(Entry {
        descriptor: Descriptor {
            media_type: plan.media_type.to_string(),
            digest: plan.digest.clone(),
            size: plan.manifest.len() as u64,
            platform: Some(platform_of(&config)),
            annotations: None,
            urls: None,
        },
        source: Source::Local {
            image: image.id.clone(),
        },
        added_as: None,
    })
}

fn platform_of(config: &ImageConfig) -> DescriptorPlatform {
    DescriptorPlatform {
        architecture: config.architecture.clone(),
        os: config.os.clone(),
        variant: config.variant.clone(),
        ..DescriptorPlatform::default()
    }
}

fn remote(
    paths: &Paths,
    conf: &RegistriesConf,
    input: &str,
    req: &AddRequest,
) -> Result<Vec<Entry>> {
    let reference = Reference::parse(input, conf)?;
    let opts = ClientOptions {
        tls_verify: req.tls_verify,
        ..ClientOptions::default()
    };
    let client = Client::new(paths, conf, &reference, opts)?;
    let raw = client.manifest(&reference.tag_or_digest())?;
    let what = reference.familiar_string();
    let source = Source::Remote {
        repository: reference.name(),
    };
    match parse_manifest(&raw.bytes, &raw.media_type, &what)? {
        ParsedManifest::Index(index) => {
            let children: Vec<Descriptor> = if req.all {
                index
                    .manifests
                    .into_iter()
                    .filter(|d| !is_attestation(d))
                    .collect()
            } else {
                let host = Platform::host();
                let chosen = host.select(&index.manifests).ok_or_else(|| {
                    Error::Other(format!(
                        "no image for {host} in the manifest list {what} (use --all to add \
                         every platform)"
                    ))
                })?;
                vec![chosen.clone()]
            };
            Ok(children
                .into_iter()
                .map(|descriptor| Entry {
                    descriptor,
                    source: source.clone(),
                    added_as: Some(super::full_reference(&reference)),
                })
                .collect())
        }
        ParsedManifest::Image(m) => {
            let config = client.blob_bytes(&m.config.digest, crate::registry::MAX_CONFIG_BYTES)?;
            let config =
                ImageConfig::parse(&config).map_err(|e| Error::Other(format!("{what}: {e}")))?;
            Ok(vec![Entry {
                descriptor: Descriptor {
                    media_type: raw.media_type.clone(),
                    digest: raw.digest.clone(),
                    size: raw.bytes.len() as u64,
                    platform: Some(platform_of(&config)),
                    annotations: None,
                    urls: None,
                },
                source,
                added_as: Some(super::full_reference(&reference)),
            }])
        }
    }
}

/// BuildKit's attestation manifests ride in indexes as "unknown/unknown" entries.
fn is_attestation(d: &Descriptor) -> bool {
    d.annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("vnd.docker.reference.type"))
}
