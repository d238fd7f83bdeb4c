//! The extended-attribute system calls, for the layer store (which writes them) and the sandbox
//! (which reads overlayfs' opaque markers), each fenced in one small function.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::libc;

fn cstring(bytes: &[u8]) -> nix::Result<CString> {
    CString::new(bytes).map_err(|_| Errno::EINVAL)
}

/// lgetxattr(2): the value of attribute `name` of `path`, not following a symlink at the end of
/// `path`; None when the attribute is absent. Values over 4 KiB are an error (ERANGE).
pub fn lgetxattr(path: &Path, name: &str) -> nix::Result<Option<Vec<u8>>> {
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
            buf.truncate(usize::try_from(n).unwrap_or(0));
            Ok(Some(buf))
        }
        Err(Errno::ENODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

/// lsetxattr(2): set an extended attribute without following a symlink at the end of `path`.
pub fn lsetxattr(path: &Path, name: &str, value: &[u8]) -> nix::Result<()> {
    let path = cstring(path.as_os_str().as_bytes())?;
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

/// llistxattr(2): the names of the extended attributes of `path`, not following a symlink at
/// the end of `path` (the ones this process may see).
pub fn llistxattr(path: &Path) -> nix::Result<Vec<String>> {
    let path = cstring(path.as_os_str().as_bytes())?;
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: `path` is NUL-terminated and lives across the call; `buf` is writable for
        // `buf.len()` bytes and the kernel writes at most that many.
        let rc = unsafe { libc::llistxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        match Errno::result(rc) {
            Ok(n) => {
                buf.truncate(usize::try_from(n).unwrap_or(0));
                return Ok(buf
                    .split(|&b| b == 0)
                    .filter(|n| !n.is_empty())
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect());
            }
            // The list grew past the buffer: a bigger one, up to the kernel's own limit.
            Err(Errno::ERANGE) if buf.len() < 65536 => buf.resize(buf.len() * 4, 0),
            Err(Errno::ENOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    }
}
