//! Terminals: the user's terminal in raw mode, window sizes, and pseudo-terminal pairs for
//! `exec -t` (a container's first process makes its own: sandbox::console).

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::termios::{self, SetArg, Termios};

use super::{sys, Error};
use crate::sandbox::console;

pub use crate::sandbox::console::Size as WinSize;

/// The size of the terminal behind `fd`, or None when it is not a terminal (or reports 0x0,
/// which is what a serial console or a just-made pty says).
pub fn window_size<Fd: AsFd>(fd: Fd) -> Option<WinSize> {
    let ws = sys::get_winsize(fd).ok()?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some(WinSize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

/// Resize the terminal behind `fd`; on a pty master this signals SIGWINCH to the container's
/// foreground process group.
pub fn set_window_size<Fd: AsFd>(fd: Fd, size: WinSize) -> Result<(), Error> {
    console::set_size(fd, size).map_err(|e| Error(format!("setting the terminal size: {e}")))
}

/// True when `fd` is a terminal.
pub fn is_terminal<Fd: AsFd>(fd: Fd) -> bool {
    termios::tcgetattr(fd).is_ok()
}

/// A pseudo-terminal pair. Both ends are close-on-exec: the slave reaches the container only
/// through dup2 onto 0-2, and the master must never reach it at all.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Open a new pty through /dev/ptmx and its slave with TIOCGPTPEER. glibc's openpty() is
/// avoided on purpose: in a static binary its grantpt may consult NSS for the tty group.
#[cfg(test)]
pub fn open_pty(size: WinSize) -> Result<Pty, Error> {
    open_pty_from(None, size)
}

/// `open_pty` through another devpts instance's ptmx (None: the host's /dev/ptmx).
pub fn open_pty_from(ptmx: Option<&std::path::Path>, size: WinSize) -> Result<Pty, Error> {
    let ptmx = ptmx.unwrap_or(std::path::Path::new("/dev/ptmx"));
    let (master, slave) = console::open_pty(ptmx, size).map_err(Error)?;
    Ok(Pty { master, slave })
}

/// The user's terminal in raw mode until dropped. Bytes such as ^C and ^\ then travel to the
/// container's own pty, whose line discipline turns them into signals there.
pub struct RawMode {
    fd: OwnedFd,
    saved: Termios,
}

impl RawMode {
    /// Put the terminal behind `fd` in raw mode; None when it is not a terminal.
    pub fn enter<Fd: AsFd>(fd: Fd) -> Result<Option<RawMode>, Error> {
        let Ok(saved) = termios::tcgetattr(&fd) else {
            return Ok(None);
        };
        let own = fd
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error(format!("duplicating the terminal descriptor: {e}")))?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&own, SetArg::TCSANOW, &raw)
            .map_err(|e| Error(format!("setting the terminal to raw mode: {e}")))?;
        Ok(Some(RawMode { fd: own, saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(&self.fd, SetArg::TCSANOW, &self.saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pty_carries_its_size_and_is_a_terminal() {
        let pty = open_pty(WinSize {
            rows: 33,
            cols: 101,
        })
        .unwrap();
        assert!(is_terminal(&pty.slave));
        assert_eq!(
            window_size(&pty.slave),
            Some(WinSize {
                rows: 33,
                cols: 101
            })
        );
        set_window_size(&pty.master, WinSize { rows: 5, cols: 7 }).unwrap();
        assert_eq!(window_size(&pty.slave), Some(WinSize { rows: 5, cols: 7 }));
    }

    #[test]
    fn raw_mode_is_restored_on_drop() {
        let pty = open_pty(WinSize::DEFAULT).unwrap();
        let before = termios::tcgetattr(&pty.slave).unwrap();
        {
            let _raw = RawMode::enter(&pty.slave).unwrap().unwrap();
            let now = termios::tcgetattr(&pty.slave).unwrap();
            assert!(!now.local_flags.contains(termios::LocalFlags::ICANON));
        }
        let after = termios::tcgetattr(&pty.slave).unwrap();
        assert_eq!(before.local_flags, after.local_flags);
        assert_eq!(before.input_flags, after.input_flags);
    }

    #[test]
    fn a_pipe_is_not_a_terminal() {
        let (r, _w) = nix::unistd::pipe().unwrap();
        assert!(!is_terminal(&r));
        assert!(window_size(&r).is_none());
        assert!(RawMode::enter(&r).unwrap().is_none());
    }
}
