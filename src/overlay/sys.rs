//! The raw system calls of the layer store, each fenced in one small function. Everything else
//! in `overlay/` goes through nix's safe wrappers or these.

use std::ffi::{CString, OsStr};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::libc;
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

fn cstring(bytes: &[u8]) -> nix::Result<CString> {
    CString::new(bytes).map_err(|_| Errno::EINVAL)
}

/// lsetxattr(2): set an extended attribute without following a symlink at the end of `path`.
pub fn lsetxattr(path: &OsStr, name: &str, value: &[u8]) -> nix::Result<()> {
    let path = cstring(path.as_bytes())?;
    let name = cstring(name.as_bytes())?;
    // SAFETY: both pointers are NUL-terminated strings that live across the call; `value`'s
    // pointer and length describe one readable slice; the kernel does not keep any of them.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

/// fsetxattr(2) on an open (not O_PATH) descriptor.
pub fn fsetxattr(fd: RawFd, name: &str, value: &[u8]) -> nix::Result<()> {
    let name = cstring(name.as_bytes())?;
    // SAFETY: `name` is NUL-terminated and lives across the call; `value`'s pointer and length
    // describe one readable slice; `fd` is borrowed from a live OwnedFd by the caller.
    let rc = unsafe { libc::fsetxattr(fd, name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    Errno::result(rc).map(drop)
}

/// lgetxattr(2), for tests and for checking what a layer carries. None when the attribute is absent.
#[cfg(test)]
pub fn lgetxattr(path: &std::path::Path, name: &str) -> nix::Result<Option<Vec<u8>>> {
    let path = cstring(path.as_os_str().as_bytes())?;
    let name = cstring(name.as_bytes())?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: NUL-terminated strings live across the call; `buf` is writable for `buf.len()` bytes.
    let rc = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    match Errno::result(rc) {
        Ok(n) => {
            buf.truncate(n as usize);
            Ok(Some(buf))
        }
        Err(Errno::ENODATA) => Ok(None),
        Err(e) => Err(e),
    }
}
