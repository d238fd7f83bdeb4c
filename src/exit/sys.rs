//! waitpid(2) read without nix's `WaitStatus`, which cannot hold a death by a real-time signal
//! (nix reports EINVAL after the child is already reaped, and its status is lost).

use nix::errno::Errno;
use nix::libc;
use nix::unistd::Pid;

/// Reap `pid` (-1: any child): Some((pid, docker's code)) once it has ended, None with `nohang`
/// while none has.
pub fn wait(pid: i32, nohang: bool) -> nix::Result<Option<(Pid, i32)>> {
    let mut status: libc::c_int = 0;
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: `status` is a live c_int the kernel writes the child's status into; no other
        // memory is passed.
        let rc = unsafe { libc::waitpid(pid, &mut status, flags) };
        match Errno::result(rc) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(0) => return Ok(None),
            Ok(reaped) => {
                let code = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    // Stopped or continued (only reported when asked for): not an end.
                    continue;
                };
                return Ok(Some((Pid::from_raw(reaped), code)));
            }
        }
    }
}
