//! Local manifest lists (`cove manifest create/add/annotate/push`): a named list of image
//! manifests, each taken from a local image or a registry, kept in `manifests/lists.json`
//! until it is pushed as a Docker manifest list or an OCI index.

pub mod add;
pub mod push;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::push::Format;
use super::{Error, Result};
use crate::fsutil::{self, Lock};
use crate::registry::manifest::{
    ImageIndex, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST,
};
use crate::registry::Descriptor;

/// One named list.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ListRecord {
    /// 64 hex digits, fixed when the list is created (podman prints it).
    pub id: String,
    /// The full name with its tag: `localhost:5000/app:latest`.
    pub name: String,
    #[serde(default)]
    pub entries: Vec<Entry>,
    /// The index's own annotations (OCI only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Unix seconds.
    #[serde(default)]
    pub created: i64,
}

/// One manifest of the list: how it is described and where its content comes from.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Entry {
    pub descriptor: Descriptor,
    pub source: Source,
    /// The full reference it was added as (`localhost:5000/app:arm64`), for annotate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_as: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Source {
    /// A local image, by ID; pushed with the list, in the list's format.
    Local { image: String },
    /// A manifest in a registry repository (`host/path`), copied by digest when pushed.
    Remote { repository: String },
}

#[derive(Serialize, Deserialize, Default)]
struct ListsFile {
    lists: Vec<ListRecord>,
}

/// The lists of one data root.
pub struct ListStore {
    dir: PathBuf,
}

impl ListStore {
    pub fn open(root: &Path) -> ListStore {
        ListStore {
            dir: root.join("manifests"),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("lists.json")
    }

    pub fn load(&self) -> Result<Vec<ListRecord>> {
        let path = self.file();
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        let file: ListsFile = serde_json::from_slice(&data).map_err(|e| Error::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(file.lists)
    }

    /// The list with this full name.
    pub fn get(&self, name: &str) -> Result<Option<ListRecord>> {
        Ok(self.load()?.into_iter().find(|l| l.name == name))
    }

    /// Change the lists under the lock; written atomically when `change` succeeds.
    pub fn update<T>(&self, change: impl FnOnce(&mut Vec<ListRecord>) -> Result<T>) -> Result<T> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::io("cannot create", &self.dir, e))?;
        let lock_path = self.dir.join("lists.lock");
        let _lock =
            Lock::exclusive(&lock_path).map_err(|e| Error::io("cannot lock", &lock_path, e))?;
        let mut lists = self.load()?;
        let out = change(&mut lists)?;
        let path = self.file();
        fsutil::write_json_atomic(&path, &ListsFile { lists })
            .map_err(|e| Error::io("cannot write", &path, e))?;
        Ok(out)
    }

    /// Change the list named `name`, which must exist.
    pub fn edit<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut ListRecord) -> Result<T>,
    ) -> Result<T> {
        self.update(|lists| match lists.iter_mut().find(|l| l.name == name) {
            Some(l) => change(l),
            None => Err(no_such_list(name)),
        })
    }
}

pub fn no_such_list(name: &str) -> Error {
    Error::Other(format!(
        "No such manifest: {}",
        super::lookup::familiar(name)
    ))
}

impl ListRecord {
    /// The document a push of the list sends, in `format`: a Docker manifest list, or an OCI
    /// index (also whenever an entry is an OCI manifest, which a Docker list cannot hold).
    pub fn document(&self, format: Format) -> Result<(Vec<u8>, &'static str)> {
        let oci = format == Format::Oci
            || self
                .entries
                .iter()
                .any(|e| e.descriptor.media_type == MEDIA_TYPE_OCI_MANIFEST);
        let media_type = if oci {
            MEDIA_TYPE_OCI_INDEX
        } else {
            MEDIA_TYPE_DOCKER_LIST
        };
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(media_type.into()),
            manifests: self.entries.iter().map(|e| e.descriptor.clone()).collect(),
            annotations: (oci && !self.annotations.is_empty()).then(|| self.annotations.clone()),
        };
        let bytes = serde_json::to_vec_pretty(&index)
            .map_err(|e| Error::Other(format!("cannot write manifest list: {e}")))?;
        Ok((bytes, media_type))
    }

    /// The entry `which` names: a manifest digest (or a unique prefix of one), or the full
    /// reference (`full`, when it parses as one) it was added as.
    pub fn find_entry(&self, which: &str, full: Option<&str>) -> Option<usize> {
        if let Some(f) = full {
            if let Some(i) = self
                .entries
                .iter()
                .position(|e| e.added_as.as_deref() == Some(f))
            {
                return Some(i);
            }
        }
        let hex = which.strip_prefix("sha256:").unwrap_or(which);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<usize> = (0..self.entries.len())
                .filter(|&i| {
                    self.entries[i]
                        .descriptor
                        .digest
                        .trim_start_matches("sha256:")
                        .starts_with(hex)
                })
                .collect();
            if let [one] = hits[..] {
                return Some(one);
            }
        }
        None
    }
}

/// A reference as entries record it: `name@digest`, or `name:tag` (latest when untagged).
pub fn full_reference(r: &crate::registry::Reference) -> String {
    match &r.digest {
        Some(d) => format!("{}@{d}", r.name()),
        None => r.tagged_name(),
    }
}

/// A new list ID: the digest of the name and the moment, like an image ID in form.
pub fn new_id(name: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!("{name}\n{now}\n{}", std::process::id());
    crate::registry::sha256_digest(seed.as_bytes())
        .trim_start_matches("sha256:")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(digest: &str, media_type: &str) -> Entry {
        Entry {
            descriptor: Descriptor {
                media_type: media_type.into(),
                digest: digest.into(),
                size: 10,
                platform: None,
                annotations: None,
                urls: None,
            },
            source: Source::Remote {
                repository: "r/x".into(),
            },
            added_as: Some(format!("r/x@{digest}")),
        }
    }

    fn list(entries: Vec<Entry>) -> ListRecord {
        ListRecord {
            id: new_id("x"),
            name: "localhost:5000/x:latest".into(),
            entries,
            annotations: BTreeMap::from([("a".to_string(), "b".to_string())]),
            created: 0,
        }
    }

    #[test]
    fn document_type_follows_format_and_entries() {
        let docker = crate::registry::manifest::MEDIA_TYPE_DOCKER_MANIFEST;
        let l = list(vec![entry(&format!("sha256:{}", "a".repeat(64)), docker)]);
        let (bytes, mt) = l.document(Format::Docker).unwrap();
        assert_eq!(mt, MEDIA_TYPE_DOCKER_LIST);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["manifests"][0]["size"], 10);
        assert!(v.get("annotations").is_none());
        let (bytes, mt) = l.document(Format::Oci).unwrap();
        assert_eq!(mt, MEDIA_TYPE_OCI_INDEX);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["annotations"]["a"], "b");
        let l = list(vec![entry(
            &format!("sha256:{}", "b".repeat(64)),
            MEDIA_TYPE_OCI_MANIFEST,
        )]);
        assert_eq!(l.document(Format::Docker).unwrap().1, MEDIA_TYPE_OCI_INDEX);
    }

    #[test]
    fn entries_by_digest_prefix() {
        let docker = crate::registry::manifest::MEDIA_TYPE_DOCKER_MANIFEST;
        let l = list(vec![
            entry(&format!("sha256:ab{}", "1".repeat(62)), docker),
            entry(&format!("sha256:ac{}", "2".repeat(62)), docker),
        ]);
        assert_eq!(
            l.find_entry(&format!("sha256:ac{}", "2".repeat(62)), None),
            Some(1)
        );
        assert_eq!(l.find_entry("ab111", None), Some(0));
        assert_eq!(l.find_entry("a", None), None);
        assert_eq!(l.find_entry("abcd", None), None);
        assert_eq!(l.find_entry("nginx", None), None);
        let full = format!("r/x@sha256:ab{}", "1".repeat(62));
        assert_eq!(l.find_entry("whatever", Some(&full)), Some(0));
    }
}
