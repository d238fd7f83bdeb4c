//! Starting a container: an intermediate fork clones the container's first process into new
//! mount, pid, uts, ipc (and net) namespaces as a sibling, that is a direct child of the
//! caller; the child mounts its root file system and the plan, pivots into it, confines itself
//! and execs. The caller learns the outcome on a close-on-exec pipe.
//!
//! Why the intermediate: clone() skips libc's atfork handlers (malloc's locks), so it is only
//! safe from a single-threaded process; the intermediate is one, whatever the caller is. Callers
//! are meant to be single-threaded (the monitor, a foreground run); a threaded one (the tests)
//! relies on glibc's fork leaving malloc usable in the intermediate. The intermediate also
//! carries the non-dumpable flag, which must be set before the child is created in the new pid
//! namespace (CVE-2019-5736, see `init`), without changing the caller's.

use std::convert::Infallible;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};

use super::launch::{self, Reporter};
use super::mounts::mount_plan;
use super::spec::{NetMode, SpawnError, Spawned, Spec, Stdio};
use super::{init, keepid, mounts_apply, rootfs, sys};

/// Start the container described by `spec` with `stdio` as its 0, 1 and 2. Returns once the
/// command was exec'd (or failed to be: NotFound, CannotInvoke, Engine). The returned pid is a
/// child of the caller, which must wait for it.
pub fn spawn(spec: &Spec, stdio: Stdio) -> Result<Spawned, SpawnError> {
    if spec.process.args.is_empty() {
        return Err(SpawnError::engine("no command specified"));
    }
    let mut flags = CloneFlags::CLONE_NEWNS;
    // Read and built here, before the fork: the intermediate only writes them.
    let nested = spec.keep_id.map(keepid::maps_for).transpose()?;
    if nested.is_some() {
        // Created together with the user namespace, the others are owned by it.
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    if !spec.namespaces.pid_host {
        flags |= CloneFlags::CLONE_NEWPID;
    }
    if !spec.namespaces.uts_host {
        flags |= CloneFlags::CLONE_NEWUTS;
    }
    if !spec.namespaces.ipc_host {
        flags |= CloneFlags::CLONE_NEWIPC;
    }
    if spec.namespaces.net == NetMode::None {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    // keep-id: the id-shifted root is mounted here, outside the container's namespaces.
    let premounted = match (&nested, spec.rootfs.shift_ids) {
        (Some(maps), true) => match rootfs::mount_shifted(&spec.rootfs, maps) {
            Ok(()) => true,
            Err(e) => {
                crate::debug!(
                    "keep-id: no id-shifted root file system ({e}): image owners show shifted"
                );
                false
            }
        },
        _ => false,
    };
    let body = |stdio, reporter: &Reporter| container(spec, stdio, reporter, premounted);
    let launched = launch_from(flags, stdio, nested, || Ok(()), body).map_err(nested_hint);
    if launched.is_err() && premounted {
        rootfs::release(&spec.rootfs.merged);
    }
    let (pid, reports) = launched?;
    Ok(Spawned {
        pid,
        rootfs_mode: reports.unwrap_or_default(),
    })
}

/// What a container started by an engine needs so that cove inside it can start containers.
pub const NESTED_FLAGS: &str = "--privileged, or with --cap-add SYS_ADMIN --security-opt \
                                seccomp=unconfined --security-opt systempaths=unconfined";

/// A permission refused inside another engine's container names the flags that container
/// needs (CI job containers are the usual case).
fn nested_hint(mut e: SpawnError) -> SpawnError {
    let refused = e.message.contains("EPERM") || e.message.contains("Operation not permitted");
    let in_container = ["/run/.containerenv", "/.dockerenv"]
        .iter()
        .any(|p| Path::new(p).exists());
    if refused && in_container && e.kind == super::spec::SpawnErrorKind::Engine {
        e.message = format!(
            "{}; cove runs inside a container here: start that container {NESTED_FLAGS}",
            e.message
        );
    }
    e
}

/// Fork the intermediate, which runs `pre` (joining namespaces for exec) and clones `body`
/// with `flags`. Returns the new process's pid and its rootfs report.
pub(super) fn start_with<P, B>(
    flags: CloneFlags,
    stdio: Stdio,
    pre: P,
    body: B,
) -> Result<(i32, Option<String>), SpawnError>
where
    P: FnOnce() -> Result<(), SpawnError>,
    B: FnOnce(Stdio, &Reporter) -> Result<Infallible, SpawnError>,
{
    launch_from(flags, stdio, None, pre, body)
}

/// `start_with`, and with `nested` a new user namespace for the clone (`flags` has
/// CLONE_NEWUSER) whose maps the intermediate writes before the child goes on.
fn launch_from<P, B>(
    flags: CloneFlags,
    stdio: Stdio,
    nested: Option<keepid::Maps>,
    pre: P,
    body: B,
) -> Result<(i32, Option<String>), SpawnError>
where
    P: FnOnce() -> Result<(), SpawnError>,
    B: FnOnce(Stdio, &Reporter) -> Result<Infallible, SpawnError>,
{
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| SpawnError::engine(format!("cannot create a pipe: {e}")))?;
    // SAFETY: the callers (the monitor, a foreground run or exec) are single-threaded; the unit
    // tests fork beside the harness's threads, as sys::fork's contract allows.
    let middle =
        match unsafe { sys::fork() }.map_err(|e| SpawnError::engine(format!("fork: {e}")))? {
            ForkResult::Child => {
                drop(read);
                intermediate(flags, stdio, Reporter::new(write), nested, pre, body)
            }
            ForkResult::Parent { child } => child,
        };
    drop(write);
    drop(stdio);
    while let Err(Errno::EINTR) = waitpid(middle, None) {}
    let reports = launch::read_reports(read);
    match (reports.pid, reports.error) {
        (pid, Some(err)) => {
            if let Some(pid) = pid {
                while let Err(Errno::EINTR) = waitpid(Pid::from_raw(pid), None) {}
            }
            Err(err)
        }
        (Some(pid), None) => Ok((pid, reports.rootfs_mode)),
        (None, None) => Err(SpawnError::engine(
            "container process: the intermediate process died before starting it",
        )),
    }
}

fn intermediate<P, B>(
    flags: CloneFlags,
    stdio: Stdio,
    reporter: Reporter,
    nested: Option<keepid::Maps>,
    pre: P,
    body: B,
) -> !
where
    P: FnOnce() -> Result<(), SpawnError>,
    B: FnOnce(Stdio, &Reporter) -> Result<Infallible, SpawnError>,
{
    // Inherited by the clone: until it execs, no process of the container may open its
    // /proc/PID/exe (our binary) or ptrace it, because a non-dumpable process needs
    // CAP_SYS_PTRACE over the user namespace we were exec'd in (the host's or the user's).
    // A child in a nested user namespace sets it itself once its maps are written: its
    // /proc/PID/uid_map would otherwise belong to the host's root, which we cannot open. It
    // does nothing before that, and no other process is in its namespaces yet.
    if nested.is_none() {
        let _ = nix::sys::prctl::set_dumpable(false);
    }
    if let Err(e) = pre() {
        reporter.fail(&e);
    }
    let gate = match nested.as_ref().map(|_| keepid::Gate::new()).transpose() {
        Ok(gate) => gate,
        Err(e) => reporter.fail(&e),
    };
    let mut once = Some((stdio, body, gate));
    let mut child = || -> isize {
        let Some((stdio, body, gate)) = once.take() else {
            sys::exit_now(crate::exit::ENGINE)
        };
        if let Some(gate) = gate {
            if !gate.wait() {
                sys::exit_now(crate::exit::ENGINE)
            }
            let _ = nix::sys::prctl::set_dumpable(false);
        }
        match body(stdio, &reporter) {
            Ok(never) => match never {},
            Err(e) => reporter.fail(&e),
        }
    };
    let cloned = sys::clone_sibling(&mut child, flags);
    let gate = once.take().and_then(|(_, _, gate)| gate);
    match cloned {
        Ok(pid) => {
            reporter.pid(pid);
            if let (Some(maps), Some(gate)) = (nested, gate) {
                // On failure the gate closes unopened and the child leaves without a word.
                if let Err(e) = keepid::write_maps(pid, &maps) {
                    reporter.fail(&e)
                }
                gate.open();
            }
            sys::exit_now(0)
        }
        Err(e) => reporter.fail(&SpawnError::engine(format!(
            "cannot create the container's namespaces: clone: {e}"
        ))),
    }
}

/// The container's first process, from its new namespaces to exec.
fn container(
    spec: &Spec,
    mut stdio: Stdio,
    reporter: &Reporter,
    premounted: bool,
) -> Result<Infallible, SpawnError> {
    let console = stdio.console.take();
    launch::setup_stdio(stdio, spec.process.terminal && console.is_none())?;
    // No descriptor of the caller may reach the container (CVE-2024-21626), but those it was
    // asked to pass on, which the caller checked to be its own inheritance.
    let preserved = preserved_fds(u64::from(spec.preserve_fds))
        .ok_or_else(|| SpawnError::engine("--preserve-fds: too many descriptors"))?;
    let mut keep: Vec<i32> = preserved.clone().collect();
    keep.push(reporter.fd());
    keep.extend(console.as_ref().map(|c| c.fd()));
    sys::close_fds_except(&keep);
    for fd in preserved {
        step(
            "keeping a preserved descriptor open across exec",
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())),
        )?;
    }
    step(
        "making mounts private",
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        ),
    )?;
    if spec.namespaces.net == NetMode::None {
        step("bringing up loopback", sys::loopback_up())?;
    }
    let mode = rootfs::mount(&spec.rootfs, premounted)?;
    reporter.rootfs_mode(mode);
    mounts_apply::apply(&spec.rootfs.merged, &mount_plan(spec), console)?;
    pivot(&spec.rootfs.merged)?;
    if !spec.namespaces.uts_host && !spec.hostname.is_empty() {
        step("sethostname", nix::unistd::sethostname(&spec.hostname))?;
    }
    launch::enter_cwd(&spec.process.cwd, true)?;
    launch::confine(&spec.process)?;
    // The container ends with its supervisor (the monitor, or a foreground `run`): nothing
    // would record its exit otherwise. Set after the identity change, which clears it; it
    // survives the exec.
    step(
        "PR_SET_PDEATHSIG",
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL),
    )?;
    if spec.init {
        init::run(&spec.process, reporter)
    }
    Err(launch::exec(&spec.process))
}

/// Descriptors 3..3+n, or None when they do not all fit in a descriptor number.
fn preserved_fds(n: u64) -> Option<std::ops::Range<i32>> {
    let end = i32::try_from(n.checked_add(3)?).ok()?;
    Some(3..end)
}

/// `--preserve-fds N` may only pass on what cove itself was given: descriptors 3..3+N must be
/// open and inherited. Inherited ones lack close-on-exec (they survived cove's own exec), and
/// everything cove opens has it, so none of cove's own files can slip through. podman's words.
pub fn check_inherited_fds(n: u64) -> Result<u32, SpawnError> {
    let not_passed = |fd: u64| {
        SpawnError::engine(format!(
            "file descriptor {fd} is not available - the preserve-fds option requires that \
             file descriptors must be passed"
        ))
    };
    let range = preserved_fds(n).ok_or_else(|| not_passed(n.saturating_add(2)))?;
    for fd in range {
        let inherited = fcntl(fd, FcntlArg::F_GETFD)
            .is_ok_and(|flags| !FdFlag::from_bits_retain(flags).contains(FdFlag::FD_CLOEXEC));
        if !inherited {
            return Err(not_passed(u64::try_from(fd).unwrap_or(0)));
        }
    }
    u32::try_from(n).map_err(|_| not_passed(n))
}

fn step<T>(what: &str, r: nix::Result<T>) -> Result<T, SpawnError> {
    r.map_err(|e| SpawnError::engine(format!("{what}: {e}")))
}

/// Swap the root for `new_root` and drop the old one (runc's pivot_root(".", ".") trick: no
/// directory for the old root is needed in the image).
fn pivot(new_root: &Path) -> Result<(), SpawnError> {
    step(
        "entering the root file system",
        nix::unistd::chdir(new_root),
    )?;
    step("pivot_root", nix::unistd::pivot_root(".", "."))?;
    // The old root is stacked on "/" now; detach it with every host mount beneath it.
    step(
        "unmounting the old root",
        nix::mount::umount2(".", MntFlags::MNT_DETACH),
    )?;
    step("entering the new root", nix::unistd::chdir("/"))
}

#[cfg(test)]
mod tests;
