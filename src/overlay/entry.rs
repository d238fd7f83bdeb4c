//! The metadata of one tar entry (mode, owner, times, xattrs, PAX overrides included) and how it
//! is applied to what was created for it.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fchmod, fchmodat, futimens, utimensat, FchmodatFlags, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, Gid, Uid};

use super::at::proc_path;
use crate::fsutil::{fsetxattr, lsetxattr};

/// What unpacking noticed but did not fail on; becomes part of `LayerInfo`.
#[derive(Debug, Default)]
pub struct Report {
    pub size: u64,
    pub skipped: Vec<String>,
    pub squashed_ids: bool,
}

#[derive(Debug, Clone)]
pub struct Meta {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub atime: TimeSpec,
    pub mtime: TimeSpec,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Where to apply metadata: an open descriptor, or a name in a directory for what cannot be
/// opened (symlinks, device nodes, fifos). `At` never follows a symlink at `name`.
#[derive(Clone, Copy)]
pub enum Target<'a> {
    Fd(RawFd),
    At(RawFd, &'a OsStr),
}

const XATTR_PREFIX: &str = "SCHILY.xattr.";

impl Meta {
    /// Read the header and the PAX records (which override the header's numbers when present).
    pub fn read<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<Meta> {
        let header = entry.header();
        let old = header.as_old();
        let mtime_secs = or_blank(header.mtime(), &old.mtime)?;
        let mut meta = Meta {
            mode: u32::try_from(or_blank(header.mode().map(u64::from), &old.mode)? & 0o7777)
                .unwrap_or(0),
            uid: or_blank(header.uid(), &old.uid)?,
            gid: or_blank(header.gid(), &old.gid)?,
            atime: TimeSpec::new(i64::try_from(mtime_secs).unwrap_or(i64::MAX), 0),
            mtime: TimeSpec::new(i64::try_from(mtime_secs).unwrap_or(i64::MAX), 0),
            xattrs: Vec::new(),
        };
        let mut atime = None;
        if let Some(pax) = entry.pax_extensions()? {
            for ext in pax {
                let ext = ext?;
                let Ok(key) = ext.key() else { continue };
                let value = ext.value().ok();
                match key {
                    "uid" => meta.uid = number(value)?,
                    "gid" => meta.gid = number(value)?,
                    "mtime" => meta.mtime = pax_time(value)?,
                    "atime" => atime = Some(pax_time(value)?),
                    _ => {
                        if let Some(name) = key.strip_prefix(XATTR_PREFIX) {
                            meta.xattrs
                                .push((name.to_string(), ext.value_bytes().to_vec()));
                        }
                    }
                }
            }
        }
        meta.atime = atime.unwrap_or(meta.mtime);
        // (uid_t)-1 means "leave unchanged" to chown, and larger values would wrap.
        if meta.uid >= u64::from(u32::MAX) || meta.gid >= u64::from(u32::MAX) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("owner {}:{} is out of range", meta.uid, meta.gid),
            ));
        }
        Ok(meta)
    }

    /// Set the owner. Call before `apply_mode`: chown clears setuid and setgid bits.
    pub fn apply_owner(&self, t: Target, report: &mut Report) -> io::Result<()> {
        // An owner beyond 32 bits cannot exist here: refused, not wrapped onto another id.
        let id = |v: u64| {
            u32::try_from(v).map_err(|_| io::Error::other(format!("owner id {v} is out of range")))
        };
        let uid = Some(Uid::from_raw(id(self.uid)?));
        let gid = Some(Gid::from_raw(id(self.gid)?));
        let owned = match t {
            Target::Fd(fd) => fchown(fd, uid, gid),
            Target::At(dir, name) => {
                fchownat(Some(dir), name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)
            }
        };
        match owned {
            Ok(()) => Ok(()),
            // EINVAL: the id has no mapping in our user namespace (single-ID rootless mapping).
            // EPERM: not privileged at all. Either way the file stays ours and the layer is usable.
            Err(Errno::EINVAL | Errno::EPERM) => {
                report.squashed_ids = true;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn apply_mode(&self, t: Target) -> io::Result<()> {
        let mode = Mode::from_bits_truncate(self.mode);
        match t {
            Target::Fd(fd) => fchmod(fd, mode)?,
            // Only used for nodes this unpack just created, so the name is not a symlink.
            Target::At(dir, name) => fchmodat(Some(dir), name, mode, FchmodatFlags::FollowSymlink)?,
        }
        Ok(())
    }

    /// Set the entry's xattrs. The overlayfs ones are refused (a layer must not forge opaque
    /// dirs or redirects); privileged namespaces or missing support only skip the attribute.
    pub fn apply_xattrs(&self, t: Target, display: &str, report: &mut Report) -> io::Result<()> {
        for (name, value) in &self.xattrs {
            if name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") {
                report.skipped.push(format!("{display}: xattr {name}"));
                continue;
            }
            let set = match t {
                Target::Fd(fd) => fsetxattr(fd, name, value),
                Target::At(dir, n) => lsetxattr(&proc_path(dir, Some(n)), name, value),
            };
            match set {
                Ok(()) => {}
                Err(e @ (Errno::ENOSPC | Errno::EDQUOT | Errno::EIO)) => return Err(e.into()),
                Err(e) => report
                    .skipped
                    .push(format!("{display}: xattr {name}: {}", e.desc())),
            }
        }
        Ok(())
    }

    pub fn apply_times(&self, t: Target) -> io::Result<()> {
        match t {
            Target::Fd(fd) => futimens(fd, &self.atime, &self.mtime)?,
            Target::At(dir, name) => utimensat(
                Some(dir),
                name,
                &self.atime,
                &self.mtime,
                UtimensatFlags::NoFollowSymlink,
            )?,
        }
        Ok(())
    }
}

/// Some writers leave numeric fields blank; like Go's archive/tar, read those as 0.
fn or_blank(parsed: io::Result<u64>, raw: &[u8]) -> io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        other => other,
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad PAX {what} record"))
}

fn number(value: Option<&str>) -> io::Result<u64> {
    value
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| bad("id"))
}

/// PAX times are decimal seconds with an optional fraction: "1700000000.123456789".
fn pax_time(value: Option<&str>) -> io::Result<TimeSpec> {
    let v = value.ok_or_else(|| bad("time"))?.trim();
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().map_err(|_| bad("time"))?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad("time"));
    }
    let nanos: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().map_err(|_| bad("time"))?
    };
    if secs < 0 && nanos > 0 {
        return Ok(TimeSpec::new(secs - 1, 1_000_000_000 - nanos));
    }
    Ok(TimeSpec::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_parse() {
        let t = pax_time(Some("1700000000.5")).unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (1_700_000_000, 500_000_000));
        let t = pax_time(Some("12")).unwrap();
        assert_eq!((t.tv_sec(), t.tv_nsec()), (12, 0));
        assert!(pax_time(Some("x.1")).is_err());
    }
}
