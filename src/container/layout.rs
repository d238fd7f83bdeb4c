//! Where a container's files live: the record and its userdata and log under the data root,
//! overlay dirs beside the layers, run state (pids, sockets, exit) and locks under the run root.

use std::path::PathBuf;

use crate::paths::Paths;

/// `<root>/containers/<id>`: config.json, userdata/, ctr.log*.
pub fn data_dir(paths: &Paths, id: &str) -> PathBuf {
    paths.root.join("containers").join(id)
}

/// `<root>/containers/<id>/userdata`: hosts, hostname, resolv.conf.
pub fn userdata_dir(paths: &Paths, id: &str) -> PathBuf {
    data_dir(paths, id).join("userdata")
}

/// `<root>/containers/<id>/ctr.log` (json-file, rotated to ctr.log.1 ..).
pub fn log_path(paths: &Paths, id: &str) -> PathBuf {
    data_dir(paths, id).join("ctr.log")
}

/// `<root>/overlay/containers/<id>`: upper, work, merged.
pub fn overlay_dir(paths: &Paths, id: &str) -> PathBuf {
    paths.overlay_root().join("containers").join(id)
}

pub fn upper_dir(paths: &Paths, id: &str) -> PathBuf {
    overlay_dir(paths, id).join("upper")
}

pub fn work_dir(paths: &Paths, id: &str) -> PathBuf {
    overlay_dir(paths, id).join("work")
}

pub fn merged_dir(paths: &Paths, id: &str) -> PathBuf {
    overlay_dir(paths, id).join("merged")
}

/// `<runroot>/containers/<id>`: on tmpfs, so a reboot forgets that anything was running.
pub fn run_dir(paths: &Paths, id: &str) -> PathBuf {
    paths.runroot.join("containers").join(id)
}

pub fn state_path(paths: &Paths, id: &str) -> PathBuf {
    run_dir(paths, id).join("state.json")
}

pub fn exit_path(paths: &Paths, id: &str) -> PathBuf {
    run_dir(paths, id).join("exit.json")
}

pub fn attach_socket(paths: &Paths, id: &str) -> PathBuf {
    run_dir(paths, id).join("attach.sock")
}

/// `<runroot>/container-locks/<id>.monitor`: held by the container's one monitor for its life.
pub fn monitor_lock_path(paths: &Paths, id: &str) -> PathBuf {
    paths
        .runroot
        .join("container-locks")
        .join(format!("{id}.monitor"))
}

/// `<runroot>/container-locks/<id>`: outside the run dir, which removal deletes while it
/// holds the lock.
pub fn lock_path(paths: &Paths, id: &str) -> PathBuf {
    paths.runroot.join("container-locks").join(id)
}
