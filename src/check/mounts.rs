//! Root file systems still mounted in this mount namespace (the user's, rootless) although
//! their container does not run: cove mounts them in the container's own namespace, so one
//! seen here was left by a crash or by hand, and it keeps `rm` from removing the container.

use std::path::{Path, PathBuf};

use super::{settle, shown, Finding, Options, Problem};
use crate::container::ContainerStore;
use crate::error::Result;
use crate::fsutil::short_id;

pub fn check(store: &ContainerStore, opts: Options) -> Result<Vec<Finding>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let base = store.paths().overlay_root().join("containers");
    let mut out = Vec::new();
    for (id, point) in container_mounts(&info, &base) {
        let running = store
            .load(&id)
            .map(|rec| store.live_state(&rec).status)
            .is_ok_and(|s| s.is_active());
        if running {
            continue;
        }
        let problem = Problem {
            what: format!(
                "container {}: its root file system is still mounted at {} although it does not run",
                short_id(&id),
                shown(&point)
            ),
            fix: Ok(point.clone()),
        };
        out.push(settle(opts, problem, |point| unmount(store, &id, &point)));
    }
    Ok(out)
}

fn unmount(store: &ContainerStore, id: &str, point: &Path) -> std::result::Result<String, String> {
    // Under the container's lock, so a start cannot mount it meanwhile; a container without
    // a record cannot start, and taking its lock would leave a run dir behind.
    let _lock = match store.load(id) {
        Ok(rec) => {
            let lock = store.lock(id).map_err(|e| e.to_string())?;
            if store.live_state(&rec).status.is_active() {
                return Err("it was started meanwhile".into());
            }
            Some(lock)
        }
        Err(_) => None,
    };
    nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH)
        .map(|()| format!("unmounted {}", shown(point)))
        .map_err(|e| format!("cannot unmount {}: {e}", shown(point)))
}

/// `(container ID, mount point)` of every mount at or below `<base>/<id>/merged`, deepest
/// first (so a repair unmounts what sits on top before what is below).
fn container_mounts(mountinfo: &str, base: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape(field)))
        .filter_map(|point| {
            let rest = point.strip_prefix(base).ok()?;
            let mut parts = rest.components();
            let id = parts.next()?.as_os_str().to_str()?.to_string();
            let merged = parts.next()?.as_os_str() == "merged";
            (merged && crate::overlay::is_sha256_hex(&id)).then_some((id, point))
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1));
    out.dedup();
    out
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_merged_dirs_of_containers_only() {
        let id = "ab".repeat(32);
        let info = format!(
            "22 1 0:21 / / rw - ext4 /dev/vda rw\n\
             40 22 0:50 / /s\\040x/overlay/containers/{id}/merged rw - overlay overlay rw\n\
             41 40 0:51 / /s\\040x/overlay/containers/{id}/merged/proc rw - proc proc rw\n\
             42 22 0:52 / /s\\040x/overlay/containers/{id}/upper rw - tmpfs t rw\n\
             43 22 0:53 / /s\\040x/overlay/containers/short/merged rw - tmpfs t rw\n"
        );
        let base = Path::new("/s x/overlay/containers");
        let found = container_mounts(&info, base);
        let merged = base.join(&id).join("merged");
        assert_eq!(
            found,
            vec![(id.clone(), merged.join("proc")), (id.clone(), merged)]
        );
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
    }
}
