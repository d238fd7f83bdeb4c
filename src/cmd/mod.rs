//! The command line: clap definitions and dispatch. Nothing below `cmd/` knows clap exists.

pub mod format;
mod image;
mod images;
mod inspect;
mod progress;
mod system;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::Result;
use crate::log;
use crate::paths::Paths;

#[derive(Parser, Debug)]
#[command(
    name = "cove",
    version,
    about = "A rootless, daemonless container engine",
    long_about = "cove runs OCI containers as an ordinary user, without a daemon. \
                  Its commands, flags, output and exit codes follow docker's.",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Directory for images, layers and container records
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Directory for run state (pids, sockets, locks)
    #[arg(long, global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// Diagnostics to print on stderr
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "warn",
        value_name = "LEVEL"
    )]
    pub log_level: log::Level,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Download an image from a registry
    Pull(image::PullArgs),
    /// List images
    Images(image::ListArgs),
    /// Remove one or more images
    Rmi(image::RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::TagArgs),
    /// Show the history of an image
    History(image::HistoryArgs),
    /// Return low-level information on images
    Inspect(image::InspectArgs),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Inspect manifests in a registry
    #[command(subcommand)]
    Manifest(image::ManifestCommand),
    /// Display system-wide information
    Info(system::InfoArgs),
    /// Show the cove version information
    Version(system::VersionArgs),
    /// Manage cove
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Print a shell completion script
    Completion(system::CompletionArgs),
    /// Write man pages for every command into DIR
    #[command(name = "__man", hide = true)]
    Man(system::ManArgs),
}

pub fn main() -> Result<i32> {
    let cli = Cli::parse();
    log::set_level(cli.log_level);
    let ctx = Context {
        root: cli.root,
        runroot: cli.runroot,
    };
    match cli.command {
        Command::Pull(a) => image::pull(&ctx, a),
        Command::Images(a) => image::list(&ctx, a),
        Command::Rmi(a) => image::remove(&ctx, a),
        Command::Tag(a) => image::tag(&ctx, a),
        Command::History(a) => image::history(&ctx, a),
        Command::Inspect(a) => image::inspect(&ctx, a),
        Command::Image(c) => image::dispatch(&ctx, c),
        Command::Manifest(c) => image::manifest(&ctx, c),
        Command::Info(a) => system::info(&ctx, a),
        Command::Version(a) => system::version(a),
        Command::System(c) => system::dispatch(&ctx, c),
        Command::Completion(a) => system::completion(a),
        Command::Man(a) => system::man(a),
    }
}

/// What every command gets from the global flags.
pub struct Context {
    root: Option<PathBuf>,
    runroot: Option<PathBuf>,
}

impl Context {
    pub fn paths(&self) -> Result<Paths> {
        Paths::resolve(self.root.clone(), self.runroot.clone())
    }
}
