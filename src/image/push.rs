//! Push: a local image to a registry. Layers stored plain are compressed first (once); blobs
//! the registry has are skipped, others mounted from a sibling repository or uploaded, a few
//! at a time; the manifest goes last, so a push that stops midway leaves no tag behind and the
//! next one completes it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{compressed, lookup, Error, ImageRecord, ImageStore, Result};
use crate::fsutil::short_id;
use crate::paths::Paths;
use crate::registry::manifest::{self as mt, Compression, ImageManifest};
use crate::registry::{
    layer_compression, BlobPush, Client, ClientOptions, Descriptor, Reference, RegistriesConf,
    UploadPolicy,
};

/// How many blobs upload at once.
const PARALLEL_BLOBS: usize = 3;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Docker image manifest v2, schema 2 (docker's default).
    #[default]
    Docker,
    Oci,
}

pub struct PushRequest {
    /// The local image: a name, a short name or an ID.
    pub source: String,
    /// Where to push; the source's own name when None.
    pub destination: Option<String>,
    pub format: Format,
    pub tls_verify: Option<bool>,
}

/// What happens to one layer, for the progress display.
#[derive(Clone, Debug)]
pub enum BlobEvent {
    Preparing,
    Waiting,
    Pushing { done: u64, total: u64 },
    Pushed,
    Exists,
    Mounted { from: String },
}

/// Receives progress while a push runs; implemented by the CLI.
pub trait Progress: Sync {
    /// Once the destination is known, before any layer event.
    fn start(&self, destination: &Reference);
    /// `layer` is the 12-character short diff ID, as docker shows it.
    fn layer(&self, layer: &str, event: BlobEvent);
}

pub struct PushOutcome {
    pub reference: Reference,
    /// The manifest's digest and size, as docker prints them at the end.
    pub digest: String,
    pub size: usize,
}

/// One blob to send: where it is stored and how it is described.
struct Blob {
    desc: Descriptor,
    /// The diff ID's short form for layers; None for the config.
    shown: Option<String>,
}

/// Push the local image `req.source` to its name or `req.destination`.
pub fn push(
    paths: &Paths,
    conf: &RegistriesConf,
    req: &PushRequest,
    progress: &dyn Progress,
) -> Result<PushOutcome> {
    let images = ImageStore::open(&paths.root);
    let all = images.load()?;
    let found = lookup::find(&all, &req.source, conf).map_err(|e| match e {
        Error::NoSuchImage(n) => {
            Error::Other(format!("An image does not exist locally with the tag: {n}"))
        }
        e => e,
    })?;
    let image = &all[found.index];
    let dest_input = match &req.destination {
        Some(d) => d.clone(),
        None if lookup::find_by_id_only(&req.source).is_some()
            || image
                .id
                .trim_start_matches("sha256:")
                .starts_with(&req.source) =>
        {
            return Err(Error::Other(format!(
                "{}: an image ID cannot be pushed without a destination name (tag it first)",
                req.source
            )))
        }
        None => found.tag.clone().unwrap_or_else(|| req.source.clone()),
    };
    let dest = Reference::parse(&dest_input, conf)?;
    progress.start(&dest);
    let plan = plan(&images, image, req.format, progress)?;
    let sources = mount_sources(image, &dest);
    let opts = ClientOptions {
        tls_verify: req.tls_verify,
        push: Some(sources.clone()),
        ..ClientOptions::default()
    };
    let client = Client::new(paths, conf, &dest, opts)?;
    let target = dest.tag_or_digest();
    if let Some(d) = &dest.digest {
        if &plan.digest != d {
            return Err(Error::Other(format!(
                "cannot push {} to digest {d}: its manifest in this format is {}",
                req.source, plan.digest
            )));
        }
    }
    let digest = send(&client, &images, &plan, &sources, &target, progress)?;
    // The new repo digest is recorded as docker records it (RepoDigests after a push).
    let repo_digest = format!("{}@{digest}", dest.name());
    let id = image.id.clone();
    images.update(|all| {
        if let Some(img) = all.iter_mut().find(|i| i.id == id) {
            if !img.repo_digests.contains(&repo_digest) {
                img.repo_digests.push(repo_digest.clone());
            }
        }
        Ok(())
    })?;
    Ok(PushOutcome {
        reference: dest,
        digest,
        size: plan.manifest.len(),
    })
}

/// A local image made ready to send: its blobs and its manifest in one format.
pub struct Plan {
    blobs: Vec<Blob>,
    pub manifest: Vec<u8>,
    pub media_type: &'static str,
    pub digest: String,
}

/// Work out what pushing `image` in `format` sends, compressing plain layers (once, kept in
/// the store) on the way; nothing goes over the network.
pub fn plan(
    images: &ImageStore,
    image: &ImageRecord,
    format: Format,
    progress: &dyn Progress,
) -> Result<Plan> {
    let manifest = stored_manifest(images, image)?;
    let config = config_descriptor(image, &manifest, format);
    let diff_ids = super::config::ImageConfig::parse(&images.read_blob(&image.id)?)
        .map_err(|e| Error::Other(format!("{}: {e}", short_id(&image.id))))?
        .rootfs
        .diff_ids;
    let shown: Vec<String> = (0..manifest.layers.len())
        .map(|i| short_id(diff_ids.get(i).unwrap_or(&manifest.layers[i].digest)).to_string())
        .collect();
    for s in &shown {
        progress.layer(s, BlobEvent::Preparing);
    }
    let mut blobs = Vec::new();
    for (i, l) in manifest.layers.iter().enumerate() {
        blobs.push(Blob {
            desc: pushed_layer(images, l, format)?,
            shown: Some(shown[i].clone()),
        });
    }
    let (bytes, media_type) = manifest_bytes(images, image, &manifest, format, &blobs, &config)?;
    blobs.push(Blob {
        desc: config,
        shown: None,
    });
    Ok(Plan {
        digest: crate::registry::sha256_digest(&bytes),
        blobs,
        manifest: bytes,
        media_type,
    })
}

/// Send a plan's blobs (skipping, mounting or uploading each) and then its manifest under
/// `target`, a tag or the manifest's digest; returns the digest.
pub fn send(
    client: &Client,
    images: &ImageStore,
    plan: &Plan,
    sources: &[String],
    target: &str,
    progress: &dyn Progress,
) -> Result<String> {
    send_blobs(client, images, &plan.blobs, sources, progress)?;
    Ok(client.put_manifest(target, plan.media_type, &plan.manifest)?)
}

fn stored_manifest(images: &ImageStore, image: &ImageRecord) -> Result<ImageManifest> {
    let bytes = images.read_blob(&image.manifest_digest)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path: images.blob_path(&image.manifest_digest),
        reason: format!("not an image manifest: {e}"),
    })
}

/// The config's descriptor with the media type of the format.
fn config_descriptor(image: &ImageRecord, manifest: &ImageManifest, format: Format) -> Descriptor {
    Descriptor {
        media_type: match format {
            Format::Docker => "application/vnd.docker.container.image.v1+json".into(),
            Format::Oci => "application/vnd.oci.image.config.v1+json".into(),
        },
        digest: image.id.clone(),
        size: manifest.config.size,
        platform: None,
        annotations: None,
        urls: None,
    }
}

/// A layer as pushed: compressed (a plain one gets its gzip copy), typed for the format.
fn pushed_layer(images: &ImageStore, l: &Descriptor, format: Format) -> Result<Descriptor> {
    let compression = layer_compression(&l.media_type).ok_or_else(|| {
        Error::Other(format!(
            "layer {} has unsupported media type {:?}",
            l.digest, l.media_type
        ))
    })?;
    let (digest, size, compression) = match compression {
        Compression::None => {
            let c = compressed::gzip_copy(images, &l.digest)?;
            (c.digest, c.size, Compression::Gzip)
        }
        other => (l.digest.clone(), l.size, other),
    };
    let foreign = l.media_type == mt::MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP
        || l.media_type == mt::MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP;
    let media_type = match (format, compression) {
        _ if foreign => l.media_type.clone(),
        (Format::Docker, Compression::Zstd) => mt::MEDIA_TYPE_DOCKER_LAYER_ZSTD.into(),
        (Format::Docker, _) => mt::MEDIA_TYPE_DOCKER_LAYER_GZIP.into(),
        (Format::Oci, Compression::Zstd) => mt::MEDIA_TYPE_OCI_LAYER_ZSTD.into(),
        (Format::Oci, _) => mt::MEDIA_TYPE_OCI_LAYER_GZIP.into(),
    };
    Ok(Descriptor {
        media_type,
        digest,
        size,
        platform: None,
        annotations: l.annotations.clone(),
        urls: l.urls.clone(),
    })
}

/// The manifest to push: the stored bytes when they already say this (so a pulled image keeps
/// its digest), else a new manifest in the format.
fn manifest_bytes(
    images: &ImageStore,
    image: &ImageRecord,
    stored: &ImageManifest,
    format: Format,
    layers: &[Blob],
    config: &Descriptor,
) -> Result<(Vec<u8>, &'static str)> {
    let media_type = match format {
        Format::Docker => mt::MEDIA_TYPE_DOCKER_MANIFEST,
        Format::Oci => mt::MEDIA_TYPE_OCI_MANIFEST,
    };
    let same_layers = stored.layers.len() == layers.len()
        && stored.layers.iter().zip(layers).all(|(a, b)| *a == b.desc);
    if image.manifest_media_type == media_type && same_layers && stored.config == *config {
        return Ok((images.read_blob(&image.manifest_digest)?, media_type));
    }
    let m = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type.into()),
        config: config.clone(),
        layers: layers.iter().map(|b| b.desc.clone()).collect(),
        annotations: match format {
            Format::Oci => stored.annotations.clone(),
            Format::Docker => None,
        },
    };
    let bytes = serde_json::to_vec_pretty(&m)
        .map_err(|e| Error::Other(format!("cannot write manifest: {e}")))?;
    Ok((bytes, media_type))
}

/// Other repositories of the destination's registry this image came from or went to: a blob
/// there can be mounted instead of uploaded.
pub fn mount_sources(image: &ImageRecord, dest: &Reference) -> Vec<String> {
    let prefix = format!("{}/", dest.domain);
    let mut out: Vec<String> = Vec::new();
    let names = image
        .repo_tags
        .iter()
        .map(|t| lookup::split_tag(t).0)
        .chain(
            image
                .repo_digests
                .iter()
                .filter_map(|d| d.split_once('@').map(|(n, _)| n)),
        );
    for name in names {
        if let Some(repo) = name.strip_prefix(&prefix) {
            if repo != dest.path && !out.iter().any(|o| o == repo) {
                out.push(repo.to_string());
            }
        }
    }
    out
}

fn send_blobs(
    client: &Client,
    images: &ImageStore,
    blobs: &[Blob],
    sources: &[String],
    progress: &dyn Progress,
) -> Result<()> {
    for b in blobs {
        if let Some(s) = &b.shown {
            progress.layer(s, BlobEvent::Waiting);
        }
    }
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let failed = || first_error.lock().map(|e| e.is_some()).unwrap_or(true);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_BLOBS.min(blobs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= blobs.len() || failed() {
                    break;
                }
                if let Err(e) = send_one(client, images, &blobs[i], sources, progress) {
                    let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert(e);
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn send_one(
    client: &Client,
    images: &ImageStore,
    blob: &Blob,
    sources: &[String],
    progress: &dyn Progress,
) -> Result<()> {
    let d = &blob.desc;
    let path = images.blob_path(&d.digest);
    let open = |offset: u64| -> io::Result<Box<dyn Read + Send>> {
        let mut f = File::open(&path)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(io::BufReader::with_capacity(1 << 18, f)))
    };
    if !path.is_file() {
        return Err(Error::Other(format!(
            "blob {} of this image is missing from the store (run 'cove system check')",
            d.digest
        )));
    }
    let total = d.size;
    let report = |done: u64| {
        if let Some(s) = &blob.shown {
            progress.layer(s, BlobEvent::Pushing { done, total });
        }
    };
    let outcome = client.push_blob(
        &d.digest,
        d.size,
        sources,
        &open,
        UploadPolicy::default(),
        &report,
    )?;
    if let Some(s) = &blob.shown {
        let event = match outcome {
            BlobPush::Exists => BlobEvent::Exists,
            BlobPush::Mounted { from } => BlobEvent::Mounted { from },
            BlobPush::Uploaded => BlobEvent::Pushed,
        };
        progress.layer(s, event);
    }
    Ok(())
}
