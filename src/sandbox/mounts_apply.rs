//! Applying the mount plan in the child, before pivot_root. Every target is resolved inside the
//! container's root with openat2(RESOLVE_IN_ROOT) and mounted through its /proc/self/fd link,
//! so an image whose /proc or /dev is a symlink to a host path cannot redirect a mount.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag};

use super::console::{self, ConsoleSocket};
use super::mounts::{MountOp, OnFail};
use super::spec::SpawnError;
use super::sys;

/// Apply `plan` on top of the root file system mounted at `root`. With `console`, the
/// terminal the plan puts on /dev/console is made then, from the container's own devpts.
pub fn apply(
    root: &Path,
    plan: &[MountOp],
    mut console: Option<ConsoleSocket>,
) -> Result<(), SpawnError> {
    let root_fd = sys::open_path(root, OFlag::O_PATH | OFlag::O_DIRECTORY).map_err(|e| {
        fail(
            format!("cannot open the root file system {}", root.display()),
            e,
        )
    })?;
    for op in plan {
        if matches!(op, MountOp::Console { .. }) {
            if let Some(socket) = console.take() {
                console::make_terminal(&root_fd, socket)?;
            }
        }
        apply_op(&root_fd, op)?;
    }
    Ok(())
}

fn fail(what: String, e: Errno) -> SpawnError {
    SpawnError::engine(format!("{what}: {}", e.desc().to_lowercase()))
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn rel(target: &str) -> &Path {
    let t = target.trim_start_matches('/');
    Path::new(if t.is_empty() { "." } else { t })
}

fn apply_op(root: &OwnedFd, op: &MountOp) -> Result<(), SpawnError> {
    match op {
        MountOp::Fs {
            fstype,
            target,
            flags,
            data,
            on_fail,
        } => {
            let t = match make_target(root, target, true) {
                Ok(t) => t,
                // An optional mount whose point cannot be made (a privileged container sees
                // the host's /dev, which may lack /dev/mqueue and is not ours to change).
                Err(_) if matches!(on_fail, OnFail::Skip) => return Ok(()),
                Err(e) => return Err(e),
            };
            let data = (!data.is_empty()).then_some(data.as_str());
            match nix::mount::mount(Some(*fstype), &fd_path(&t), Some(*fstype), *flags, data) {
                Ok(()) => Ok(()),
                Err(e) => match on_fail {
                    OnFail::Fail => Err(fail(format!("mounting {fstype} on {target}"), e)),
                    OnFail::Skip => Ok(()),
                    OnFail::Retry(next) => apply_op(root, next),
                },
            }
        }
        MountOp::Bind {
            source,
            target,
            recursive,
            read_only,
            optional,
        } => {
            let src = match sys::open_path(source, OFlag::O_PATH) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) if *optional => return Ok(()),
                Err(e) => return Err(fail(format!("bind source {}", source.display()), e)),
            };
            let is_dir = nix::sys::stat::fstat(src.as_raw_fd())
                .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
                .unwrap_or(false);
            bind(root, &src, target, is_dir, *recursive, *read_only).map_err(|e| {
                fail(
                    format!("error mounting {:?} to rootfs at {target:?}", source),
                    e,
                )
            })
        }
        MountOp::Console { target } => {
            // Opened again by its path, not through the fd: the fd's mount belongs to the
            // namespace the terminal was made in, and a bind from a mount outside our own
            // namespace fails with EINVAL. The path resolves in our copy of that mount.
            let name = std::fs::read_link("/proc/self/fd/0").map_err(|e| {
                fail(
                    "the terminal".to_string(),
                    Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                )
            })?;
            let src = sys::open_path(&name, OFlag::O_PATH)
                .map_err(|e| fail("the terminal".to_string(), e))?;
            bind(root, &src, target, false, false, false)
                .map_err(|e| fail(format!("mounting the terminal on {target}"), e))
        }
        MountOp::Symlink { link, to } => {
            let (parent, name) = split(link);
            let dir = make_target(root, parent, true)?;
            match nix::unistd::symlinkat(to.as_str(), Some(dir.as_raw_fd()), name) {
                Ok(()) | Err(Errno::EEXIST) => Ok(()),
                Err(e) => Err(fail(format!("creating symlink {link}"), e)),
            }
        }
        MountOp::Mask { target } => {
            let Some(t) = existing(root, target)? else {
                return Ok(());
            };
            let res = if is_dir_fd(&t) {
                let ro = MsFlags::MS_RDONLY
                    | MsFlags::MS_NOSUID
                    | MsFlags::MS_NODEV
                    | MsFlags::MS_NOEXEC;
                nix::mount::mount(
                    Some("tmpfs"),
                    &fd_path(&t),
                    Some("tmpfs"),
                    ro,
                    Some("size=0"),
                )
            } else {
                let flags = MsFlags::MS_BIND;
                nix::mount::mount(
                    Some("/dev/null"),
                    &fd_path(&t),
                    None::<&str>,
                    flags,
                    None::<&str>,
                )
            };
            res.map_err(|e| fail(format!("masking {target}"), e))
        }
        MountOp::ReadOnly { target } => {
            let Some(t) = existing(root, target)? else {
                return Ok(());
            };
            let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
            nix::mount::mount(
                Some(&fd_path(&t)),
                &fd_path(&t),
                None::<&str>,
                flags,
                None::<&str>,
            )
            .map_err(|e| fail(format!("making {target} read-only"), e))?;
            let top = open(root, target)?;
            sys::mount_set_readonly(&top, true)
                .map_err(|e| fail(format!("making {target} read-only"), e))
        }
        MountOp::RootReadOnly => sys::mount_set_readonly(root, false)
            .map_err(|e| fail("making the root file system read-only".to_string(), e)),
    }
}

fn bind(
    root: &OwnedFd,
    src: &OwnedFd,
    target: &str,
    is_dir: bool,
    recursive: bool,
    read_only: bool,
) -> nix::Result<()> {
    let t = make_target(root, target, is_dir).map_err(|_| Errno::ENOENT)?;
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    nix::mount::mount(
        Some(&fd_path(src)),
        &fd_path(&t),
        None::<&str>,
        flags,
        None::<&str>,
    )?;
    if read_only {
        // The descriptor from before the mount names the covered file; reopen to get the bind.
        let top = sys::open_in_root(root, rel(target), OFlag::O_PATH)?;
        sys::mount_set_readonly(&top, recursive)?;
    }
    Ok(())
}

fn split(path: &str) -> (&str, &str) {
    let path = path.trim_end_matches('/');
    match path.rsplit_once('/') {
        Some((parent, name)) => (if parent.is_empty() { "/" } else { parent }, name),
        None => ("/", path),
    }
}

fn open(root: &OwnedFd, target: &str) -> Result<OwnedFd, SpawnError> {
    sys::open_in_root(root, rel(target), OFlag::O_PATH)
        .map_err(|e| fail(format!("opening {target}"), e))
}

fn existing(root: &OwnedFd, target: &str) -> Result<Option<OwnedFd>, SpawnError> {
    match sys::open_in_root(root, rel(target), OFlag::O_PATH) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(fail(format!("opening {target}"), e)),
    }
}

fn is_dir_fd(fd: &OwnedFd) -> bool {
    nix::sys::stat::fstat(fd.as_fd().as_raw_fd())
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

/// Open `target` inside the root, creating it and its missing parents (directories, and the
/// last one as a directory or an empty file) without ever following a link out of the root.
fn make_target(root: &OwnedFd, target: &str, dir: bool) -> Result<OwnedFd, SpawnError> {
    match sys::open_in_root(root, rel(target), OFlag::O_PATH) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(fail(format!("opening mount point {target}"), e)),
    }
    let parts: Vec<&str> = target
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut here = sys::open_in_root(root, Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(|e| fail("opening the root".to_string(), e))?;
    for (i, name) in parts.iter().enumerate() {
        let sub = parts[..=i].join("/");
        match sys::open_in_root(root, Path::new(&sub), OFlag::O_PATH) {
            Ok(fd) => {
                here = fd;
                continue;
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(fail(format!("opening mount point /{sub}"), e)),
        }
        let last = i + 1 == parts.len();
        let made = if last && !dir {
            let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW;
            sys::open_at(
                &here,
                OsStr::new(name),
                flags,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop)
        } else {
            nix::sys::stat::mkdirat(
                Some(here.as_raw_fd()),
                *name,
                Mode::from_bits_truncate(0o755),
            )
        };
        match made {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(fail(format!("creating mount point /{sub}"), e)),
        }
        here = sys::open_in_root(root, Path::new(&sub), OFlag::O_PATH)
            .map_err(|e| fail(format!("opening mount point /{sub}"), e))?;
    }
    Ok(here)
}
