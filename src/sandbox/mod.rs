//! The sandbox: the per-user user namespace held by a pause process, and (later) the namespaces
//! and mounts of containers.

mod create;
mod pause;
mod subid;
mod sys;
mod userns;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use userns::{current_mapping, join_user_namespace, subid_range};

#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// How the user namespace maps ids to the host.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdMapping {
    /// Real root: no user namespace.
    Root,
    /// The caller's uid as 0, its /etc/subuid ranges from 1 up.
    SubIds,
    /// Only the caller's uid, as 0.
    SingleId,
}

/// One line of /proc/PID/uid_map or gid_map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapLine {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The uid map in effect for this process (after joining: the namespace's).
pub fn uid_map() -> Vec<IdMapLine> {
    parse_id_map(&std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default())
}

/// The gid map in effect for this process.
pub fn gid_map() -> Vec<IdMapLine> {
    parse_id_map(&std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default())
}

/// True when the process is uid 0 inside a user namespace rather than real root.
pub fn in_user_namespace_as_root() -> bool {
    let identity = [IdMapLine {
        inside: 0,
        outside: 0,
        count: u32::MAX,
    }];
    nix::unistd::geteuid().is_root() && uid_map() != identity
}

fn parse_id_map(text: &str) -> Vec<IdMapLine> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace().map(|n| n.parse::<u32>().ok());
            Some(IdMapLine {
                inside: f.next()??,
                outside: f.next()??,
                count: f.next()??,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_maps_parse_like_the_kernel_prints_them() {
        let text = "         0       1000          1\n         1     100000      65536\n";
        let line = |inside, outside, count| IdMapLine {
            inside,
            outside,
            count,
        };
        assert_eq!(
            parse_id_map(text),
            [line(0, 1000, 1), line(1, 100000, 65536)]
        );
        assert_eq!(parse_id_map("0 0 4294967295\n"), [line(0, 0, u32::MAX)]);
        assert_eq!(parse_id_map(""), []);
    }

    #[test]
    fn mapping_record_is_stable_json() {
        let json = serde_json::to_string(&IdMapping::SubIds).unwrap();
        assert_eq!(json, "\"SubIds\"");
    }
}
