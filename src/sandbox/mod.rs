//! The sandbox: the per-user user namespace held by a pause process, and a container's own
//! namespaces, mounts, capabilities and seccomp filter, from a plain `Spec` to an exec'd process.

pub mod caps;
pub mod console;
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
mod userns_new;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

pub use exec::exec_in;
pub use keepid::ROOTLESS_ONLY as KEEP_ID_ROOTLESS_ONLY;
pub use launch::is_known_rlimit;
pub use private_root::mount_private;
pub use rootfs::release as release_rootfs;
pub use spawn::{check_inherited_fds, spawn};
pub use spec::{Process, SpawnError, Stdio};
pub use user::{db_in_layers, home_in_layers, resolve_user_in_layers};
pub use userns::{current_mapping, join_user_namespace, stop_pause, subid_range};

/// A sandbox failure: one line for the user, with the path and errno kept.
pub type Error = crate::syserror::SysError<Style>;

/// Sandbox messages print an errno as nix does: `setns user: EPERM: Operation not permitted`.
pub enum Style {}

impl crate::syserror::Style for Style {
    fn errno_text(errno: Errno) -> String {
        errno.to_string()
    }
}

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
    use std::io;
    use std::path::Path;

    use super::*;

    #[test]
    fn errors_print_the_operation_then_the_cause() {
        let path = Path::new("/proc/42/ns/user");
        let op = "cannot join the user namespace of pause process 42: setns user";
        let e = Error::sys(op, Some(path), Errno::EPERM);
        assert_eq!(
            e.to_string(),
            format!("{op}: EPERM: Operation not permitted")
        );
        assert_eq!((e.errno(), e.path()), (Some(Errno::EPERM), Some(path)));
        assert_eq!(e.op(), op);

        let eacces = io::Error::from_raw_os_error(Errno::EACCES as i32);
        let e = Error::io(
            "cannot write /run/x/pause.pid",
            Some(Path::new("/run/x")),
            &eacces,
        );
        assert_eq!(
            e.to_string(),
            "cannot write /run/x/pause.pid: Permission denied (os error 13)"
        );
        assert_eq!(e.errno(), Some(Errno::EACCES));

        let e = Error::new("invalid capability: CAP_FOO");
        assert_eq!(e.to_string(), "invalid capability: CAP_FOO");
        assert_eq!((e.errno(), e.path()), (None, None));
        // Into a spawn failure (125), with the same words.
        let spawn = SpawnError::from(e);
        assert_eq!(spawn.kind, spec::SpawnErrorKind::Engine);
        assert_eq!(spawn.message, "invalid capability: CAP_FOO");
    }

    #[test]
    fn a_missing_seccomp_profile_is_enoent_with_the_path() {
        let path = "/nonexistent-cove-test/profile.json";
        let err = seccomp::parse_security_opts(&[format!("seccomp={path}")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "opening seccomp profile ({path}) failed: No such file or directory (os error 2)"
            )
        );
        assert_eq!(err.errno(), Some(Errno::ENOENT));
        assert_eq!(err.path(), Some(Path::new(path)));
    }

    #[test]
    fn mapping_record_is_stable_json() {
        let json = serde_json::to_string(&IdMapping::SubIds).unwrap();
        assert_eq!(json, "\"SubIds\"");
    }
}
