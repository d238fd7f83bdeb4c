//! The name index and directories as they are, for `claim` and `system check`: names and
//! directories whose create was killed before the record was written, and their removal.

use std::fs;

use super::{remove_tree, ContainerLock, ContainerStore};
use crate::container::error::{Error, Result};
use crate::container::layout::{lock_path, overlay_dir, run_dir};
use crate::fsutil::Lock;

impl ContainerStore {
    /// Free `names/<name>` and remove what a killed create left of `owner` (a directory
    /// without a record, perhaps holding a lone `.config.json.tmp-*`, and its run dir), when
    /// `owner` has no record and nobody holds its lock (a create under way holds it). False
    /// when the owner is alive or has a record.
    pub fn reap_unfinished(&self, owner: &str, name: &str) -> Result<bool> {
        let lock_file = lock_path(&self.paths, owner);
        let Some(held) = Lock::try_exclusive(&lock_file)
            .map_err(|e| Error::io("cannot lock container", &lock_file, e))?
        else {
            return Ok(false);
        };
        if self.config_path(owner).is_file() {
            return Ok(false);
        }
        // Under the owner's lock the link cannot change to another owner's between this
        // read and the unlink: a second claimant waits for the same lock.
        if self.name_target(name).as_deref() == Some(owner) {
            let _ = fs::remove_file(self.names.join(name));
        }
        remove_tree(&overlay_dir(&self.paths, owner))?;
        remove_tree(&self.dir.join(owner))?;
        remove_tree(&run_dir(&self.paths, owner))?;
        let _ = held.remove();
        Ok(true)
    }

    /// Drop `names/<name>` if it still points at the locked container.
    pub fn release_name(&self, lock: &ContainerLock, name: &str) {
        self.release(name, lock.id());
    }

    /// Every name in the index with the ID it points at ("" for a link that is no ID).
    pub fn names(&self) -> Vec<(String, String)> {
        let Ok(entries) = fs::read_dir(&self.names) else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .map(|n| {
                let id = self.name_target(&n).unwrap_or_default();
                (n, id)
            })
            .collect();
        out.sort();
        out
    }

    /// Directory names under the store that are container IDs, with or without a record.
    pub fn all_ids(&self) -> Result<Vec<String>> {
        let mut ids = self.ids()?;
        ids.sort();
        Ok(ids)
    }

    /// True when `id` has a record (`config.json`).
    pub fn has_record(&self, id: &str) -> bool {
        self.config_path(id).is_file()
    }
}
