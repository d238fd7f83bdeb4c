//! The layer store on disk: `<dir>/layers/<hex>/{diff,layer.json}` by chain ID, written through a
//! temporary directory and a rename so that a layer is either whole or absent.

use std::fs::{self, DirBuilder};
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use sha2::{Digest, Sha256};

use super::unpack::unpack_tree;
use super::{digest_hex, hex, Error, LayerInfo};
use crate::fsutil::tree::remove_all;
use crate::fsutil::{write_json_atomic, Lock};

const TMP: &str = ".tmp-";
const TRASH: &str = ".trash-";

pub struct LayerStore {
    dir: PathBuf,
    userxattr: bool,
    /// New layers are not flushed one by one; the owner calls `sync` once when done (a build:
    /// one flush for all its steps instead of one per step).
    deferred_sync: bool,
}

impl LayerStore {
    /// `dir` = <data root>/overlay. `userxattr`: running in a user namespace (rootless), so
    /// overlay attributes live in `user.overlay.*` rather than the privileged `trusted.overlay.*`.
    pub fn open(dir: PathBuf, userxattr: bool) -> LayerStore {
        LayerStore {
            dir,
            userxattr,
            deferred_sync: false,
        }
    }

    /// A store whose new layers are flushed by `sync`, not each as it is placed.
    pub fn with_deferred_sync(mut self) -> LayerStore {
        self.deferred_sync = true;
        self
    }

    /// Flush what was written to the store's file system.
    pub fn sync(&self) {
        sync_tree(&self.dir);
    }

    fn layers(&self) -> PathBuf {
        self.dir.join("layers")
    }

    fn layer_dir(&self, chain_id: &str) -> Option<PathBuf> {
        digest_hex(chain_id).map(|hex| self.layers().join(hex))
    }

    /// Fully unpacked: layer.json is written before the rename, so its presence means whole.
    pub fn exists(&self, chain_id: &str) -> bool {
        self.layer_dir(chain_id)
            .is_some_and(|d| d.join("layer.json").is_file())
    }

    /// `<dir>/layers/<hex>/diff` (an invalid ID yields a path that never exists).
    pub fn diff_dir(&self, chain_id: &str) -> PathBuf {
        match self.layer_dir(chain_id) {
            Some(d) => d.join("diff"),
            None => self.layers().join(".invalid").join("diff"),
        }
    }

    pub fn info(&self, chain_id: &str) -> Result<LayerInfo, Error> {
        let dir = self.layer_dir(chain_id).ok_or_else(|| invalid(chain_id))?;
        let path = dir.join("layer.json");
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let e = Error::new(format!("no such layer: {chain_id}")).with_path(&path);
                return Err(e.with_errno(Errno::ENOENT));
            }
            Err(e) => return Err(io_error("reading", &path, e)),
        };
        serde_json::from_slice(&data)
            .map_err(|e| Error::because(format!("reading {}", path.display()), Some(&path), e))
    }

    pub fn list(&self) -> Result<Vec<String>, Error> {
        let read = match fs::read_dir(self.layers()) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("listing layers", &self.layers(), e)),
        };
        let mut ids = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| io_error("listing layers", &self.layers(), e))?;
            let id = format!("sha256:{}", entry.file_name().to_string_lossy());
            if self.exists(&id) {
                ids.push(id);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Unpack one uncompressed layer tar under a per-layer lock (concurrent pulls sharing a layer
    /// unpack it once), check the whole stream against `diff_id`, and only then move it into place.
    pub fn unpack(
        &self,
        chain_id: &str,
        diff_id: &str,
        parent: Option<&str>,
        tar: &mut dyn Read,
    ) -> Result<LayerInfo, Error> {
        let hex_id = digest_hex(chain_id).ok_or_else(|| invalid(chain_id))?;
        let want = digest_hex(diff_id).ok_or_else(|| invalid(diff_id))?;
        let lock_path = self.dir.join("locks").join(format!("{hex_id}.lock"));
        let _lock = Lock::exclusive(&lock_path).map_err(|e| io_error("locking", &lock_path, e))?;
        if self.exists(chain_id) {
            return self.info(chain_id);
        }
        let layers = self.layers();
        let tmp = layers.join(format!("{TMP}{hex_id}-{}", std::process::id()));
        // A leftover of an earlier process that had our pid; we hold the lock, so it is dead.
        remove_all(&tmp).map_err(|e| io_error("removing", &tmp, e))?;
        fs::create_dir_all(&layers).map_err(|e| io_error("creating", &layers, e))?;
        let result = self.unpack_into(&tmp, chain_id, diff_id, want, parent, tar);
        if result.is_err() {
            let _ = remove_all(&tmp);
        }
        result
    }

    fn unpack_into(
        &self,
        tmp: &Path,
        chain_id: &str,
        diff_id: &str,
        want: &str,
        parent: Option<&str>,
        tar: &mut dyn Read,
    ) -> Result<LayerInfo, Error> {
        let short = crate::fsutil::short_id(want);
        let layer = format!("layer sha256:{short}");
        let filled = self.fill(tmp, tar, &layer)?;
        if filled.digest_hex != want {
            return Err(Error::new(format!(
                "{layer}: content does not match its digest {diff_id} (got sha256:{})",
                filled.digest_hex
            )));
        }
        let info = filled.info(chain_id, parent);
        self.finish(tmp, &info, &layer)?;
        Ok(info)
    }

    /// Unpack `tar` into the new staging dir `tmp` (its `diff` below it), hashing the whole
    /// stream. `layer` names the layer in errors.
    pub(super) fn fill(
        &self,
        tmp: &Path,
        tar: &mut dyn Read,
        layer: &str,
    ) -> Result<Filled, Error> {
        let diff = tmp.join("diff");
        DirBuilder::new()
            .mode(0o700)
            .create(tmp)
            .map_err(|e| io_error("creating", tmp, e))?;
        DirBuilder::new()
            .mode(0o755)
            .create(&diff)
            .map_err(|e| io_error("creating", &diff, e))?;

        let mut hashing = HashingReader {
            inner: tar,
            hasher: Sha256::new(),
            count: 0,
        };
        let opaque = if self.userxattr {
            "user.overlay.opaque"
        } else {
            "trusted.overlay.opaque"
        };
        let report = unpack_tree(&diff, &mut hashing, opaque).map_err(|e| e.within(layer))?;
        // The digest covers the whole blob, padding after the end-of-archive blocks included.
        io::copy(&mut hashing, &mut io::sink())
            .map_err(|e| Error::io(format!("{layer}: reading layer tar"), None, &e))?;
        let tar_size = hashing.count;
        Ok(Filled {
            digest_hex: hex(&hashing.hasher.finalize()),
            tar_size,
            report,
        })
    }

    /// Make the filled staging dir `tmp` the layer `info` names: data flushed, layer.json
    /// written, then renamed into place.
    pub(super) fn finish(&self, tmp: &Path, info: &LayerInfo, layer: &str) -> Result<(), Error> {
        if !self.deferred_sync {
            sync_tree(&tmp.join("diff"));
        }
        let json = tmp.join("layer.json");
        write_json_atomic(&json, info)
            .map_err(|e| Error::io(format!("{layer}: writing layer.json"), Some(&json), &e))?;
        let dest = self
            .layer_dir(&info.chain_id)
            .ok_or_else(|| invalid(&info.chain_id))?;
        fs::rename(tmp, &dest).map_err(|e| io_error("moving layer into", &dest, e))
    }

    /// Remove a layer; missing is fine. Renamed to a trash name first, so a half-removed layer
    /// never looks whole to `exists`.
    pub fn remove(&self, chain_id: &str) -> Result<(), Error> {
        let hex_id = digest_hex(chain_id).ok_or_else(|| invalid(chain_id))?;
        let dir = self.layers().join(hex_id);
        let lock_path = self.dir.join("locks").join(format!("{hex_id}.lock"));
        let _lock = Lock::exclusive(&lock_path).map_err(|e| io_error("locking", &lock_path, e))?;
        let trash = self
            .layers()
            .join(format!("{TRASH}{hex_id}-{}", std::process::id()));
        remove_all(&trash).map_err(|e| io_error("removing", &trash, e))?;
        match fs::rename(&dir, &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error("removing layer", &dir, e)),
        }
        remove_all(&trash).map_err(|e| io_error("removing layer", &dir, e))
    }

    /// Delete temporary and trash directories that no unpack or removal is working on (a
    /// killed pull or rmi): the process that works on one holds its layer's lock.
    pub fn clean_stale(&self) -> Result<(), Error> {
        for leftover in self.leftovers()? {
            if matches!(leftover, Leftover::Staging { .. }) {
                self.remove_leftover(&leftover)?;
            }
        }
        Ok(())
    }
}

/// Flush the new layer's data before it is renamed into place, so that after a crash a layer
/// that looks whole is whole. One syncfs per layer is far cheaper than an fsync per file.
fn sync_tree(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&f));
    }
}

fn invalid(id: &str) -> Error {
    Error::new(format!(
        "invalid layer id {id:?}: want sha256:<64 hex digits>"
    ))
}

fn io_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), Some(path), &e)
}

struct HashingReader<'a> {
    inner: &'a mut dyn Read,
    hasher: Sha256,
    count: u64,
}

impl Read for HashingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A staging dir unpacked: the stream's digest (its diff_id) and length, and what the unpack
/// noticed.
pub(super) struct Filled {
    pub digest_hex: String,
    pub tar_size: u64,
    pub report: super::entry::Report,
}

impl Filled {
    pub fn info(self, chain_id: &str, parent: Option<&str>) -> LayerInfo {
        LayerInfo {
            chain_id: chain_id.to_string(),
            diff_id: format!("sha256:{}", self.digest_hex),
            parent: parent.map(str::to_string),
            size: self.report.size,
            skipped: self.report.skipped,
            squashed_ids: self.report.squashed_ids,
            tar_size: Some(self.tar_size),
        }
    }
}

mod scan;
mod stage;
#[cfg(test)]
mod tests;

pub use scan::Leftover;
pub use stage::Staged;
