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

    /// Remove blob temp files left by killed pulls.
    pub fn clean_stale(&self) {
        let Ok(entries) = fs::read_dir(self.blobs_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = stale_temp_pid(&name) {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// The owner pid in a temp name made by `fsutil::temp_sibling` (`.name.tmp-PID-N`).
fn stale_temp_pid(name: &str) -> Option<u32> {
    let rest = name.rsplit_once(".tmp-")?.1;
    rest.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_carry_their_pid() {
        assert_eq!(stale_temp_pid(".abc.tmp-123-0"), Some(123));
        assert_eq!(stale_temp_pid("abcdef"), None);
    }

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
