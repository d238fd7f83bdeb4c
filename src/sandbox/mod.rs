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
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

pub use exec::exec_in;
pub use keepid::ROOTLESS_ONLY as KEEP_ID_ROOTLESS_ONLY;
pub use launch::is_known_rlimit;
pub use private_root::mount_private;
pub use spawn::spawn;
pub use spec::{Process, SpawnError, SpawnErrorKind, Stdio};
pub use user::{home_in_layers, resolve_user_in_layers};
pub use userns::{current_mapping, join_user_namespace, subid_range};

/// A sandbox failure, worded for the user (one line), that keeps what a caller needs to tell
/// causes apart: the path concerned and the errno, if any.
#[derive(Debug)]
pub struct Error {
    /// What failed, worded for the user; names the path wherever the message does.
    op: String,
    /// The cause as printed after `op: ` (an `io::Error`'s own text, nix's text of an errno).
    cause: Option<String>,
    /// The file concerned, when there is one.
    path: Option<PathBuf>,
    errno: Option<Errno>,
}

impl Error {
    /// A failure with no system cause; `op` is the whole message.
    pub(crate) fn new(op: impl Into<String>) -> Error {
        Error {
            op: op.into(),
            cause: None,
            path: None,
            errno: None,
        }
    }

    /// `{op}: {e}`, keeping `path` and the OS error number of `e`.
    pub(crate) fn io(op: impl Into<String>, path: Option<&Path>, e: &io::Error) -> Error {
        Error {
            op: op.into(),
            cause: Some(e.to_string()),
            path: path.map(Path::to_path_buf),
            errno: e.raw_os_error().map(Errno::from_raw),
        }
    }

    /// `{op}: {errno}` as nix prints it, e.g. `setns user: EPERM: Operation not permitted`.
    pub(crate) fn sys(op: impl Into<String>, path: Option<&Path>, errno: Errno) -> Error {
        Error {
            op: op.into(),
            cause: Some(errno.to_string()),
            path: path.map(Path::to_path_buf),
            errno: Some(errno),
        }
    }

    /// `{op}: {cause}` for a cause that is no system error (a parse error, a walk error).
    pub(crate) fn because(
        op: impl Into<String>,
        path: Option<&Path>,
        cause: impl fmt::Display,
    ) -> Error {
        Error {
            op: op.into(),
            cause: Some(cause.to_string()),
            path: path.map(Path::to_path_buf),
            errno: None,
        }
    }

    /// Keep `errno` for a failure whose message words it in its own way.
    pub(crate) fn with_errno(mut self, errno: Errno) -> Error {
        self.errno = Some(errno);
        self
    }
}

// For callers that tell causes apart (ENOSPC, EACCES, ENOENT) without parsing the text; the
// engine itself does not branch on them yet, the tests do.
#[allow(dead_code)]
impl Error {
    /// What failed, without the cause.
    pub fn op(&self) -> &str {
        &self.op
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.op)?;
        match &self.cause {
            Some(cause) => write!(f, ": {cause}"),
            None => Ok(()),
        }
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
        assert_eq!(spawn.kind, SpawnErrorKind::Engine);
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
