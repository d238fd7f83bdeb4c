//! Extraction of a tar (a layer into its empty directory, or `cp` into an existing one), entry
//! by entry, with every path resolved inside the destination. Never uses tar's own `unpack`: it
//! follows symlinks we must not follow.

mod policy;

pub use policy::{Kind, Owners, Policy};

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::renameat;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, makedev, mkdirat, mknodat, Mode, SFlag};
use nix::unistd::{linkat, symlinkat, UnlinkatFlags};
use tar::EntryType;

use super::at::{proc_path, Root};
use super::entry::{Meta, Report, Target};
use super::path::{whiteout, Rel, Whiteout};
use super::{sys, Error};
use crate::fsutil::fsetxattr;
use crate::fsutil::tree::{kind_at, remove_at};

/// Unpack `tar` into the existing empty directory `dest`. `opaque_xattr` is the name overlayfs
/// reads for opaque directories. Errors name the entry but not the layer (the caller adds it).
pub fn unpack_tree(dest: &Path, tar: &mut dyn Read, opaque_xattr: &str) -> Result<Report, Error> {
    let root = Root::open_path(dest)
        .map_err(|e| Error::sys(format!("cannot open {}", dest.display()), Some(dest), e))?;
    unpack_at(root, tar, Policy::layer(opaque_xattr))
}

/// Unpack `tar` into the directory already open as `root`, following `policy`.
pub fn unpack_at(root: Root, tar: &mut dyn Read, policy: Policy) -> Result<Report, Error> {
    let mut u = Unpacker {
        root,
        policy,
        report: Report::default(),
        dirs: Vec::new(),
    };
    let mut archive = tar::Archive::new(tar);
    let entries = archive.entries().map_err(read_error)?;
    for entry in entries {
        let mut entry = entry.map_err(read_error)?;
        u.entry(&mut entry)?;
    }
    u.finish_dirs()?;
    Ok(u.report)
}

fn read_error(e: io::Error) -> Error {
    Error::io("reading layer tar", None, &e)
}

struct Unpacker<'a> {
    root: Root,
    policy: Policy<'a>,
    report: Report,
    /// Directory modes and times wait until the end: adding children changes the times, and a
    /// read-only mode would stop an unprivileged unpack from adding them.
    dirs: Vec<(Rel, Meta)>,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), Error> {
        let raw = entry.path_bytes().into_owned();
        let rel = Rel::parse(&raw).ok_or_else(|| {
            Error::new(format!(
                "entry {:?} escapes the layer",
                String::from_utf8_lossy(&raw)
            ))
        })?;
        let path = rel.path();
        let display = path.to_string_lossy().into_owned();
        let fail = |e: io::Error| Error::io(format!("entry {display:?}"), Some(&path), &e);
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
            || kind.is_gnu_longlink()
        {
            return Ok(());
        }
        let mut meta = Meta::read(entry).map_err(fail)?;
        if let Owners::Fixed(uid, gid) = self.policy.owners {
            (meta.uid, meta.gid) = (uid.into(), gid.into());
        }
        let Some((parent_rel, name)) = rel.split_last() else {
            if !self.policy.is_layer() {
                // docker's untar leaves the destination directory as it is.
                return Ok(());
            }
            return self
                .root_entry(kind, rel.clone(), meta, &display)
                .map_err(fail);
        };
        if let Kind::Layer { opaque_xattr } = self.policy.kind {
            if let Some(w) = whiteout(name) {
                return self.whiteout(&parent_rel, w, &path, opaque_xattr);
            }
        }
        let parent = self
            .root
            .open_dir(&parent_rel)
            .map_err(|e| e.within(format_args!("entry {display:?}")))?;
        let p = parent.as_raw_fd();
        let done = match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(p, name, entry, &meta, &display)
            }
            EntryType::Directory => self.dir(p, name, &rel, meta, &display),
            EntryType::Symlink => self.symlink(p, name, entry, &meta, &display),
            EntryType::Link => return self.hardlink(p, name, entry, &path),
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.node(p, name, kind, entry, &meta, &display)
            }
            other => {
                let what = format!(
                    "{display}: unsupported entry type {:?}",
                    other.as_byte() as char
                );
                self.report.skipped.push(what);
                Ok(())
            }
        };
        done.map_err(fail)
    }

    /// `./` itself: the layer's top directory takes the entry's owner, mode and times.
    fn root_entry(
        &mut self,
        kind: EntryType,
        rel: Rel,
        meta: Meta,
        display: &str,
    ) -> io::Result<()> {
        if kind != EntryType::Directory {
            self.report
                .skipped
                .push(format!("{display}: not a directory at the layer root"));
            return Ok(());
        }
        let fd = self.root.open(&rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        let t = Target::Fd(fd.as_raw_fd());
        self.own(&meta, t)?;
        meta.apply_xattrs(t, display, &mut self.report)?;
        self.dirs.push((rel, meta));
        Ok(())
    }

    fn whiteout(
        &mut self,
        parent_rel: &Rel,
        w: Whiteout,
        path: &Path,
        opaque_xattr: &str,
    ) -> Result<(), Error> {
        let display = path.to_string_lossy();
        let fail =
            |what: &str, e: Errno| Error::sys(format!("entry {display:?}: {what}"), Some(path), e);
        match w {
            Whiteout::Meta => Ok(()),
            Whiteout::Bad => Err(Error::new(format!("entry {display:?} escapes the layer"))),
            Whiteout::Opaque => {
                let dir = self
                    .root
                    .open_dir(parent_rel)
                    .map_err(|e| e.within(format_args!("entry {display:?}")))?;
                fsetxattr(dir.as_raw_fd(), opaque_xattr, b"y")
                    .map_err(|e| fail(&format!("cannot set {opaque_xattr}"), e))
            }
            Whiteout::Hide(name) => {
                let dir = self
                    .root
                    .open_dir(parent_rel)
                    .map_err(|e| e.within(format_args!("entry {display:?}")))?;
                let p = dir.as_raw_fd();
                remove_at(&p, name).map_err(|e| fail("cannot remove the hidden entry", e))?;
                // overlayfs's whiteout: a 0:0 character device (allowed in user namespaces too).
                mknodat(Some(p), name, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
                    .map_err(|e| fail("cannot create whiteout", e))
            }
        }
    }

    /// Make room for a new `name`: anything there goes, except a directory when one is wanted.
    /// Returns whether a directory was kept.
    fn replace(&mut self, p: RawFd, name: &OsStr, keep_dir: bool) -> io::Result<bool> {
        let found = self.may_replace(p, name, keep_dir)?;
        match found {
            None => Ok(false),
            Some(SFlag::S_IFDIR) if keep_dir => Ok(true),
            Some(_) => {
                remove_at(&p, name)?;
                Ok(false)
            }
        }
    }

    /// What is at `name` now, refused when a copy may not replace it: a copy replaces no
    /// directory by a non-directory and no non-directory by a directory, as docker's untar.
    fn may_replace(&self, p: RawFd, name: &OsStr, keep_dir: bool) -> io::Result<Option<SFlag>> {
        let found = kind_at(&p, name)?;
        if !self.policy.is_layer() {
            match found {
                Some(SFlag::S_IFDIR) if !keep_dir => {
                    return Err(io::Error::other(
                        "cannot overwrite a directory with a non-directory",
                    ))
                }
                Some(k) if k != SFlag::S_IFDIR && keep_dir => {
                    return Err(io::Error::other(
                        "cannot overwrite a non-directory with a directory",
                    ))
                }
                _ => {}
            }
        }
        Ok(found)
    }

    /// Set the owner unless the policy leaves owners alone.
    fn own(&mut self, meta: &Meta, t: Target) -> io::Result<()> {
        match self.policy.owners {
            Owners::Unchanged => Ok(()),
            Owners::FromTar | Owners::Fixed(..) => meta.apply_owner(t, &mut self.report),
        }
    }

    fn file<R: Read>(
        &mut self,
        p: RawFd,
        name: &OsStr,
        entry: &mut tar::Entry<R>,
        meta: &Meta,
        display: &str,
    ) -> io::Result<()> {
        // A copy into a container writes beside the file it replaces and renames over it, so
        // a full disk or a cut stream leaves the old file as it was. A layer is unpacked into
        // its own staging dir: there is nothing there to keep.
        let temp = if self.policy.is_layer() {
            self.replace(p, name, false)?;
            None
        } else {
            self.may_replace(p, name, false)?;
            Some(temp_name())
        };
        let created = temp.as_deref().unwrap_or(name);
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
        let mut file = File::from(sys::openat(
            p,
            created,
            flags,
            Mode::from_bits_truncate(0o600),
        )?);
        let written = (|| {
            let want = entry.size();
            let got = io::copy(entry, &mut file)?;
            // The tar reader ends a file quietly where the stream ends: a cut stream is no
            // complete file.
            if got < want {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the archive ends after {got} of its {want} bytes"),
                ));
            }
            self.report.size += got;
            let t = Target::Fd(file.as_raw_fd());
            self.own(meta, t)?;
            meta.apply_mode(t)?;
            // After chown and the data: either would clear security.capability.
            meta.apply_xattrs(t, display, &mut self.report)?;
            meta.apply_times(t)?;
            match &temp {
                Some(temp) => Ok(renameat(Some(p), temp.as_os_str(), Some(p), name)?),
                None => Ok(()),
            }
        })();
        if written.is_err() {
            // A stream cut short (or a full disk) leaves no truncated file behind.
            let _ = nix::unistd::unlinkat(Some(p), created, UnlinkatFlags::NoRemoveDir);
        }
        written
    }

    fn dir(
        &mut self,
        p: RawFd,
        name: &OsStr,
        rel: &Rel,
        meta: Meta,
        display: &str,
    ) -> io::Result<()> {
        if !self.replace(p, name, true)? {
            mkdirat(Some(p), name, Mode::from_bits_truncate(0o700))?;
        }
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
        let fd = sys::openat(p, name, flags, Mode::empty())?;
        let t = Target::Fd(fd.as_raw_fd());
        self.own(&meta, t)?;
        meta.apply_xattrs(t, display, &mut self.report)?;
        self.dirs.push((rel.clone(), meta));
        Ok(())
    }

    /// The target is data: stored as written, never followed while unpacking.
    fn symlink<R: Read>(
        &mut self,
        p: RawFd,
        name: &OsStr,
        entry: &mut tar::Entry<R>,
        meta: &Meta,
        display: &str,
    ) -> io::Result<()> {
        let target = link_name(entry)?;
        self.replace(p, name, false)?;
        symlinkat(OsStr::from_bytes(&target), Some(p), name)?;
        let t = Target::At(p, name);
        self.own(meta, t)?;
        meta.apply_xattrs(t, display, &mut self.report)?;
        meta.apply_times(t)
    }

    /// A hard link shares the inode (and so the metadata) of its target, which must already be
    /// in this layer. The target is opened inside the layer and linked by descriptor, so neither
    /// `..` nor a symlink on its path can reach a file outside.
    fn hardlink<R: Read>(
        &mut self,
        p: RawFd,
        name: &OsStr,
        entry: &mut tar::Entry<R>,
        path: &Path,
    ) -> Result<(), Error> {
        let display = path.to_string_lossy();
        let fail = |e: io::Error| Error::io(format!("entry {display:?}"), Some(path), &e);
        let raw = link_name(entry).map_err(fail)?;
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let target = Rel::parse(&raw).filter(|t| !t.is_root()).ok_or_else(|| {
            Error::new(format!(
                "entry {display:?}: hard link target {shown:?} escapes the layer"
            ))
            .with_path(path)
        })?;
        let src = match self.root.open(&target, OFlag::O_PATH | OFlag::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(e @ (Errno::ENOENT | Errno::ENOTDIR)) => {
                let msg =
                    format!("entry {display:?}: hard link target {shown:?} is not in this layer");
                return Err(Error::new(msg).with_path(path).with_errno(e));
            }
            Err(e) => return Err(fail(e.into())),
        };
        let st = fstat(src.as_raw_fd()).map_err(|e| fail(e.into()))?;
        if let Ok(here) = fstatat(Some(p), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            if (here.st_dev, here.st_ino) == (st.st_dev, st.st_ino) {
                return Ok(());
            }
        }
        if st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits() {
            let msg = format!("entry {display:?}: hard link target {shown:?} is a directory");
            return Err(Error::new(msg).with_path(path));
        }
        self.replace(p, name, false).map_err(fail)?;
        let from = proc_path(src.as_raw_fd(), None);
        linkat(
            None,
            from.as_path(),
            Some(p),
            Path::new(name),
            AtFlags::AT_SYMLINK_FOLLOW,
        )
        .map_err(|e| {
            Error::sys(
                format!("entry {display:?}: cannot link to {shown:?}"),
                Some(path),
                e,
            )
        })
    }

    fn node<R: Read>(
        &mut self,
        p: RawFd,
        name: &OsStr,
        kind: EntryType,
        entry: &mut tar::Entry<R>,
        meta: &Meta,
        display: &str,
    ) -> io::Result<()> {
        let header = entry.header();
        // A FIFO has no device numbers; some writers leave the fields blank.
        let dev = if kind == EntryType::Fifo {
            makedev(0, 0)
        } else {
            makedev(
                header.device_major()?.unwrap_or(0).into(),
                header.device_minor()?.unwrap_or(0).into(),
            )
        };
        let (sflag, what) = match kind {
            EntryType::Char => (SFlag::S_IFCHR, "device node"),
            EntryType::Block => (SFlag::S_IFBLK, "device node"),
            _ => (SFlag::S_IFIFO, "fifo"),
        };
        self.replace(p, name, false)?;
        match mknodat(
            Some(p),
            name,
            sflag,
            Mode::from_bits_truncate(meta.mode),
            dev,
        ) {
            Ok(()) => {}
            // Rootless: only whiteout devices may be created in a user namespace.
            Err(Errno::EPERM) if self.policy.is_layer() => {
                self.report.skipped.push(format!("{display}: {what}"));
                return Ok(());
            }
            Err(Errno::EPERM) => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("cannot create a {what}: Operation not permitted (only real root can)"),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        let t = Target::At(p, name);
        self.own(meta, t)?;
        meta.apply_mode(t)?;
        meta.apply_xattrs(t, display, &mut self.report)?;
        meta.apply_times(t)
    }

    fn finish_dirs(&mut self) -> Result<(), Error> {
        for (rel, meta) in &self.dirs {
            let path = rel.path();
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW;
            let fd = match self.root.open(rel, flags) {
                Ok(fd) => fd,
                // Replaced or whited out by a later entry.
                Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => continue,
                Err(e) => return Err(Error::sys(format!("entry {path:?}"), Some(&path), e)),
            };
            let t = Target::Fd(fd.as_raw_fd());
            meta.apply_mode(t)
                .and_then(|()| meta.apply_times(t))
                .map_err(|e| Error::io(format!("entry {path:?}"), Some(&path), &e))?;
        }
        Ok(())
    }
}

/// A name for a copy's file until it is complete: hidden, and this process's own.
fn temp_name() -> std::ffi::OsString {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(".cove-tmp-{}-{n}", std::process::id()).into()
}

fn link_name<R: Read>(entry: &tar::Entry<R>) -> io::Result<Vec<u8>> {
    match entry.link_name_bytes() {
        Some(name) if !name.is_empty() => Ok(name.into_owned()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "link without a target",
        )),
    }
}

#[cfg(test)]
mod tests;
