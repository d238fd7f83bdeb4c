//! docker-archive as docker save (before 25) writes it, which docker and podman both load:
//! `manifest.json`, `repositories`, `<id>.json` and `<layer>/{VERSION,json,layer.tar}`, each
//! layer the plain tar whose digest is its diff_id, checked while it is written.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::super::super::lookup::{familiar, split_tag};
use super::super::super::{Error, ImageRecord, Result};
use super::super::sink::Sink;
use super::{corrupt, hex_of, layer_kind, Writer};
use crate::overlay::{self, Compression};
use crate::registry::Descriptor;

impl Writer<'_> {
    pub(super) fn docker_archive(&self, sink: &mut dyn Sink) -> Result<()> {
        let mut written: HashSet<String> = HashSet::new();
        let mut entries = Vec::new();
        let mut repositories = serde_json::Map::new();
        for (img, tags) in self.chosen {
            let s = self.stored(img)?;
            let hex = hex_of(&img.id);
            sink.bytes(&format!("{hex}.json"), &s.config)?;
            let mut paths = Vec::new();
            let mut parent: Option<String> = None;
            for (i, chain) in img.layers.iter().enumerate() {
                let dir = hex_of(chain).to_string();
                if written.insert(dir.clone()) {
                    sink.dir(&dir)?;
                    sink.bytes(&format!("{dir}/VERSION"), b"1.0")?;
                    let mut v1 = json!({ "id": dir, "created": "1970-01-01T00:00:00Z" });
                    if let Some(p) = &parent {
                        v1["parent"] = json!(p);
                    }
                    sink.bytes(&format!("{dir}/json"), v1.to_string().as_bytes())?;
                    self.plain_layer(
                        img,
                        chain,
                        &s.layers[i],
                        &s.diff_ids[i],
                        &format!("{dir}/layer.tar"),
                        sink,
                    )?;
                }
                paths.push(format!("{dir}/layer.tar"));
                parent = Some(dir);
            }
            let familiar_tags: Vec<String> = tags.iter().map(|t| familiar(t)).collect();
            for t in &familiar_tags {
                let (repo, tag) = split_tag(t);
                let top = parent.clone().unwrap_or_default();
                if let Some(m) = repositories
                    .entry(repo.to_string())
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                {
                    m.insert(tag.to_string(), json!(top));
                }
            }
            entries.push(json!({
                "Config": format!("{hex}.json"),
                "RepoTags": if familiar_tags.is_empty() { Value::Null } else { json!(familiar_tags) },
                "Layers": paths,
            }));
        }
        sink.bytes(
            "manifest.json",
            Value::Array(entries).to_string().as_bytes(),
        )?;
        if !repositories.is_empty() {
            sink.bytes(
                "repositories",
                Value::Object(repositories).to_string().as_bytes(),
            )?;
        }
        Ok(())
    }

    /// A layer as its plain tar, checked against its diff_id while it is written.
    fn plain_layer(
        &self,
        img: &ImageRecord,
        chain: &str,
        desc: &Descriptor,
        diff_id: &str,
        name: &str,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        let path = self.images.blob_path(&desc.digest);
        let open = || -> Result<Box<dyn Read + Send>> {
            let file = File::open(&path).map_err(|e| Error::io("cannot open blob", &path, e))?;
            Ok(overlay::decompress(Box::new(BufReader::with_capacity(
                1 << 18,
                file,
            )))?)
        };
        let plain =
            layer_kind(&desc.media_type) == Some(Compression::None) && desc.digest == diff_id;
        let size = match (plain, self.layers.info(chain).ok().and_then(|i| i.tar_size)) {
            (true, _) => desc.size,
            (false, Some(n)) => n,
            // Layers unpacked before their tar length was recorded: count it once.
            (false, None) => io::copy(&mut open()?, &mut io::sink())
                .map_err(|e| Error::Other(format!("reading layer {}: {e}", desc.digest)))?,
        };
        let mut data = Checked {
            inner: open()?,
            left: size,
            hasher: Sha256::new(),
            what: format!(
                "layer {diff_id} of image {} in the store is damaged",
                img.id
            ),
        };
        sink.file(name, size, &mut data)?;
        data.finish(diff_id)
            .map_err(|e| corrupt(img, &format!("layer {diff_id}: {e}")))
    }
}

/// Exactly `left` bytes of a layer's tar, hashed on the way.
struct Checked<R> {
    inner: R,
    left: u64,
    hasher: Sha256,
    /// Names the layer in errors.
    what: String,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.left).map_or(buf.len(), |l| l.min(buf.len()));
        if want == 0 {
            return Ok(0);
        }
        let n = self
            .inner
            .read(&mut buf[..want])
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.what)))?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: it is shorter than recorded", self.what),
            ));
        }
        self.hasher.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

impl<R: Read> Checked<R> {
    /// Nothing may follow, and the whole must hash to `diff_id`.
    fn finish(mut self, diff_id: &str) -> std::result::Result<(), String> {
        let mut more = [0u8; 1];
        if self.left > 0 || self.inner.read(&mut more).map_err(|e| e.to_string())? > 0 {
            return Err("its length is not the one recorded".into());
        }
        let got = format!("sha256:{}", overlay::hex(&self.hasher.finalize()));
        if got != diff_id {
            return Err(format!("its content is {got}"));
        }
        Ok(())
    }
}
