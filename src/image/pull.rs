//! Pull: resolve a reference at its registry, fetch the config, then download and unpack
//! the missing layers in parallel (streamed: network -> digest check -> blob file and
//! decompressor -> tar unpack), and record the image only when everything is in place.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::config::ImageConfig;
use super::{pipe, Error, ImageRecord, ImageStore, Result};
use crate::fsutil::{self, short_id};
use crate::overlay::{self, LayerStore};
use crate::paths::Paths;
use crate::registry::{
    layer_compression, Client, ClientOptions, Descriptor, Platform, Reference, RegistriesConf,
};

/// How many layers download at once.
const PARALLEL_LAYERS: usize = 3;

pub struct PullRequest {
    pub reference: String,
    pub platform: Option<String>,
    pub tls_verify: Option<bool>,
}

/// What happens to one layer, for the progress display.
#[derive(Clone, Copy, Debug)]
pub enum LayerEvent {
    Waiting,
    AlreadyExists,
    Downloading { done: u64, total: u64 },
    Extracting,
    Complete,
}

/// Receives progress while a pull runs; implemented by the CLI.
pub trait Progress: Sync {
    /// Called once the manifest is known, before any layer event.
    fn start(&self, reference: &Reference, layers: &[String]);
    /// `layer` is the 12-character short digest of the layer blob.
    fn layer(&self, layer: &str, event: LayerEvent);
}

pub struct PullOutcome {
    /// Full name with tag or digest, as pulled.
    pub reference: Reference,
    /// The digest the reference resolved to (index or manifest).
    pub digest: String,
    /// The tag already pointed at this image and every layer was present.
    pub up_to_date: bool,
}

pub fn pull(
    paths: &Paths,
    conf: &RegistriesConf,
    userxattr: bool,
    req: &PullRequest,
    progress: &dyn Progress,
) -> Result<PullOutcome> {
    let reference = Reference::parse(&req.reference, conf)?;
    let platform = match &req.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let opts = ClientOptions {
        tls_verify: req.tls_verify,
        platform,
        ..ClientOptions::default()
    };
    let client = Client::new(paths, conf, &reference, opts)?;
    let images = ImageStore::open(&paths.root);
    // Until the record is written, the layers and blobs fetched belong to no image: this
    // keeps `image prune` and `system check --repair` from taking them for debris.
    let pulling = super::debris::hold_pull(&images)?;
    let resolved = client.resolve_cached(&reference.tag_or_digest(), &|digest| {
        images.read_blob(digest).ok()
    })?;
    let top_digest = resolved
        .index
        .as_ref()
        .map(|i| i.digest.clone())
        .unwrap_or_else(|| resolved.manifest.digest.clone());
    let config = ImageConfig::parse(&resolved.config)
        .map_err(|e| Error::Other(format!("{reference}: {e}")))?;
    let descriptors = &resolved.parsed.layers;
    if descriptors.len() != config.rootfs.diff_ids.len() {
        return Err(Error::Other(format!(
            "{reference}: manifest lists {} layers but its config lists {}",
            descriptors.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    check_layer_types(&reference, descriptors)?;
    let chain = overlay::chain_ids(&config.rootfs.diff_ids);
    let layers = LayerStore::open(paths.overlay_root(), userxattr);
    let full_tag = reference
        .tag
        .as_ref()
        .map(|t| format!("{}:{t}", reference.name()));
    let repo_digest = format!("{}@{}", reference.name(), top_digest);

    let known = images.load()?;
    let present = chain.iter().all(|c| layers.exists(c));
    if present {
        if let Some(img) = known.iter().find(|i| i.id == resolved.config_digest) {
            let tagged = full_tag.as_ref().is_none_or(|t| img.repo_tags.contains(t));
            if tagged && img.repo_digests.contains(&repo_digest) {
                return Ok(PullOutcome {
                    reference,
                    digest: top_digest,
                    up_to_date: true,
                });
            }
        }
    }

    let short: Vec<String> = descriptors
        .iter()
        .map(|d| short_id(&d.digest).to_string())
        .collect();
    progress.start(&reference, &short);
    layers.clean_stale()?;
    images.clean_stale();
    let mut blobs: Vec<&str> = descriptors.iter().map(|d| d.digest.as_str()).collect();
    blobs.extend([
        resolved.config_digest.as_str(),
        resolved.manifest.digest.as_str(),
    ]);
    blobs.extend(resolved.index.iter().map(|i| i.digest.as_str()));
    let added = super::debris::Additions::missing(&images, &layers, &chain, &blobs);
    let stored = (|| -> Result<()> {
        let sizes = fetch_layers(
            &client,
            &images,
            &layers,
            descriptors,
            &config,
            &chain,
            progress,
        )?;
        images.write_blob(&resolved.config_digest, &resolved.config)?;
        images.write_blob(&resolved.manifest.digest, &resolved.manifest.bytes)?;
        if let Some(index) = &resolved.index {
            images.write_blob(&index.digest, &index.bytes)?;
        }
        let record = ImageRecord {
            id: resolved.config_digest.clone(),
            manifest_digest: resolved.manifest.digest.clone(),
            manifest_media_type: resolved.manifest.media_type.clone(),
            repo_tags: full_tag.iter().cloned().collect(),
            repo_digests: vec![repo_digest],
            layers: chain.clone(),
            layer_blobs: descriptors.iter().map(|d| d.digest.clone()).collect(),
            size: sizes.iter().sum(),
            created: config.created.clone(),
            stored_at: crate::time::now().0,
            build_key: None,
        };
        images.update(|all| {
            store_record(all, record);
            Ok(())
        })
    })();
    if let Err(e) = stored {
        super::debris::undo_pull(&images, &layers, pulling, &added);
        return Err(e);
    }
    Ok(PullOutcome {
        reference,
        digest: top_digest,
        up_to_date: false,
    })
}

/// Refuse, before any download, a layer that is not a tar (plain, gzip or zstd): the
/// decompressor would otherwise guess at an encrypted or foreign-format blob.
fn check_layer_types(reference: &Reference, descriptors: &[Descriptor]) -> Result<()> {
    match descriptors
        .iter()
        .find(|d| layer_compression(&d.media_type).is_none())
    {
        Some(d) => Err(Error::Other(format!(
            "{reference}: layer {} has unsupported media type {:?}",
            d.digest, d.media_type
        ))),
        None => Ok(()),
    }
}

/// Put `record` into the list: its tags move to it from any other image, and an image with
/// the same ID is merged rather than duplicated.
pub fn store_record(all: &mut Vec<ImageRecord>, record: ImageRecord) {
    for img in all.iter_mut() {
        if img.id != record.id {
            img.repo_tags.retain(|t| !record.repo_tags.contains(t));
        }
    }
    match all.iter_mut().find(|i| i.id == record.id) {
        Some(existing) => {
            for t in record.repo_tags {
                if !existing.repo_tags.contains(&t) {
                    existing.repo_tags.push(t);
                }
            }
            for d in record.repo_digests {
                if !existing.repo_digests.contains(&d) {
                    existing.repo_digests.push(d);
                }
            }
            existing.layers = record.layers;
            existing.layer_blobs = record.layer_blobs;
            existing.size = record.size;
        }
        None => all.push(record),
    }
}

/// Download and unpack every missing layer, `PARALLEL_LAYERS` at a time. Returns each
/// layer's unpacked size.
fn fetch_layers(
    client: &Client,
    images: &ImageStore,
    layers: &LayerStore,
    descriptors: &[Descriptor],
    config: &ImageConfig,
    chain: &[String],
    progress: &dyn Progress,
) -> Result<Vec<u64>> {
    let sizes = Mutex::new(vec![0u64; descriptors.len()]);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let next = AtomicUsize::new(0);
    for d in descriptors {
        progress.layer(short_id(&d.digest), LayerEvent::Waiting);
    }
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_LAYERS.min(descriptors.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= descriptors.len() || lock(&first_error).is_some() {
                    break;
                }
                let parent = if i == 0 {
                    None
                } else {
                    Some(chain[i - 1].as_str())
                };
                let job = LayerJob {
                    desc: &descriptors[i],
                    diff_id: &config.rootfs.diff_ids[i],
                    chain_id: &chain[i],
                    parent,
                };
                match job.run(client, images, layers, progress) {
                    Ok(size) => lock(&sizes)[i] = size,
                    Err(e) => {
                        lock(&first_error).get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = lock(&first_error).take() {
        return Err(e);
    }
    let sizes = lock(&sizes).clone();
    Ok(sizes)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct LayerJob<'a> {
    desc: &'a Descriptor,
    diff_id: &'a str,
    chain_id: &'a str,
    parent: Option<&'a str>,
}

impl LayerJob<'_> {
    fn run(
        &self,
        client: &Client,
        images: &ImageStore,
        layers: &LayerStore,
        progress: &dyn Progress,
    ) -> Result<u64> {
        let short = short_id(&self.desc.digest);
        if layers.exists(self.chain_id) {
            progress.layer(short, LayerEvent::AlreadyExists);
            return Ok(layers.info(self.chain_id)?.size);
        }
        let size = if images.has_blob(&self.desc.digest) {
            self.unpack_local(images, layers, short, progress)?
        } else {
            self.download(client, images, layers, short, progress)?
        };
        progress.layer(short, LayerEvent::Complete);
        Ok(size)
    }

    /// The compressed blob is already here (an earlier pull stored it, then stopped).
    fn unpack_local(
        &self,
        images: &ImageStore,
        layers: &LayerStore,
        short: &str,
        progress: &dyn Progress,
    ) -> Result<u64> {
        let path = images.blob_path(&self.desc.digest);
        let file = File::open(&path).map_err(|e| Error::io("cannot open blob", &path, e))?;
        progress.layer(short, LayerEvent::Extracting);
        let mut tar = overlay::decompress(Box::new(BufReader::with_capacity(1 << 18, file)))?;
        Ok(layers
            .unpack(self.chain_id, self.diff_id, self.parent, &mut tar)?
            .size)
    }

    /// Stream the blob from the registry into its blob file and the unpacker at once.
    fn download(
        &self,
        client: &Client,
        images: &ImageStore,
        layers: &LayerStore,
        short: &str,
        progress: &dyn Progress,
    ) -> Result<u64> {
        let total = self.desc.size;
        let report = short.to_string();
        let progress_ref: &dyn Progress = progress;
        let reader = client.blob_reader(&self.desc.digest, total)?;
        let blob_path = images.blob_path(&self.desc.digest);
        if let Some(dir) = blob_path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        }
        let temp = fsutil::temp_sibling(&blob_path);
        let file = File::create(&temp).map_err(|e| Error::io("cannot create", &temp, e))?;
        let mut tee = Tee {
            inner: reader,
            out: file,
            path: &temp,
            done: 0,
            total,
            report: &|done| progress_ref.layer(&report, LayerEvent::Downloading { done, total }),
        };
        // Two stages on two cores: this thread writes the layer's files, a helper thread
        // downloads, keeps and decompresses the blob and hands the tar stream over.
        let (writer, mut tar) = pipe::channel();
        let result = std::thread::scope(|scope| -> Result<u64> {
            let fetch = scope.spawn(move || -> Result<()> {
                let done = (|| {
                    let buffered = BufReader::with_capacity(1 << 18, &mut tee);
                    let mut stream = overlay::decompress(Box::new(buffered))
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    writer.copy_from(&mut stream)?;
                    drop(stream);
                    // The decompressor may stop before the blob's last bytes; read them so
                    // the digest of the whole blob is checked before it is kept.
                    io::copy(&mut tee, &mut io::sink())?;
                    tee.out.flush()?;
                    tee.out.sync_all()
                })();
                done.map_err(|e| Error::Other(format!("layer {}: {e}", self.desc.digest)))
            });
            let unpacked = layers
                .unpack(self.chain_id, self.diff_id, self.parent, &mut tar)
                .map_err(Error::from)
                .and_then(|info| {
                    // Read on to the end, so the whole blob is fetched and checked.
                    io::copy(&mut tar, &mut io::sink())
                        .map(|_| info)
                        .map_err(|e| Error::Other(format!("layer {}: {e}", self.desc.digest)))
                });
            drop(tar);
            let fetched = fetch
                .join()
                .unwrap_or_else(|_| Err(Error::Other("the download thread failed".into())));
            match (unpacked, fetched) {
                (Ok(info), Ok(())) => {
                    fs::rename(&temp, &blob_path)
                        .map_err(|e| Error::io("cannot store blob", &blob_path, e))?;
                    Ok(info.size)
                }
                (Ok(_), Err(e)) => {
                    let _ = layers.remove(self.chain_id);
                    Err(e)
                }
                // The download only stopped because the unpacking did: that error counts.
                (Err(e), Err(fe)) if fe.to_string().contains(pipe::STOPPED) => Err(e),
                // Otherwise the download's own failure explains the unpacker's.
                (Err(_), Err(e)) => Err(e),
                (Err(e), Ok(())) => Err(e),
            }
        });
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }
}

/// Copies what it reads into `out` (the blob file at `path`) and reports progress.
struct Tee<'a, R> {
    inner: R,
    out: File,
    path: &'a std::path::Path,
    done: u64,
    total: u64,
    report: &'a (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // A full disk names the file, as every other write of the store does.
        self.out.write_all(&buf[..n]).map_err(|e| {
            io::Error::new(e.kind(), format!("writing {}: {e}", self.path.display()))
        })?;
        let before = self.done;
        self.done += n as u64;
        // Report about every 512 KiB, and at the end.
        if n > 0 && (self.done >> 19 != before >> 19 || self.done == self.total) {
            (self.report)(self.done);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_media_types_are_checked_before_download() {
        let reference = Reference::parse("busybox", &RegistriesConf::default()).unwrap();
        let digest = format!("sha256:{}", "ab".repeat(32));
        let desc = |media_type: &str| Descriptor {
            media_type: media_type.to_string(),
            digest: digest.clone(),
            size: 1,
            platform: None,
            annotations: None,
            urls: None,
        };
        let known = [
            "application/vnd.oci.image.layer.v1.tar",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        ];
        let all: Vec<Descriptor> = known.iter().map(|m| desc(m)).collect();
        assert!(check_layer_types(&reference, &all).is_ok());

        let bad = [
            desc(known[1]),
            desc("application/vnd.oci.image.layer.v1.tar+gzip+encrypted"),
        ];
        let e = check_layer_types(&reference, &bad).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "docker.io/library/busybox:latest: layer {digest} has unsupported media type \
                 \"application/vnd.oci.image.layer.v1.tar+gzip+encrypted\""
            )
        );
        assert!(check_layer_types(&reference, &[desc("")]).is_err());
    }
}
