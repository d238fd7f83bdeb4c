//! The raw system calls of the layer store, each fenced in one small function. Everything else
//! in `overlay/` goes through nix's safe wrappers or these.

use std::ffi::OsStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open call in this module, so it is a valid
    // descriptor that nothing else in the process owns or will close.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// openat(2) returning an owned descriptor (O_CLOEXEC is always added).
pub fn openat(dir: RawFd, path: &OsStr, flags: OFlag, mode: Mode) -> nix::Result<OwnedFd> {
    nix::fcntl::openat(Some(dir), path, flags | OFlag::O_CLOEXEC, mode).map(own)
}

/// openat2(2) with `root` treated as "/": absolute symlinks and `..` in `path` (or in any
/// symlink met on the way) stay inside `root`, and /proc magic links are refused. This is what
/// keeps a hostile layer from writing outside its own directory.
pub fn openat2_in_root(root: RawFd, path: &OsStr, flags: OFlag) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    nix::fcntl::openat2(root, path, how).map(own)
}
