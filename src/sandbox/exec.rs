//! `cove exec`: a new process in a running container's namespaces, confined like its first one.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;

use nix::sched::CloneFlags;

use super::launch;
use super::spawn::start_with;
use super::spec::{Process, SpawnError, Stdio};
use super::sys;

/// The namespaces joined, in order: user first (a keep-id container's own, which owns the
/// others), mnt last, because it changes our root and /proc with it.
const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Run `process` inside the container whose first process is `target_pid`; returns the new
/// process's pid, a child of the caller, once it has exec'd (errors as for `spawn`). The caller
/// has already joined the user's user namespace (rootless). The caller's own namespaces are
/// left alone: an intermediate fork joins them and clones the process as our child, so this may
/// be called from any process, though like every fork here it is meant for a single-threaded
/// one (a threaded caller's other threads may hold locks the intermediate needs).
///
/// After setns into the mount namespace, root and working directory are the namespace's root,
/// which pivot_root made the container's: no chroot is needed, and the cwd is entered from there.
pub fn exec_in(target_pid: i32, process: &Process, stdio: Stdio) -> Result<i32, SpawnError> {
    if process.args.is_empty() {
        return Err(SpawnError::engine("no command specified"));
    }
    let holder = namespace_holder(target_pid)?;
    let mut joins = Vec::new();
    for (name, flag) in NAMESPACES {
        let path = format!("/proc/{holder}/ns/{name}");
        let file = File::open(&path).map_err(|e| {
            SpawnError::engine(format!(
                "cannot join the container's namespaces: {path}: {e}"
            ))
        })?;
        // setns into a namespace we are already in is at best useless, and for a namespace
        // owned by the host's user namespace (--network host) not allowed to a rootless user.
        let ours = fs::metadata(format!("/proc/self/ns/{name}")).ok();
        let theirs = file.metadata().ok();
        let same = match (ours, theirs) {
            (Some(a), Some(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        };
        if !same {
            joins.push((file, *flag, *name));
        }
    }
    let pre = move || {
        for (file, flag, name) in joins {
            sys::setns(&file, flag).map_err(|e| {
                SpawnError::engine(format!("cannot join the container's {name} namespace: {e}"))
            })?;
        }
        Ok(())
    };
    let body = |stdio, reporter: &launch::Reporter| {
        launch::setup_stdio(stdio, process.terminal)?;
        sys::close_fds_except(&[reporter.fd()]);
        launch::enter_cwd(&process.cwd, false)?;
        Err(launch::finish(process))
    };
    let (pid, _) = start_with(CloneFlags::empty(), stdio, pre, body)?;
    Ok(pid)
}

/// A process whose namespace files we may open: the target itself, or with `--init` (a pid 1
/// that is not dumpable, so its /proc/PID/ns needs ptrace rights over the host's user
/// namespace) the first of its children, which share its namespaces.
fn namespace_holder(pid: i32) -> Result<i32, SpawnError> {
    let gone = || SpawnError::engine(format!("container process {pid} is not running"));
    match File::open(format!("/proc/{pid}/ns/mnt")) {
        Ok(_) => return Ok(pid),
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(gone()),
        Err(e) if e.kind() != ErrorKind::PermissionDenied => {
            return Err(SpawnError::engine(format!(
                "cannot join the container's namespaces: /proc/{pid}/ns/mnt: {e}"
            )))
        }
        Err(_) => {}
    }
    let children =
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).map_err(|_| gone())?;
    children
        .split_whitespace()
        .filter_map(|c| c.parse::<i32>().ok())
        .find(|c| File::open(format!("/proc/{c}/ns/mnt")).is_ok())
        .ok_or_else(|| {
            SpawnError::engine(format!(
                "cannot join the container's namespaces: /proc/{pid}/ns: permission denied"
            ))
        })
}
