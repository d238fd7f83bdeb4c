//! Joining the user's shared user namespace (and its mount namespace) held by a pause process:
//! the fast path of every rootless command, and the record in the run root that points to it.

use std::fs::{self, DirBuilder, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};

use super::pause::PAUSE_NAME;
use super::{subid, sys, userns_new, Error, IdMapping};
use crate::fsutil::Lock;
use crate::paths::Paths;

pub const PID_FILE: &str = "pause.pid";
pub const RECORD_FILE: &str = "userns.json";
pub const LOCK_FILE: &str = "userns.lock";

/// `userns.json` in the run root: the pause process and the mapping its namespace uses.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub mapping: IdMapping,
    pub pid: u32,
}

/// Open handles on a live pause process's namespaces.
pub struct PauseNs {
    user: File,
    mnt: File,
}

/// Make sure the caller runs inside the user's shared user namespace (and its mount namespace),
/// creating it and its pause process when missing. Must be called while the process is
/// single-threaded (at the start of a command, before any thread). As real root: returns
/// `IdMapping::Root` and does nothing. Inside the namespace the process is uid 0 with full
/// capabilities over the namespace.
pub fn join_user_namespace(paths: &Paths) -> Result<IdMapping, Error> {
    if !paths.rootless {
        return Ok(IdMapping::Root);
    }
    // Fast path, no lock: the record is replaced atomically and the pause is checked by pid,
    // owner and name before it is trusted.
    if let Some(mapping) = try_join(paths)? {
        return Ok(mapping);
    }
    make_runroot(&paths.runroot)?;
    let lock_path = paths.runroot.join(LOCK_FILE);
    let _lock = Lock::exclusive(&lock_path).map_err(|e| {
        Error::io(
            format!("cannot lock {}", lock_path.display()),
            Some(&lock_path),
            &e,
        )
    })?;
    // Another command may have made the namespace while this one waited for the lock.
    if let Some(mapping) = try_join(paths)? {
        return Ok(mapping);
    }
    userns_new::create(paths)
}

/// What the current user's namespace uses, from the run root record, without joining; None when
/// no live pause process holds one.
pub fn current_mapping(paths: &Paths) -> Option<IdMapping> {
    if !paths.rootless {
        return Some(IdMapping::Root);
    }
    let record = read_record(&paths.runroot)?;
    open_pause(record.pid).map(|_| record.mapping)
}

/// End the user's pause process (podman's `system migrate`): the next command makes a new
/// namespace with the mapping /etc/subuid gives then. False when none was running.
pub fn stop_pause(paths: &Paths) -> bool {
    let Some(record) = read_record(&paths.runroot) else {
        return false;
    };
    let (Some(_), Ok(pid)) = (open_pause(record.pid), i32::try_from(record.pid)) else {
        return false;
    };
    let _ = fs::remove_file(paths.runroot.join(RECORD_FILE));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .is_ok()
}

/// (start, count) of the caller's first /etc/subuid entry.
pub fn subid_range(paths: &Paths) -> Option<(u32, u32)> {
    let name = subid::lookup_user_name(paths.uid);
    subid::lookup_ranges("/etc/subuid", name.as_deref(), paths.uid)
        .first()
        .map(|r| (r.start, r.count))
}

fn try_join(paths: &Paths) -> Result<Option<IdMapping>, Error> {
    let Some(record) = read_record(&paths.runroot) else {
        return Ok(None);
    };
    let Some(ns) = open_pause(record.pid) else {
        return Ok(None);
    };
    enter(&ns, record.pid)?;
    Ok(Some(record.mapping))
}

pub fn read_record(runroot: &Path) -> Option<Record> {
    let data = fs::read(runroot.join(RECORD_FILE)).ok()?;
    serde_json::from_slice(&data).ok()
}

/// The namespaces of `pid` if it is a live cove pause process of the caller. The namespace
/// files are opened before the checks, so a pid reused after the checks cannot slip in.
pub fn open_pause(pid: u32) -> Option<PauseNs> {
    if pid <= 1 {
        return None;
    }
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let user = File::open(dir.join("ns/user")).ok()?;
    let mnt = File::open(dir.join("ns/mnt")).ok()?;
    // Owners in /proc are shown in the reader's namespace, like geteuid(): comparing the two
    // holds both before and after joining.
    let owner = fs::metadata(&dir).ok()?.uid();
    if owner != nix::unistd::geteuid().as_raw() {
        return None;
    }
    let comm = fs::read_to_string(dir.join("comm")).ok()?;
    (comm.trim_end() == PAUSE_NAME).then_some(PauseNs { user, mnt })
}

/// setns into the pause's user namespace, then its mount namespace, keeping the working directory.
pub fn enter(ns: &PauseNs, pid: u32) -> Result<(), Error> {
    let op = |what: &str| format!("cannot join the user namespace of pause process {pid}: {what}");
    let ns_path = |kind: &str| PathBuf::from(format!("/proc/{pid}/ns/{kind}"));
    let own = Path::new("/proc/self/ns/user");
    let ours = fs::metadata(own).map_err(|e| Error::io(op("/proc/self/ns/user"), Some(own), &e))?;
    let theirs = ns
        .user
        .metadata()
        .map_err(|e| Error::io(op("ns/user"), Some(&ns_path("user")), &e))?;
    if (ours.dev(), ours.ino()) == (theirs.dev(), theirs.ino()) {
        return Ok(());
    }
    // setns(CLONE_NEWNS) moves the cwd to the namespace's root; come back to the same place.
    let cwd_path = std::env::current_dir().ok();
    let cwd_fd = File::open(".").ok();
    sys::setns(&ns.user, CloneFlags::CLONE_NEWUSER)
        .map_err(|e| Error::sys(op("setns user"), Some(&ns_path("user")), e))?;
    sys::setns(&ns.mnt, CloneFlags::CLONE_NEWNS)
        .map_err(|e| Error::sys(op("setns mnt"), Some(&ns_path("mnt")), e))?;
    let back = cwd_path.is_some_and(|p| std::env::set_current_dir(p).is_ok());
    if !back {
        if let Some(fd) = cwd_fd {
            let _ = nix::unistd::fchdir(fd.as_raw_fd());
        }
    }
    Ok(())
}

fn make_runroot(runroot: &Path) -> Result<(), Error> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(runroot)
        .map_err(|e| {
            let op = format!("cannot create run root {}", runroot.display());
            Error::io(op, Some(runroot), &e)
        })
}
