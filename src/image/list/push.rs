//! Pushing a list: every entry first (a local image pushed by digest; a registry's manifest
//! copied by digest, its blobs mounted when it lives on the same registry, else streamed from
//! the source), then the list itself under its tag, so a list never names what is not there.

use std::io::{self, Read};

use super::{Entry, ListRecord, ListStore, Source};
use crate::image::push::{self as image_push, BlobEvent, Format, Progress};
use crate::image::{Error, ImageStore, Result};
use crate::paths::Paths;
use crate::registry::manifest::{parse_manifest, ParsedManifest};
use crate::registry::{Client, ClientOptions, Reference, RegistriesConf, UploadPolicy};

pub struct ListPushRequest {
    /// The local list's name, as typed.
    pub list: String,
    /// Where to push it; the list's own name when None.
    pub destination: Option<String>,
    pub format: Format,
    pub tls_verify: Option<bool>,
    /// Remove the local list once pushed (`--rm`, docker's `--purge`).
    pub remove: bool,
}

pub struct ListPushOutcome {
    /// Each entry as pushed: `name@digest`.
    pub pushed: Vec<String>,
    pub digest: String,
}

struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &Reference) {}
    fn layer(&self, _: &str, _: BlobEvent) {}
}

pub fn push(
    paths: &Paths,
    conf: &RegistriesConf,
    req: &ListPushRequest,
) -> Result<ListPushOutcome> {
    let name = Reference::parse(&req.list, conf)?.tagged_name();
    let lists = ListStore::open(&paths.root);
    let mut list = lists
        .get(&name)?
        .ok_or_else(|| super::no_such_list(&name))?;
    if list.entries.is_empty() {
        return Err(Error::Other(format!(
            "manifest list {} has no entries to push",
            crate::image::lookup::familiar(&name)
        )));
    }
    let dest = Reference::parse(req.destination.as_deref().unwrap_or(&name), conf)?;
    if dest.digest.is_some() {
        return Err(Error::Other(format!(
            "{dest}: a manifest list is pushed to a tag, not a digest"
        )));
    }
    let images = ImageStore::open(&paths.root);
    let all = images.load()?;
    // Every other repository of the destination's registry an entry comes from: the token
    // must allow pulling from them for their blobs to be mounted.
    let mut sources: Vec<String> = Vec::new();
    for e in &list.entries {
        let from = match &e.source {
            Source::Remote { repository } => Reference::parse(repository, conf)
                .ok()
                .filter(|r| r.domain == dest.domain)
                .map(|r| vec![r.path]),
            Source::Local { image } => all
                .iter()
                .find(|i| i.id == *image)
                .map(|i| image_push::mount_sources(i, &dest)),
        };
        for s in from.unwrap_or_default() {
            if s != dest.path && !sources.contains(&s) {
                sources.push(s);
            }
        }
    }
    let opts = ClientOptions {
        tls_verify: req.tls_verify,
        push: Some(sources.clone()),
        ..ClientOptions::default()
    };
    let client = Client::new(paths, conf, &dest, opts)?;
    let mut pushed = Vec::new();
    for e in &mut list.entries {
        match e.source.clone() {
            Source::Local { image } => {
                let Some(record) = all.iter().find(|i| i.id == image) else {
                    return Err(Error::Other(format!(
                        "image {} of manifest list {} no longer exists locally",
                        crate::fsutil::short_id(&image),
                        crate::image::lookup::familiar(&name)
                    )));
                };
                let plan = image_push::plan(&images, record, req.format, &Quiet)?;
                let mine = image_push::mount_sources(record, &dest);
                image_push::send(&client, &images, &plan, &mine, &plan.digest, &Quiet)?;
                e.descriptor.media_type = plan.media_type.to_string();
                e.descriptor.digest = plan.digest.clone();
                e.descriptor.size = plan.manifest.len() as u64;
            }
            Source::Remote { repository } => {
                copy_remote(paths, conf, &client, &dest, e, &repository, req.tls_verify)?;
            }
        }
        pushed.push(format!("{}@{}", dest.name(), e.descriptor.digest));
    }
    let (bytes, media_type) = list.document(req.format)?;
    let digest = client.put_manifest(&dest.tag_or_digest(), media_type, &bytes)?;
    if req.remove {
        lists.update(|all| {
            all.retain(|l| l.name != name);
            Ok(())
        })?;
    } else {
        keep_descriptors(&lists, &list)?;
    }
    Ok(ListPushOutcome { pushed, digest })
}

/// Local entries pushed in another format got new digests; the list shows what was pushed.
fn keep_descriptors(lists: &ListStore, pushed: &ListRecord) -> Result<()> {
    lists.update(|all| {
        if let Some(l) = all.iter_mut().find(|l| l.id == pushed.id) {
            l.entries.clone_from(&pushed.entries);
        }
        Ok(())
    })
}

/// Put a registry's manifest (and its blobs) into the destination repository by digest.
fn copy_remote(
    paths: &Paths,
    conf: &RegistriesConf,
    client: &Client,
    dest: &Reference,
    entry: &Entry,
    repository: &str,
    tls_verify: Option<bool>,
) -> Result<()> {
    let digest = &entry.descriptor.digest;
    let source = Reference::parse(&format!("{repository}@{digest}"), conf)?;
    let opts = ClientOptions {
        tls_verify,
        ..ClientOptions::default()
    };
    let from = Client::new(paths, conf, &source, opts)?;
    let raw = from.manifest(digest)?;
    let what = source.familiar_string();
    let ParsedManifest::Image(m) = parse_manifest(&raw.bytes, &raw.media_type, &what)? else {
        return Err(Error::Other(format!(
            "{what}: an entry of a manifest list must be an image manifest"
        )));
    };
    let mount: Vec<String> = if source.domain == dest.domain && source.path != dest.path {
        vec![source.path.clone()]
    } else {
        Vec::new()
    };
    // Layers that live elsewhere (urls) are not the registry's to hold.
    let blobs = m
        .layers
        .iter()
        .filter(|l| l.urls.as_ref().is_none_or(Vec::is_empty))
        .chain(std::iter::once(&m.config));
    for b in blobs {
        let (blob_digest, size) = (b.digest.clone(), b.size);
        let open = |offset: u64| -> io::Result<Box<dyn Read + Send>> {
            let mut r = from
                .blob_reader(&blob_digest, size)
                .map_err(|e| io::Error::other(e.to_string()))?;
            io::copy(&mut (&mut r).take(offset), &mut io::sink())?;
            Ok(Box::new(r))
        };
        client.push_blob(
            &blob_digest,
            size,
            &mount,
            &open,
            UploadPolicy::default(),
            &|_| {},
        )?;
    }
    client.put_manifest(digest, &raw.media_type, &raw.bytes)?;
    Ok(())
}
