//! Pseudo-terminals, and the container's own terminal made where docker and runc make it: a pty
//! from the container's devpts (so `tty` says /dev/pts/0), its slave on 0-2 and over
//! /dev/console, its master passed back to the supervisor over a console socket (SCM_RIGHTS),
//! as runc's `--console-socket` does.

use std::fs::OpenOptions;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::socket::{self, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType};

use super::spec::SpawnError;
use super::sys;

/// A terminal size in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub rows: u16,
    pub cols: u16,
}

impl Size {
    /// What a pty gets before anyone tells it better: a zero size confuses many programs.
    pub const DEFAULT: Size = Size { rows: 24, cols: 80 };
}

/// Set the size of the terminal behind `fd`; on a pty master the kernel signals SIGWINCH to
/// the foreground process group of its slave.
pub fn set_size<Fd: AsFd>(fd: Fd, size: Size) -> nix::Result<()> {
    let ws = libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    sys::set_winsize(fd, &ws)
}

/// A new pty of `size` from the devpts instance behind `ptmx`: (master, slave), both
/// close-on-exec. glibc's openpty() is avoided on purpose: in a static binary its grantpt may
/// consult NSS for the tty group, and its path lookup in /dev/pts could be handed another file.
pub fn open_pty(ptmx: &Path, size: Size) -> Result<(OwnedFd, OwnedFd), String> {
    let master: OwnedFd = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(ptmx)
        .map_err(|e| format!("allocating a pty: {}: {e}", ptmx.display()))?
        .into();
    pty_of(master, size)
}

/// The slave of the freshly opened ptmx `master`, unlocked and found without a path lookup.
fn pty_of(master: OwnedFd, size: Size) -> Result<(OwnedFd, OwnedFd), String> {
    let fail = |what: &str, e: nix::Error| format!("allocating a pty: {what}: {e}");
    sys::unlock_pty(&master).map_err(|e| fail("unlockpt", e))?;
    let slave = sys::open_pty_peer(&master).map_err(|e| fail("opening the slave", e))?;
    set_size(&master, size).map_err(|e| fail("setting its size", e))?;
    Ok((master, slave))
}

/// The container's end of a console socket, and the size its terminal starts with.
pub struct ConsoleSocket {
    socket: OwnedFd,
    size: Size,
}

impl ConsoleSocket {
    pub(super) fn fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}

/// The supervisor's end: where the container's pty master arrives.
pub struct ConsoleReceiver(OwnedFd);

/// A console socket pair for a container whose terminal starts at `size`.
pub fn console_socket(size: Size) -> Result<(ConsoleReceiver, ConsoleSocket), String> {
    let (ours, theirs) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| format!("creating the console socket: {e}"))?;
    Ok((
        ConsoleReceiver(ours),
        ConsoleSocket {
            socket: theirs,
            size,
        },
    ))
}

impl ConsoleReceiver {
    /// The master of the container's terminal. Sent before the container exec'd, so once
    /// `spawn` returned it is waiting here; nothing there means the container never made one.
    pub fn master(self) -> Result<OwnedFd, String> {
        sys::recv_fd(&self.0)
            .map_err(|e| format!("the container did not pass its terminal back: {e}"))
    }
}

/// In the container, once its devpts is mounted under `root`: make the pty, send its master
/// back, and take the slave as stdin, stdout, stderr and controlling terminal.
pub(super) fn make_terminal(root: &OwnedFd, console: ConsoleSocket) -> Result<(), SpawnError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        SpawnError::engine(format!("the container's terminal: {what}: {e}"))
    };
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY;
    let ptmx = sys::open_in_root(root, Path::new("dev/pts/ptmx"), flags)
        .map_err(|e| fail("opening /dev/pts/ptmx", &e))?;
    let (master, slave) = pty_of(ptmx, console.size).map_err(|e| fail("devpts", &e))?;
    let fds = [master.as_raw_fd()];
    socket::sendmsg::<()>(
        console.socket.as_raw_fd(),
        &[IoSlice::new(b"t")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| fail("passing it on", &e))?;
    drop(master);
    drop(console);
    for target in 0..3 {
        nix::unistd::dup2(slave.as_raw_fd(), target).map_err(|e| fail("stdio", &e))?;
    }
    drop(slave);
    sys::set_controlling_tty(std::io::stdin()).map_err(|e| fail("TIOCSCTTY", &e))
}
