//! The raw system calls of the supervisor (terminals, pidfds, inherited descriptors, memory
//! trimming), each fenced in a small function with the reason it is sound.

use std::os::fd::{AsFd, AsRawFd, RawFd};

use nix::errno::Errno;
use nix::libc;

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

/// pidfd_open(2): a descriptor that polls readable when the child `pid` exits (Linux 5.3). The
/// supervisor waits on it instead of SIGCHLD, which any thread of a threaded caller may eat.
pub fn pidfd_open(pid: i32) -> nix::Result<std::os::fd::OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) };
    let fd = RawFd::try_from(Errno::result(rc)?).map_err(|_| Errno::EBADF)?;
    // SAFETY: on success the syscall returned a fresh descriptor that nothing else owns; the
    // kernel makes pidfds close-on-exec.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Take ownership of descriptor `fd`, inherited across exec from the process that started us
/// for a documented purpose (the monitor's status pipe); None when it is not open.
pub fn take_inherited_fd(fd: RawFd) -> Option<std::os::fd::OwnedFd> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    // Close-on-exec from here on: a child we start must not hold it open.
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).ok()?;
    // SAFETY: the descriptor is open (checked above) and was handed to this process by its
    // starter for this one use; no File or OwnedFd in this process refers to it yet.
    Some(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// Let go of the resident pages of clean, read-only file mappings (our own binary's text and
/// rodata): a long-lived monitor then counts in its RSS only what it touches afterwards, not
/// what start-up and the kernel's fault-around mapped. Returns the bytes advised.
pub fn drop_clean_file_pages() -> usize {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut dropped = 0;
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-') {
            let perms = fields.next().unwrap_or("");
            let inode = fields.nth(2).unwrap_or("0");
            let parse = |s| usize::from_str_radix(s, 16).ok();
            current = match (parse(start), parse(end)) {
                // File-backed (inode != 0), not writable: candidates until Anonymous says more.
                (Some(s), Some(e)) if !perms.contains('w') && inode != "0" => Some((s, e)),
                _ => None,
            };
        } else if first == "Anonymous:" {
            // A private copy (a relocated RELRO page) would revert to the file's bytes: skip.
            if let (Some((start, end)), Some("0")) = (current.take(), fields.next()) {
                // SAFETY: the range is a whole mapping of a file that is not writable through
                // it and holds no private (anonymous) page, so every page equals the file's
                // bytes; MADV_DONTNEED only unmaps them and the next access faults the same
                // bytes back in. A running executable cannot be modified (ETXTBSY).
                // MADV_RANDOM first: no fault-around, so later faults bring back single pages.
                let rc = unsafe {
                    let addr = start as *mut libc::c_void;
                    libc::madvise(addr, end - start, libc::MADV_RANDOM);
                    libc::madvise(addr, end - start, libc::MADV_DONTNEED)
                };
                if rc == 0 {
                    dropped += end - start;
                }
            }
        }
    }
    dropped
}

/// Give the heap's free pages back to the kernel (what command-line parsing and start-up
/// allocated and freed): glibc keeps them otherwise, and they count in a monitor's RSS.
pub fn release_free_heap() {
    // SAFETY: malloc_trim only returns unused memory of the allocator to the kernel; it is
    // thread-safe and leaves every live allocation in place.
    unsafe { libc::malloc_trim(0) };
}
