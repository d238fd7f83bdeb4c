//! docker's exit codes, decided here and nowhere else: 125 when cove fails, 126 when the
//! command cannot be invoked, 127 when it is not found, 128+N for a death by signal N, else
//! the container's own status. A leaf module, so the sandbox and the supervisor use it too.

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

/// cove itself failed (docker's and podman's 125).
pub const ENGINE: i32 = 125;
/// The command exists but cannot be run (a directory, no permission, not an executable).
pub const CANNOT_INVOKE: i32 = 126;
/// The command does not exist.
pub const NOT_FOUND: i32 = 127;

/// A death by `sig`, as a shell and docker report it.
pub fn for_signal(sig: Signal) -> i32 {
    128 + sig as i32
}

/// The code a reaped process reports: its status, or 128+N for signal N; None while it runs
/// or is only stopped.
pub fn from_wait(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(for_signal(sig)),
        _ => None,
    }
}

/// What the cove process itself exits with for `code` (a process status is one byte).
pub fn process_status(code: i32) -> u8 {
    u8::try_from(code.clamp(0, 255)).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::Pid;

    #[test]
    fn codes_follow_docker() {
        let pid = Pid::from_raw(1);
        assert_eq!(from_wait(WaitStatus::Exited(pid, 3)), Some(3));
        let killed = WaitStatus::Signaled(pid, Signal::SIGKILL, false);
        assert_eq!(from_wait(killed), Some(137));
        assert_eq!(from_wait(WaitStatus::StillAlive), None);
        assert_eq!(process_status(-1), 0);
        assert_eq!(process_status(300), 255);
        assert_eq!(process_status(ENGINE), 125);
    }
}
