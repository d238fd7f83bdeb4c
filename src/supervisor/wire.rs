//! How a container's stdio is made: the mode asked for, and our ends of it (pipes, a pty, or
//! nothing at all when the container takes our own descriptors).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};

use super::tty::{self, WinSize};
use super::Error;
use crate::fsutil::open_null;
use crate::sandbox::console::{self, ConsoleReceiver};
use crate::sandbox::Stdio;

/// How the container's stdio is wired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoMode {
    /// A pty instead of pipes (`-t`).
    pub tty: bool,
    /// The container's stdin is fed (`-i`); otherwise it is /dev/null (or the idle pty).
    pub stdin: bool,
    /// Forward the signals we receive to the container (`--sig-proxy`, default true).
    pub sig_proxy: bool,
    /// Allocate the pty from this ptmx rather than the host's: `exec -t` uses the container's
    /// own (/proc/PID/root/dev/ptmx), so the process sees its terminal as /dev/pts/N.
    pub ptmx: Option<std::path::PathBuf>,
    /// The container makes its pty itself, from its own devpts, and passes the master back
    /// on a console socket (a container's first process; `ptmx` is then unused).
    pub console: bool,
    /// The container takes our own stdio (the passthrough log drivers): nothing is pumped,
    /// nothing logged.
    pub passthrough: bool,
    /// Which of stdout and stderr a local front shows (`-a`); the log gets both anyway.
    pub show: [bool; 2],
}

impl IoMode {
    /// Pipes, nothing fed, both outputs shown.
    pub fn pipes() -> IoMode {
        IoMode {
            tty: false,
            stdin: false,
            sig_proxy: true,
            ptmx: None,
            console: false,
            passthrough: false,
            show: [true, true],
        }
    }
}

/// Our ends of the container's stdio.
pub struct Wiring {
    pub input: Option<OwnedFd>,
    pub outputs: [Option<OwnedFd>; 2],
    /// The pty master, for resizes.
    pub master: Option<OwnedFd>,
    /// Where the master of a pty the container makes itself arrives (`connect`).
    pending: Option<(ConsoleReceiver, bool)>,
}

impl Wiring {
    /// Once the container started: take the master of the pty it made (IoMode::console)
    /// as our end of its terminal. A no-op for every other wiring.
    pub fn connect(&mut self) -> Result<(), Error> {
        let Some((receiver, stdin)) = self.pending.take() else {
            return Ok(());
        };
        let master = receiver.master().map_err(Error)?;
        set_nonblocking(&master)?;
        let dup = |fd: &OwnedFd| {
            fd.try_clone()
                .map_err(|e| Error(format!("duplicating a descriptor: {e}")))
        };
        self.input = if stdin { Some(dup(&master)?) } else { None };
        self.master = Some(dup(&master)?);
        self.outputs = [Some(master), None];
        Ok(())
    }
}

/// Make the container's stdio: ours as they are (passthrough), a pty (its slave on 0-2) or
/// pipes (stdin only with `-i`).
pub fn wire(mode: &IoMode, size: WinSize) -> Result<(Wiring, Stdio), Error> {
    let dup = |fd: &OwnedFd| {
        fd.try_clone()
            .map_err(|e| Error(format!("duplicating a descriptor: {e}")))
    };
    if mode.passthrough {
        let ours = |fd: BorrowedFd<'_>| {
            fd.try_clone_to_owned()
                .map_err(|e| Error(format!("duplicating our stdio: {e}")))
        };
        let io = Stdio {
            stdin: ours(std::io::stdin().as_fd())?,
            stdout: crate::console::container_stdout()
                .map_err(|e| Error(format!("duplicating our stdio: {e}")))?
                .into(),
            stderr: ours(std::io::stderr().as_fd())?,
            console: None,
        };
        let wiring = Wiring {
            input: None,
            outputs: [None, None],
            master: None,
            pending: None,
        };
        return Ok((wiring, io));
    }
    if mode.tty && mode.console {
        // 0-2 until the container's own pty replaces them (errors before that are reported
        // on the spawn pipe, so nothing is lost).
        let null = || open_null(true).map_err(|e| Error(format!("opening /dev/null: {e}")));
        let (receiver, socket) = console::console_socket(size).map_err(Error)?;
        let io = Stdio {
            stdin: null()?,
            stdout: null()?,
            stderr: null()?,
            console: Some(socket),
        };
        let wiring = Wiring {
            input: None,
            outputs: [None, None],
            master: None,
            pending: Some((receiver, mode.stdin)),
        };
        return Ok((wiring, io));
    }
    if mode.tty {
        let pty = tty::open_pty_from(mode.ptmx.as_deref(), size)?;
        set_nonblocking(&pty.master)?;
        let io = Stdio {
            stdin: dup(&pty.slave)?,
            stdout: dup(&pty.slave)?,
            stderr: pty.slave,
            console: None,
        };
        let wiring = Wiring {
            input: if mode.stdin {
                Some(dup(&pty.master)?)
            } else {
                None
            },
            master: Some(dup(&pty.master)?),
            outputs: [Some(pty.master), None],
            pending: None,
        };
        return Ok((wiring, io));
    }
    let pipe =
        || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error(format!("creating a pipe: {e}")));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (stdin, input) = if mode.stdin {
        let (r, w) = pipe()?;
        set_nonblocking(&w)?;
        (r, Some(w))
    } else {
        let null = open_null(false).map_err(|e| Error(format!("opening /dev/null: {e}")))?;
        (null, None)
    };
    set_nonblocking(&out_r)?;
    set_nonblocking(&err_r)?;
    let io = Stdio {
        stdin,
        stdout: out_w,
        stderr: err_w,
        console: None,
    };
    let wiring = Wiring {
        input,
        outputs: [Some(out_r), Some(err_r)],
        master: None,
        pending: None,
    };
    Ok((wiring, io))
}

fn set_nonblocking(fd: &OwnedFd) -> Result<(), Error> {
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)
        .map_err(|e| Error(format!("reading descriptor flags: {e}")))?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags))
        .map(|_| ())
        .map_err(|e| Error(format!("setting O_NONBLOCK: {e}")))
}
