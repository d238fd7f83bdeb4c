//! cove: a rootless, daemonless container engine. Parse, dispatch, and turn an error into
//! docker's exit codes (125 engine, 126 cannot invoke, 127 not found, else the container's).

mod cmd;
mod container;
mod error;
mod fsutil;
mod image;
mod ipc;
mod log;
mod overlay;
mod paths;
mod registry;
mod sandbox;
mod supervisor;
mod template;

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
    ExitCode::from(code.clamp(0, 255) as u8)
}
