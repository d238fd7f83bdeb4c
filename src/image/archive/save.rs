//! `save`: images with their tags written as docker save writes them (docker-archive: the
//! classic `manifest.json`, `repositories`, `<id>.json` and `<layer>/layer.tar`, which docker
//! and podman both load), or as an OCI layout (oci-archive, oci-dir), or containers/image's
//! `dir:` layout (docker-dir). Layers in docker-archive are plain tars whose digest is their
//! diff_id, checked while they are written; compressed blobs are decompressed on the way.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use serde_json::{json, Value};

use super::super::config::ImageConfig;
use super::super::lookup::{self, split_tag};
use super::super::{Error, ImageRecord, ImageStore, Result};
use super::oci::{member_of, CONTAINERD_NAME, INDEX, REF_NAME};
use super::sink::{atomically, DirSink, Sink, TarSink};
use crate::overlay::{Compression, LayerStore};
use crate::paths::Paths;
use crate::registry::{layer_compression, Descriptor, RegistriesConf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    DockerArchive,
    OciArchive,
    OciDir,
    DockerDir,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "docker-archive" => Ok(Format::DockerArchive),
            "oci-archive" => Ok(Format::OciArchive),
            "oci-dir" => Ok(Format::OciDir),
            "docker-dir" => Ok(Format::DockerDir),
            other => Err(Error::Other(format!(
                "unknown format {other:?}: use docker-archive, oci-archive, oci-dir or docker-dir"
            ))),
        }
    }

    pub fn is_dir(self) -> bool {
        matches!(self, Format::OciDir | Format::DockerDir)
    }
}

/// Where the archive goes.
pub enum Target<'o> {
    /// A file (or, for the dir formats, a directory) made under a temporary name and renamed.
    Path(&'o Path),
    Stream(&'o mut dyn Write),
}

/// The images to save, each with the tags to save it under (full names), in the order given.
pub fn choose(
    all: &[ImageRecord],
    names: &[String],
    conf: &RegistriesConf,
) -> Result<Vec<(ImageRecord, Vec<String>)>> {
    let mut out: Vec<(ImageRecord, Vec<String>)> = Vec::new();
    let mut add = |img: &ImageRecord, tag: Option<String>| {
        let i = match out.iter().position(|(r, _)| r.id == img.id) {
            Some(i) => i,
            None => {
                out.push((img.clone(), Vec::new()));
                out.len() - 1
            }
        };
        if let Some(t) = tag {
            if !out[i].1.contains(&t) {
                out[i].1.push(t);
            }
        }
    };
    for name in names {
        let found = lookup::find(all, name, conf)?;
        let img = &all[found.index];
        let Some(tag) = found.tag else {
            add(img, None);
            continue;
        };
        // A name without tag or digest saves every tag of that repository, as docker does.
        let last = name.rsplit('/').next().unwrap_or(name);
        if last.contains(':') || name.contains('@') {
            add(img, Some(tag));
            continue;
        }
        let repo = split_tag(&tag).0.to_string();
        for other in all {
            for t in &other.repo_tags {
                if split_tag(t).0 == repo {
                    add(other, Some(t.clone()));
                }
            }
        }
    }
    Ok(out)
}

pub fn save(
    paths: &Paths,
    chosen: &[(ImageRecord, Vec<String>)],
    format: Format,
    target: Target,
) -> Result<()> {
    let images = ImageStore::open(&paths.root);
    let layers = LayerStore::open(paths.overlay_root(), paths.rootless);
    let w = Writer {
        images: &images,
        layers: &layers,
        chosen,
    };
    match (target, format.is_dir()) {
        (Target::Stream(out), false) => {
            let mut sink = TarSink::new(out);
            w.write(format, &mut sink)?;
            sink.finish()?;
            sink.into_inner()?
                .flush()
                .map_err(|e| Error::Other(format!("writing the archive: {e}")))
        }
        (Target::Stream(_), true) => Err(Error::Other(
            "a directory format needs a directory: use -o DIR".into(),
        )),
        (Target::Path(path), true) => {
            if path.exists() {
                return Err(Error::Other(format!("{} already exists", path.display())));
            }
            atomically(path, |temp| {
                std::fs::create_dir(temp).map_err(|e| Error::io("cannot create", temp, e))?;
                w.write(
                    format,
                    &mut DirSink {
                        root: temp.to_path_buf(),
                    },
                )
            })
        }
        (Target::Path(path), false) => atomically(path, |temp| {
            let file = File::create(temp).map_err(|e| Error::io("cannot create", temp, e))?;
            let mut sink = TarSink::new(io::BufWriter::with_capacity(1 << 20, file));
            w.write(format, &mut sink)?;
            sink.finish()?;
            sink.into_inner()?
                .into_inner()
                .map_err(|e| Error::Other(format!("writing {}: {}", path.display(), e.error())))
                .map(drop)
        }),
    }
}

mod docker;

struct Writer<'a> {
    images: &'a ImageStore,
    layers: &'a LayerStore,
    chosen: &'a [(ImageRecord, Vec<String>)],
}

/// A stored image's manifest, parsed.
struct Stored {
    config: Vec<u8>,
    diff_ids: Vec<String>,
    manifest: Vec<u8>,
    media_type: String,
    layers: Vec<Descriptor>,
}

impl Writer<'_> {
    fn write(&self, format: Format, sink: &mut dyn Sink) -> Result<()> {
        match format {
            Format::DockerArchive => self.docker_archive(sink),
            Format::OciArchive | Format::OciDir => self.oci(sink),
            Format::DockerDir => self.docker_dir(sink),
        }
    }

    fn stored(&self, img: &ImageRecord) -> Result<Stored> {
        let config = self.images.read_blob(&img.id)?;
        let cfg = ImageConfig::parse(&config).map_err(|r| corrupt(img, &r))?;
        let manifest = self.images.read_blob(&img.manifest_digest)?;
        let v: Value =
            serde_json::from_slice(&manifest).map_err(|e| corrupt(img, &e.to_string()))?;
        let layers: Vec<Descriptor> = serde_json::from_value(v["layers"].clone())
            .map_err(|e| corrupt(img, &e.to_string()))?;
        if layers.len() != cfg.rootfs.diff_ids.len() || layers.len() != img.layers.len() {
            return Err(corrupt(img, "its manifest, config and layers disagree"));
        }
        let media_type = v["mediaType"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| img.manifest_media_type.clone());
        Ok(Stored {
            config,
            diff_ids: cfg.rootfs.diff_ids,
            manifest,
            media_type,
            layers,
        })
    }

    fn oci(&self, sink: &mut dyn Sink) -> Result<()> {
        sink.bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        sink.dir("blobs")?;
        sink.dir("blobs/sha256")?;
        let mut written: HashSet<String> = HashSet::new();
        let mut index = Vec::new();
        for (img, tags) in self.chosen {
            let s = self.stored(img)?;
            let (manifest, media_type) = oci_manifest(&s)?;
            for l in &s.layers {
                self.blob_file(&l.digest, &member_of(&l.digest)?, &mut written, sink)?;
            }
            self.blob_bytes(&s.config, &mut written, sink)?;
            let digest = self.blob_bytes(&manifest, &mut written, sink)?;
            let desc = json!({ "mediaType": media_type, "digest": digest, "size": manifest.len() });
            if tags.is_empty() {
                index.push(desc.clone());
            }
            for t in tags {
                let mut d = desc.clone();
                d["annotations"] = json!({ REF_NAME: t, CONTAINERD_NAME: t });
                index.push(d);
            }
        }
        let index = json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": index });
        sink.bytes("index.json", index.to_string().as_bytes())
    }

    /// containers/image's `dir:` layout: one image, its manifest and blobs by bare hex.
    fn docker_dir(&self, sink: &mut dyn Sink) -> Result<()> {
        let [(img, _)] = self.chosen else {
            return Err(Error::Other("docker-dir holds exactly one image".into()));
        };
        let s = self.stored(img)?;
        let mut written = HashSet::new();
        for l in &s.layers {
            self.blob_file(&l.digest, hex_of(&l.digest), &mut written, sink)?;
        }
        sink.bytes(hex_of(&img.id), &s.config)?;
        sink.bytes("manifest.json", &s.manifest)?;
        sink.bytes("version", b"Directory Transport Version: 1.1\n")
    }

    /// A stored blob copied as it is, once.
    fn blob_file(
        &self,
        digest: &str,
        name: &str,
        written: &mut HashSet<String>,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        if !written.insert(digest.to_string()) {
            return Ok(());
        }
        let path = self.images.blob_path(digest);
        let mut file = File::open(&path).map_err(|e| Error::io("cannot open blob", &path, e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io("cannot read blob", &path, e))?
            .len();
        sink.file(name, size, &mut file)
    }

    fn blob_bytes(
        &self,
        data: &[u8],
        written: &mut HashSet<String>,
        sink: &mut dyn Sink,
    ) -> Result<String> {
        let digest = super::super::local::sha256(data);
        if written.insert(digest.clone()) {
            sink.bytes(&member_of(&digest)?, data)?;
        }
        Ok(digest)
    }
}

/// The stored manifest as an OCI one: a docker schema 2 manifest is rewritten with the OCI
/// media types (same config, same layer blobs).
fn oci_manifest(s: &Stored) -> Result<(Vec<u8>, String)> {
    const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
    if s.media_type != DOCKER_V2 {
        return Ok((s.manifest.clone(), s.media_type.clone()));
    }
    let mut v: Value = serde_json::from_slice(&s.manifest)
        .map_err(|e| Error::Other(format!("stored manifest: {e}")))?;
    let oci = super::super::local::OCI_MANIFEST;
    v["mediaType"] = json!(oci);
    v["config"]["mediaType"] = json!(super::super::local::OCI_CONFIG);
    if let Some(layers) = v["layers"].as_array_mut() {
        for l in layers {
            if let Some(k) = layer_kind(l["mediaType"].as_str().unwrap_or_default()) {
                l["mediaType"] = json!(k.oci_media_type());
            }
        }
    }
    let bytes = serde_json::to_vec(&v).map_err(|e| Error::Other(format!("manifest: {e}")))?;
    Ok((bytes, oci.to_string()))
}

/// The compression of a layer media type cove knows (docker's or OCI's names).
fn layer_kind(media_type: &str) -> Option<Compression> {
    layer_compression(media_type)?;
    Some(if media_type.ends_with("gzip") {
        Compression::Gzip
    } else if media_type.ends_with("zstd") {
        Compression::Zstd
    } else {
        Compression::None
    })
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn corrupt(img: &ImageRecord, why: &str) -> Error {
    Error::Other(format!("image {} in the store is damaged: {why}", img.id))
}
