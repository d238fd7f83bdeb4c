//! The container store: one directory per container under `<root>/containers`, and a name
//! index of symlinks `<root>/containers/names/<name> -> <id>`. Creating a symlink is atomic, so
//! two concurrent `run --name bob` cannot both win, and lookup by name costs one readlink.
//! `save`, `remove` and `rename` take the container's held lock (`ContainerLock`, from
//! `lock(id)`) as an argument, so the rule "load-modify-save under the lock" is checked by the
//! compiler. flock is per open file, so the store never takes the lock itself: that would
//! deadlock a caller that holds it.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::layout::{data_dir, merged_dir, overlay_dir, run_dir};
use super::names::{generate_id, generate_name, validate_name};
use super::record::ContainerRecord;
use super::runstate::{alive, derive, read_exit, read_run_state};
use super::state::State;
use crate::fsutil::tree::remove_all;
use crate::fsutil::{write_json_atomic, Lock};
use crate::paths::Paths;
use crate::time::parse_rfc3339;

/// The held lock of one container: proof, for `save`, `remove` and `rename`, that the caller
/// took it. Released when dropped.
pub struct ContainerLock {
    id: String,
    lock: Lock,
}

impl ContainerLock {
    pub fn id(&self) -> &str {
        &self.id
    }

    fn check(&self, id: &str) -> Result<()> {
        if self.id == id {
            Ok(())
        } else {
            Err(Error::Other(format!(
                "internal error: container {id} changed under the lock of {}",
                self.id
            )))
        }
    }
}

pub struct ContainerStore {
    paths: Paths,
    dir: PathBuf,
    names: PathBuf,
}

fn is_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

impl ContainerStore {
    pub fn open(paths: &Paths) -> Result<ContainerStore> {
        let dir = paths.root.join("containers");
        let names = dir.join("names");
        // Records name images, commands and environments (secrets): owner only.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&names)
            .map_err(|e| Error::io("cannot create container store", &names, e))?;
        Ok(ContainerStore {
            paths: paths.clone(),
            dir,
            names,
        })
    }

    fn config_path(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("config.json")
    }

    /// Stores a new record. An empty ID or name is generated; a name in use is refused
    /// with docker's Conflict message. Returns the record as stored.
    ///
    /// A crash can stop this between any two steps (directory, name, record), so all three
    /// run under the new container's lock: a name whose container has no record and whose
    /// lock nobody holds is what a killed create left, and `claim` takes it over.
    pub fn create(&self, mut rec: ContainerRecord) -> Result<ContainerRecord> {
        if rec.id.is_empty() {
            rec.id = generate_id();
        }
        let creating = self.lock_new(&rec.id)?;
        let dir = data_dir(&self.paths, &rec.id);
        if let Err(e) = fs::create_dir(&dir) {
            let _ = creating.lock.remove();
            return Err(Error::io("cannot create container directory", &dir, e));
        }
        let claimed = if rec.name.is_empty() {
            self.claim_generated(&rec.id)
        } else {
            validate_name(&rec.name).and_then(|name| self.claim(&name, &rec.id).map(|()| name))
        };
        let name = match claimed {
            Ok(name) => name,
            Err(e) => {
                let _ = remove_all(&dir);
                let _ = remove_all(&run_dir(&self.paths, &rec.id));
                let _ = creating.lock.remove();
                return Err(e);
            }
        };
        rec.name = name;
        let path = self.config_path(&rec.id);
        if let Err(e) = write_json_atomic(&path, &rec) {
            self.release(&rec.name, &rec.id);
            let _ = remove_all(&dir);
            let _ = remove_all(&run_dir(&self.paths, &rec.id));
            let _ = creating.lock.remove();
            return Err(Error::io("cannot write container record", path, e));
        }
        Ok(rec)
    }

    fn claim_generated(&self, id: &str) -> Result<String> {
        loop {
            let name = generate_name(&|n| self.names.join(n).symlink_metadata().is_ok());
            match self.claim(&name, id) {
                Err(Error::NameInUse { .. }) => continue,
                other => return other.map(|()| name),
            }
        }
    }

    /// Points `names/<name>` at `id`; a link left by a container that no longer exists
    /// (a crash during create or remove) is replaced.
    fn claim(&self, name: &str, id: &str) -> Result<()> {
        let link = self.names.join(name);
        for _ in 0..3 {
            match std::os::unix::fs::symlink(id, &link) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    match self.name_target(name) {
                        Some(owner) if owner == id || self.config_path(&owner).is_file() => {
                            return Err(Error::NameInUse {
                                name: name.into(),
                                id: owner,
                            })
                        }
                        Some(owner) => {
                            if !self.reap_unfinished(&owner, name)? {
                                // Its create is still running: the name is taken.
                                return Err(Error::NameInUse {
                                    name: name.into(),
                                    id: owner,
                                });
                            }
                        }
                        None => {
                            let _ = fs::remove_file(&link);
                        }
                    }
                }
                Err(e) => return Err(Error::io("cannot reserve container name", link, e)),
            }
        }
        Err(Error::Other(format!(
            "cannot reserve container name {name}: the name index keeps changing"
        )))
    }

    fn name_target(&self, name: &str) -> Option<String> {
        let target = fs::read_link(self.names.join(name)).ok()?;
        let target = target.to_str()?;
        is_id(target).then(|| target.to_string())
    }

    /// Drops `names/<name>` if it still points at `id`.
    fn release(&self, name: &str, id: &str) {
        if self.name_target(name).as_deref() == Some(id) {
            let _ = fs::remove_file(self.names.join(name));
        }
    }

    pub fn load(&self, id: &str) -> Result<ContainerRecord> {
        let path = self.config_path(id);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::NoSuchContainer(id.into()))
            }
            Err(e) => return Err(Error::io("cannot read container record", path, e)),
        };
        serde_json::from_slice(&data).map_err(|e| Error::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// Atomically replaces the record; a removed container is not brought back.
    pub fn save(&self, lock: &ContainerLock, rec: &ContainerRecord) -> Result<()> {
        lock.check(&rec.id)?;
        if !self.dir.join(&rec.id).is_dir() {
            return Err(Error::NoSuchContainer(rec.id.clone()));
        }
        let path = self.config_path(&rec.id);
        write_json_atomic(&path, rec)
            .map_err(|e| Error::io("cannot write container record", path, e))
    }

    fn ids(&self) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| Error::io("cannot list containers", &self.dir, e))?;
        Ok(entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| is_id(n))
            .collect())
    }

    /// Every record, newest first. Damaged records are skipped with a warning, half-created
    /// ones (no config.json yet) silently.
    pub fn list(&self) -> Result<Vec<ContainerRecord>> {
        let mut out = Vec::new();
        for id in self.ids()? {
            match self.load(&id) {
                Ok(rec) => out.push(rec),
                Err(Error::NoSuchContainer(_)) => {}
                Err(e) => crate::warn!("{e}"),
            }
        }
        let key = |r: &ContainerRecord| parse_rfc3339(&r.created).unwrap_or((0, 0));
        out.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// docker's lookup order: exact ID, exact name (a leading '/' allowed), unique ID prefix.
    pub fn find(&self, query: &str) -> Result<ContainerRecord> {
        let missing = || Error::NoSuchContainer(query.into());
        if query.is_empty() {
            return Err(missing());
        }
        if is_id(query) {
            match self.load(query) {
                Err(Error::NoSuchContainer(_)) => {}
                other => return other,
            }
        }
        let name = query.strip_prefix('/').unwrap_or(query);
        if !name.contains('/') && name != "." && name != ".." {
            if let Some(id) = self.name_target(name) {
                match self.load(&id) {
                    Err(Error::NoSuchContainer(_)) => {}
                    other => return other,
                }
            }
        }
        if !query
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return Err(missing());
        }
        let mut found = self
            .ids()?
            .into_iter()
            .filter(|id| id.starts_with(query) && self.config_path(id).is_file());
        match (found.next(), found.next()) {
            (Some(id), None) => self.load(&id),
            (Some(_), Some(_)) => Err(Error::Ambiguous(query.into())),
            _ => Err(missing()),
        }
    }

    /// The record's state corrected from the run state: running only while the recorded
    /// process lives with its recorded start time; exited (with exit.json's code, or -1)
    /// otherwise. Waits up to 100 ms for a live reaper to write exit.json.
    pub fn live_state(&self, rec: &ContainerRecord) -> State {
        let mut tries = 0;
        loop {
            let run = read_run_state(&self.paths, &rec.id);
            let exit = read_exit(&self.paths, &rec.id);
            let d = derive(&rec.state, run.as_ref(), exit.as_ref(), &alive);
            if !d.exit_pending || tries >= 50 {
                return d.state;
            }
            tries += 1;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// Removes everything of the container: overlay dirs, run state, userdata, logs, then
    /// the record and its name. The record goes last, so a failed `rm` can be retried.
    pub fn remove(&self, lock: &ContainerLock) -> Result<()> {
        let id = lock.id();
        let overlay = overlay_dir(&self.paths, id);
        let merged = merged_dir(&self.paths, id);
        let mounted = || match (fs::metadata(&merged), fs::metadata(&overlay)) {
            (Ok(m), Ok(o)) => m.dev() != o.dev(),
            _ => false,
        };
        if mounted() {
            // A keep-id root mounted in the user's namespace by a supervisor that is gone.
            crate::sandbox::release_rootfs(&merged);
            if mounted() {
                return Err(Error::Other(format!(
                    "cannot remove container {id}: its root file system is still mounted at {}",
                    merged.display()
                )));
            }
        }
        let name = self.load(id).ok().map(|r| r.name);
        remove_tree(&overlay)?;
        remove_tree(&run_dir(&self.paths, id))?;
        let dir = self.dir.join(id);
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_name() != "config.json" {
                    remove_tree(&entry.path())?;
                }
            }
        }
        remove_tree(&dir)?;
        match name {
            Some(name) => self.release(&name, id),
            None => self.release_all(id),
        }
        // Last, still held: a waiter wakes on a lock that is gone and is told so.
        let _ = lock.lock.remove();
        Ok(())
    }

    fn release_all(&self, id: &str) {
        if let Ok(entries) = fs::read_dir(&self.names) {
            for name in entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
            {
                self.release(&name, id);
            }
        }
    }

    /// `docker rename`: the new name is checked and reserved before the record changes.
    pub fn rename(&self, lock: &ContainerLock, new_name: &str) -> Result<()> {
        let id = lock.id();
        if new_name.is_empty() {
            return Err(Error::invalid("Neither old nor new names may be empty"));
        }
        let new_name = validate_name(new_name)?;
        let mut rec = self.load(id)?;
        if rec.name == new_name {
            return Err(Error::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        self.claim(&new_name, id)?;
        let old = std::mem::replace(&mut rec.name, new_name.clone());
        if let Err(e) = self.save(lock, &rec) {
            self.release(&new_name, id);
            return Err(e);
        }
        self.release(&old, id);
        Ok(())
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }
}

/// `remove_all` takes files, directories of any depth and missing paths alike.
fn remove_tree(path: &Path) -> Result<()> {
    remove_all(path).map_err(|e| Error::io("cannot remove", path, e))
}

mod locks;
#[cfg(test)]
mod tests;
mod unfinished;
