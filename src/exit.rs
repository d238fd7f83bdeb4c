//! docker's exit codes, decided here and nowhere else: 125 when cove fails, 126 when the
//! command cannot be invoked, 127 when it is not found, 128+N for a death by signal N, else
//! the container's own status. A leaf module, so the sandbox and the supervisor use it too.

mod sys;

pub use sys::wait;

/// cove itself failed (docker's and podman's 125).
pub const ENGINE: i32 = 125;
/// The command exists but cannot be run (a directory, no permission, not an executable).
pub const CANNOT_INVOKE: i32 = 126;
/// The command does not exist.
pub const NOT_FOUND: i32 = 127;

/// What the cove process itself exits with for `code` (a process status is one byte).
pub fn process_status(code: i32) -> u8 {
    u8::try_from(code.clamp(0, 255)).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_docker() {
        assert_eq!(process_status(-1), 0);
        assert_eq!(process_status(300), 255);
        assert_eq!(process_status(ENGINE), 125);
    }

    /// A death by a real-time signal is 128+N, which nix's WaitStatus cannot report.
    /// (The children are reaped by `wait` itself, which clippy cannot see.)
    #[test]
    #[allow(clippy::zombie_processes)]
    fn wait_reports_every_signal() {
        for (sig, code) in [(9, 137), (64, 192), (37, 165)] {
            let child = std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .unwrap();
            let pid = i32::try_from(child.id()).unwrap();
            std::process::Command::new("kill")
                .args([format!("-{sig}"), pid.to_string()])
                .status()
                .unwrap();
            let (reaped, got) = wait(pid, false).unwrap().unwrap();
            assert_eq!((reaped.as_raw(), got), (pid, code));
        }
        let child = std::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        assert_eq!(wait(pid, false).unwrap().map(|(_, c)| c), Some(3));
    }
}
