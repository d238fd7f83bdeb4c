//! What an interrupted pull leaves behind, and the lock that tells it from a pull that is
//! running: every pull holds `images/pull.lock` shared from start to record, so whoever takes
//! it exclusively knows that no layer or blob lacks its image only because its pull is not done.

use std::collections::HashSet;
use std::path::PathBuf;

use super::{Error, ImageStore, Result};
use crate::fsutil::Lock;
use crate::overlay::{LayerStore, Leftover};

/// Held by a pull while it runs (shared: pulls run side by side).
pub struct PullGuard {
    _lock: Lock,
}

fn lock_path(images: &ImageStore) -> PathBuf {
    images.dir().join("images").join("pull.lock")
}

/// Announce a pull; the debris sweep leaves the store alone while any pull holds this.
pub fn hold_pull(images: &ImageStore) -> Result<PullGuard> {
    let path = lock_path(images);
    let lock = Lock::shared(&path).map_err(|e| Error::io("cannot lock", &path, e))?;
    Ok(PullGuard { _lock: lock })
}

/// One piece of debris.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A layer dir an unpack or removal left half done.
    Layer(Leftover),
    /// A blob file a download left half written.
    BlobTemp(PathBuf),
    /// A whole layer no image uses (its pull stopped before the image was recorded).
    UnusedLayer(String),
    /// A whole blob no image uses.
    UnusedBlob(String),
}

/// The debris found, with the exclusive pull lock when it could be taken. Without it (a pull
/// is running) only what is provably dead is listed: staging dirs whose layer lock is free
/// and blob temps whose process is gone.
pub struct Debris {
    pub pieces: Vec<Piece>,
    pub pull_running: bool,
    _lock: Option<Lock>,
}

/// List the debris of interrupted pulls.
pub fn scan(images: &ImageStore, layers: &LayerStore) -> Result<Debris> {
    let path = lock_path(images);
    let lock = Lock::try_exclusive(&path).map_err(|e| Error::io("cannot lock", &path, e))?;
    let quiet = lock.is_some();
    let mut pieces: Vec<Piece> = layers.leftovers()?.into_iter().map(Piece::Layer).collect();
    let records = images.load()?;
    let mut used_blobs: HashSet<String> = HashSet::new();
    let mut used_layers: HashSet<&str> = HashSet::new();
    for img in &records {
        used_blobs.insert(img.id.clone());
        used_blobs.insert(img.manifest_digest.clone());
        used_blobs.extend(img.layer_blobs.iter().cloned());
        used_blobs.extend(
            img.repo_digests
                .iter()
                .filter_map(|d| d.rsplit_once('@').map(|(_, digest)| digest.to_string())),
        );
        used_layers.extend(img.layers.iter().map(String::as_str));
    }
    let copies = super::compressed::used_copies(images, &used_blobs);
    used_blobs.extend(copies);
    if quiet {
        for chain in layers.list()? {
            if !used_layers.contains(chain.as_str()) {
                pieces.push(Piece::UnusedLayer(chain));
            }
        }
    }
    for blob in images.blob_files() {
        match blob {
            super::BlobFile::Temp { path, pid } if quiet || !crate::fsutil::pid_exists(pid) => {
                pieces.push(Piece::BlobTemp(path));
            }
            super::BlobFile::Blob { digest, .. } if quiet && !used_blobs.contains(&digest) => {
                pieces.push(Piece::UnusedBlob(digest));
            }
            _ => {}
        }
    }
    Ok(Debris {
        pieces,
        pull_running: !quiet,
        _lock: lock,
    })
}

impl Debris {
    /// Remove every piece; returns the bytes freed (blob sizes, unpacked layer sizes).
    pub fn remove(self, images: &ImageStore, layers: &LayerStore) -> Result<u64> {
        let mut freed = 0;
        for piece in &self.pieces {
            freed += remove_piece(images, layers, piece)?;
        }
        Ok(freed)
    }
}

/// Remove one piece (the caller holds the `Debris` and with it the pull lock).
pub fn remove_piece(images: &ImageStore, layers: &LayerStore, piece: &Piece) -> Result<u64> {
    let file_size = |p: &PathBuf| std::fs::symlink_metadata(p).map(|m| m.len()).unwrap_or(0);
    match piece {
        Piece::Layer(leftover) => {
            layers.remove_leftover(leftover)?;
            Ok(0)
        }
        Piece::BlobTemp(path) => {
            let size = file_size(path);
            match std::fs::remove_file(path) {
                Ok(()) => Ok(size),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
                Err(e) => Err(Error::io("cannot remove", path, e)),
            }
        }
        Piece::UnusedLayer(chain) => {
            let size = layers.info(chain).map(|i| i.size).unwrap_or(0);
            layers.remove(chain)?;
            Ok(size)
        }
        Piece::UnusedBlob(digest) => {
            let size = file_size(&images.blob_path(digest));
            images.remove_blob(digest)?;
            Ok(size)
        }
    }
}

/// What a pull is about to add: the layers and blobs missing when it began.
pub struct Additions {
    pub layers: Vec<String>,
    pub blobs: Vec<String>,
}

impl Additions {
    pub fn missing(
        images: &ImageStore,
        layers: &LayerStore,
        chain: &[String],
        blobs: &[&str],
    ) -> Additions {
        Additions {
            layers: chain
                .iter()
                .filter(|c| !layers.exists(c))
                .cloned()
                .collect(),
            blobs: blobs
                .iter()
                .filter(|d| !images.has_blob(d))
                .map(|d| d.to_string())
                .collect(),
        }
    }
}

/// A pull failed (a full disk, a cut download): take back the layers and blobs it added
/// that no image uses, so the store is as it was. Only when no other pull runs, since one
/// may be about to record an image that uses them; else `image prune` reclaims them later.
/// Best effort: the pull's own error is what the user needs to see.
pub fn undo_pull(images: &ImageStore, layers: &LayerStore, guard: PullGuard, added: &Additions) {
    drop(guard);
    let Ok(debris) = scan(images, layers) else {
        return;
    };
    if debris.pull_running {
        return;
    }
    for piece in &debris.pieces {
        let ours = match piece {
            Piece::UnusedLayer(chain) => added.layers.contains(chain),
            Piece::UnusedBlob(digest) => added.blobs.contains(digest),
            Piece::Layer(_) | Piece::BlobTemp(_) => false,
        };
        if ours {
            let _ = remove_piece(images, layers, piece);
        }
    }
}
