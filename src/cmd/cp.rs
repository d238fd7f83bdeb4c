//! `cp` between a container and the host (or a tar stream with `-`), and `export`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::container::Session;
use super::container_flags::{CpArgs, ExportArgs};
use super::Context;
use crate::container::{self, ContainerRecord, Status};
use crate::error::{Error, Result};
use crate::overlay::{ContainerRoot, Kind};
use crate::sandbox;

/// The container's root as this process can read it: the running init's root, or the
/// layers mounted privately for a container that is not running.
fn open_root(s: &Session, rec: &ContainerRecord) -> Result<ContainerRoot> {
    let st = s.store.live_state(rec);
    if st.status == Status::Running && st.pid > 0 {
        // The container may end between the look at its state and this open: then its
        // layers are mounted below, as for any container that is not running.
        if let Ok(root) = ContainerRoot::open(Path::new(&format!("/proc/{}/root", st.pid))) {
            return Ok(root);
        }
    }
    let spec = container::to_spec(&s.paths, rec)?;
    sandbox::mount_private(&spec.rootfs)?;
    Ok(ContainerRoot::open(&spec.rootfs.merged)?)
}

/// `NAME:PATH` names a container path; a plain path (or one with a `/` before the colon)
/// is on the host, as docker decides.
fn split_container(arg: &str) -> Option<(&str, &str)> {
    let (name, path) = arg.split_once(':')?;
    (!name.is_empty() && !name.contains('/')).then_some((name, path))
}

fn base_name(path: &str) -> String {
    Path::new(path.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into())
}

pub fn cp(ctx: &Context, args: CpArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    match (split_container(&args.src), split_container(&args.dest)) {
        (Some((name, path)), None) => {
            let rec = s.store.find(name)?;
            let root = open_root(&s, &rec)?;
            copy_out(&root, path, &args.dest)
        }
        (None, Some((name, path))) => {
            let rec = s.store.find(name)?;
            let root = open_root(&s, &rec)?;
            copy_in(&root, &args.src, path)
        }
        (Some(_), Some(_)) => Err(Error::msg("copying between containers is not supported")),
        (None, None) => Err(Error::msg(
            "must specify at least one container source: use CONTAINER:PATH",
        )),
    }
}

fn copy_out(root: &ContainerRoot, path: &str, dest: &str) -> Result<i32> {
    if root.kind(path)? == Kind::Missing {
        return Err(Error::msg(format!(
            "Could not find the file {path} in container"
        )));
    }
    if dest == "-" {
        let mut out = io::stdout().lock();
        root.archive(path, &base_name(path), false, &mut out)?;
        out.flush()
            .map_err(|e| Error::msg(format!("writing the archive: {e}")))?;
        return Ok(0);
    }
    let dest = PathBuf::from(dest);
    // Into an existing directory under the source's name; otherwise as `dest` itself.
    let (dir, name) = if dest.is_dir() {
        (dest.clone(), base_name(path))
    } else {
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        if !parent.is_dir() {
            return Err(Error::msg(format!(
                "destination directory {} does not exist",
                parent.display()
            )));
        }
        (parent, base_name(&dest.to_string_lossy()))
    };
    let mut buf = Vec::new();
    root.archive(path, &name, false, &mut buf)?;
    let mut archive = tar::Archive::new(&buf[..]);
    archive.set_preserve_permissions(true);
    archive
        .unpack(&dir)
        .map_err(|e| Error::msg(format!("copying to {}: {e}", dir.display())))?;
    Ok(0)
}

fn copy_in(root: &ContainerRoot, src: &str, path: &str) -> Result<i32> {
    if src == "-" {
        if root.kind(path)? != Kind::Dir {
            return Err(Error::msg(format!(
                "destination \"{path}\" must be a directory"
            )));
        }
        root.extract(path, &mut io::stdin().lock())?;
        return Ok(0);
    }
    let src_path = Path::new(src);
    if std::fs::symlink_metadata(src_path).is_err() {
        return Err(Error::msg(format!(
            "could not find the file {src} on the host"
        )));
    }
    let (dir, name) = match root.kind(path)? {
        Kind::Dir => (path.to_string(), base_name(src)),
        _ => {
            let parent = Path::new(path)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "/".into());
            if root.kind(&parent)? != Kind::Dir {
                return Err(Error::msg(format!(
                    "destination directory {parent} does not exist in the container"
                )));
            }
            (parent, base_name(path))
        }
    };
    let mut buf = Vec::new();
    {
        let mut b = tar::Builder::new(&mut buf);
        b.follow_symlinks(false);
        let fail = |e: io::Error| Error::msg(format!("reading {src}: {e}"));
        if src_path.is_dir() {
            b.append_dir_all(&name, src_path).map_err(fail)?;
        } else {
            b.append_path_with_name(src_path, &name).map_err(fail)?;
        }
        b.finish().map_err(fail)?;
    }
    root.extract(&dir, &mut &buf[..])?;
    Ok(0)
}

pub fn export(ctx: &Context, args: ExportArgs) -> Result<i32> {
    let s = Session::open(ctx)?;
    let rec = s.store.find(&args.container)?;
    let root = open_root(&s, &rec)?;
    let write = |out: &mut dyn Write| -> Result<()> {
        root.archive("/", ".", true, out)?;
        out.flush()
            .map_err(|e| Error::msg(format!("writing the archive: {e}")))
    };
    match &args.output {
        Some(path) => {
            let mut f = File::create(path)
                .map_err(|e| Error::msg(format!("cannot create {}: {e}", path.display())))?;
            write(&mut f)?;
        }
        None => {
            if io::IsTerminal::is_terminal(&io::stdout()) {
                return Err(Error::msg(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            write(&mut io::stdout().lock())?;
        }
    }
    Ok(0)
}
