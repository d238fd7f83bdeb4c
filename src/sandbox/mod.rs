//! The sandbox: the per-user user namespace held by a pause process, and a container's own
//! namespaces, mounts, capabilities and seccomp filter, from a plain `Spec` to an exec'd process.

pub mod caps;
mod create;
mod exec;
mod init;
mod keepid;
mod launch;
pub mod mounts;
mod mounts_apply;
mod pause;
mod private_root;
mod rootfs;
pub mod seccomp;
mod spawn;
pub mod spec;
mod subid;
pub(crate) mod sys;
mod user;
mod userns;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use exec::exec_in;
pub use keepid::ROOTLESS_ONLY as KEEP_ID_ROOTLESS_ONLY;
pub use launch::is_known_rlimit;
pub use private_root::mount_private;
pub use spawn::spawn;
pub use spec::{Process, SpawnError, Stdio};
pub use user::{home_in_layers, resolve_user_in_layers};
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_record_is_stable_json() {
        let json = serde_json::to_string(&IdMapping::SubIds).unwrap();
        assert_eq!(json, "\"SubIds\"");
    }
}
