//! A container's overlay upper directory written as an image layer tar (for commit): overlay
//! whiteouts (0/0 character devices) become `.wh.NAME` entries, opaque directories get a
//! `DIR/.wh..wh..opq` entry, hard links stay links, extended attributes (but overlayfs' own)
//! go in PAX records, and the paths cove mounts over are left out.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};
use tar::{EntryType, Header};

use super::archive::{append_node, is_dir, reopen_dir, sys_error, Report};
use super::at::proc_path;
use super::{sys, Error};
use crate::fsutil::tree::{self, Visitor};
use crate::fsutil::{lgetxattr, llistxattr};

/// How the upper directory is read.
pub struct DiffOptions<'a> {
    /// Rootless overlayfs keeps its marks in `user.overlay.*`, root's in `trusted.overlay.*`.
    pub userxattr: bool,
    /// Paths below the top (no leading `/`) left out with everything below them.
    pub skip: &'a [PathBuf],
    /// Leave out what is on another file system than the top (a merged root's mounts).
    pub one_fs: bool,
}

/// What the layer holds.
#[derive(Debug, Default)]
pub struct DiffReport {
    /// Entries written (0: the container changed nothing).
    pub entries: u64,
    /// What a tar cannot hold (sockets).
    pub skipped: Vec<String>,
}

/// Write the tree below `upper` (not the directory itself) as a layer tar on `out`.
pub fn write_diff_tar(
    upper: &Path,
    opts: &DiffOptions,
    out: &mut dyn Write,
) -> Result<DiffReport, Error> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let top =
        Dir::open(upper, flags, Mode::empty()).map_err(|e| sys_error("cannot open", upper, e))?;
    let dev = fstat(top.as_raw_fd())
        .map_err(|e| sys_error("cannot stat", upper, e))?
        .st_dev;
    let mut w = DiffWriter {
        b: tar::Builder::new(out),
        opts,
        dev,
        links: HashMap::new(),
        report: Report::default(),
        entries: 0,
    };
    tree::walk(top, &mut w)?;
    w.b.finish()
        .map_err(|e| Error::io("writing the layer", None, &e))?;
    Ok(DiffReport {
        entries: w.entries,
        skipped: w.report.skipped,
    })
}

struct DiffWriter<'a, 'o> {
    b: tar::Builder<&'o mut dyn Write>,
    opts: &'a DiffOptions<'a>,
    /// The top's file system, for `one_fs`.
    dev: u64,
    /// (dev, inode) of files with more than one name -> the first name written.
    links: HashMap<(u64, u64), PathBuf>,
    report: Report,
    entries: u64,
}

impl Visitor for DiffWriter<'_, '_> {
    type Error = Error;

    fn entry(&mut self, dir: &Dir, name: &OsStr, rel: &Path) -> Result<Option<Dir>, Error> {
        if self.opts.skip.iter().any(|s| s == rel) {
            return Ok(None);
        }
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW;
        let fd = match sys::openat(dir.as_raw_fd(), name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(sys_error("cannot open", rel, e)),
        };
        let st = fstat(fd.as_raw_fd()).map_err(|e| sys_error("cannot stat", rel, e))?;
        if self.opts.one_fs && st.st_dev != self.dev {
            return Ok(None);
        }
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        self.entries += 1;
        if kind == SFlag::S_IFCHR && st.st_rdev == 0 {
            let hidden = rel.with_file_name(wh_name(name));
            return self.marker(&hidden, &st).map(|()| None);
        }
        let xattrs = self.xattrs(&proc_path(dir.as_raw_fd(), Some(name)), rel)?;
        if kind == SFlag::S_IFREG && st.st_nlink > 1 {
            if let Some(first) = self.links.get(&(st.st_dev, st.st_ino)) {
                let first = first.clone();
                return self.hard_link(rel, &first, &st).map(|()| None);
            }
            self.links.insert((st.st_dev, st.st_ino), rel.to_path_buf());
        }
        if !xattrs.is_empty() {
            self.pax(&xattrs, rel)?;
        }
        append_node(&mut self.b, &fd, &st, rel, None, &mut self.report)?;
        if !is_dir(&st) {
            return Ok(None);
        }
        if opaque(
            &xattrs_raw(&proc_path(dir.as_raw_fd(), Some(name))),
            self.opts.userxattr,
        ) {
            self.marker(&rel.join(".wh..wh..opq"), &st)?;
        }
        reopen_dir(&fd, rel).map(Some)
    }

    fn leave(&mut self, _: &Dir, _: &OsStr, _: &Path) -> Result<(), Error> {
        Ok(())
    }
}

impl DiffWriter<'_, '_> {
    /// An empty regular file: a whiteout or an opaque marker.
    fn marker(&mut self, path: &Path, st: &FileStat) -> Result<(), Error> {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
        self.b
            .append_data(&mut h, path, io::empty())
            .map_err(|e| fail(path, &e))
    }

    fn hard_link(&mut self, path: &Path, target: &Path, st: &FileStat) -> Result<(), Error> {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Link);
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(st.st_uid.into());
        h.set_gid(st.st_gid.into());
        h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
        h.set_size(0);
        self.b
            .append_link(&mut h, path, target)
            .map_err(|e| fail(path, &e))
    }

    /// The entry's attributes worth keeping: all but overlayfs' bookkeeping.
    fn xattrs(&mut self, at: &Path, rel: &Path) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let names = llistxattr(at).map_err(|e| sys_error("cannot list attributes of", rel, e))?;
        let mut out = Vec::new();
        for name in names {
            if name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") {
                continue;
            }
            match lgetxattr(at, &name) {
                Ok(Some(value)) => out.push((name, value)),
                Ok(None) => {}
                Err(e) => {
                    let shown = rel.display();
                    self.report
                        .skipped
                        .push(format!("{shown}: xattr {name}: {}", e.desc()));
                }
            }
        }
        Ok(out)
    }

    /// A PAX header carrying `xattrs` for the entry that follows.
    fn pax(&mut self, xattrs: &[(String, Vec<u8>)], rel: &Path) -> Result<(), Error> {
        let mut data = Vec::new();
        for (name, value) in xattrs {
            data.extend(pax_record(&format!("SCHILY.xattr.{name}"), value));
        }
        let mut h = Header::new_ustar();
        h.set_entry_type(EntryType::XHeader);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_path("././@PaxHeader").map_err(|e| fail(rel, &e))?;
        h.set_cksum();
        self.b.append(&h, &data[..]).map_err(|e| fail(rel, &e))
    }
}

/// `.wh.NAME`
fn wh_name(name: &OsStr) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from(".wh.");
    s.push(name);
    s
}

/// The opaque mark of the overlay flavour in use, as kernel overlayfs sets it.
fn xattrs_raw(at: &Path) -> [Option<Vec<u8>>; 2] {
    [
        lgetxattr(at, "trusted.overlay.opaque").ok().flatten(),
        lgetxattr(at, "user.overlay.opaque").ok().flatten(),
    ]
}

fn opaque(values: &[Option<Vec<u8>>; 2], userxattr: bool) -> bool {
    let v = &values[usize::from(userxattr)];
    v.as_deref() == Some(b"y")
}

/// One PAX record: "LEN key=value\n", LEN counting the whole record including its own digits.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut rec = format!("{len} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

fn fail(path: &Path, e: &io::Error) -> Error {
    Error::io(format!("cannot archive {}", path.display()), Some(path), e)
}

/// `path` as bytes, for tests.
#[cfg(test)]
fn bytes(p: &Path) -> &[u8] {
    std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;

    #[test]
    fn pax_records_count_their_own_length() {
        let rec = pax_record("SCHILY.xattr.user.a", b"v");
        let text = String::from_utf8(rec.clone()).unwrap();
        let (len, _) = text.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), rec.len());
        let long = pax_record("k", &[b'x'; 95]);
        let text = String::from_utf8(long.clone()).unwrap();
        assert_eq!(
            text.split_once(' ').unwrap().0.parse::<usize>().unwrap(),
            long.len()
        );
    }

    /// Files, a hard link, a whiteout and an opaque dir come out as a layer says them (as root
    /// only: a 0/0 device and trusted.* attributes need it).
    #[test]
    fn upper_dirs_become_layers() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let tmp = super::super::testkit::TempDir::new("difftar");
        let up = tmp.path().join("upper");
        fs::create_dir_all(up.join("etc/opq")).unwrap();
        fs::create_dir_all(up.join("proc/1")).unwrap();
        fs::write(up.join("etc/new"), b"new").unwrap();
        fs::hard_link(up.join("etc/new"), up.join("etc/also")).unwrap();
        fs::write(up.join("etc/opq/kept"), b"k").unwrap();
        crate::fsutil::lsetxattr(&up.join("etc/opq"), "trusted.overlay.opaque", b"y").unwrap();
        crate::fsutil::lsetxattr(&up.join("etc/new"), "user.note", b"hi").unwrap();
        nix::sys::stat::mknod(
            &up.join("etc/gone"),
            SFlag::S_IFCHR,
            Mode::empty(),
            nix::sys::stat::makedev(0, 0),
        )
        .unwrap();
        let skip = [PathBuf::from("proc")];
        let opts = DiffOptions {
            userxattr: false,
            skip: &skip,
            one_fs: false,
        };
        let mut out = Vec::new();
        let report = write_diff_tar(&up, &opts, &mut out).unwrap();
        assert!(report.entries > 0);
        let mut ar = tar::Archive::new(&out[..]);
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = String::from_utf8_lossy(bytes(&e.path().unwrap())).into_owned();
            let kind = e.header().entry_type();
            let mut note = String::new();
            if let Some(pax) = e.pax_extensions().unwrap() {
                for p in pax {
                    let p = p.unwrap();
                    note = format!("{}={}", p.key().unwrap(), p.value().unwrap());
                }
            }
            let mut data = String::new();
            e.read_to_string(&mut data).unwrap();
            seen.push(format!("{name} {:?} {data}{note}", kind.as_byte() as char));
        }
        assert_eq!(
            seen,
            [
                "etc '5' ",
                "etc/also '0' newSCHILY.xattr.user.note=hi",
                "etc/.wh.gone '0' ",
                "etc/new '1' ",
                "etc/opq '5' ",
                "etc/opq/.wh..wh..opq '0' ",
                "etc/opq/kept '0' k",
            ],
            "{seen:?}"
        );
    }
}
