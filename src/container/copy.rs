//! `cp` and `export` for any front end: a container path out to a host path or a tar stream, a
//! host path or a tar stream into a container, the whole root file system out. Between a host
//! path and a container the tar streams through a pipe from a writing thread to the unpacking
//! one, so memory stays bounded whatever the size of what is copied.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::{to_spec, ContainerRecord, ContainerStore, Error, Result, Status};
use crate::overlay::{self, archive_host, extract_host, ArchiveReport, ContainerRoot};
use crate::overlay::{HostIds, Kind, Owners};
use crate::paths::Paths;
use crate::sandbox;

/// `cp`'s flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyRequest {
    /// `-L`: a symlink named as the source is followed (inside the container for a container
    /// path); otherwise the link itself is copied.
    pub follow_link: bool,
    /// `-a`: what lands in the container keeps the source's owner numbers; otherwise it
    /// belongs to the container's root (0:0), as with docker.
    pub archive: bool,
}

/// The container's root as this process can read it: the running init's root, or the
/// layers mounted privately for a container that is not running. Call while single-threaded
/// (a private mount namespace is made for the whole process).
pub fn open_root(
    store: &ContainerStore,
    paths: &Paths,
    rec: &ContainerRecord,
) -> Result<ContainerRoot> {
    let st = store.live_state(rec);
    if st.status == Status::Running && st.pid > 0 {
        // The container may end between the look at its state and this open: then its
        // layers are mounted below, as for any container that is not running.
        if let Ok(root) = ContainerRoot::open(Path::new(&format!("/proc/{}/root", st.pid))) {
            return Ok(root);
        }
    }
    let spec = to_spec(paths, rec).map_err(Error::Spawn)?;
    sandbox::mount_private(&spec.rootfs).map_err(Error::Spawn)?;
    ContainerRoot::open(&spec.rootfs.merged).map_err(Error::Overlay)
}

/// The last component of `path`, "." for the root: the name a copy gets by default.
fn base_name(path: &str) -> String {
    Path::new(path.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into())
}

/// The container's `path` as a tar on `out`, its top entry named after it.
pub fn copy_out_tar(
    root: &ContainerRoot,
    path: &str,
    out: &mut dyn Write,
    req: CopyRequest,
) -> Result<ArchiveReport> {
    let report = root.archive(path, req.follow_link, Path::new(&base_name(path)), out)?;
    out.flush()
        .map_err(|e| Error::Other(format!("writing the archive: {e}")))?;
    Ok(report)
}

/// The container's `path` to the host's `dest`: into it when it is a directory, else as
/// `dest` itself (its parent must exist).
pub fn copy_out(
    root: &ContainerRoot,
    path: &str,
    dest: &Path,
    req: CopyRequest,
) -> Result<ArchiveReport> {
    let (dir, name) = if dest.is_dir() {
        (dest.to_path_buf(), base_name(path))
    } else {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        if !parent.is_dir() {
            return Err(Error::Other(format!(
                "destination directory {} does not exist",
                parent.display()
            )));
        }
        (parent, base_name(&dest.to_string_lossy()))
    };
    let name = PathBuf::from(name);
    streamed(
        |w| root.archive(path, req.follow_link, &name, w),
        |r| extract_host(&dir, r),
    )
}

/// A tar on `tar` unpacked into the container directory `path`.
pub fn copy_in_tar(
    root: &ContainerRoot,
    tar: &mut dyn Read,
    path: &str,
    req: CopyRequest,
) -> Result<()> {
    if root.kind(path)? != Kind::Dir {
        return Err(Error::Other(format!(
            "destination \"{path}\" must be a directory"
        )));
    }
    root.extract(path, tar, owners(req))?;
    Ok(())
}

/// The host's `src` into the container: into `path` when it is a directory, else as `path`
/// itself (its parent must exist).
pub fn copy_in(
    root: &ContainerRoot,
    src: &Path,
    path: &str,
    req: CopyRequest,
) -> Result<ArchiveReport> {
    if std::fs::symlink_metadata(src).is_err() {
        return Err(Error::Other(format!(
            "could not find the file {} on the host",
            src.display()
        )));
    }
    let shown = src.to_string_lossy();
    let (dir, name) = match root.kind(path)? {
        Kind::Dir => (path.to_string(), base_name(&shown)),
        _ => {
            let parent = Path::new(path)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/".into());
            if root.kind(&parent)? != Kind::Dir {
                return Err(Error::Other(format!(
                    "destination directory {parent} does not exist in the container"
                )));
            }
            (parent, base_name(path))
        }
    };
    let follow = req.follow_link || shown.ends_with('/');
    let ids = req.archive.then(HostIds::current);
    let name = PathBuf::from(name);
    streamed(
        |w| archive_host(src, follow, &name, ids.as_ref(), w),
        |r| root.extract(&dir, r, owners(req)),
    )
}

/// The whole root file system as a tar on `out` (mounts left out).
pub fn export(root: &ContainerRoot, out: &mut dyn Write) -> Result<ArchiveReport> {
    let report = root.export(out)?;
    out.flush()
        .map_err(|e| Error::Other(format!("writing the archive: {e}")))?;
    Ok(report)
}

fn owners(req: CopyRequest) -> Owners {
    if req.archive {
        Owners::FromTar
    } else {
        Owners::Fixed(0, 0)
    }
}

/// Run `produce` (writing a tar) on a thread and `consume` (unpacking it) here, joined by a
/// pipe: at most a pipe's buffer of the copy is in memory at any time.
fn streamed<P, C>(produce: P, consume: C) -> Result<ArchiveReport>
where
    P: FnOnce(&mut dyn Write) -> Result<ArchiveReport, overlay::Error> + Send,
    C: FnOnce(&mut dyn Read) -> Result<(), overlay::Error>,
{
    let (mut reader, mut writer) =
        io::pipe().map_err(|e| Error::Other(format!("cannot make a pipe: {e}")))?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || produce(&mut writer));
        let consumed = consume(&mut reader);
        if consumed.is_ok() {
            // The writer may still be writing the end of the archive: let it finish.
            let _ = io::copy(&mut reader, &mut io::sink());
        }
        // A failed unpack closes its end: the writer stops (EPIPE) instead of blocking.
        drop(reader);
        let produced = producer
            .join()
            .map_err(|_| Error::Other("the copy stopped unexpectedly".into()))?;
        match (produced, consumed) {
            // The source failed: what the unpack saw (a cut archive) is only a consequence.
            (Err(e), _) if e.errno() != Some(Errno::EPIPE) => Err(Error::Overlay(e)),
            (_, Err(e)) | (Err(e), Ok(())) => Err(Error::Overlay(e)),
            (Ok(report), Ok(())) => Ok(report),
        }
    })
}
