//! `--userns keep-id`: the container gets a user namespace nested in the user's shared one, in
//! which the caller's host uid and gid are themselves (podman's mapping), so that files it writes
//! to a bind mount belong to the caller on the host. Root inside is then a subordinate id.
//!
//! The outer namespace maps its ids 0..N to the host: 0 is the caller, 1.. its /etc/subuid
//! range. For a caller with host uid U the nested map (inside, outer, count) is:
//! `0 1 U` (inside 0..U are outer 1..=U), `U 0 1` (the caller), `U+1 U+1 N-U-1` (the rest).
//! The image's files are owned by outer ids, so files of the image's root (outer 0) would show
//! up owned by U inside, and those of outer uid k by k-1: the root file system is therefore
//! mounted with fuse-overlayfs and id mappings that undo this map (rootfs.rs); where
//! fuse-overlayfs cannot be used the kernel's overlay is, with that shift showing.
//!
//! Sequence: the intermediate clones the child with CLONE_NEWUSER next to the other namespace
//! flags (so they are owned by the new user namespace), writes the child's uid_map and gid_map
//! (it holds CAP_SETUID and CAP_SETGID in the parent namespace, which several lines need, and
//! leaves setgroups allowed), then opens the gate the child blocks on before anything that
//! needs its ids.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;

use super::spec::SpawnError;
use crate::idmap::parse;

/// The message podman gives when keep-id is asked for by real root.
pub const ROOTLESS_ONLY: &str = "keep-id is only supported in rootless mode";

/// The two map files to write for the child, already built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Maps {
    pub uid_map: String,
    pub gid_map: String,
}

/// The maps that keep (uid, gid) for a child of the calling process, from the caller's own maps.
pub fn maps_for((uid, gid): (u32, u32)) -> Result<Maps, SpawnError> {
    let read = |name: &str| {
        let path = format!("/proc/self/{name}");
        std::fs::read_to_string(&path)
            .map_err(|e| SpawnError::engine(format!("keep-id: cannot read {path}: {e}")))
    };
    let (outer_uid, outer_gid) = (read("uid_map")?, read("gid_map")?);
    if is_initial(&outer_uid) {
        return Err(SpawnError::engine(ROOTLESS_ONLY));
    }
    let build = |outer: &str, id: u32, what: &str| {
        nested_map(outer, id).map_err(|e| SpawnError::engine(format!("keep-id: {what} map: {e}")))
    };
    Ok(Maps {
        uid_map: build(&outer_uid, uid, "uid")?,
        gid_map: build(&outer_gid, gid, "gid")?,
    })
}

/// Whether `map` is the initial user namespace's (real root: nothing to keep).
fn is_initial(map: &str) -> bool {
    parse(map).is_ok_and(|m| m == [(0, 0, u32::MAX as u64)])
}

/// How many ids, from 0 up without a gap, the namespace whose map is `map` has.
fn contiguous_ids(map: &[(u64, u64, u64)]) -> u64 {
    let mut ranges: Vec<(u64, u64)> = map.iter().map(|&(i, _, c)| (i, i + c)).collect();
    ranges.sort_unstable();
    let mut end = 0;
    for (start, stop) in ranges {
        if start > end {
            break;
        }
        end = end.max(stop);
    }
    end
}

/// The map text (for the child's uid_map or gid_map) that makes `id` inside the caller's id 0
/// and packs every other id of the caller's namespace (`outer`, its own map) around it. Pure.
pub fn nested_map(outer: &str, id: u32) -> Result<String, String> {
    let n = contiguous_ids(&parse(outer)?);
    if n == 0 {
        return Err("the user namespace maps no id 0".into());
    }
    let id = id as u64;
    // Outer ids 1..n, the subordinate ones, fill the inside ids around `id`.
    let below = id.min(n - 1);
    let mut out = String::new();
    if below > 0 {
        out += &format!("0 1 {below}\n");
    }
    out += &format!("{id} 0 1\n");
    if n - 1 > id {
        out += &format!("{} {} {}\n", id + 1, id + 1, n - 1 - id);
    }
    Ok(out)
}

/// Write `maps` for the child `pid`, whose user namespace is a child of ours. Each file takes
/// one write(2) holding every line.
pub fn write_maps(pid: i32, maps: &Maps) -> Result<(), SpawnError> {
    for (name, text) in [("uid_map", &maps.uid_map), ("gid_map", &maps.gid_map)] {
        let path = format!("/proc/{pid}/{name}");
        let written = File::options()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            return Err(SpawnError::engine(format!(
                "keep-id: cannot write {path} ({}): {e}",
                text.trim_end().replace('\n', ", ")
            )));
        }
    }
    Ok(())
}

/// A pipe the child waits on until its maps are written.
pub struct Gate {
    read: OwnedFd,
    write: OwnedFd,
}

impl Gate {
    pub fn new() -> Result<Gate, SpawnError> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| SpawnError::engine(format!("cannot create a pipe: {e}")))?;
        Ok(Gate { read, write })
    }

    /// The child's side: true once the parent opened the gate, false when it gave up (its end
    /// closed without a byte: it reports the error itself).
    pub fn wait(self) -> bool {
        drop(self.write);
        let mut byte = [0u8; 1];
        let mut read = File::from(self.read);
        loop {
            match read.read(&mut byte) {
                Ok(1) => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                _ => return false,
            }
        }
    }

    /// The parent's side: let the child go.
    pub fn open(self) {
        drop(self.read);
        let _ = File::from(self.write).write_all(b"1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTER: &str = "         0       1002          1\n         1     165536      65536\n";

    #[test]
    fn caller_keeps_its_id_and_root_is_a_subordinate_id() {
        let map = nested_map(OUTER, 1002).unwrap();
        assert_eq!(map, "0 1 1002\n1002 0 1\n1003 1003 64534\n");
        // Every outer id is used exactly once: 1002 + 1 + 64534 = 65537.
        let total: u64 = parse(&map).unwrap().iter().map(|l| l.2).sum();
        assert_eq!(total, 65537);
    }

    #[test]
    fn single_id_namespace_maps_only_the_caller() {
        assert_eq!(nested_map("0 1002 1\n", 1002).unwrap(), "1002 0 1\n");
    }

    #[test]
    fn id_past_the_subordinate_range_still_gets_every_outer_id() {
        let map = nested_map("0 200000 1\n1 100000 10\n", 200000).unwrap();
        assert_eq!(map, "0 1 10\n200000 0 1\n");
    }

    #[test]
    fn id_at_the_top_of_the_range_has_nothing_above() {
        assert_eq!(nested_map("0 5 1\n1 100 9\n", 9).unwrap(), "0 1 9\n9 0 1\n");
    }

    #[test]
    fn outer_ranges_are_counted_up_to_the_first_gap() {
        let outer = "1 100000 10\n0 1000 1\n20 300000 5\n";
        assert_eq!(nested_map(outer, 3).unwrap(), "0 1 3\n3 0 1\n4 4 7\n");
    }

    #[test]
    fn bad_maps_are_errors() {
        assert!(nested_map("0 1000\n", 5).is_err());
        assert!(nested_map("1 1000 5\n", 5).is_err());
        assert!(nested_map("", 5).is_err());
    }

    #[test]
    fn real_root_is_recognised() {
        assert!(is_initial("         0          0 4294967295\n"));
        assert!(!is_initial(OUTER));
    }
}
