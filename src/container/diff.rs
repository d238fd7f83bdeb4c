//! `diff`, for any front end: what a container changed, read from its upper directory — A
//! added, C changed, D deleted (overlay whiteouts) — without cove's own mount points.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::{to_spec, ContainerRecord, Error, Result};
use crate::paths::Paths;

/// One changed path, as docker prints it (`C /etc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// 'A', 'C' or 'D'.
    pub kind: char,
    pub path: String,
}

/// Where cove mounts things in every container (userdata files and the kernel file systems).
const MOUNT_POINTS: &[&str] = &[
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/dev",
    "/proc",
    "/sys",
];

/// The container's changes, sorted by path.
pub fn diff(paths: &Paths, rec: &ContainerRecord) -> Result<Vec<Change>> {
    let spec = to_spec(paths, rec).map_err(Error::Spawn)?;
    let upper = &spec.rootfs.upper;
    let points = cove_mount_points(paths, rec, &spec);
    let mut changes: Vec<(char, String, bool)> = Vec::new();
    for entry in walkdir::WalkDir::new(upper)
        .min_depth(1)
        .sort_by_file_name()
    {
        let entry =
            entry.map_err(|e| Error::Other(format!("cannot read {}: {e}", upper.display())))?;
        let rel = entry.path().strip_prefix(upper).unwrap_or(entry.path());
        let shown = format!("/{}", rel.display());
        if is_mount_point(&points, &shown) {
            continue;
        }
        let meta = entry
            .metadata()
            .map_err(|e| Error::Other(format!("cannot read {shown}: {e}")))?;
        let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
        let in_lower = spec
            .rootfs
            .lower
            .iter()
            .any(|l| l.join(rel).symlink_metadata().is_ok());
        let kind = if whiteout {
            'D'
        } else if in_lower {
            'C'
        } else {
            'A'
        };
        changes.push((kind, shown, meta.is_dir()));
    }
    // A directory changed only because cove made a mount point in it is not a change of
    // the container's (docker hides these in its init layer).
    let mut out = Vec::new();
    for (kind, path, is_dir) in &changes {
        let has_change_below = changes
            .iter()
            .any(|(_, p, _)| p.len() > path.len() && p.starts_with(&format!("{path}/")));
        let made_for_mounts = points.iter().any(|m| m.starts_with(&format!("{path}/")));
        if *is_dir && *kind != 'D' && made_for_mounts && !has_change_below {
            continue;
        }
        out.push(Change {
            kind: *kind,
            path: path.clone(),
        });
    }
    Ok(out)
}

/// Where cove mounts things over the container's root: the kernel file systems and the
/// files it generates per container (hosts, .containerenv, keep-id's passwd, --tz).
pub(super) fn cove_mount_points(
    paths: &Paths,
    rec: &ContainerRecord,
    spec: &crate::sandbox::spec::Spec,
) -> Vec<String> {
    let userdata = super::layout::userdata_dir(paths, &rec.id);
    let mut points: Vec<String> = MOUNT_POINTS.iter().map(|m| m.to_string()).collect();
    for m in &spec.mounts {
        if let crate::sandbox::spec::Mount::Bind {
            source,
            destination,
            ..
        } = m
        {
            if source.starts_with(&userdata) || destination == "/etc/localtime" {
                points.push(destination.clone());
            }
        }
    }
    points
}

fn is_mount_point(points: &[String], path: &str) -> bool {
    points.iter().any(|m| {
        path == m
            || (["/dev", "/proc", "/sys"].contains(&m.as_str())
                && path.starts_with(&format!("{m}/")))
    })
}
