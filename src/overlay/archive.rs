//! A tree (or one file) written as a tar stream, for `cp` and `export`: any depth with a
//! bounded number of open descriptors, file data streamed through a small buffer, and only
//! regular files ever opened for reading. Symlinks, device nodes and FIFOs become entries of
//! their kind, never followed and never read (a FIFO would block, /dev/zero never end).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{readlinkat, OFlag};
use nix::sys::stat::{fstat, major, minor, FileStat, Mode, SFlag};
use tar::{EntryType, Header};

use super::at::proc_path;
use super::ids::HostIds;
use super::{sys, Error};
use crate::fsutil::tree::{self, Visitor, WalkError};

/// How a tree is written.
pub struct Options<'a> {
    /// The name of the top entry; what is below it is named `name/...`.
    pub name: &'a Path,
    /// Leave out what is on another file system than the top (export leaves mounts out).
    pub same_fs: bool,
    /// Write owners as the host numbers them (`cp -a` from the host); None writes them as
    /// this process sees them.
    pub host_ids: Option<&'a HostIds>,
}

/// What was left out of the archive.
#[derive(Debug, Default)]
pub struct Report {
    /// Entries tar cannot hold (sockets), as docker leaves them out: `name: socket`.
    pub skipped: Vec<String>,
}

/// Write `top` (an O_PATH descriptor of what to archive, of any kind) and, for a directory,
/// everything below it. Errors name paths relative to the top.
pub fn write_tar(top: &OwnedFd, opts: &Options, out: &mut dyn Write) -> Result<Report, Error> {
    let st = fstat(top.as_raw_fd()).map_err(|e| sys_error("cannot stat", opts.name, e))?;
    let mut w = Writer {
        b: tar::Builder::new(out),
        opts,
        dev: st.st_dev,
        report: Report::default(),
    };
    w.append(top, &st, opts.name)?;
    if is_dir(&st) {
        tree::walk(reopen_dir(top, opts.name)?, &mut w)?;
    }
    w.b.finish()
        .map_err(|e| Error::io("writing the archive", None, &e))?;
    Ok(w.report)
}

struct Writer<'a, 'o> {
    b: tar::Builder<&'o mut dyn Write>,
    opts: &'a Options<'a>,
    /// The top's file system, for `same_fs`.
    dev: u64,
    report: Report,
}

impl Visitor for Writer<'_, '_> {
    type Error = Error;

    fn entry(&mut self, dir: &Dir, name: &OsStr, rel: &Path) -> Result<Option<Dir>, Error> {
        let path = self.opts.name.join(rel);
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW;
        let fd = match sys::openat(dir.as_raw_fd(), name, flags, Mode::empty()) {
            Ok(fd) => fd,
            // Removed since the directory was read: nothing to copy.
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(sys_error("cannot open", &path, e)),
        };
        let st = fstat(fd.as_raw_fd()).map_err(|e| sys_error("cannot stat", &path, e))?;
        if self.opts.same_fs && st.st_dev != self.dev {
            return Ok(None);
        }
        self.append(&fd, &st, &path)?;
        if is_dir(&st) {
            return reopen_dir(&fd, &path).map(Some);
        }
        Ok(None)
    }

    fn leave(&mut self, _: &Dir, _: &OsStr, _: &Path) -> Result<(), Error> {
        Ok(())
    }
}

impl Writer<'_, '_> {
    fn append(&mut self, fd: &OwnedFd, st: &FileStat, path: &Path) -> Result<(), Error> {
        append_node(
            &mut self.b,
            fd,
            st,
            path,
            self.opts.host_ids,
            &mut self.report,
        )
    }
}

/// One entry for what `fd` (O_PATH) is, `st` its status, named `path` in the archive; owners
/// as the host numbers them when `host_ids` is given.
pub(super) fn append_node<W: Write>(
    b: &mut tar::Builder<W>,
    fd: &OwnedFd,
    st: &FileStat,
    path: &Path,
    host_ids: Option<&HostIds>,
    report: &mut Report,
) -> Result<(), Error> {
    let fail =
        |e: io::Error| Error::io(format!("cannot archive {}", path.display()), Some(path), &e);
    let mut h = Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    let (uid, gid) = match host_ids {
        Some(ids) => (ids.uids.to_host(st.st_uid), ids.gids.to_host(st.st_gid)),
        None => (st.st_uid.into(), st.st_gid.into()),
    };
    h.set_uid(uid);
    h.set_gid(gid);
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    // Zeros unless a device, as Go's archive/tar writes: readers parse them for any node.
    h.set_device_major(0).map_err(fail)?;
    h.set_device_minor(0).map_err(fail)?;
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    match kind {
        SFlag::S_IFREG => {
            let size = u64::try_from(st.st_size).unwrap_or(0);
            h.set_entry_type(EntryType::Regular);
            h.set_size(size);
            // Reopened through the descriptor: the very inode that was checked to be a
            // regular file, whatever has been renamed onto the name since.
            let file = File::open(proc_path(fd.as_raw_fd(), None)).map_err(fail)?;
            let data = Exact {
                inner: file,
                left: size,
            };
            b.append_data(&mut h, path, data).map_err(fail)
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(Some(fd.as_raw_fd()), "").map_err(|e| fail(e.into()))?;
            h.set_entry_type(EntryType::Symlink);
            b.append_link(&mut h, path, target).map_err(fail)
        }
        SFlag::S_IFDIR | SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK => {
            let t = match kind {
                SFlag::S_IFDIR => EntryType::Directory,
                SFlag::S_IFIFO => EntryType::Fifo,
                SFlag::S_IFCHR => EntryType::Char,
                _ => EntryType::Block,
            };
            h.set_entry_type(t);
            if matches!(t, EntryType::Char | EntryType::Block) {
                let num = |n: u64| u32::try_from(n).map_err(|_| io::Error::other("bad device"));
                h.set_device_major(num(major(st.st_rdev)).map_err(fail)?)
                    .map_err(fail)?;
                h.set_device_minor(num(minor(st.st_rdev)).map_err(fail)?)
                    .map_err(fail)?;
            }
            b.append_data(&mut h, path, io::empty()).map_err(fail)
        }
        _ => {
            // tar has no socket entry; docker leaves sockets out too.
            let shown = path.display();
            report.skipped.push(format!("{shown}: socket"));
            Ok(())
        }
    }
}

pub(super) fn sys_error(what: &str, path: &Path, e: Errno) -> Error {
    Error::sys(format!("{what} {}", path.display()), Some(path), e)
}

pub(super) fn is_dir(st: &FileStat) -> bool {
    st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits()
}

/// The directory `fd` (O_PATH) names, opened for reading its entries.
pub(super) fn reopen_dir(fd: &OwnedFd, path: &Path) -> Result<Dir, Error> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    Dir::open(&proc_path(fd.as_raw_fd(), None), flags, Mode::empty())
        .map_err(|e| sys_error("cannot open directory", path, e))
}

/// Exactly `left` bytes of a file whose size was put in the header: a file that grows is cut
/// there and one that shrinks is padded with zeros (as GNU tar does), so the archive stays
/// well formed whatever the container does meanwhile.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.left).map_or(buf.len(), |l| l.min(buf.len()));
        if want == 0 {
            return Ok(0);
        }
        let mut n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            buf[..want].fill(0);
            n = want;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl From<WalkError> for Error {
    fn from(e: WalkError) -> Error {
        let path = PathBuf::from(&e.rel);
        if e.errno == Errno::ESTALE {
            let op = format!("{}: it was moved meanwhile", path.display());
            return Error::new(op).with_path(&path).with_errno(e.errno);
        }
        Error::sys(
            format!("{} {}", e.what, path.display()),
            Some(&path),
            e.errno,
        )
    }
}
