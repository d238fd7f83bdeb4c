//! The command line: clap definitions and dispatch. Nothing below `cmd/` knows clap exists.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::Result;
use crate::log;

#[derive(Parser, Debug)]
#[command(name = "cove", version, about = "A rootless, daemonless container engine")]
pub struct Cli {
    /// Directory for images, layers and container records
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Directory for run state (pids, sockets, locks)
    #[arg(long, global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// Diagnostics to print on stderr
    #[arg(long, global = true, value_enum, default_value = "warn")]
    pub log_level: log::Level,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {}

pub fn main() -> Result<i32> {
    let cli = Cli::parse();
    log::set_level(cli.log_level);
    Ok(0)
}
