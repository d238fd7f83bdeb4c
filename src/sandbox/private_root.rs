//! A container's root file system mounted for this cove process alone (`cp` and `export` of
//! a container that is not running): a private mount namespace of our own, so the mount
//! disappears with the process and no other cove command ever sees it.

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::spec::Rootfs;
use super::SpawnError;

/// Mount `rootfs` at `rootfs.merged`, visible to this process only. Call it while the process
/// is single-threaded (unshare of the mount namespace requires it).
pub fn mount_private(rootfs: &Rootfs) -> Result<(), SpawnError> {
    unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| SpawnError::engine(format!("cannot make a private mount namespace: {e}")))?;
    // Without this, the overlay mount would propagate back to the shared namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| SpawnError::engine(format!("cannot make mounts private: {e}")))?;
    super::rootfs::mount(rootfs, false).map(|_| ())
}
