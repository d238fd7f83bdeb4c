//! Reading and writing inside a container's root file system from the host side (`cp`,
//! `export`): every path is resolved with the root as "/" (openat2 RESOLVE_IN_ROOT), so a
//! symlink in the container can never lead a copy out to the host's files.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use super::at::proc_path;
use super::path::Rel;
use super::{sys, Error};

/// An open container root. `path` may be a magic link such as `/proc/PID/root`.
pub struct ContainerRoot {
    fd: OwnedFd,
    dev: u64,
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
        let dev = std::fs::metadata(proc_path(fd.as_raw_fd(), None))
            .map(|m| m.dev())
            .map_err(|e| Error::io("cannot stat the container's root", Some(path), &e))?;
        Ok(ContainerRoot { fd, dev })
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

    /// Write `path` (a file or a whole tree, symlinks kept as links) to `out` as a tar whose
    /// top entry is called `name`. With `same_fs`, mount points below are left out (export).
    pub fn archive(
        &self,
        path: &str,
        name: &str,
        same_fs: bool,
        out: &mut dyn Write,
    ) -> Result<(), Error> {
        let fd = self
            .resolve(path, OFlag::O_PATH)?
            .ok_or_else(|| not_found(path))?;
        // Walk below the descriptor's own /proc/self/fd link: it names the object resolved in
        // the root (never the host path of the same name), and the walk follows no symlink.
        let base = proc_path(fd.as_raw_fd(), None);
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        let inside = Path::new(path);
        let meta = std::fs::metadata(&base).map_err(|e| Error::io(path, Some(inside), &e))?;
        let fail = |e: std::io::Error| Error::io(format!("archiving {path}"), Some(inside), &e);
        if !meta.is_dir() {
            // `base` is the descriptor's magic link: archive what it names, not the link.
            let file = self
                .resolve(path, OFlag::O_RDONLY)?
                .ok_or_else(|| not_found(path))?;
            let mut file = std::fs::File::from(file);
            let meta = file.metadata().map_err(fail)?;
            let mut header = tar::Header::new_gnu();
            header.set_metadata(&meta);
            header.set_size(meta.len());
            b.append_data(&mut header, name, &mut file).map_err(fail)?;
            return b.finish().map_err(fail);
        }
        let walk = walkdir::WalkDir::new(&base)
            .follow_links(false)
            .follow_root_links(true)
            .sort_by_file_name();
        for entry in walk.into_iter().filter_entry(|e| {
            !same_fs || e.metadata().map(|m| m.dev() == self.dev).unwrap_or(false)
        }) {
            let entry = entry.map_err(|e| {
                let err = Error::because(format!("archiving {path}"), Some(inside), &e);
                match e.io_error().and_then(std::io::Error::raw_os_error) {
                    Some(n) => err.with_errno(Errno::from_raw(n)),
                    None => err,
                }
            })?;
            let rel = entry.path().strip_prefix(&base).unwrap_or(entry.path());
            if rel.as_os_str().is_empty() {
                // The top is reached through the descriptor's magic link: describe the
                // directory it names, not the link.
                let mut header = tar::Header::new_gnu();
                header.set_metadata(&meta);
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                b.append_data(&mut header, name, std::io::empty())
                    .map_err(fail)?;
                continue;
            }
            b.append_path_with_name(entry.path(), Path::new(name).join(rel))
                .map_err(fail)?;
        }
        b.finish().map_err(fail)
    }

    /// Unpack a tar into the existing directory `dir` of the container (names are resolved
    /// inside the root; `..` and symlinks cannot lead out of it).
    pub fn extract(&self, dir: &str, tar: &mut dyn Read) -> Result<(), Error> {
        let fd = self
            .resolve(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?
            .ok_or_else(|| not_found(dir))?;
        super::unpack::unpack_at(super::at::Root::from_fd(fd), tar, "user.overlay.opaque")
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
