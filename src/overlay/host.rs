//! The host's side of `cp`: a host path written as a tar for a container, and a container's
//! tar unpacked into a host directory the way the docker client does it (files belong to the
//! caller, nothing replaced by something of another kind, names kept inside the directory).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::archive::{write_tar, Options, Report};
use super::at::Root;
use super::ids::HostIds;
use super::unpack::{unpack_at, Owners, Policy};
use super::{sys, Error};

/// Write the host's `src` as a tar with top entry `name`. A symlink at the end of `src` is
/// copied as a link unless `follow`; `host_ids` writes owners as the host numbers them.
pub fn archive_host(
    src: &Path,
    follow: bool,
    name: &Path,
    host_ids: Option<&HostIds>,
    out: &mut dyn Write,
) -> Result<Report, Error> {
    let flags = if follow {
        OFlag::O_PATH
    } else {
        OFlag::O_PATH | OFlag::O_NOFOLLOW
    };
    let fd: OwnedFd = sys::openat(nix::libc::AT_FDCWD, src.as_os_str(), flags, Mode::empty())
        .map_err(|e| Error::sys(format!("cannot open {}", src.display()), Some(src), e))?;
    let opts = Options {
        name,
        same_fs: false,
        host_ids,
    };
    write_tar(&fd, &opts, out).map_err(|e| e.within(format_args!("copying {}", src.display())))
}

/// Unpack a container's tar into the host directory `dir` (followed if it is a symlink: the
/// caller named it). Files are the caller's; a device node needs real root.
pub fn extract_host(dir: &Path, tar: &mut dyn Read) -> Result<(), Error> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
    let fd = sys::openat(nix::libc::AT_FDCWD, dir.as_os_str(), flags, Mode::empty())
        .map_err(|e| Error::sys(format!("cannot open {}", dir.display()), Some(dir), e))?;
    unpack_at(Root::from_fd(fd), tar, Policy::copy(Owners::Unchanged))
        .map(|_| ())
        .map_err(|e| e.within(format_args!("copying to {}", dir.display())))
}
