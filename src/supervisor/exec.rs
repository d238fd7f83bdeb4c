//! `exec -t`: the process gets a terminal of its own, allocated from the container's devpts and
//! pumped to ours by the same loop that supervises a foreground `run`.

use super::event::Stream;
use super::pump::{self, IoMode, Keeper};
use crate::sandbox::{self, Process, SpawnError, Stdio};

/// Run `process` in the container whose first process is `target` on a new pty, with our
/// terminal raw and our stdin fed to it when `stdin`; returns its exit code.
pub fn run_exec_tty(target: i32, process: &Process, stdin: bool) -> Result<i32, SpawnError> {
    let mut keeper = ExecKeeper { target, process };
    let mode = IoMode {
        tty: true,
        stdin,
        ptmx: Some(format!("/proc/{target}/root/dev/ptmx").into()),
        ..IoMode::pipes()
    };
    pump::run_foreground(&mut keeper, &mode)
}

/// The pump's keeper for an exec: `exec_in` starts the process, nothing is logged.
struct ExecKeeper<'a> {
    target: i32,
    process: &'a Process,
}

impl Keeper for ExecKeeper<'_> {
    fn spawn(&mut self, io: Stdio) -> Result<i32, SpawnError> {
        sandbox::exec_in(self.target, self.process, io)
    }

    fn output(&mut self, _stream: Stream, _data: &[u8]) {}
}
