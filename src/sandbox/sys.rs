//! The raw system calls of the sandbox, each fenced in a small function with the reason it is sound.

use std::ffi::CStr;
use std::os::fd::{AsFd, RawFd};

use nix::errno::Errno;
use nix::libc;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, Signal};
use nix::unistd::ForkResult;

/// fork(2). Callers only fork while the process is single-threaded (the start of a command,
/// before any thread exists), so the child's copy of every lock and allocator state is consistent.
pub fn fork() -> nix::Result<ForkResult> {
    // SAFETY: cove forks only while single-threaded (documented contract of every caller), so no
    // other thread can hold a lock (malloc, stdio) that the child would inherit in a locked state.
    unsafe { nix::unistd::fork() }
}

/// _exit(2): leave a forked child without running the parent's atexit handlers or flushing
/// buffers that belong to the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes a plain integer and never returns; it touches no Rust-managed memory.
    unsafe { libc::_exit(code) }
}

/// Move the calling (single-threaded) process into the namespace behind `fd`.
pub fn setns<Fd: AsFd>(fd: Fd, kind: CloneFlags) -> nix::Result<()> {
    nix::sched::setns(fd, kind)
}

/// Give the calling process new namespaces of the kinds in `flags`.
pub fn unshare(flags: CloneFlags) -> nix::Result<()> {
    nix::sched::unshare(flags)
}

/// prctl(PR_SET_NAME): the name shown in /proc/PID/comm, which is how cove recognises its pause.
pub fn set_process_name(name: &CStr) -> nix::Result<()> {
    nix::sys::prctl::set_name(name)
}

/// Ignore `sig` for the rest of the process's life.
pub fn ignore_signal(sig: Signal) -> nix::Result<()> {
    // SAFETY: SIG_IGN installs no Rust handler, so no code can run in signal context.
    unsafe { nix::sys::signal::signal(sig, SigHandler::SigIgn) }.map(|_| ())
}

/// Close every descriptor from 3 upward except those in `keep`, so that a process that outlives
/// its parent holds neither its pipes nor its lock files.
pub fn close_fds_except(keep: &[RawFd]) {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd >= 3).collect();
    keep.sort_unstable();
    let mut first: RawFd = 3;
    for fd in keep.into_iter().chain(std::iter::once(RawFd::MAX)) {
        if fd > first {
            close_range(first as u32, (fd - 1) as u32);
        }
        first = fd.saturating_add(1);
    }
}

fn close_range(first: u32, last: u32) {
    // SAFETY: close_range(2) only closes descriptors; callers own no Rust object (File, OwnedFd)
    // for the closed numbers that will be used afterwards, because the process only pauses next.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if rc == 0 || Errno::last() != Errno::ENOSYS {
        return;
    }
    // Kernels before 5.9: close one by one, up to a sane bound.
    let bound = last.min(65_535);
    for fd in first..=bound {
        // SAFETY: as above; closing a number that is not open is harmless (EBADF).
        unsafe { libc::close(fd as RawFd) };
    }
}
