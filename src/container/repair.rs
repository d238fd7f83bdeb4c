//! Repairs of one container's files for `system check --repair`, each under the container's
//! lock and checked again there: the run state of a dead monitor or a previous boot, a lost
//! upper dir, the run dir of a container that does not exist.

use std::fs;
use std::io;

use super::layout::{
    attach_socket, data_dir, lock_path, monitor_lock_path, run_dir, state_path, upper_dir, work_dir,
};
use super::runstate::{alive, derive, read_exit, read_run_state, MONITOR_DIED};
use super::{ContainerRecord, ContainerStore, Error, Result};
use crate::fsutil::tree::remove_all;
use crate::fsutil::Lock;

/// The monitor pid of a container whose process and monitor are both gone without an exit
/// record: a killed monitor (or host crash) left it looking as if it ran.
pub fn dead_monitor(store: &ContainerStore, rec: &ContainerRecord) -> Option<i32> {
    let run = read_run_state(store.paths(), &rec.id)?;
    let exit = read_exit(store.paths(), &rec.id);
    let d = derive(&rec.state, Some(&run), exit.as_ref(), &alive);
    (d.state.error == MONITOR_DIED).then_some(run.monitor_pid)
}

/// Record the container as exited (what its run state amounts to now: "monitor died", or
/// "run state lost" for one of a previous boot) and drop the run state and attach socket.
pub fn forget_run_state(store: &ContainerStore, id: &str) -> Result<()> {
    let lock = store.lock(id)?;
    let mut rec = store.load(id)?;
    let state = store.live_state(&rec);
    if state.status.is_active() {
        return Err(Error::Other(format!("container {} runs", rec.name)));
    }
    for path in [
        state_path(store.paths(), id),
        attach_socket(store.paths(), id),
    ] {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("cannot remove", path, e)),
        }
    }
    rec.state = state;
    store.save(&lock, &rec)
}

/// Free `name` when it points at `id` but the record of `id` has another name (a rename
/// killed between saving the record and releasing the old name).
pub fn drop_old_name(store: &ContainerStore, id: &str, name: &str) -> Result<()> {
    let lock = store.lock(id)?;
    let rec = store.load(id)?;
    if rec.name == name {
        return Err(Error::Other(format!(
            "{name} is the name of container {id}"
        )));
    }
    store.release_name(&lock, name);
    Ok(())
}

/// Make the upper and work dirs of a container that does not run again (empty: what was in
/// them is lost either way).
pub fn recreate_rootfs(store: &ContainerStore, id: &str) -> Result<()> {
    let _lock = store.lock(id)?;
    let rec = store.load(id)?;
    if store.live_state(&rec).status.is_active() {
        return Err(Error::Other(format!("container {} runs", rec.name)));
    }
    for dir in [upper_dir(store.paths(), id), work_dir(store.paths(), id)] {
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
    }
    Ok(())
}

/// True when nobody holds the container's lock (no create, remove or change under way).
pub fn lock_free(store: &ContainerStore, id: &str) -> bool {
    let lock = lock_path(store.paths(), id);
    !lock.exists() || matches!(Lock::try_exclusive(&lock), Ok(Some(_)))
}

/// The run dir of `id` when there is no container `id` at all (no record, no directory) and
/// nobody holds its lock: what a removal or a create killed midway left.
pub fn orphan_run_dir(store: &ContainerStore, id: &str) -> bool {
    !data_dir(store.paths(), id).exists() && lock_free(store, id)
}

/// Remove the run dir of a container that does not exist, under its lock.
pub fn remove_orphan_run_dir(store: &ContainerStore, id: &str) -> Result<bool> {
    let lock_file = lock_path(store.paths(), id);
    let held = match Lock::try_exclusive(&lock_file) {
        Ok(Some(held)) => held,
        Ok(None) => return Ok(false),
        Err(e) => return Err(Error::io("cannot lock container", lock_file, e)),
    };
    if data_dir(store.paths(), id).exists() {
        return Ok(false);
    }
    let dir = run_dir(store.paths(), id);
    remove_all(&dir).map_err(|e| Error::io("cannot remove", &dir, e))?;
    // A killed monitor's claim goes too, unless a monitor still holds it.
    let claim = monitor_lock_path(store.paths(), id);
    if let Ok(Some(monitor)) = Lock::try_exclusive(&claim) {
        let _ = monitor.remove();
    }
    held.remove()
        .map_err(|e| Error::io("cannot remove", lock_file.clone(), e))?;
    Ok(true)
}
