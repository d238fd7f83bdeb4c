//! A container's lock: `<runroot>/container-locks/<id>`, outside the run dir that removal
//! deletes; a waiter that wakes on the lock of a removed container is told it is gone.

use super::{ContainerLock, ContainerStore};
use crate::container::error::{Error, Result};
use crate::container::layout::lock_path;
use crate::container::ContainerRecord;
use crate::fsutil::Lock;

impl ContainerStore {
    /// The lock of a container being made: its record does not exist yet.
    pub(super) fn lock_new(&self, id: &str) -> Result<ContainerLock> {
        let path = lock_path(&self.paths, id);
        let lock = Lock::exclusive(&path)
            .map_err(|e| Error::io("cannot lock container", path.clone(), e))?;
        Ok(ContainerLock {
            id: id.to_string(),
            lock,
        })
    }

    /// The container's lock (flock on `<runroot>/container-locks/<id>`), held until dropped.
    /// NoSuchContainer once the record is gone (removed while we waited): whatever the
    /// caller meant to do to it must not happen, and must not bring back its files.
    pub fn lock(&self, id: &str) -> Result<ContainerLock> {
        let held = self.lock_new(id)?;
        if !self.config_path(id).is_file() {
            let _ = held.lock.remove();
            return Err(Error::NoSuchContainer(id.to_string()));
        }
        Ok(held)
    }

    /// `lock` of a container found by name: once it is gone, "No such container" names it as
    /// the user did, not by its ID.
    pub fn lock_record(&self, rec: &ContainerRecord) -> Result<ContainerLock> {
        self.lock(&rec.id).map_err(|e| match e {
            Error::NoSuchContainer(_) => Error::NoSuchContainer(rec.name.clone()),
            e => e,
        })
    }
}
