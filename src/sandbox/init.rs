//! `--init`: cove's own code stays the container's pid 1. It forks the command, forwards every
//! signal it gets to the command's process group, reaps every orphan that the kernel hands it
//! (a pid namespace's init must, or zombies pile up), and exits with the command's status.
//!
//! No re-exec is needed: pid 1 was confined (user, capabilities, seccomp) like the command
//! itself and is not dumpable, so a process in the container cannot open /proc/1/exe (the cove
//! binary, CVE-2019-5736): that needs ptrace access, and the kernel checks it against the user
//! namespace cove was exec'd in, which the container's capabilities do not reach. Residual
//! risk: a `--privileged` container of real root holds CAP_SYS_PTRACE in the host's user
//! namespace, so it could open /proc/1/exe; a privileged root container is a way out anyway.

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::unistd::{ForkResult, Pid};

use super::launch::{self, Reporter};
use super::spec::{Process, SpawnError};
use super::sys;

/// Become the init of the container: `process` is already confined; fork it, forward, reap.
pub fn run(process: &Process, reporter: &Reporter) -> ! {
    let all = SigSet::all();
    if let Err(e) = nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None) {
        reporter.fail(&SpawnError::engine(format!("init: blocking signals: {e}")));
    }
    for sig in Signal::iterator() {
        if !matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            let _ = sys::catch_signal(sig);
        }
    }
    // With --pid host this is not pid 1: orphans must still come to us.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let _ = nix::sys::prctl::set_dumpable(false);

    // SAFETY: --init runs as the container's first process, a fresh clone: single-threaded.
    let child = match unsafe { sys::fork() } {
        Ok(ForkResult::Child) => command(process, reporter),
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => reporter.fail(&SpawnError::engine(format!("init: fork: {e}"))),
    };
    // Only the command's copy is left, so the starter sees end of file when it execs. The
    // Reporter itself is never dropped: this process ends in exit_now.
    let _ = nix::unistd::close(reporter.fd());
    sys::exit_now(supervise(child, &all))
}

fn command(process: &Process, reporter: &Reporter) -> ! {
    // Its own process group, so that a forwarded signal reaches its children too; in the
    // foreground of the terminal, so that ^C and job control work (signals are still blocked
    // here, so tcsetpgrp's SIGTTOU cannot stop us).
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    if process.terminal {
        let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpid());
    }
    reporter.fail(&launch::exec(process))
}

/// Wait for signals: reap on SIGCHLD, forward the others. Returns the command's exit code
/// (128 + signal when it was killed, as a shell reports it).
fn supervise(child: Pid, all: &SigSet) -> i32 {
    loop {
        let sig = match all.wait() {
            Ok(sig) => sig,
            Err(_) => continue,
        };
        if sig != Signal::SIGCHLD {
            if kill(Pid::from_raw(-child.as_raw()), sig).is_err() {
                let _ = kill(child, sig);
            }
            continue;
        }
        if let Some(code) = reap(child) {
            return code;
        }
    }
}

/// Reap every zombie; the command's status once it is among them.
fn reap(child: Pid) -> Option<i32> {
    let mut result = None;
    loop {
        match crate::exit::wait(-1, true) {
            Ok(Some((pid, code))) if pid == child => result = Some(code),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return result,
        }
    }
}
