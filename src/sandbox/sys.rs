//! The raw system calls of the sandbox, each fenced in a small function with the reason it is sound.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use nix::errno::Errno;
use nix::libc;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, Signal};
use nix::unistd::ForkResult;

/// fork(2).
///
/// # Safety
///
/// The child gets a copy of every lock as it was at the fork. The caller must be
/// single-threaded — cove's commands and its monitor fork only before any thread exists or
/// after they are joined (a pull's threads are) — so no lock (malloc, stdio) can be held by a
/// thread that does not exist in the child. A caller forking beside other threads (the unit
/// tests, from the threaded test harness) must accept that the child can hang on such a lock:
/// glibc's atfork handlers keep malloc usable, and nothing of the parent's memory is touched.
pub unsafe fn fork() -> nix::Result<ForkResult> {
    // SAFETY: the caller upholds this function's contract (see # Safety above).
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
        if let (true, Ok(low), Ok(high)) = (fd > first, u32::try_from(first), u32::try_from(fd - 1))
        {
            close_range(low, high);
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
    for fd in (first..=bound).filter_map(|fd| RawFd::try_from(fd).ok()) {
        // SAFETY: as above; closing a number that is not open is harmless (EBADF).
        unsafe { libc::close(fd) };
    }
}

/// TIOCSCTTY: make the terminal behind `fd` the controlling terminal of the calling session
/// leader (without stealing it from another session: argument 0).
pub fn set_controlling_tty<Fd: AsFd>(fd: Fd) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument and touches no memory of ours.
    let rc = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSCTTY, 0 as libc::c_int) };
    Errno::result(rc).map(|_| ())
}

/// Restore the default action of `sig`. The Rust runtime ignores SIGPIPE, and an ignored signal
/// stays ignored across exec: a container child must reset it or `yes | head` misbehaves inside.
pub fn default_signal(sig: Signal) -> nix::Result<()> {
    // SAFETY: SIG_DFL installs no Rust handler, so no code can run in signal context.
    unsafe { nix::sys::signal::signal(sig, SigHandler::SigDfl) }.map(|_| ())
}

/// TIOCSWINSZ: set the window size of the terminal behind `fd` (the kernel sends SIGWINCH to
/// its foreground process group).
pub fn set_winsize<Fd: AsFd>(fd: Fd, ws: &libc::winsize) -> nix::Result<()> {
    // SAFETY: TIOCSWINSZ only reads one `struct winsize` through the pointer, a live reference.
    let rc = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSWINSZ, ws as *const _) };
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

/// Receive one descriptor sent with SCM_RIGHTS on the socket `fd` (the console socket),
/// without waiting: the sender has sent it before we look. Close-on-exec on arrival.
pub fn recv_fd<Fd: AsFd>(fd: Fd) -> nix::Result<std::os::fd::OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let flags = MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT;
    let msg = recvmsg::<()>(fd.as_fd().as_raw_fd(), &mut iov, Some(&mut space), flags)?;
    let mut got = None;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for raw in fds {
                // SAFETY: the kernel installed each of these descriptors in this process for
                // this message; nothing else refers to them. All but the first are closed by
                // the drop of their OwnedFd.
                let owned = unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) };
                got.get_or_insert(owned);
            }
        }
    }
    got.ok_or(Errno::ENOMSG)
}

// ---- the container process: clone, mounts, descriptors, signals (spawn, exec, init) ----

/// clone(2) with CLONE_PARENT and `flags` (new namespaces): the child runs `child` on its own
/// stack and becomes a child of our parent, so that a short-lived intermediate (forked from a
/// possibly threaded caller, hence single-threaded itself) can create a process that the caller
/// waits for directly. `child` must never return into the caller's code: it ends with exec or
/// `exit_now`.
pub fn clone_sibling(child: &mut dyn FnMut() -> isize, flags: CloneFlags) -> nix::Result<i32> {
    // 8 MiB of address space, touched only as the child's stack grows (copy-on-write).
    let mut stack = vec![0u8; 8 << 20];
    let cb: nix::sched::CloneCb = Box::new(child);
    // SAFETY: without CLONE_VM the child gets a copy of our memory, so it cannot race with us;
    // the stack is large for what the child does (no recursion); the caller is single-threaded
    // (a freshly forked intermediate), so no lock is held by a thread that does not exist in
    // the child.
    let pid = unsafe {
        nix::sched::clone(
            cb,
            &mut stack,
            flags | CloneFlags::CLONE_PARENT,
            Some(libc::SIGCHLD),
        )
    }?;
    Ok(pid.as_raw())
}

fn owned(fd: RawFd) -> std::os::fd::OwnedFd {
    // SAFETY: callers pass a descriptor just returned by a successful open in this module, which
    // nothing else owns or will close.
    unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }
}

/// openat2(2) with `root` as "/": symlinks and `..` in `path` cannot leave the container's root
/// (an image's /proc may be a symlink to /etc of the host). O_CLOEXEC is added.
pub fn open_in_root<Fd: AsFd>(
    root: Fd,
    path: &std::path::Path,
    flags: nix::fcntl::OFlag,
) -> nix::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    nix::fcntl::openat2(root.as_fd().as_raw_fd(), path, how).map(owned)
}

/// openat(2) relative to `dir`, O_CLOEXEC added.
pub fn open_at<Fd: AsFd>(
    dir: Fd,
    name: &std::ffi::OsStr,
    flags: nix::fcntl::OFlag,
    mode: nix::sys::stat::Mode,
) -> nix::Result<std::os::fd::OwnedFd> {
    let flags = flags | nix::fcntl::OFlag::O_CLOEXEC;
    nix::fcntl::openat(Some(dir.as_fd().as_raw_fd()), name, flags, mode).map(owned)
}

/// Set MOUNT_ATTR_RDONLY on the mount whose root `fd` is (and on every mount below it when
/// `recursive`). Unlike a remount, this keeps the flags the kernel locked on mounts inherited
/// from a more privileged namespace (nosuid, nodev), which a remount would have to repeat.
pub fn mount_set_readonly<Fd: AsFd>(fd: Fd, recursive: bool) -> nix::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: mount_setattr reads `size` bytes of `attr`, a live local laid out as the kernel's
    // struct mount_attr; the path is a static empty C string (AT_EMPTY_PATH: act on `fd`).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags.cast_unsigned(),
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(rc).map(|_| ())
}

/// Every signal back to its default action and unblocked: dispositions set to "ignore" (the
/// Rust runtime ignores SIGPIPE) and the blocked mask survive exec and would leak into the
/// container's processes.
pub fn reset_signals() {
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            let _ = default_signal(sig);
        }
    }
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

extern "C" fn ignore_delivery(_: libc::c_int) {}

/// Install a handler that does nothing for `sig`. The kernel drops signals sent to a pid
/// namespace's init for which it has no handler; cove's init blocks them and takes them with
/// sigwait, so the handler exists only to make them deliverable and never runs.
pub fn catch_signal(sig: Signal) -> nix::Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigSet};
    let action = SigAction::new(
        SigHandler::Handler(ignore_delivery),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler is an empty extern "C" function: async-signal-safe, touches nothing.
    unsafe { nix::sys::signal::sigaction(sig, &action) }.map(|_| ())
}

/// Bring up the loopback interface of a new network namespace (`--network none` still has
/// 127.0.0.1, as in docker).
pub fn loopback_up() -> nix::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain old data for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = libc::c_char::from_ne_bytes([*src]);
    }
    // SAFETY: SIOCGIFFLAGS fills the flags member of the live `req` for the named interface.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
    Errno::result(rc)?;
    // IFF_UP | IFF_RUNNING is 0x41, well inside a c_short.
    let up =
        libc::c_short::try_from(libc::IFF_UP | libc::IFF_RUNNING).map_err(|_| Errno::EINVAL)?;
    // SAFETY: after SIOCGIFFLAGS the union holds the flags, so reading and updating them is
    // reading initialised memory of the right type.
    unsafe { req.ifr_ifru.ifru_flags |= up };
    // SAFETY: SIOCSIFFLAGS reads the name and flags of the live `req`.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) };
    Errno::result(rc).map(|_| ())
}

/// open(2) of a path as the process sees it, O_CLOEXEC added, as an owned descriptor.
pub fn open_path(
    path: &std::path::Path,
    flags: nix::fcntl::OFlag,
) -> nix::Result<std::os::fd::OwnedFd> {
    let flags = flags | nix::fcntl::OFlag::O_CLOEXEC;
    nix::fcntl::open(path, flags, nix::sys::stat::Mode::empty()).map(owned)
}

/// seccomp(2) SECCOMP_SET_MODE_FILTER with a BPF program exported by libseccomp (8-byte
/// `sock_filter` instructions).
pub fn seccomp_set_filter(bpf: &[u8]) -> nix::Result<()> {
    let count = bpf.len() / 8;
    if bpf.is_empty() || !bpf.len().is_multiple_of(8) || count > usize::from(u16::MAX) {
        return Err(Errno::EINVAL);
    }
    let prog = libc::sock_fprog {
        len: u16::try_from(count).map_err(|_| Errno::EINVAL)?,
        filter: bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `bpf`, which lives across the call and holds `count` whole
    // instructions; the kernel only reads (copies) the program and checks it before use.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    Errno::result(r).map(drop)
}
