//! Image archives taken apart and put back together (to mangle them in tests), and the state
//! of a store that a failed load must leave as it found it.

use std::io::Read;
use std::path::Path;

use tar::EntryType;

use super::layout::Tar;
use super::Cove;

/// One member of an archive: name, type, link target, data.
#[derive(Clone, Debug)]
pub struct Member {
    pub name: String,
    pub kind: EntryType,
    pub link: String,
    pub data: Vec<u8>,
}

pub fn members(archive: &[u8]) -> Vec<Member> {
    let mut a = tar::Archive::new(archive);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let kind = e.header().entry_type();
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            Member {
                name,
                kind,
                link,
                data,
            }
        })
        .collect()
}

/// An archive of `members`, names written as they are (`../x` and `/x` too).
pub fn build(members: &[Member]) -> Vec<u8> {
    let mut t = Tar::new();
    for m in members {
        let mode = if m.kind == EntryType::Directory {
            0o755
        } else {
            0o644
        };
        t.entry(m.kind, &m.name, &m.link, mode, 0, 0, &m.data);
    }
    t.finish()
}

pub fn member<'m>(members: &'m [Member], name: &str) -> &'m Member {
    members
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no member {name}"))
}

pub fn json(members: &[Member], name: &str) -> serde_json::Value {
    serde_json::from_slice(&member(members, name).data).unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What a user (and `system check`) can see of a store: its images, and every name in the
/// layer, blob and lock directories (a half-written or leftover one shows here).
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    images: String,
    layers: Vec<String>,
    blobs: Vec<String>,
    locks: Vec<String>,
}

pub fn snapshot(c: &Cove) -> Snapshot {
    let images = c.run(&[
        "images",
        "-a",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Repository}}:{{.Tag}}",
    ]);
    images.assert_ok();
    Snapshot {
        images: images.stdout,
        layers: names(&c.layers_dir()),
        blobs: names(&c.root.join("blobs/sha256")),
        locks: names(&c.root.join("overlay/locks")),
    }
}

/// Asserts the store keeps the contract push relies on: every image's manifest is a stored
/// blob whose layers are stored blobs, in the record's order, with their sizes.
pub fn assert_records_complete(c: &Cove) {
    let file = std::fs::read(c.root.join("images/images.json")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&file).unwrap();
    let blob = |d: &str| {
        c.root
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    for img in v["images"].as_array().unwrap() {
        let digest = img["manifest_digest"].as_str().unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(blob(digest)).unwrap()).unwrap();
        assert_eq!(manifest["config"]["digest"], img["id"], "{img}");
        let descs = manifest["layers"].as_array().unwrap();
        let blobs = img["layer_blobs"].as_array().unwrap();
        assert_eq!(descs.len(), blobs.len(), "{img}");
        for (d, b) in descs.iter().zip(blobs) {
            assert_eq!(d["digest"], *b, "{img}");
            let len = std::fs::metadata(blob(b.as_str().unwrap())).unwrap().len();
            assert_eq!(d["size"].as_u64().unwrap(), len, "{img}");
            assert!(d["mediaType"].as_str().unwrap().contains("layer"), "{d}");
        }
    }
}
