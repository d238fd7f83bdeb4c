//! The last steps of every container process (the first one and `exec`'s): stdio, working
//! directory, rlimits, identity, capabilities, seccomp, exec; and the pipe on which a child
//! reports to the cove process that started it.
//!
//! Report pipe: close-on-exec, so end of file means the exec happened (or the child died).
//! Messages (see `ipc`): ChildPid from the intermediate; RootfsMode; SpawnFailed when the child
//! failed (it exits right after).

use std::convert::Infallible;
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::resource::Resource;
use nix::unistd::{Gid, Uid};

use super::spec::{Process, SpawnError, SpawnErrorKind, Stdio, DEFAULT_PATH};
use super::{caps, seccomp, sys};
use crate::ipc::{self, Message};

/// The child's end of the report pipe.
pub struct Reporter(File);

/// Each report is one write of at most this many bytes, which a pipe keeps whole: the
/// intermediate and the child may report at the same time.
const PIPE_BUF: usize = 4096;

impl Reporter {
    pub fn new(fd: OwnedFd) -> Reporter {
        Reporter(File::from(fd))
    }

    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub fn pid(&self, pid: i32) {
        self.send(&Message::ChildPid(pid));
    }

    pub fn rootfs_mode(&self, mode: &str) {
        self.send(&Message::RootfsMode(ipc::clip(mode, 255).to_string()));
    }

    pub fn error(&self, err: &SpawnError) {
        // Tag, length and code come first.
        let message = ipc::clip(&err.message, PIPE_BUF - 6).to_string();
        self.send(&Message::SpawnFailed {
            code: err.code(),
            message,
        });
    }

    fn send(&self, msg: &Message) {
        let mut wire = Vec::new();
        ipc::encode(msg, &mut wire);
        let _ = (&self.0).write_all(&wire);
    }

    /// Report `err` and leave with docker's exit code for it.
    pub fn fail(&self, err: &SpawnError) -> ! {
        self.error(err);
        sys::exit_now(err.exit_code())
    }
}

/// What the children said, read until every write end is closed.
#[derive(Debug, Default)]
pub struct Reports {
    pub pid: Option<i32>,
    pub rootfs_mode: Option<String>,
    pub error: Option<SpawnError>,
}

pub fn read_reports(fd: OwnedFd) -> Reports {
    let mut data = Vec::new();
    let _ = File::from(fd).read_to_end(&mut data);
    parse_reports(&data)
}

/// The reports in `data`; what came before a broken one still counts (a pid must be reaped).
fn parse_reports(data: &[u8]) -> Reports {
    let mut out = Reports::default();
    for msg in ipc::decode_all(data) {
        match msg {
            Ok(Message::ChildPid(pid)) => out.pid = Some(pid),
            Ok(Message::RootfsMode(mode)) => out.rootfs_mode = Some(mode),
            Ok(Message::SpawnFailed { code, message }) => {
                out.error
                    .get_or_insert(SpawnError::from_code(code, message));
            }
            Ok(_) | Err(_) => {
                out.error.get_or_insert_with(|| {
                    SpawnError::engine("container process: truncated report from the child")
                });
                break;
            }
        }
    }
    out
}

fn engine(what: &str, e: impl std::fmt::Display) -> SpawnError {
    SpawnError::engine(format!("{what}: {e}"))
}

/// Put the given descriptors on 0, 1 and 2 in a new session; a terminal becomes the
/// controlling one (job control and ^C inside the container work).
pub fn setup_stdio(stdio: Stdio, terminal: bool) -> Result<(), SpawnError> {
    // Copies above 2 first, so that no target overwrites a source still to be moved.
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| engine("stdio", e));
    let high = [dup(&stdio.stdin)?, dup(&stdio.stdout)?, dup(&stdio.stderr)?];
    drop(stdio);
    for (target, fd) in (0 as RawFd..).zip(high.iter()) {
        nix::unistd::dup2(fd.as_raw_fd(), target).map_err(|e| engine("stdio", e))?;
    }
    drop(high);
    nix::unistd::setsid().map_err(|e| engine("setsid", e))?;
    if terminal {
        sys::set_controlling_tty(std::io::stdin())
            .map_err(|e| engine("setting the controlling terminal", e))?;
    }
    Ok(())
}

/// chdir into `cwd` inside the (already pivoted or joined) root, creating it when `create`.
/// The host's directory must never be the one the container starts in (CVE-2024-21626): every
/// inherited descriptor is closed before this, and the result is checked to be under "/".
pub fn enter_cwd(cwd: &str, create: bool) -> Result<(), SpawnError> {
    let cwd = if cwd.is_empty() { "/" } else { cwd };
    if !cwd.starts_with('/') {
        return Err(SpawnError::engine(format!(
            "the working directory {cwd:?} is invalid, it needs to be an absolute path"
        )));
    }
    if create {
        // Root creates it (the user may not be allowed to), as docker does.
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(cwd);
    }
    nix::unistd::chdir(cwd).map_err(|e| SpawnError {
        // docker reports a working directory it cannot enter as "cannot invoke" (126).
        kind: SpawnErrorKind::CannotInvoke,
        message: format!(
            "chdir to cwd ({cwd:?}) set in config.json failed: {}",
            e.desc().to_lowercase()
        ),
    })?;
    match nix::unistd::getcwd() {
        Ok(here) if here.starts_with("/") => Ok(()),
        _ => Err(SpawnError::engine(format!(
            "current working directory {cwd:?} is outside of the container's root"
        ))),
    }
}

/// Confine the process as `p` says and exec it. Returns only on failure.
pub fn finish(p: &Process) -> SpawnError {
    match confine(p) {
        Ok(()) => exec(p),
        Err(e) => e,
    }
}

/// Everything but the exec: rlimits, identity, capabilities, no_new_privs, seccomp.
pub fn confine(p: &Process) -> Result<(), SpawnError> {
    for r in &p.rlimits {
        let res = rlimit_resource(&r.name)
            .ok_or_else(|| SpawnError::engine(format!("invalid ulimit type: {}", r.name)))?;
        nix::sys::resource::setrlimit(res, r.soft, r.hard)
            .map_err(|e| engine(&format!("setting ulimit {}", r.name), e))?;
    }
    // Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter, which the final
    // capability set usually lacks: load it now, while we are still root (as runc does).
    let load = || match &p.seccomp_bpf {
        Some(bpf) => seccomp::load_bpf(bpf),
        None => seccomp::load(&p.seccomp, &p.caps),
    };
    if !p.no_new_privs {
        load().map_err(|e| SpawnError::engine(e.to_string()))?;
    }
    set_identity(p)?;
    caps::apply(&p.caps).map_err(|e| SpawnError::engine(e.to_string()))?;
    if p.no_new_privs {
        nix::sys::prctl::set_no_new_privs().map_err(|e| engine("setting no_new_privs", e))?;
        load().map_err(|e| SpawnError::engine(e.to_string()))?;
    }
    // A change of credentials resets "dumpable" from fs.suid_dumpable; keep it off until exec.
    let _ = nix::sys::prctl::set_dumpable(false);
    Ok(())
}

fn set_identity(p: &Process) -> Result<(), SpawnError> {
    let groups: Vec<Gid> = p
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        // A single-ID user namespace denies setgroups (and maps no group but one, so the
        // image's memberships could not be given anyway): the process keeps the caller's.
        Err(Errno::EPERM) if setgroups_denied() => {}
        Err(e) => return Err(engine("setgroups", e)),
    }
    let gid = Gid::from_raw(p.gid);
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| unmapped("group", p.gid, e))?;
    nix::sys::prctl::set_keepcaps(true).map_err(|e| engine("PR_SET_KEEPCAPS", e))?;
    let uid = Uid::from_raw(p.uid);
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| unmapped("user", p.uid, e))
}

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

fn unmapped(what: &str, id: u32, e: Errno) -> SpawnError {
    if e == Errno::EINVAL {
        return SpawnError::engine(format!(
            "cannot switch to {what} {id}: it is not mapped in the user namespace (see /etc/subuid and /etc/subgid)"
        ));
    }
    engine(&format!("cannot switch to {what} {id}"), e)
}

fn rlimit_resource(name: &str) -> Option<Resource> {
    Some(match name {
        "as" => Resource::RLIMIT_AS,
        "core" => Resource::RLIMIT_CORE,
        "cpu" => Resource::RLIMIT_CPU,
        "data" => Resource::RLIMIT_DATA,
        "fsize" => Resource::RLIMIT_FSIZE,
        "locks" => Resource::RLIMIT_LOCKS,
        "memlock" => Resource::RLIMIT_MEMLOCK,
        "msgqueue" => Resource::RLIMIT_MSGQUEUE,
        "nice" => Resource::RLIMIT_NICE,
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "rss" => Resource::RLIMIT_RSS,
        "rtprio" => Resource::RLIMIT_RTPRIO,
        "rttime" => Resource::RLIMIT_RTTIME,
        "sigpending" => Resource::RLIMIT_SIGPENDING,
        "stack" => Resource::RLIMIT_STACK,
        _ => return None,
    })
}

/// Whether docker would accept `name` for --ulimit.
pub fn is_known_rlimit(name: &str) -> bool {
    rlimit_resource(name).is_some()
}

/// execve the command, looked up in the container's PATH. Returns only on failure.
pub fn exec(p: &Process) -> SpawnError {
    match try_exec(p) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn try_exec(p: &Process) -> Result<Infallible, SpawnError> {
    let name = p.args.first().map(String::as_str).unwrap_or("");
    let path = find_executable(name, &p.env)?;
    let cstr = |s: &str| {
        CString::new(s)
            .map_err(|_| SpawnError::engine(format!("exec: {s:?}: argument contains a NUL byte")))
    };
    let args = p
        .args
        .iter()
        .map(|a| cstr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let env = p
        .env
        .iter()
        .map(|a| cstr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let cpath = cstr(&path.to_string_lossy())?;
    sys::reset_signals();
    let Err(e) = nix::unistd::execve(&cpath, &args, &env);
    Err(exec_error(name, e))
}

/// The executable `name` names: as given when it has a slash, else the first regular file with
/// an execute bit in the container's PATH (Go's exec.LookPath, which docker uses).
pub fn find_executable(name: &str, env: &[String]) -> Result<PathBuf, SpawnError> {
    if name.contains('/') {
        if let Err(Errno::ENOENT) = nix::sys::stat::stat(name) {
            return Err(SpawnError {
                kind: SpawnErrorKind::NotFound,
                message: format!("exec: {name:?}: stat {name}: no such file or directory"),
            });
        }
        return Ok(PathBuf::from(name));
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    if !name.is_empty() {
        for dir in path.split(':') {
            let dir = if dir.is_empty() { "." } else { dir };
            let candidate = Path::new(dir).join(name);
            let ok = std::fs::metadata(&candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
            if ok {
                return Ok(candidate);
            }
        }
    }
    Err(SpawnError {
        kind: SpawnErrorKind::NotFound,
        message: format!("exec: {name:?}: executable file not found in $PATH"),
    })
}

/// docker's wording and exit code class for a failed execve.
pub fn exec_error(name: &str, e: Errno) -> SpawnError {
    let kind = match e {
        Errno::ENOENT | Errno::ENOTDIR => SpawnErrorKind::NotFound,
        Errno::EACCES
        | Errno::EPERM
        | Errno::ENOEXEC
        | Errno::EISDIR
        | Errno::ETXTBSY
        | Errno::ELOOP => SpawnErrorKind::CannotInvoke,
        _ => SpawnErrorKind::Engine,
    };
    let text = e.desc();
    let mut lower = text.chars();
    let text = match lower.next() {
        Some(first) => first.to_lowercase().chain(lower).collect::<String>(),
        None => String::new(),
    };
    SpawnError {
        kind,
        message: format!("exec: {name:?}: {text}"),
    }
}

#[cfg(test)]
mod tests;
