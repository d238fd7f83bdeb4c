//! cove: a rootless, daemonless container engine. Parse, dispatch, and turn an error into
//! docker's exit codes (125 engine, 126 cannot invoke, 127 not found, else the container's).

// Tests may unwrap what they set up and cast the numbers they make.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap
    )
)]

mod build;
mod check;
mod cmd;
mod console;
mod container;
mod error;
mod exit;
mod fsutil;
mod idmap;
mod image;
mod ipc;
mod log;
mod overlay;
mod paths;
mod registry;
mod sandbox;
mod supervisor;
mod syserror;
mod template;
mod time;

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = match cmd::main() {
        Ok(code) => code,
        Err(err) => {
            if let Some(msg) = err.message() {
                eprintln!("Error: {msg}");
            }
            err.exit_code()
        }
    };
    ExitCode::from(exit::process_status(code))
}
