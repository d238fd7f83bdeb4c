//! Walks of directory trees of any depth with a bounded number of open descriptors, and the
//! removal of a tree built on them. A walk holds one directory open, descends with `openat`
//! from it and climbs back through `..`, checked to be the directory it came from: a tree
//! thousands of levels deep needs no descriptor per level (EMFILE) and no stack per level.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

/// How every directory of a walk is opened: never through a symlink.
pub const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// A failure of the walk itself (reading a directory, climbing back), with the path below
/// the top where it happened.
#[derive(Debug)]
pub struct WalkError {
    pub what: &'static str,
    pub rel: PathBuf,
    pub errno: Errno,
}

impl From<WalkError> for Errno {
    fn from(e: WalkError) -> Errno {
        e.errno
    }
}

/// What a walk does with each entry.
pub trait Visitor {
    type Error: From<WalkError>;
    /// `name` in the open directory `dir`; `rel` is its path below the top. Returns the
    /// directory to walk into, opened by the visitor (with `DIR_FLAGS` or from a descriptor it
    /// checked), or None to go on with the next entry.
    fn entry(&mut self, dir: &Dir, name: &OsStr, rel: &Path) -> Result<Option<Dir>, Self::Error>;
    /// Every entry of the directory `name` was visited; `parent` is open again.
    fn leave(&mut self, parent: &Dir, name: &OsStr, rel: &Path) -> Result<(), Self::Error>;
}

/// One directory on the way down: its name in its parent, its identity (to check the climb
/// back), and the names still to visit.
struct Frame {
    name: OsString,
    id: (u64, u64),
    pending: std::vec::IntoIter<OsString>,
}

impl Frame {
    fn read(dir: &mut Dir, name: OsString, rel: &Path) -> Result<Frame, WalkError> {
        let fail = |what, errno| WalkError {
            what,
            rel: rel.to_path_buf(),
            errno,
        };
        let st = fstat(dir.as_raw_fd()).map_err(|e| fail("cannot stat directory", e))?;
        // Read whole before any visit: removing entries while reading may skip some.
        let mut names = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(|e| fail("cannot read directory", e))?;
            let n = entry.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(OsStr::from_bytes(n).to_os_string());
            }
        }
        names.sort();
        Ok(Frame {
            name,
            id: (st.st_dev, st.st_ino),
            pending: names.into_iter(),
        })
    }
}

/// Visit everything below the open directory `top`, depth first, in name order.
pub fn walk<V: Visitor>(mut top: Dir, v: &mut V) -> Result<(), V::Error> {
    let mut rel = PathBuf::new();
    let mut frames = vec![Frame::read(&mut top, OsString::new(), &rel)?];
    let mut cur = top;
    while let Some(frame) = frames.last_mut() {
        if let Some(name) = frame.pending.next() {
            rel.push(&name);
            match v.entry(&cur, &name, &rel)? {
                Some(mut child) => {
                    frames.push(Frame::read(&mut child, name, &rel)?);
                    cur = child;
                }
                None => {
                    rel.pop();
                }
            }
            continue;
        }
        let Some(done) = frames.pop() else { break };
        let Some(parent) = frames.last() else { break };
        cur = climb(&cur, parent.id).map_err(|errno| WalkError {
            what: "cannot climb back from directory",
            rel: rel.clone(),
            errno,
        })?;
        v.leave(&cur, &done.name, &rel)?;
        rel.pop();
    }
    Ok(())
}

/// `..` of `dir`, refused (ESTALE) unless it is still the directory the walk came from: a
/// directory moved meanwhile must not lead the walk anywhere else.
fn climb(dir: &Dir, parent: (u64, u64)) -> nix::Result<Dir> {
    let up = Dir::openat(Some(dir.as_raw_fd()), "..", DIR_FLAGS, Mode::empty())?;
    let st = fstat(up.as_raw_fd())?;
    if (st.st_dev, st.st_ino) != parent {
        return Err(Errno::ESTALE);
    }
    Ok(up)
}

/// The file type of `name` in `dir` without following a symlink; None when absent.
pub fn kind_at(dir: &impl AsRawFd, name: &OsStr) -> nix::Result<Option<SFlag>> {
    match fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(SFlag::from_bits_truncate(
            st.st_mode & SFlag::S_IFMT.bits(),
        ))),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

struct Remover;

impl Visitor for Remover {
    type Error = Errno;

    /// Unlink first and open only what turns out to be a directory: one syscall per file, no
    /// stat. An entry gone meanwhile (another remover) is removed already.
    fn entry(&mut self, dir: &Dir, name: &OsStr, _: &Path) -> nix::Result<Option<Dir>> {
        match unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(None),
            Err(Errno::EISDIR) => {
                match Dir::openat(Some(dir.as_raw_fd()), name, DIR_FLAGS, Mode::empty()) {
                    Ok(d) => Ok(Some(d)),
                    Err(Errno::ENOENT) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn leave(&mut self, parent: &Dir, name: &OsStr, _: &Path) -> nix::Result<()> {
        match unlinkat(Some(parent.as_raw_fd()), name, UnlinkatFlags::RemoveDir) {
            Err(Errno::ENOENT) => Ok(()),
            other => other,
        }
    }
}

/// Remove `name` from `parent` whatever it is, directories of any depth included; never
/// follows a symlink. Missing is fine.
pub fn remove_at(parent: &impl AsRawFd, name: &OsStr) -> nix::Result<()> {
    let p = parent.as_raw_fd();
    match kind_at(parent, name)? {
        None => Ok(()),
        Some(SFlag::S_IFDIR) => {
            let dir = match Dir::openat(Some(p), name, DIR_FLAGS, Mode::empty()) {
                Ok(dir) => dir,
                Err(Errno::ENOENT) => return Ok(()),
                Err(e) => return Err(e),
            };
            walk(dir, &mut Remover)?;
            match unlinkat(Some(p), name, UnlinkatFlags::RemoveDir) {
                Err(Errno::ENOENT) => Ok(()),
                other => other,
            }
        }
        Some(_) => unlinkat(Some(p), name, UnlinkatFlags::NoRemoveDir),
    }
}

/// Remove `path` whatever it is (a symlink at the end is removed, not followed); missing is
/// fine. The parent directories are the caller's own, so `path` up to its parent is
/// followed as given.
pub fn remove_all(path: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::from(Errno::EINVAL));
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let dir = match Dir::open(parent, flags, Mode::empty()) {
        Ok(d) => d,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    // Entries that vanish during the walk are handled inside it; an error here is real.
    remove_at(&dir, name).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cove-tree-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A chain of `depth` directories `d/d/d...` below `top`, made without long paths.
    fn deep_chain(top: &Path, depth: usize) {
        let mut cur = Dir::open(top, DIR_FLAGS, Mode::empty()).unwrap();
        for i in 0..depth {
            nix::sys::stat::mkdirat(Some(cur.as_raw_fd()), "d", Mode::from_bits_truncate(0o755))
                .unwrap();
            if i % 100 == 0 {
                let f = nix::fcntl::openat(
                    Some(cur.as_raw_fd()),
                    "f",
                    OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o644),
                )
                .unwrap();
                nix::unistd::close(f).unwrap();
            }
            cur = Dir::openat(Some(cur.as_raw_fd()), "d", DIR_FLAGS, Mode::empty()).unwrap();
        }
    }

    #[test]
    fn removes_a_tree_deeper_than_the_descriptor_limit() {
        let dir = scratch("deep");
        let top = dir.join("top");
        std::fs::create_dir(&top).unwrap();
        deep_chain(&top, 3000);
        remove_all(&top).unwrap();
        assert!(!top.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn symlinks_are_removed_not_followed() {
        let dir = scratch("links");
        let outside = dir.join("outside");
        std::fs::create_dir_all(outside.join("keep")).unwrap();
        std::fs::write(outside.join("keep/file"), "x").unwrap();
        let top = dir.join("top");
        std::fs::create_dir_all(top.join("a/b")).unwrap();
        symlink(&outside, top.join("a/b/link")).unwrap();
        symlink(&outside, top.join("toplink")).unwrap();
        remove_all(&top.join("toplink")).unwrap();
        remove_all(&top).unwrap();
        assert!(!top.exists());
        assert!(outside.join("keep/file").exists());
        remove_all(&dir.join("missing")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    struct Names(Vec<String>);

    impl Visitor for Names {
        type Error = Errno;
        fn entry(&mut self, dir: &Dir, name: &OsStr, rel: &Path) -> nix::Result<Option<Dir>> {
            self.0.push(rel.display().to_string());
            match kind_at(dir, name)? {
                Some(SFlag::S_IFDIR) => {
                    Dir::openat(Some(dir.as_raw_fd()), name, DIR_FLAGS, Mode::empty()).map(Some)
                }
                _ => Ok(None),
            }
        }
        fn leave(&mut self, _: &Dir, _: &OsStr, rel: &Path) -> nix::Result<()> {
            self.0.push(format!("{}/ done", rel.display()));
            Ok(())
        }
    }

    #[test]
    fn walks_depth_first_in_name_order() {
        let dir = scratch("order");
        std::fs::create_dir_all(dir.join("b/c")).unwrap();
        std::fs::write(dir.join("a"), "").unwrap();
        std::fs::write(dir.join("b/c/x"), "").unwrap();
        std::fs::write(dir.join("b/z"), "").unwrap();
        let mut v = Names(Vec::new());
        walk(Dir::open(&dir, DIR_FLAGS, Mode::empty()).unwrap(), &mut v).unwrap();
        assert_eq!(
            v.0,
            ["a", "b", "b/c", "b/c/x", "b/c/ done", "b/z", "b/ done"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
