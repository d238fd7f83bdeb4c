//! Reading and writing inside a container's root file system from the host side (`cp`,
//! `export`): every path is resolved with the root as "/" (openat2 RESOLVE_IN_ROOT), and
//! every walk below it opens one name at a time without following symlinks, so a symlink in
//! the container can never lead a copy out to the host's files.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use super::archive::{write_tar, Options, Report};
use super::at::{proc_path, Root};
use super::path::Rel;
use super::unpack::{unpack_at, Owners, Policy};
use super::{sys, Error};

/// An open container root. `path` may be a magic link such as `/proc/PID/root`.
pub struct ContainerRoot {
    fd: OwnedFd,
}

/// What a path inside the root is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Missing,
    Dir,
    Other,
}

impl ContainerRoot {
    pub fn open(path: &Path) -> Result<ContainerRoot, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let fd: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_DIRECTORY)
            .open(path)
            .map_err(|e| {
                let op = format!("cannot open the container's root {}", path.display());
                Error::io(op, Some(path), &e)
            })?
            .into();
        Ok(ContainerRoot { fd })
    }

    fn resolve(&self, path: &str, flags: OFlag) -> Result<Option<OwnedFd>, Error> {
        let rel = Rel::parse(path.as_bytes())
            .ok_or_else(|| Error::new(format!("invalid path in the container: {path}")))?;
        match sys::openat2_in_root(self.fd.as_raw_fd(), rel.path().as_os_str(), flags) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(Error::sys(path, Some(Path::new(path)), e)),
        }
    }

    /// The metadata of `path` itself (a final symlink not followed; those before it are,
    /// inside the root); None when it does not exist.
    pub fn lstat(&self, path: &str) -> Result<Option<nix::sys::stat::FileStat>, Error> {
        match self.resolve(path, OFlag::O_PATH | OFlag::O_NOFOLLOW)? {
            None => Ok(None),
            Some(fd) => nix::sys::stat::fstat(fd.as_raw_fd())
                .map(Some)
                .map_err(|e| Error::sys(path, Some(Path::new(path)), e)),
        }
    }

    /// Whether `path` exists in the container and is a directory (symlinks followed inside).
    pub fn kind(&self, path: &str) -> Result<Kind, Error> {
        Ok(match self.resolve(path, OFlag::O_PATH)? {
            None => Kind::Missing,
            Some(fd) => {
                let meta = std::fs::metadata(proc_path(fd.as_raw_fd(), None))
                    .map_err(|e| Error::io(path, Some(Path::new(path)), &e))?;
                if meta.is_dir() {
                    Kind::Dir
                } else {
                    Kind::Other
                }
            }
        })
    }

    /// What `path` names for copying it out, as an O_PATH descriptor: a symlink at the end is
    /// the symlink itself unless `follow` (`cp -L`) or the path ends in `/` (which names the
    /// directory the link leads to, as docker reads it). Resolved inside the root either way.
    fn source(&self, path: &str, follow: bool) -> Result<OwnedFd, Error> {
        let follow = follow || path.ends_with('/') || path.ends_with("/.");
        let flags = if follow {
            OFlag::O_PATH
        } else {
            OFlag::O_PATH | OFlag::O_NOFOLLOW
        };
        self.resolve(path, flags)?.ok_or_else(|| not_found(path))
    }

    /// Write `path` (a file or a whole tree, symlinks kept as links, devices and FIFOs as
    /// entries of their kind) to `out` as a tar whose top entry is called `name`.
    pub fn archive(
        &self,
        path: &str,
        follow: bool,
        name: &Path,
        out: &mut dyn Write,
    ) -> Result<Report, Error> {
        let fd = self.source(path, follow)?;
        let opts = Options {
            name,
            same_fs: false,
            host_ids: None,
        };
        write_tar(&fd, &opts, out).map_err(|e| e.within(format_args!("copying {path}")))
    }

    /// The whole root file system as a tar (`export`): top entry `.`, mounts left out.
    pub fn export(&self, out: &mut dyn Write) -> Result<Report, Error> {
        let fd = self.source("/", true)?;
        let opts = Options {
            name: Path::new("."),
            same_fs: true,
            host_ids: None,
        };
        write_tar(&fd, &opts, out).map_err(|e| e.within("exporting the container"))
    }

    /// Unpack a tar into the existing directory `dir` of the container (names are resolved
    /// inside the root; `..` and symlinks cannot lead out of it), as docker's `cp` does:
    /// nothing is replaced by something of another kind, and files get `owners`.
    pub fn extract(&self, dir: &str, tar: &mut dyn Read, owners: Owners) -> Result<(), Error> {
        let fd = self
            .resolve(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?
            .ok_or_else(|| not_found(dir))?;
        unpack_at(Root::from_fd(fd), tar, Policy::copy(owners))
            .map(|_| ())
            .map_err(|e| e.within(format_args!("copying into {dir}")))
    }
}

/// docker's words for a path that is not in the container (ENOENT, with the path kept).
fn not_found(path: &str) -> Error {
    Error::new(format!("Could not find the file {path} in container"))
        .with_path(Path::new(path))
        .with_errno(Errno::ENOENT)
}
