//! cove's own standard output versus the containers': podman's global `--noout` sends the
//! first (IDs, names, tables) to /dev/null and keeps the second, which goes to the stdout cove
//! was started with. Also: echo off for password prompts.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::OnceLock;

/// The stdout cove had before `--noout` silenced it.
static CONTAINER_OUT: OnceLock<OwnedFd> = OnceLock::new();

/// `--noout`: keep a copy of stdout for the containers' output, then point fd 1 at /dev/null.
pub fn silence_own_output() -> io::Result<()> {
    let saved = io::stdout().as_fd().try_clone_to_owned()?;
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    nix::unistd::dup2(null.as_raw_fd(), io::stdout().as_raw_fd()).map_err(io::Error::from)?;
    let _ = CONTAINER_OUT.set(saved);
    Ok(())
}

/// Where a container's stdout is shown: cove's stdout, or the one `--noout` kept aside.
pub fn container_stdout() -> io::Result<File> {
    let fd = match CONTAINER_OUT.get() {
        Some(saved) => saved.try_clone()?,
        None => io::stdout().as_fd().try_clone_to_owned()?,
    };
    Ok(File::from(fd))
}

/// Terminal echo off on stdin while it lives (a password prompt); restored when dropped.
pub struct EchoOff {
    saved: Option<nix::sys::termios::Termios>,
}

impl EchoOff {
    pub fn new() -> EchoOff {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let stdin = io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut quiet = t.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &quiet);
        }
        EchoOff { saved }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}
