//! Image records and blobs on disk. `images.json` holds every image (one read lists them
//! all); blobs (manifests, configs, compressed layers) live under `blobs/sha256/<hex>`.
//! Every change runs under `images.lock` and is written atomically.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::ImageConfig;
use super::Error;
use crate::fsutil::{self, Lock};

/// One local image. Tags and repo digests are stored with full names
/// (`docker.io/library/busybox:latest`) and shown in docker's short form.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ImageRecord {
    /// `sha256:<hex>` of the config blob, as docker names images.
    pub id: String,
    pub manifest_digest: String,
    #[serde(default)]
    pub manifest_media_type: String,
    #[serde(default)]
    pub repo_tags: Vec<String>,
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Chain IDs of the unpacked layers, bottom first.
    #[serde(default)]
    pub layers: Vec<String>,
    /// Digests of the compressed layer blobs, bottom first.
    #[serde(default)]
    pub layer_blobs: Vec<String>,
    /// Unpacked size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Creation time from the config (RFC 3339), when it has one.
    #[serde(default)]
    pub created: Option<String>,
    /// When this image was stored (unix seconds).
    #[serde(default)]
    pub stored_at: i64,
    /// For an image a build step made: the step's cache key. Untagged, such images are the
    /// build cache: `images` lists them only with `-a`, `builder prune` removes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_key: Option<String>,
}

impl ImageRecord {
    /// An untagged image a build step left: cache, not something the user made.
    pub fn is_build_cache(&self) -> bool {
        self.build_key.is_some() && self.repo_tags.is_empty()
    }
}

#[derive(Serialize, Deserialize, Default)]
struct ImagesFile {
    images: Vec<ImageRecord>,
}

pub struct ImageStore {
    dir: PathBuf,
}

impl ImageStore {
    /// The store under the data root.
    pub fn open(root: &Path) -> ImageStore {
        ImageStore {
            dir: root.to_path_buf(),
        }
    }

    /// The data root the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn images_file(&self) -> PathBuf {
        self.dir.join("images").join("images.json")
    }

    /// All images, as last written.
    pub fn load(&self) -> Result<Vec<ImageRecord>, Error> {
        let path = self.images_file();
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("cannot read", path, e)),
        };
        let file: ImagesFile = serde_json::from_slice(&data).map_err(|e| Error::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(file.images)
    }

    /// Change the image list under the store lock; the new list is written atomically when
    /// `change` succeeds.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Vec<ImageRecord>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let lock_path = self.dir.join("images").join("images.lock");
        let _lock =
            Lock::exclusive(&lock_path).map_err(|e| Error::io("cannot lock", &lock_path, e))?;
        let mut images = self.load()?;
        let out = change(&mut images)?;
        let path = self.images_file();
        fsutil::write_json_atomic(&path, &ImagesFile { images })
            .map_err(|e| Error::io("cannot write", &path, e))?;
        Ok(out)
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.dir.join("blobs").join("sha256")
    }

    /// Where the blob with this digest is (or would be) stored.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.blobs_dir()
            .join(digest.strip_prefix("sha256:").unwrap_or(digest))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_file()
    }

    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(|e| Error::io("cannot read blob", path, e))
    }

    /// Store a small blob (manifest, config) whose digest the caller has checked.
    pub fn write_blob(&self, digest: &str, data: &[u8]) -> Result<(), Error> {
        let path = self.blob_path(digest);
        if path.is_file() {
            return Ok(());
        }
        fsutil::write_atomic(&path, data).map_err(|e| Error::io("cannot write blob", path, e))
    }

    pub fn remove_blob(&self, digest: &str) -> Result<(), Error> {
        let path = self.blob_path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("cannot remove blob", path, e)),
        }
    }

    /// The parsed config of a stored image.
    pub fn config(&self, image: &ImageRecord) -> Result<ImageConfig, Error> {
        let data = self.read_blob(&image.id)?;
        ImageConfig::parse(&data).map_err(|reason| Error::Corrupt {
            path: self.blob_path(&image.id),
            reason,
        })
    }

    /// Remove blob temp files whose pull is gone (the pid they name no longer exists).
    pub fn clean_stale(&self) {
        for blob in self.blob_files() {
            if let BlobFile::Temp { path, pid } = blob {
                if !fsutil::pid_exists(pid) {
                    let _ = fs::remove_file(path);
                }
            }
        }
    }

    /// Every file in the blob directory, sorted by name.
    pub fn blob_files(&self) -> Vec<BlobFile> {
        let Ok(entries) = fs::read_dir(self.blobs_dir()) else {
            return Vec::new();
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|(name, path)| match fsutil::temp_owner(&name) {
                Some(pid) => BlobFile::Temp { path, pid },
                None if crate::overlay::is_sha256_hex(&name) => BlobFile::Blob {
                    digest: format!("sha256:{name}"),
                    path,
                },
                None => BlobFile::Other { path },
            })
            .collect()
    }

    /// Whether the stored blob's content hashes to its name (false when it does not).
    pub fn verify_blob(&self, digest: &str) -> Result<bool, Error> {
        use sha2::{Digest, Sha256};
        let path = self.blob_path(digest);
        let mut file =
            fs::File::open(&path).map_err(|e| Error::io("cannot read blob", &path, e))?;
        let mut hasher = Sha256::new();
        io::copy(&mut file, &mut hasher).map_err(|e| Error::io("cannot read blob", &path, e))?;
        let got = crate::overlay::hex(&hasher.finalize());
        Ok(digest.strip_prefix("sha256:") == Some(got.as_str()))
    }
}

/// One file under `blobs/sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobFile {
    Blob {
        digest: String,
        path: PathBuf,
    },
    /// A blob being written (`.hex.tmp-PID-N`), by a pull that may have died.
    Temp {
        path: PathBuf,
        pid: u32,
    },
    Other {
        path: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_is_persisted() {
        let dir = std::env::temp_dir().join(format!("cove-imgstore-{}", std::process::id()));
        let store = ImageStore::open(&dir);
        assert!(store.load().unwrap().is_empty());
        store
            .update(|imgs| {
                imgs.push(ImageRecord {
                    id: "sha256:00".into(),
                    manifest_digest: "sha256:11".into(),
                    manifest_media_type: String::new(),
                    repo_tags: vec!["docker.io/library/x:latest".into()],
                    repo_digests: vec![],
                    layers: vec![],
                    layer_blobs: vec![],
                    size: 1,
                    created: None,
                    stored_at: 0,
                    build_key: None,
                });
                Ok(())
            })
            .unwrap();
        assert_eq!(
            store.load().unwrap()[0].repo_tags[0],
            "docker.io/library/x:latest"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
