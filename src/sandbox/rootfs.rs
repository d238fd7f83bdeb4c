//! The container's root file system, mounted by the child in its own mount namespace (so it
//! vanishes with the container): kernel overlayfs, else a plain copy of the layers that is kept
//! and reused on the next start; for keep-id, fuse-overlayfs with shifted ids, mounted by the
//! supervisor outside the container.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::libc;
use nix::mount::MsFlags;

use super::spec::{Rootfs, SpawnError};
use crate::fsutil::lgetxattr;

/// The kernel refuses mount data over a page; stay well below it.
const MAX_MOUNT_DATA: usize = 3500;

/// Mount `rootfs.merged` and say how: "overlay", "fuse-overlayfs" or "copy". `premounted`: the
/// spawning process already mounted it (`mount_shifted`), and its mount came with our copy of
/// its mount namespace.
pub fn mount(rootfs: &Rootfs, premounted: bool) -> Result<&'static str, SpawnError> {
    let fail = |what: &str, path: &Path, e: io::Error| {
        SpawnError::engine(format!("rootfs: {what} {}: {e}", path.display()))
    };
    for dir in [&rootfs.merged, &rootfs.upper, &rootfs.work] {
        fs::create_dir_all(dir).map_err(|e| fail("cannot create", dir, e))?;
    }
    if premounted {
        // Our copy of that mount is locked to us (it came from a more privileged namespace),
        // and pivot_root refuses a locked new root: a bind of it made here is ours.
        return bind_self(&rootfs.merged).map(|_| "fuse-overlayfs");
    }
    let copied = copied_marker(rootfs);
    if copied.exists() {
        return bind_self(&rootfs.merged).map(|_| "copy");
    }
    let lower = lower_dirs(rootfs)?;
    let kernel = match kernel_overlay(rootfs, &lower) {
        Ok(()) => return Ok("overlay"),
        Err(e) => e,
    };
    // No fuse-overlayfs here: its daemon would live in this mount namespace, where the
    // pivot_root below moves its root onto the mount it serves, and it would wait on itself
    // forever. Only a supervisor can run it (`mount_shifted`, for keep-id).
    crate::debug!("overlay failed ({kernel}): copying the layers");
    let squashed = copy_layers(&lower, &rootfs.merged)
        .map_err(|e| SpawnError::engine(format!("rootfs: copying the image layers: {e}")))?;
    if squashed > 0 {
        // Once: the copy is kept and reused. On the container's stderr, the only channel a
        // container's first process has to whoever watches it.
        eprintln!(
            "cove: warning: the copied root file system has {squashed} files whose owner cannot \
             be mapped in this user namespace; they are owned by its root instead"
        );
    }
    fs::write(&copied, b"").map_err(|e| fail("cannot write", &copied, e))?;
    bind_self(&rootfs.merged).map(|_| "copy")
}

fn copied_marker(rootfs: &Rootfs) -> PathBuf {
    rootfs.merged.with_extension("copied")
}

/// The layers, or for an image without any (`scratch`) one empty directory.
fn lower_dirs(rootfs: &Rootfs) -> Result<Vec<PathBuf>, SpawnError> {
    if !rootfs.lower.is_empty() {
        return Ok(rootfs.lower.clone());
    }
    let empty = rootfs.merged.with_extension("empty");
    fs::create_dir_all(&empty)
        .map_err(|e| SpawnError::engine(format!("rootfs: {}: {e}", empty.display())))?;
    Ok(vec![empty])
}

/// "lowerdir=a:b,upperdir=u,workdir=w": when the layer list is too long for one page, the
/// layers are named relative to their common directory, which becomes our working directory.
fn overlay_options(rootfs: &Rootfs, lower: &[PathBuf]) -> Result<String, SpawnError> {
    let join = |dirs: &[PathBuf]| {
        let v: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        v.join(":")
    };
    let tail = format!(
        ",upperdir={},workdir={}",
        rootfs.upper.display(),
        rootfs.work.display()
    );
    let mut lowerdir = join(lower);
    if lowerdir.len() + tail.len() > MAX_MOUNT_DATA {
        let base = common_parent(lower);
        std::env::set_current_dir(&base).map_err(|e| {
            SpawnError::engine(format!("rootfs: cannot enter {}: {e}", base.display()))
        })?;
        let rel: Vec<PathBuf> = lower
            .iter()
            .map(|d| {
                d.strip_prefix(&base)
                    .map_or_else(|_| d.clone(), Path::to_path_buf)
            })
            .collect();
        lowerdir = join(&rel);
    }
    Ok(format!("lowerdir={lowerdir}{tail}"))
}

fn common_parent(dirs: &[PathBuf]) -> PathBuf {
    let mut base = dirs[0].parent().map(Path::to_path_buf).unwrap_or_default();
    while !dirs.iter().all(|d| d.starts_with(&base)) {
        if !base.pop() {
            break;
        }
    }
    base
}

fn kernel_overlay(rootfs: &Rootfs, lower: &[PathBuf]) -> Result<(), Errno> {
    let mut data = overlay_options(rootfs, lower).map_err(|_| Errno::ENAMETOOLONG)?;
    if rootfs.userxattr {
        data.push_str(",userxattr");
    }
    nix::mount::mount(
        Some("overlay"),
        &rootfs.merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
}

/// fuse-overlayfs daemonizes and serves the mount until its last user is gone. It runs in the
/// container's mount and pid namespaces (visible there as a process), the price of a fallback
/// that kernels from before 5.11 need for rootless overlay.
fn fuse_overlay(rootfs: &Rootfs, lower: &[PathBuf], extra: &str) -> Result<(), String> {
    let tool = [
        "/usr/bin/fuse-overlayfs",
        "/usr/local/bin/fuse-overlayfs",
        "/bin/fuse-overlayfs",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .ok_or("fuse-overlayfs is not installed")?;
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(|e| format!("/dev/fuse: {e}"))?;
    let data = overlay_options(rootfs, lower).map_err(|e| e.message)? + extra;
    let mut cmd = Command::new(tool);
    cmd.arg("-o")
        .arg(data)
        .arg(&rootfs.merged)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = cmd.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    Err(text.lines().next().unwrap_or("failed").to_string())
}

/// `--userns keep-id`: mount the root file system here, in the spawning process's mount
/// namespace (the user's shared one), with fuse-overlayfs id mappings that make the nested
/// namespace `maps` describes see the layers' owners as everyone else does (the image's root
/// as 0). The daemon stays out of the container's pid and mount namespaces: nothing in the
/// container can reach it or its view of the host. `release` unmounts it after the run.
pub fn mount_shifted(rootfs: &Rootfs, maps: &super::keepid::Maps) -> Result<(), String> {
    for dir in [&rootfs.merged, &rootfs.upper, &rootfs.work] {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    if copied_marker(rootfs).exists() {
        return Err("the layers were copied for an earlier run".into());
    }
    let lower = lower_dirs(rootfs).map_err(|e| e.message)?;
    // fuse-overlayfs's mapping is ID-AS-STORED:ID-PRESENTED:COUNT, the same triple as a line
    // of the nested map (inside, outside, count): a file stored as outer id `i` is presented
    // as `o`, which the nested namespace shows as `i` again.
    let mapping = |text: &str| -> Result<String, String> {
        Ok(crate::idmap::parse(text)?
            .iter()
            .map(|(inside, outside, count)| format!("{inside}:{outside}:{count}"))
            .collect::<Vec<_>>()
            .join(":"))
    };
    let extra = format!(
        ",uidmapping={},gidmapping={}",
        mapping(&maps.uid_map)?,
        mapping(&maps.gid_map)?
    );
    fuse_overlay(rootfs, &lower, &extra)
}

/// Undo `mount_shifted` once the container is gone (lazily: the daemon leaves when its last
/// user does). Nothing to do when `merged` is no mount point.
pub fn release(merged: &Path) {
    let _ = nix::mount::umount2(merged, nix::mount::MntFlags::MNT_DETACH);
}

/// pivot_root needs the new root to be a mount point.
fn bind_self(dir: &Path) -> Result<(), SpawnError> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    nix::mount::mount(Some(dir), dir, None::<&str>, flags, None::<&str>).map_err(|e| {
        SpawnError::engine(format!(
            "rootfs: cannot bind {} on itself: {e}",
            dir.display()
        ))
    })
}

/// Stack the layers (`lower`, top first) into `dest` the way overlayfs would show them: later
/// layers win, whiteouts delete, opaque directories hide what is below. Owners are kept where
/// this namespace can set them; returns how many files it could not (they stay ours).
pub fn copy_layers(lower: &[PathBuf], dest: &Path) -> io::Result<u64> {
    let mut squashed = 0;
    for layer in lower.iter().rev() {
        squashed += copy_layer(layer, dest)?;
    }
    Ok(squashed)
}

fn copy_layer(layer: &Path, dest: &Path) -> io::Result<u64> {
    let mut squashed = 0;
    // Pre-order: a directory is made real (not a symlink) in `dest` before anything is written
    // below it, so no path followed here can lead out of `dest`.
    for entry in walkdir::WalkDir::new(layer).min_depth(1) {
        let entry = entry.map_err(io::Error::from)?;
        let rel = entry.path().strip_prefix(layer).map_err(io::Error::other)?;
        let target = dest.join(rel);
        let meta = entry.path().symlink_metadata()?;
        let kind = meta.file_type();
        if kind.is_char_device() && meta.rdev() == 0 {
            crate::fsutil::tree::remove_all(&target)?;
            continue;
        }
        if kind.is_dir() {
            let existing = target.symlink_metadata().ok();
            if existing.as_ref().is_some_and(|m| !m.is_dir()) {
                crate::fsutil::tree::remove_all(&target)?;
            }
            if is_opaque(entry.path()) {
                crate::fsutil::tree::remove_all(&target)?;
            }
            if !target.is_dir() {
                fs::create_dir(&target)?;
            }
            fs::set_permissions(&target, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else if kind.is_symlink() {
            crate::fsutil::tree::remove_all(&target)?;
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &target)?;
        } else if kind.is_file() {
            crate::fsutil::tree::remove_all(&target)?;
            fs::copy(entry.path(), &target)?;
        } else {
            // Devices, fifos and sockets cannot be made in a user namespace; images rarely
            // carry them and overlayfs would not be the way to get them anyway.
            continue;
        }
        let mut mode = meta.mode() & 0o7777;
        match std::os::unix::fs::lchown(&target, Some(meta.uid()), Some(meta.gid())) {
            Ok(()) => {}
            // EINVAL: the owner has no mapping here (a nested or single-ID namespace);
            // EPERM: not privileged over it. The file stays ours, as unpacking does, and
            // without setuid or setgid: they would now grant our root, not the image's owner.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EPERM)) => {
                squashed += 1;
                mode &= !0o6000;
            }
            Err(e) => return Err(e),
        }
        // After the owner: chown clears setuid and setgid.
        if !kind.is_symlink() {
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(squashed)
}

fn is_opaque(dir: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| matches!(lgetxattr(dir, name), Ok(Some(v)) if v == b"y"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_applies_whiteouts_and_opaque_dirs() {
        let dir = std::env::temp_dir().join(format!("cove-rootfs-test-{}", std::process::id()));
        let (bottom, top, out) = (dir.join("bottom"), dir.join("top"), dir.join("out"));
        for d in [&bottom, &top, &out] {
            fs::create_dir_all(d).unwrap();
        }
        fs::create_dir_all(bottom.join("etc/sub")).unwrap();
        fs::write(bottom.join("etc/a"), "old").unwrap();
        fs::write(bottom.join("su"), "s").unwrap();
        fs::set_permissions(bottom.join("su"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::write(bottom.join("etc/gone"), "x").unwrap();
        fs::write(bottom.join("etc/sub/hidden"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", bottom.join("link")).unwrap();
        fs::create_dir_all(top.join("etc/sub")).unwrap();
        fs::write(top.join("etc/a"), "new").unwrap();
        fs::write(top.join("etc/sub/kept"), "k").unwrap();
        // A directory where the layer below had a symlink to the host: the copy must not
        // follow it.
        fs::create_dir_all(top.join("link")).unwrap();
        fs::write(top.join("link/inside"), "i").unwrap();
        let whiteout = top.join("etc/gone");
        let dev = nix::sys::stat::makedev(0, 0);
        let mode = nix::sys::stat::Mode::empty();
        nix::sys::stat::mknod(&whiteout, nix::sys::stat::SFlag::S_IFCHR, mode, dev).unwrap();
        let opaque = crate::fsutil::lsetxattr(&top.join("etc/sub"), "trusted.overlay.opaque", b"y");

        copy_layers(&[top.clone(), bottom.clone()], &out).unwrap();
        let su = fs::metadata(out.join("su")).unwrap().permissions().mode();
        assert_eq!(su & 0o7777, 0o4755, "setuid survives the owner being set");
        assert_eq!(fs::read_to_string(out.join("etc/a")).unwrap(), "new");
        assert!(!out.join("etc/gone").exists());
        assert_eq!(fs::read_to_string(out.join("etc/sub/kept")).unwrap(), "k");
        if opaque.is_ok() {
            assert!(!out.join("etc/sub/hidden").exists());
        }
        assert!(out.join("link").symlink_metadata().unwrap().is_dir());
        assert_eq!(fs::read_to_string(out.join("link/inside")).unwrap(), "i");
        assert!(!Path::new("/etc/inside").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    const SQUASH_ENV: &str = "COVE_TEST_COPY_SQUASH";

    /// In a user namespace that maps only root (a nested container's, a single-ID rootless
    /// one), a layer file of another owner is copied, owned by root, and counted.
    #[test]
    fn copy_keeps_files_whose_owner_cannot_be_mapped() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("cove-squash-test-{}", std::process::id()));
        let layer = dir.join("layer");
        fs::create_dir_all(layer.join("home")).unwrap();
        fs::write(layer.join("home/theirs"), "t").unwrap();
        std::os::unix::fs::lchown(layer.join("home/theirs"), Some(1234), Some(1234)).unwrap();
        fs::set_permissions(
            layer.join("home/theirs"),
            fs::Permissions::from_mode(0o6755),
        )
        .unwrap();
        let exe = std::env::current_exe().unwrap();
        let out = Command::new("unshare")
            .args(["--user", "--map-root-user"])
            .arg(exe)
            .args([
                "sandbox::rootfs::tests::copy_in_a_single_id_namespace",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(SQUASH_ENV, &dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("1 passed"), "{text}");
        let copied = fs::symlink_metadata(dir.join("out/home/theirs")).unwrap();
        assert_eq!(
            (copied.uid(), copied.gid()),
            (0, 0),
            "owned by the namespace's root"
        );
        assert_eq!(
            copied.mode() & 0o7777,
            0o755,
            "and no longer setuid or setgid"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[ignore = "run by copy_keeps_files_whose_owner_cannot_be_mapped in a user namespace"]
    fn copy_in_a_single_id_namespace() {
        let dir = PathBuf::from(std::env::var_os(SQUASH_ENV).unwrap());
        let out = dir.join("out");
        fs::create_dir_all(&out).unwrap();
        assert_eq!(copy_layers(&[dir.join("layer")], &out).unwrap(), 1);
        assert_eq!(fs::read_to_string(out.join("home/theirs")).unwrap(), "t");
    }

    #[test]
    fn long_layer_lists_are_named_from_their_common_parent() {
        let layers: Vec<PathBuf> = (0..100)
            .map(|i| PathBuf::from(format!("/var/lib/cove/overlay/layers/{i:064}/diff")))
            .collect();
        assert_eq!(
            common_parent(&layers),
            Path::new("/var/lib/cove/overlay/layers")
        );
        assert_eq!(
            common_parent(&layers[..1]),
            Path::new(&format!("/var/lib/cove/overlay/layers/{:064}", 0))
        );
    }
}
