//! The command line: clap definitions and dispatch. Nothing below `cmd/` knows clap exists.

mod archive;
mod build;
mod commit;
mod container;
mod container_flags;
mod cp;
pub mod format;
mod grammar;
mod image;
mod image_flags;
mod images;
pub mod inspect;
mod lifecycle;
mod manifest;
mod manifest_flags;
mod progress;
mod ps;
mod registry;
mod search;
mod system;
mod usage;

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
        value_parser = log::Level::NAMES,
        default_value = "warn",
        value_name = "LEVEL"
    )]
    pub log_level: String,
    /// Send cove's own output to /dev/null; containers' output is still shown (podman)
    #[arg(long, global = true, hide_short_help = true)]
    pub noout: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create and run a new container from an image
    Run(container_flags::RunArgs),
    /// Create a new container
    Create(container_flags::CreateArgs),
    /// Start one or more stopped containers
    Start(container_flags::StartArgs),
    /// Stop one or more running containers
    Stop(container_flags::StopArgs),
    /// Restart one or more containers
    Restart(container_flags::StopArgs),
    /// Kill one or more running containers
    Kill(container_flags::KillArgs),
    /// Pause all processes within one or more containers
    Pause(container_flags::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(container_flags::PauseArgs),
    /// Remove one or more containers
    Rm(container_flags::RmArgs),
    /// List containers
    Ps(container_flags::PsArgs),
    /// Fetch the logs of a container
    Logs(container_flags::LogsArgs),
    /// Execute a command in a running container
    Exec(container_flags::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(container_flags::AttachArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(container_flags::WaitArgs),
    /// Display the running processes of a container
    Top(container_flags::TopArgs),
    /// List port mappings or a specific mapping for the container
    Port(container_flags::PortArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(container_flags::NamesArgs),
    /// Rename a container
    Rename(container_flags::RenameArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(container_flags::CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(container_flags::ExportArgs),
    /// Create a new image from a container's changes
    Commit(commit::CommitArgs),
    /// Build an image from a Dockerfile
    Build(build::BuildArgs),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(build::BuilderCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(container_flags::ContainerCommand),
    /// Download an image from a registry
    Pull(image::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Log in to a registry
    Login(registry::LoginArgs),
    /// Log out from a registry
    Logout(registry::LogoutArgs),
    /// Search a registry (Docker Hub by default) for images
    Search(search::SearchArgs),
    /// List images
    Images(image::ListArgs),
    /// Remove one or more images
    Rmi(image::RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(image::TagArgs),
    /// Show the history of an image
    History(image::HistoryArgs),
    /// Remove names from an image (podman)
    #[command(hide = true)]
    Untag(image::UntagArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(archive::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(archive::ImportArgs),
    /// Return low-level information on images
    Inspect(image::InspectArgs),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Manage manifest lists (multi-platform images)
    #[command(subcommand)]
    Manifest(manifest::ManifestCommand),
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
    /// Supervise one detached container (started by cove itself)
    #[command(name = "__monitor", hide = true)]
    Monitor { id: String },
}

pub fn main() -> Result<i32> {
    // The monitor is started by cove itself with a fixed argument list; skipping the parser
    // keeps the long-lived process small (clap's tables would stay in its memory).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let [_, root_flag, root, runroot_flag, runroot, cmd, id] = args.as_slice() {
        if cmd == "__monitor" && root_flag == "--root" && runroot_flag == "--runroot" {
            let ctx = Context {
                root: Some(PathBuf::from(root)),
                runroot: Some(PathBuf::from(runroot)),
                own_namespace: true,
            };
            return container::monitor(&ctx, &id.to_string_lossy());
        }
    }
    let cli = match parse(args) {
        Ok(cli) => cli,
        Err(e) => return Err(crate::error::Error::Exit(usage::report(&e, Cli::command))),
    };
    log::set_level(log::Level::parse(&cli.log_level).unwrap_or(log::Level::Warn));
    if cli.noout {
        crate::console::silence_own_output()
            .map_err(|e| crate::error::Error::msg(format!("--noout: {e}")))?;
    }
    let ctx = Context {
        root: cli.root,
        runroot: cli.runroot,
        own_namespace: false,
    };
    match cli.command {
        Command::Run(a) => container::run(&ctx, a),
        Command::Create(a) => container::create(&ctx, a),
        Command::Start(a) => lifecycle::start(&ctx, a),
        Command::Stop(a) => lifecycle::stop(&ctx, a),
        Command::Restart(a) => lifecycle::restart(&ctx, a),
        Command::Kill(a) => lifecycle::kill_cmd(&ctx, a),
        Command::Pause(a) => lifecycle::pause(&ctx, a, true),
        Command::Unpause(a) => lifecycle::pause(&ctx, a, false),
        Command::Rm(a) => lifecycle::rm(&ctx, a),
        Command::Ps(a) => ps::ps(&ctx, a),
        Command::Logs(a) => ps::logs(&ctx, a),
        Command::Exec(a) => container::exec(&ctx, a),
        Command::Attach(a) => container::attach(&ctx, a),
        Command::Wait(a) => lifecycle::wait(&ctx, a),
        Command::Top(a) => ps::top(&ctx, a),
        Command::Port(a) => ps::port(&ctx, a),
        Command::Diff(a) => ps::diff(&ctx, a),
        Command::Rename(a) => lifecycle::rename(&ctx, a),
        Command::Cp(a) => cp::cp(&ctx, a),
        Command::Export(a) => cp::export(&ctx, a),
        Command::Commit(a) => commit::commit(&ctx, a),
        Command::Build(a) => build::build(&ctx, a),
        Command::Builder(c) => build::builder(&ctx, c),
        Command::Container(c) => container_dispatch(&ctx, c),
        Command::Monitor { id } => container::monitor(&ctx, &id),
        Command::Pull(a) => image::pull(&ctx, a),
        Command::Push(a) => registry::push(&ctx, a),
        Command::Login(a) => registry::login(&ctx, a),
        Command::Logout(a) => registry::logout(&ctx, a),
        Command::Search(a) => search::search(&ctx, a),
        Command::Images(a) => image::list(&ctx, a),
        Command::Rmi(a) => image::remove(&ctx, a),
        Command::Tag(a) => image::tag(&ctx, a),
        Command::History(a) => image::history(&ctx, a),
        Command::Untag(a) => image::untag(&ctx, a),
        Command::Save(a) => archive::save(&ctx, a),
        Command::Load(a) => archive::load(&ctx, a),
        Command::Import(a) => archive::import(&ctx, a),
        Command::Inspect(a) => image::inspect(&ctx, a),
        Command::Image(c) => image::dispatch(&ctx, c),
        Command::Manifest(c) => manifest::dispatch(&ctx, c),
        Command::Info(a) => system::info(&ctx, a),
        Command::Version(a) => system::version(a),
        Command::System(c) => system::dispatch(&ctx, c),
        Command::Completion(a) => system::completion(a),
        Command::Man(a) => system::man(a),
    }
}

/// clap's parse with docker's grammar: `--rm=false`, `-d=true` and the other boolean forms.
fn parse(args: Vec<std::ffi::OsString>) -> std::result::Result<Cli, clap::Error> {
    let matches = grammar::docker_booleans(Cli::command()).try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

fn container_dispatch(ctx: &Context, cmd: container_flags::ContainerCommand) -> Result<i32> {
    use container_flags::ContainerCommand as C;
    match cmd {
        C::Run(a) => container::run(ctx, a),
        C::Create(a) => container::create(ctx, a),
        C::Start(a) => lifecycle::start(ctx, a),
        C::Stop(a) => lifecycle::stop(ctx, a),
        C::Restart(a) => lifecycle::restart(ctx, a),
        C::Kill(a) => lifecycle::kill_cmd(ctx, a),
        C::Pause(a) => lifecycle::pause(ctx, a, true),
        C::Unpause(a) => lifecycle::pause(ctx, a, false),
        C::Rm(a) => lifecycle::rm(ctx, a),
        C::Ls(a) => ps::ps(ctx, a),
        C::Logs(a) => ps::logs(ctx, a),
        C::Exec(a) => container::exec(ctx, a),
        C::Attach(a) => container::attach(ctx, a),
        C::Inspect(a) => inspect::inspect(ctx, a),
        C::Wait(a) => lifecycle::wait(ctx, a),
        C::Top(a) => ps::top(ctx, a),
        C::Port(a) => ps::port(ctx, a),
        C::Diff(a) => ps::diff(ctx, a),
        C::Rename(a) => lifecycle::rename(ctx, a),
        C::Prune(a) => lifecycle::prune(ctx, a),
        C::Cp(a) => cp::cp(ctx, a),
        C::Export(a) => cp::export(ctx, a),
        C::Exists(a) => lifecycle::exists(ctx, a),
        C::Commit(a) => commit::commit(ctx, a),
    }
}

/// Join the user's namespace (rootless; nothing as root) before a command touches layers or
/// containers, whose files belong to the user's subordinate IDs. True when overlay xattrs must
/// use the `user.` prefix.
pub fn join_userns(paths: &Paths) -> Result<bool> {
    let mapping = crate::sandbox::join_user_namespace(paths)?;
    Ok(mapping != crate::sandbox::IdMapping::Root)
}

/// docker's prune question ("WARNING! This will remove {what}. ... [y/N]"); without a terminal
/// on stdin the answer is "no".
pub fn confirm(what: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    print!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    if !std::io::stdin().is_terminal() {
        println!();
        return Ok(false);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| crate::error::Error::msg(format!("cannot read answer: {e}")))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// What every command gets from the global flags.
pub struct Context {
    root: Option<PathBuf>,
    runroot: Option<PathBuf>,
    /// The monitor: started by cove inside the user namespace it made for the caller.
    own_namespace: bool,
}

impl Context {
    pub fn paths(&self) -> Result<Paths> {
        let paths = Paths::resolve(self.root.clone(), self.runroot.clone(), self.own_namespace)?;
        paths.secure_roots()?;
        Ok(paths)
    }
}
