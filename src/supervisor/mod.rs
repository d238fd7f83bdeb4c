//! Supervision of one container after it is spawned: the stdio pump, the log, the attach socket
//! and its clients, the exit record and the restart policy — in the detached monitor process
//! (`cove __monitor ID`) or in a foreground `run`/`exec`.

mod attach;
mod claim;
mod event;
mod exec;
mod front;
mod io;
mod keeper;
mod monitor;
mod pump;
mod restart;
mod signals;
mod sys;
mod tty;
mod wire;

use std::fmt;

pub use attach::{attach, parse_detach_keys, AttachEnd, AttachOpts};
pub use exec::run_exec_tty;
pub use keeper::{check_preserve_fds, run_foreground, Foreground};
pub use monitor::{run_monitor, start_monitor};

/// A supervision failure, already worded for the user.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<Error> for crate::sandbox::SpawnError {
    fn from(e: Error) -> crate::sandbox::SpawnError {
        crate::sandbox::SpawnError::engine(e.0)
    }
}
