//! Writing OCI image layouts by hand: deterministic layer tars (raw headers, so hostile names
//! can be written too), gzip/zstd/plain compression, and the layout's blobs and index.json.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tar::{EntryType, Header};

pub const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MT_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// Fixed mtime so that layers, and so digests, are the same on every run.
const MTIME: u64 = 1_704_067_200;

/// A layer tar under construction. Names and link names are written verbatim into the header,
/// bypassing the tar crate's sanitising, so `../x` and `/x` reach the archive as written.
pub struct Tar {
    b: tar::Builder<Vec<u8>>,
}

impl Default for Tar {
    fn default() -> Self {
        Self::new()
    }
}

impl Tar {
    pub fn new() -> Tar {
        Tar {
            b: tar::Builder::new(Vec::new()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn entry(
        &mut self,
        kind: EntryType,
        name: &str,
        link: &str,
        mode: u32,
        uid: u64,
        gid: u64,
        data: &[u8],
    ) -> &mut Self {
        assert!(
            name.len() < 100 && link.len() < 100,
            "fixture path too long: {name}"
        );
        let mut h = Header::new_ustar();
        {
            let old = h.as_old_mut();
            old.name = [0; 100];
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname = [0; 100];
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(MTIME);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.entry(EntryType::Directory, name, "", mode, 0, 0, &[])
    }

    pub fn dir_owned(&mut self, name: &str, mode: u32, uid: u64, gid: u64) -> &mut Self {
        self.entry(EntryType::Directory, name, "", mode, uid, gid, &[])
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.entry(EntryType::Regular, name, "", mode, 0, 0, data)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(EntryType::Symlink, name, target, 0o777, 0, 0, &[])
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(EntryType::Link, name, target, 0o644, 0, 0, &[])
    }

    /// A directory whose name may be longer than a header holds (a GNU long-name entry).
    pub fn dir_long(&mut self, name: &str, mode: u32) -> &mut Self {
        self.long(EntryType::Directory, name, mode, &[])
    }

    /// A file whose name may be longer than a header holds (a GNU long-name entry).
    pub fn file_long(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.long(EntryType::Regular, name, mode, data)
    }

    fn long(&mut self, kind: EntryType, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(MTIME);
        h.set_size(data.len() as u64);
        self.b.append_data(&mut h, name, data).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

/// A layer as stored in a registry.
#[derive(Clone, Debug)]
pub struct LayerBlob {
    pub blob: Vec<u8>,
    pub media_type: &'static str,
    /// `sha256:` of the compressed blob.
    pub digest: String,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
}

pub fn layer(tar: &[u8], c: Compression) -> LayerBlob {
    let (blob, media_type) = match c {
        Compression::Gzip => {
            let mut e = flate2::GzBuilder::new()
                .mtime(0)
                .write(Vec::new(), flate2::Compression::default());
            e.write_all(tar).unwrap();
            (e.finish().unwrap(), MT_GZIP)
        }
        Compression::Zstd => (zstd::encode_all(tar, 3).unwrap(), MT_ZSTD),
        Compression::None => (tar.to_vec(), MT_TAR),
    };
    LayerBlob {
        digest: format!("sha256:{}", super::sha256_hex(&blob)),
        diff_id: format!("sha256:{}", super::sha256_hex(tar)),
        blob,
        media_type,
    }
}

/// Chain IDs of a diff-id list, as the store names unpacked layer dirs (hex, no prefix).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in diff_ids {
        let id = match out.last() {
            None => d.trim_start_matches("sha256:").to_string(),
            Some(prev) => super::sha256_hex(format!("sha256:{prev} {d}").as_bytes()),
        };
        out.push(id);
    }
    out
}

pub fn descriptor(media_type: &str, data: &[u8]) -> Value {
    json!({
        "mediaType": media_type,
        "digest": format!("sha256:{}", super::sha256_hex(data)),
        "size": data.len(),
    })
}

/// An OCI image layout directory: `oci-layout`, `blobs/sha256/*`, `index.json`.
pub struct Layout {
    pub dir: PathBuf,
    refs: Vec<Value>,
}

impl Layout {
    pub fn create(dir: &Path) -> Layout {
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
            refs: Vec::new(),
        }
    }

    /// Stores a blob; returns its `sha256:` digest.
    pub fn blob(&self, data: &[u8]) -> String {
        let hex = super::sha256_hex(data);
        fs::write(self.dir.join("blobs/sha256").join(&hex), data).unwrap();
        format!("sha256:{hex}")
    }

    /// Makes `ref_name` (for `oci:DIR:ref_name`) point at a manifest or index blob.
    pub fn add_ref(&mut self, ref_name: &str, media_type: &str, data: &[u8]) {
        self.blob(data);
        let mut d = descriptor(media_type, data);
        d["annotations"] = json!({ "org.opencontainers.image.ref.name": ref_name });
        self.refs.push(d);
        let index = json!({ "schemaVersion": 2, "manifests": self.refs });
        fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }
}
