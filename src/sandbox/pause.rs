//! The pause process that holds a user's namespaces, and its side of the handshake by which the
//! cove command that forks it maps its ids before it sets up its mount namespace.
//!
//! Handshake on two pipes, in `ipc` messages: the pause sends UsernsCreated once it owns a new
//! user namespace, waits for IdsMapped (ids mapped, record written), unshares its mount
//! namespace and sends MountNsReady. Any failure is PauseFailed with a [`Stage`] and the errno,
//! after which the pause exits. It runs after fork: its messages are encoded on the stack.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::ForkResult;

use super::sys;
use crate::fsutil;
use crate::ipc::{self, Message};

/// The name in /proc/PID/comm by which a pause process is recognised.
pub const PAUSE_NAME: &str = "cove-pause";

/// Where a pause process failed, carried in a PauseFailed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Fork = 1,
    UnshareUser = 2,
    UnshareMount = 3,
    MountSlave = 4,
}

impl Stage {
    pub fn from_byte(b: u8) -> Option<Stage> {
        [
            Stage::Fork,
            Stage::UnshareUser,
            Stage::UnshareMount,
            Stage::MountSlave,
        ]
        .into_iter()
        .find(|s| *s as u8 == b)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Stage::Fork => "fork",
            Stage::UnshareUser => "unshare(CLONE_NEWUSER)",
            Stage::UnshareMount => "unshare(CLONE_NEWNS)",
            Stage::MountSlave => "making / a recursive slave mount",
        }
    }
}

/// Body of the launcher, a child that forks the pause and exits at once, so that the pause is
/// adopted by init (or the nearest subreaper) and never lingers as a zombie of the short-lived
/// caller. (Not to be confused with spawn's intermediate, which clones a container process.)
pub fn run_launcher(to_parent: OwnedFd, from_parent: OwnedFd) -> ! {
    // SAFETY: the launcher is the child of a fork, so single-threaded.
    match unsafe { sys::fork() } {
        Ok(ForkResult::Child) => run_pause(to_parent, from_parent),
        Ok(ForkResult::Parent { .. }) => sys::exit_now(0),
        Err(errno) => {
            let mut out = File::from(to_parent);
            send_error(&mut out, Stage::Fork, errno);
            sys::exit_now(1)
        }
    }
}

fn run_pause(to_parent: OwnedFd, from_parent: OwnedFd) -> ! {
    // A caller started with stdio closed may have got pipe ends at 0-2, which detach() reuses.
    let (to_parent, from_parent) = (above_stdio(to_parent), above_stdio(from_parent));
    detach(&[to_parent.as_raw_fd(), from_parent.as_raw_fd()]);
    let mut out = File::from(to_parent);
    let mut input = File::from(from_parent);

    if let Err(errno) = sys::unshare(CloneFlags::CLONE_NEWUSER) {
        send_error(&mut out, Stage::UnshareUser, errno);
        sys::exit_now(1);
    }
    let pid = std::process::id();
    if !send(&mut out, &Message::UsernsCreated { pid }) {
        sys::exit_now(1);
    }

    // Until the ids are mapped this process is nobody inside its namespace; the parent also
    // writes the record before saying IdsMapped, so a joiner never finds a half-made namespace.
    if !matches!(ipc::read_message(&mut input), Ok(Message::IdsMapped)) {
        sys::exit_now(1);
    }

    // The mount namespace is owned by the new user namespace, so cove may mount in it.
    if let Err(errno) = sys::unshare(CloneFlags::CLONE_NEWNS) {
        send_error(&mut out, Stage::UnshareMount, errno);
        sys::exit_now(1);
    }
    // Slave, not shared: cove's mounts stay in here. Slave, not private: mounts the host makes
    // later (a new disk, an automounted home) still appear, for the whole life of the pause.
    let slave = MsFlags::MS_REC | MsFlags::MS_SLAVE;
    if let Err(errno) = nix::mount::mount(None::<&str>, "/", None::<&str>, slave, None::<&str>) {
        send_error(&mut out, Stage::MountSlave, errno);
        sys::exit_now(1);
    }
    if !send(&mut out, &Message::MountNsReady) {
        sys::exit_now(1);
    }
    drop(out);
    drop(input);
    loop {
        nix::unistd::pause();
    }
}

/// Cut every tie to the caller: its session and terminal, its stdio pipes (a test or CI step
/// would wait for them to close), its other descriptors (lock files stay locked while any copy
/// is open), its cwd (it would keep a file system busy) and its job-control signals.
fn detach(keep: &[i32]) {
    let _ = nix::unistd::setsid();
    let _ = sys::set_process_name(c"cove-pause");
    for sig in [Signal::SIGINT, Signal::SIGHUP, Signal::SIGPIPE] {
        let _ = sys::ignore_signal(sig);
    }
    fsutil::stdio_to_null();
    sys::close_fds_except(keep);
    let _ = std::env::set_current_dir("/");
}

fn above_stdio(fd: OwnedFd) -> OwnedFd {
    if fd.as_raw_fd() > 2 {
        return fd;
    }
    // try_clone duplicates with F_DUPFD_CLOEXEC from 3 upward.
    fd.try_clone().unwrap_or(fd)
}

/// Write `msg` without allocating; false when that failed.
fn send(out: &mut File, msg: &Message) -> bool {
    let mut buf = [0u8; 16];
    match ipc::encode_into(msg, &mut buf) {
        Some(n) => out.write_all(&buf[..n]).is_ok(),
        None => false,
    }
}

fn send_error(out: &mut File, stage: Stage, errno: Errno) {
    let errno = errno as i32;
    let _ = send(
        out,
        &Message::PauseFailed {
            stage: stage as u8,
            errno,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_messages_are_encoded_on_the_stack_and_read_back() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let (mut r, mut w) = (File::from(r), File::from(w));
        assert!(send(&mut w, &Message::UsernsCreated { pid: 77 }));
        send_error(&mut w, Stage::MountSlave, Errno::EPERM);
        drop(w);
        assert_eq!(
            ipc::read_message(&mut r),
            Ok(Message::UsernsCreated { pid: 77 })
        );
        let Ok(Message::PauseFailed { stage, errno }) = ipc::read_message(&mut r) else {
            panic!("no PauseFailed");
        };
        assert_eq!(Stage::from_byte(stage), Some(Stage::MountSlave));
        assert_eq!(Errno::from_raw(errno), Errno::EPERM);
        assert!(ipc::read_message(&mut r).is_err());
    }
}
