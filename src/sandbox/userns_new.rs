//! Creating the user's namespace: fork the pause process, map its ids (newuidmap/newgidmap with
//! the subordinate ranges, or the caller's id alone), record it in the run root, then join it.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};

use super::pause::{self, Stage};
use super::userns::{self, Record, PID_FILE, RECORD_FILE};
use super::{subid, sys, Error, IdMapping};
use crate::fsutil::{write_atomic, write_json_atomic};
use crate::ipc::{self, Message};
use crate::paths::Paths;

const WARNED_MARKER: &str = "userns-single-id.warned";

/// Create the namespace and its pause process, record them and join them. The caller holds the
/// run root's userns lock and is single-threaded.
pub fn create(paths: &Paths) -> Result<IdMapping, Error> {
    let (mut pending, mapping) = match SubIdPlan::for_user(paths.uid, paths.gid) {
        Ok(plan) => {
            let pending = Pending::spawn()?;
            match plan.apply(pending.pid) {
                Ok(()) => (pending, IdMapping::SubIds),
                Err(reason) => {
                    // A map is written once and for all: start over with a fresh namespace.
                    drop(pending);
                    (single_id(paths, &reason)?, IdMapping::SingleId)
                }
            }
        }
        Err(reason) => (single_id(paths, &reason)?, IdMapping::SingleId),
    };

    let record = Record {
        mapping,
        pid: pending.pid,
    };
    let pid_path = paths.runroot.join(PID_FILE);
    write_atomic(&pid_path, format!("{}\n", record.pid).as_bytes()).map_err(|e| {
        Error::io(
            format!("cannot write {}", pid_path.display()),
            Some(&pid_path),
            &e,
        )
    })?;
    let record_path = paths.runroot.join(RECORD_FILE);
    write_json_atomic(&record_path, &record).map_err(|e| {
        let op = format!("cannot write {}", record_path.display());
        Error::io(op, Some(&record_path), &e)
    })?;

    pending.finish()?;
    let ns = userns::open_pause(record.pid).ok_or_else(|| {
        Error::new(format!(
            "cannot create user namespace: pause process {} exited",
            record.pid
        ))
    })?;
    userns::enter(&ns, record.pid)?;
    pending.armed = false;
    Ok(mapping)
}

fn single_id(paths: &Paths, reason: &str) -> Result<Pending, Error> {
    let pending = Pending::spawn()?;
    write_single_map(pending.pid, paths.uid, paths.gid)?;
    warn_once(paths, reason);
    Ok(pending)
}

/// The caller's id as 0 and nothing else: what an unprivileged process may write itself.
fn write_single_map(pid: u32, uid: u32, gid: u32) -> Result<(), Error> {
    let write = |file: &str, data: String| {
        let path = format!("/proc/{pid}/{file}");
        match std::fs::write(&path, data) {
            // Kernels before 3.19 have no setgroups file and need no "deny".
            Err(e) if file == "setgroups" && e.kind() == ErrorKind::NotFound => Ok(()),
            other => other,
        }
        .map_err(|e| {
            let op = format!("cannot create user namespace: writing {path}");
            Error::io(op, Some(Path::new(&path)), &e)
        })
    };
    // Without "deny" the kernel refuses an unprivileged gid_map (CVE-2014-8989).
    write("setgroups", "deny".to_string())?;
    write("uid_map", format!("0 {uid} 1\n"))?;
    write("gid_map", format!("0 {gid} 1\n"))
}

fn warn_once(paths: &Paths, reason: &str) {
    let marker = paths.runroot.join(WARNED_MARKER);
    let first = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker);
    if matches!(&first, Err(e) if e.kind() == ErrorKind::AlreadyExists) {
        return;
    }
    crate::warn!(
        "{reason}: using a single-ID user namespace; images whose files belong to other users \
         will have those owners squashed"
    );
}

/// The setuid helpers and their arguments that map the subordinate ranges.
struct SubIdPlan {
    newuidmap: PathBuf,
    newgidmap: PathBuf,
    uid_args: Vec<String>,
    gid_args: Vec<String>,
}

impl SubIdPlan {
    /// The plan, or why there is none (worded for the single-ID warning).
    fn for_user(uid: u32, gid: u32) -> Result<SubIdPlan, String> {
        let name = subid::lookup_user_name(uid);
        let who = name.clone().unwrap_or_else(|| uid.to_string());
        let uids = subid::lookup_ranges("/etc/subuid", name.as_deref(), uid);
        if uids.is_empty() {
            return Err(format!("no subuid range for user {who} in /etc/subuid"));
        }
        let gids = subid::lookup_ranges("/etc/subgid", name.as_deref(), uid);
        if gids.is_empty() {
            return Err(format!("no subgid range for user {who} in /etc/subgid"));
        }
        Ok(SubIdPlan {
            newuidmap: find_tool("newuidmap")?,
            newgidmap: find_tool("newgidmap")?,
            uid_args: subid::map_args(uid, &uids),
            gid_args: subid::map_args(gid, &gids),
        })
    }

    fn apply(&self, pid: u32) -> Result<(), String> {
        run_tool(&self.newuidmap, pid, &self.uid_args)?;
        run_tool(&self.newgidmap, pid, &self.gid_args)
    }
}

fn find_tool(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{name} not found (install the uidmap package)"))
}

fn run_tool(tool: &PathBuf, pid: u32, args: &[String]) -> Result<(), String> {
    let name = tool
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let out = Command::new(tool)
        .arg(pid.to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{name} failed: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    match stderr.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => Err(format!("{name} failed: {line}")),
        None => Err(format!("{name} failed: {}", out.status)),
    }
}

/// A pause process in the making: killed when dropped unless setup completed.
struct Pending {
    pid: u32,
    to_child: File,
    from_child: File,
    armed: bool,
}

impl Pending {
    /// Fork the pause (through a launcher that exits at once) and wait until it owns a new
    /// user namespace.
    fn spawn() -> Result<Pending, Error> {
        let fail = |what: &str, e: Errno| {
            Error::sys(format!("cannot create user namespace: {what}"), None, e)
        };
        let (from_child, child_out) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| fail("pipe", e))?;
        let (child_in, to_child) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| fail("pipe", e))?;
        // SAFETY: the namespace is created at the start of a command, before any thread.
        let middle = match unsafe { sys::fork() }.map_err(|e| fail("fork", e))? {
            ForkResult::Child => {
                drop(from_child);
                drop(to_child);
                pause::run_launcher(child_out, child_in)
            }
            ForkResult::Parent { child } => child,
        };
        // Only the pause may hold the write ends now, so its death reads as end of file.
        drop(child_out);
        drop(child_in);
        while let Err(Errno::EINTR) = waitpid(middle, None) {}
        let mut from_child = File::from(from_child);
        match receive(&mut from_child)? {
            Message::UsernsCreated { pid } => Ok(Pending {
                pid,
                to_child: File::from(to_child),
                from_child,
                armed: true,
            }),
            Message::PauseFailed { stage, errno } => Err(pause_failed(stage, errno)),
            other => Err(unexpected(&other)),
        }
    }

    /// Tell the pause its ids are mapped and wait until its mount namespace exists.
    fn finish(&mut self) -> Result<(), Error> {
        let mut wire = Vec::new();
        ipc::encode(&Message::IdsMapped, &mut wire);
        self.to_child.write_all(&wire).map_err(|_| exited())?;
        match receive(&mut self.from_child)? {
            Message::MountNsReady => Ok(()),
            Message::PauseFailed { stage, errno } => Err(pause_failed(stage, errno)),
            other => Err(unexpected(&other)),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.armed {
            // Ours, and adopted by init, which reaps it.
            if let Ok(pid) = i32::try_from(self.pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// The pause's next message; its end of file (it died) is worded as such.
fn receive(from: &mut File) -> Result<Message, Error> {
    ipc::read_message(from).map_err(|e| match e {
        ipc::Error::Io(_) | ipc::Error::Truncated => exited(),
        other => Error::new(format!(
            "cannot create user namespace: bad message from the pause process: {other}"
        )),
    })
}

fn exited() -> Error {
    Error::new("cannot create user namespace: the pause process exited during setup")
}

fn unexpected(msg: &Message) -> Error {
    Error::new(format!(
        "cannot create user namespace: unexpected message {:#04x} from the pause process",
        msg.tag()
    ))
}

fn pause_failed(stage: u8, errno: i32) -> Error {
    let errno = Errno::from_raw(errno);
    let Some(stage) = Stage::from_byte(stage) else {
        return Error::new(format!(
            "cannot create user namespace: unknown stage {stage} from the pause process"
        ));
    };
    if stage != Stage::UnshareUser {
        return Error::new(format!(
            "cannot create user namespace: {}: {errno}",
            stage.describe()
        ))
        .with_errno(errno);
    }
    let sysctl = |path: &str| {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let hint = if sysctl("/proc/sys/user/max_user_namespaces") == "0" {
        "user namespaces are disabled: /proc/sys/user/max_user_namespaces is 0"
    } else if sysctl("/proc/sys/kernel/unprivileged_userns_clone") == "0" {
        "unprivileged user namespaces are disabled: /proc/sys/kernel/unprivileged_userns_clone is 0"
    } else {
        "are user namespaces allowed? see /proc/sys/user/max_user_namespaces"
    };
    Error::new(format!(
        "cannot create user namespace: unshare(CLONE_NEWUSER): {errno} ({hint})"
    ))
    .with_errno(errno)
}
