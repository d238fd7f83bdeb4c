//! Layers whose diff_id is only known once they are unpacked (commit, import, load): unpacked
//! into a staging dir named and locked by a random ID, then moved into place under their chain
//! ID — or dropped, leaving nothing behind.

use std::fs;
use std::io::Read;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::{io_error, Filled, LayerStore, TMP};
use crate::fsutil::tree::remove_all;
use crate::fsutil::Lock;
use crate::overlay::{hex, Error, LayerInfo};

/// A layer unpacked into its staging dir, not yet in the store. Dropping it removes the dir.
pub struct Staged<'s> {
    store: &'s LayerStore,
    tmp: PathBuf,
    /// The staging ID's lock: `leftovers` skips the dir while it is held.
    lock: Option<Lock>,
    diff_id: String,
    filled: Option<Filled>,
}

impl LayerStore {
    /// Unpack one uncompressed layer tar whose digest is not known in advance; the digest of
    /// the whole stream becomes its diff_id. `label` names the layer in errors.
    pub fn stage(&self, tar: &mut dyn Read, label: &str) -> Result<Staged<'_>, Error> {
        let id = random_hex();
        let lock_path = self.lock_path(&id);
        let lock = Lock::exclusive(&lock_path).map_err(|e| io_error("locking", &lock_path, e))?;
        let layers = self.layers();
        fs::create_dir_all(&layers).map_err(|e| io_error("creating", &layers, e))?;
        let mut staged = Staged {
            store: self,
            tmp: layers.join(format!("{TMP}{id}-{}", std::process::id())),
            lock: Some(lock),
            diff_id: String::new(),
            filled: None,
        };
        let filled = self.fill(&staged.tmp, tar, label)?;
        staged.diff_id = format!("sha256:{}", filled.digest_hex);
        staged.filled = Some(filled);
        Ok(staged)
    }
}

impl Staged<'_> {
    /// `sha256:` of the uncompressed tar.
    pub fn diff_id(&self) -> &str {
        &self.diff_id
    }

    /// Move the layer into the store as `chain_id` (whose last diff_id must be ours). When
    /// the store already has that layer the staged copy is dropped; the bool says whether
    /// this call added it.
    pub fn place(
        mut self,
        chain_id: &str,
        parent: Option<&str>,
    ) -> Result<(LayerInfo, bool), Error> {
        let store = self.store;
        let hex_id = crate::overlay::digest_hex(chain_id)
            .ok_or_else(|| Error::new(format!("invalid layer id {chain_id:?}")))?;
        let lock_path = store.lock_path(hex_id);
        let _lock = Lock::exclusive(&lock_path).map_err(|e| io_error("locking", &lock_path, e))?;
        if store.exists(chain_id) {
            return Ok((store.info(chain_id)?, false));
        }
        let Some(filled) = self.filled.take() else {
            return Err(Error::new("layer: already placed"));
        };
        let info = filled.info(chain_id, parent);
        let layer = format!("layer sha256:{}", crate::fsutil::short_id(&info.diff_id));
        store.finish(&self.tmp, &info, &layer)?;
        Ok((info, true))
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        let _ = remove_all(&self.tmp);
        if let Some(lock) = self.lock.take() {
            // The ID was ours alone: its lock file would only pile up.
            let _ = lock.remove();
        }
    }
}

/// 64 hex digits no other staging dir has: the pid, the time and a counter, hashed.
fn random_hex() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{}-{now}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    hex(&Sha256::digest(seed.as_bytes()))
}

#[cfg(test)]
mod tests {
    use crate::overlay::testkit::{digest, Fixture, Tar};

    #[test]
    fn staged_layers_learn_their_diff_id_and_place_once() {
        let fx = Fixture::new("stage");
        let tar = Tar::new().file("a", b"data").finish();
        let staged = fx.store.stage(&mut &tar[..], "layer").unwrap();
        assert_eq!(staged.diff_id(), digest(&tar));
        let id = digest(&tar);
        let (info, added) = staged.place(&id, None).unwrap();
        assert!(added);
        assert_eq!(info.diff_id, id);
        assert_eq!(info.tar_size, Some(tar.len() as u64));
        assert!(fx.store.exists(&id));
        // A second copy of the same layer finds it there and leaves nothing.
        let again = fx.store.stage(&mut &tar[..], "layer").unwrap();
        assert!(!again.place(&id, None).unwrap().1);
        assert_eq!(fx.store.leftovers().unwrap(), vec![]);
        assert_eq!(fx.store.list().unwrap(), vec![id]);
    }

    #[test]
    fn dropped_or_failed_stages_leave_nothing() {
        let fx = Fixture::new("stage-drop");
        let tar = Tar::new().file("a", b"data").finish();
        drop(fx.store.stage(&mut &tar[..], "layer").unwrap());
        let bad = Tar::new().file("../escape", b"x").finish();
        assert!(fx.store.stage(&mut &bad[..], "layer").is_err());
        let layers = fx.tmp.path().join("store/overlay/layers");
        assert_eq!(std::fs::read_dir(layers).unwrap().count(), 0);
        let locks = fx.tmp.path().join("store/overlay/locks");
        assert_eq!(std::fs::read_dir(locks).unwrap().count(), 0);
    }
}
