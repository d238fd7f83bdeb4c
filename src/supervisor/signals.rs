//! Signals as the supervisor takes them: blocked, and read from a signalfd in its poll loop.

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use super::Error;

/// Signals delivered through a signalfd while blocked. They are unblocked around each spawn,
/// because a blocked mask survives exec and a container must not start with SIGTERM blocked.
pub struct Signals {
    fd: SignalFd,
    set: SigSet,
}

/// The signals `--sig-proxy` passes on, as docker does: everything a user or a service manager
/// sends to stop or poke a process, but not job control and not SIGCHLD/SIGWINCH/SIGPIPE.
const PROXIED: [Signal; 7] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
];

impl Signals {
    /// Catch SIGCHLD and SIGWINCH, plus the proxied signals when `proxy`.
    pub fn catch(proxy: bool) -> Result<Signals, Error> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        set.add(Signal::SIGWINCH);
        if proxy {
            PROXIED.iter().for_each(|s| set.add(*s));
        }
        set.thread_block()
            .map_err(|e| Error(format!("blocking signals: {e}")))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| Error(format!("creating a signalfd: {e}")))?;
        Ok(Signals { fd, set })
    }

    /// The next pending signal, if any.
    pub fn next(&self) -> Option<Signal> {
        let info = self.fd.read_signal().ok()??;
        Signal::try_from(i32::try_from(info.ssi_signo).ok()?).ok()
    }

    /// Run `f` (a spawn) with the signals unblocked, so the child starts with a clean mask.
    pub fn unblocked<T>(&self, f: impl FnOnce() -> T) -> T {
        let _ = self.set.thread_unblock();
        let r = f();
        let _ = self.set.thread_block();
        r
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        // Swallow what is still pending: unblocking would otherwise deliver a SIGINT that we
        // already forwarded and kill us with its default action.
        while self.next().is_some() {}
        let _ = self.set.thread_unblock();
    }
}
