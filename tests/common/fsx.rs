//! File checks on unpacked layers: whiteout devices, overlay xattrs, ownership, escapes.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// An extended attribute of `path` itself (not following a symlink).
pub fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: both names are NUL-terminated C strings that outlive the call, and the buffer
    // pointer and length describe a live, writable Vec.
    let len =
        unsafe { nix::libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return None;
    }
    buf.truncate(len as usize);
    Some(buf)
}

/// An overlayfs whiteout: a character device 0:0.
pub fn is_whiteout(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_char_device() && m.rdev() == 0)
        .unwrap_or(false)
}

/// Every path below `dir` whose file name is one of `names` (symlinks not followed).
pub fn find_named(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| names.iter().any(|n| e.file_name() == *n))
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// The first ID of `name`'s range in /etc/subuid.
pub fn subuid_start(name: &str) -> Option<u32> {
    std::fs::read_to_string("/etc/subuid")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name)).then(|| f.get(1)?.parse().ok())?
        })
}
