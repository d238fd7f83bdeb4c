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

// ---- terminals, signals and descriptors of the supervisor (monitor, attach, tty) ----

use std::os::fd::AsRawFd as _;

/// TIOCGWINSZ: the window size of the terminal behind `fd`.
pub fn get_winsize<Fd: AsFd>(fd: Fd) -> nix::Result<libc::winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` through the pointer, which points at a live,
    // properly sized local; the descriptor is borrowed for the duration of the call.
    let rc = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    Errno::result(rc).map(|_| ws)
}

/// TIOCSWINSZ: set the window size of the terminal behind `fd` (the kernel sends SIGWINCH to
/// its foreground process group).
pub fn set_winsize<Fd: AsFd>(fd: Fd, ws: &libc::winsize) -> nix::Result<()> {
    // SAFETY: TIOCSWINSZ only reads one `struct winsize` through the pointer, a live reference.
    let rc = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSWINSZ, ws as *const _) };
    Errno::result(rc).map(|_| ())
}

/// TIOCSCTTY: make the terminal behind `fd` the controlling terminal of the calling session
/// leader (without stealing it from another session: argument 0).
pub fn set_controlling_tty<Fd: AsFd>(fd: Fd) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument and touches no memory of ours.
    let rc = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSCTTY, 0 as libc::c_int) };
    Errno::result(rc).map(|_| ())
}

/// TIOCSPTLCK(0): unlock the slave of a pty master so that it can be opened.
pub fn unlock_pty<Fd: AsFd>(master: Fd) -> nix::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int through the pointer, a live local.
    let rc = unsafe { libc::ioctl(master.as_fd().as_raw_fd(), libc::TIOCSPTLCK, &unlock) };
    Errno::result(rc).map(|_| ())
}

/// TIOCGPTPEER: open the slave of `master` without a path lookup in /dev/pts (Linux 4.13), so
/// a hostile /dev/pts cannot hand us another file.
pub fn open_pty_peer<Fd: AsFd>(master: Fd) -> nix::Result<std::os::fd::OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes integer open flags and returns a new descriptor or -1.
    let rc = unsafe { libc::ioctl(master.as_fd().as_raw_fd(), libc::TIOCGPTPEER, flags) };
    let fd = Errno::result(rc)?;
    // SAFETY: on success the ioctl returned a fresh descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Restore the default action of `sig`. The Rust runtime ignores SIGPIPE, and an ignored signal
/// stays ignored across exec: a container child must reset it or `yes | head` misbehaves inside.
pub fn default_signal(sig: Signal) -> nix::Result<()> {
    // SAFETY: SIG_DFL installs no Rust handler, so no code can run in signal context.
    unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) }.map(|_| ())
}

/// pidfd_open(2): a descriptor that polls readable when the child `pid` exits (Linux 5.3). The
/// supervisor waits on it instead of SIGCHLD, which any thread of a threaded caller may eat.
pub fn pidfd_open(pid: i32) -> nix::Result<std::os::fd::OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    let fd = Errno::result(rc)? as RawFd;
    // SAFETY: on success the syscall returned a fresh descriptor that nothing else owns; the
    // kernel makes pidfds close-on-exec.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Take ownership of descriptor `fd`, inherited across exec from the process that started us
/// for a documented purpose (the monitor's status pipe); None when it is not open.
pub fn take_inherited_fd(fd: RawFd) -> Option<std::os::fd::OwnedFd> {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).ok()?;
    // SAFETY: the descriptor is open (checked above) and was handed to this process by its
    // starter for this one use; no File or OwnedFd in this process refers to it yet.
    Some(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}
