//! Directory-descriptor helpers for unpacking: every lookup inside a layer starts from the layer's
//! root descriptor and resolves with RESOLVE_IN_ROOT, so symlinks in the layer cannot lead out.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, mkdirat, Mode};

use super::path::Rel;
use super::{sys, Error};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY.union(OFlag::O_DIRECTORY);

/// The open top directory of a layer being unpacked.
pub struct Root {
    fd: OwnedFd,
}

impl Root {
    pub fn open_path(path: &Path) -> nix::Result<Root> {
        let flags = DIR_FLAGS | OFlag::O_NOFOLLOW;
        let fd = sys::openat(nix::libc::AT_FDCWD, path.as_os_str(), flags, Mode::empty())?;
        Ok(Root { fd })
    }

    /// A directory opened elsewhere (resolved inside a container's root).
    pub fn from_fd(fd: OwnedFd) -> Root {
        Root { fd }
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Open `rel` inside the layer; `flags` apply to the last component (add O_NOFOLLOW to get
    /// the symlink itself), earlier symlinks resolve with the layer as "/".
    pub fn open(&self, rel: &Rel, flags: OFlag) -> nix::Result<OwnedFd> {
        sys::openat2_in_root(self.fd(), rel.path().as_os_str(), flags)
    }

    /// Open directory `rel`, creating missing components (0755) as tar does for names whose
    /// parents are not in the archive.
    pub fn open_dir(&self, rel: &Rel) -> Result<OwnedFd, Error> {
        let whole = self.open(rel, DIR_FLAGS);
        if !matches!(whole, Err(Errno::ENOENT)) {
            return whole.map_err(|e| dir_error(rel, e));
        }
        // Slow path: walk down, creating what is missing. Each prefix is resolved afresh from the
        // root so that a symlink met on the way is followed inside the layer.
        let mut cur = self
            .open(&Rel(Vec::new()), DIR_FLAGS)
            .map_err(|e| dir_error(rel, e))?;
        for depth in 1..=rel.0.len() {
            let prefix = Rel(rel.0[..depth].to_vec());
            cur = match self.open(&prefix, DIR_FLAGS) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    let name = OsStr::from_bytes(&rel.0[depth - 1]);
                    match mkdirat(Some(cur.as_raw_fd()), name, Mode::from_bits_truncate(0o755)) {
                        Ok(()) => {}
                        // ENOENT on the whole prefix but the name exists: a dangling symlink.
                        Err(Errno::EEXIST) => {
                            let e = Error::new(format!(
                                "cannot create directory {:?}: a dangling symlink is in the way",
                                prefix.path()
                            ));
                            return Err(e.with_path(&prefix.path()).with_errno(Errno::EEXIST));
                        }
                        Err(e) => return Err(dir_error(&prefix, e)),
                    }
                    let fd = self
                        .open(&prefix, DIR_FLAGS)
                        .map_err(|e| dir_error(&prefix, e))?;
                    // umask must not decide the mode of a directory the tar never described.
                    fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(0o755))
                        .map_err(|e| dir_error(&prefix, e))?;
                    fd
                }
                Err(e) => return Err(dir_error(&prefix, e)),
            };
        }
        Ok(cur)
    }
}

fn dir_error(rel: &Rel, e: Errno) -> Error {
    let path = rel.path();
    let op = format!("cannot open directory {path:?}");
    match e {
        Errno::ENOTDIR => Error::because(op, Some(&path), "not a directory").with_errno(e),
        e => Error::sys(op, Some(&path), e),
    }
}

/// `/proc/self/fd/N[/name]`: a path naming what `fd` (or `name` inside it) is, for the calls that
/// only take paths (lsetxattr, linkat of an O_PATH descriptor).
pub fn proc_path(fd: RawFd, name: Option<&OsStr>) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{fd}"));
    if let Some(name) = name {
        p.push(name);
    }
    p
}
