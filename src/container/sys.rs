//! The container layer's one raw call: kill(2) with any signal number, real-time ones
//! included (nix's `kill` takes only its `Signal` enum).

use nix::errno::Errno;
use nix::unistd::Pid;

/// Send signal `sig` (1..=64, checked by the caller's `Sig`) to `pid`.
pub fn kill(pid: Pid, sig: i32) -> nix::Result<()> {
    // SAFETY: kill(2) takes two integers and touches no memory of ours; an invalid pid or
    // signal is reported through errno.
    let rc = unsafe { nix::libc::kill(pid.as_raw(), sig) };
    Errno::result(rc).map(drop)
}
