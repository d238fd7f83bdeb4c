//! System commands: info, check, reset, migrate, version, completion, man pages.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Subcommand, ValueEnum};
use serde_json::{json, Value};

use super::inspect::json_indent;
use super::{Cli, Context};
use crate::error::{Error, Result};
use crate::fsutil::human_size;
use crate::image::ImageStore;
use crate::overlay::LayerStore;
use crate::registry::RegistriesConf;
use crate::sandbox;
use crate::template::Template;

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Display system-wide information
    Info(InfoArgs),
    /// Check the store for damage a crash or a full disk left, and repair it (podman)
    #[command(
        long_about = "Check the store for damage a crash or a full disk left, and repair it \
                      (podman). One line per problem; with --repair, one line per repair or the \
                      reason there is none. Exits 0 when nothing is wrong or everything found \
                      was repaired, 1 when damage is left."
    )]
    Check(CheckArgs),
    /// Remove every container and image and the store itself (podman)
    Reset(ResetArgs),
    /// Stop the containers and the user namespace, so that changed /etc/subuid ranges apply
    /// (podman)
    Migrate(MigrateArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Repair what is found: remove debris and damaged images, free names, fix records
    #[arg(short, long)]
    pub repair: bool,
    /// Skip the checks that take long (re-hashing every blob)
    #[arg(short, long)]
    pub quick: bool,
    /// With --repair, also remove the stopped containers that use a damaged image
    #[arg(short, long)]
    pub force: bool,
    /// Layers and blobs no image uses count as debris only when older than this (e.g. 24h)
    #[arg(short, long, value_name = "DURATION", value_parser = parse_max)]
    pub max: Option<std::time::Duration>,
}

fn parse_max(s: &str) -> std::result::Result<std::time::Duration, String> {
    crate::time::parse_duration(s)
        .and_then(|n| u64::try_from(n).ok())
        .map(std::time::Duration::from_nanos)
        .ok_or_else(|| format!("invalid duration {s:?}: want e.g. 90s, 30m or 24h"))
}

#[derive(Args, Debug)]
pub struct ResetArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Accepted for podman's scripts; cove has one runtime
    #[arg(long, value_name = "RUNTIME")]
    pub new_runtime: Option<String>,
}

pub fn dispatch(ctx: &Context, cmd: SystemCommand) -> Result<i32> {
    match cmd {
        SystemCommand::Info(a) => info(ctx, a),
        SystemCommand::Check(a) => check(ctx, a),
        SystemCommand::Reset(a) => reset(ctx, a),
        SystemCommand::Migrate(a) => migrate(ctx, a),
    }
}

/// podman's `system check`: one line per problem, and with --repair one per repair (or why
/// not). Exit 0 when nothing is wrong or everything found was repaired, 1 when damage is left.
fn check(ctx: &Context, args: CheckArgs) -> Result<i32> {
    use crate::check::{Options, Outcome};
    let paths = ctx.paths()?;
    let userxattr = super::join_userns(&paths)?;
    let opts = Options {
        repair: args.repair,
        quick: args.quick,
        force: args.force,
        max_age: args.max,
    };
    let findings = crate::check::run(&paths, userxattr, opts)?;
    for f in &findings {
        println!("{}", f.problem);
        match &f.outcome {
            Outcome::Found => {}
            Outcome::Repaired(done) => println!("  repaired: {done}"),
            Outcome::Left(why) => println!("  not repaired: {why}"),
        }
    }
    let left = findings.iter().filter(|f| f.damaged()).count();
    if findings.is_empty() {
        return Ok(0);
    }
    let n = findings.len();
    let problems = if n == 1 { "problem" } else { "problems" };
    if args.repair {
        println!("{n} {problems} found, {} repaired", n - left);
    } else {
        println!("{n} {problems} found; run with --repair to fix them");
    }
    Ok(if left == 0 { 0 } else { 1 })
}

/// podman's `system reset`: every container (killed), every image and layer, the run state
/// and the user namespace go; the store directories stay, empty.
fn reset(ctx: &Context, args: ResetArgs) -> Result<i32> {
    if !args.force && !super::confirm("all containers, all images and the whole store")? {
        return Ok(0);
    }
    let paths = ctx.paths()?;
    super::join_userns(&paths)?;
    stop_all(&paths)?;
    sandbox::stop_pause(&paths);
    for dir in [&paths.root, &paths.runroot] {
        empty_dir(dir)?;
    }
    Ok(0)
}

/// podman's `system migrate`: containers stop and the pause process ends, so the next command
/// builds the user namespace from /etc/subuid as it is now.
fn migrate(ctx: &Context, _args: MigrateArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    super::join_userns(&paths)?;
    let store = crate::container::ContainerStore::open(&paths)?;
    for rec in store.list()? {
        if store.live_state(&rec).status.can_stop() {
            crate::container::stop(&store, &rec, &crate::container::StopRequest::default())?;
        }
    }
    sandbox::stop_pause(&paths);
    Ok(0)
}

fn stop_all(paths: &crate::paths::Paths) -> Result<()> {
    let store = crate::container::ContainerStore::open(paths)?;
    for rec in store.list()? {
        let req = crate::container::RemoveRequest { force: true };
        match crate::container::remove(&store, &rec, req) {
            Ok(()) | Err(crate::container::Error::NoSuchContainer(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Remove everything inside `dir`, keeping `dir` (it may be the user's own `--root`).
fn empty_dir(dir: &std::path::Path) -> Result<()> {
    let fail = |p: &std::path::Path, e: std::io::Error| {
        Error::msg(format!("cannot remove {}: {e}", p.display()))
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail(dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| fail(dir, e))?.path();
        // Layers may hold trees deeper than the descriptor limit.
        let removed = crate::fsutil::tree::remove_all(&path);
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(&path, e)),
            _ => {}
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Format output with a Go template, or "json"
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

pub fn info(ctx: &Context, args: InfoArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let images = ImageStore::open(&paths.root).load()?;
    let layers = LayerStore::open(paths.overlay_root(), paths.rootless).list()?;
    let mapping = match sandbox::current_mapping(&paths) {
        Some(m) => format!("{m:?}"),
        None if paths.rootless => "not created yet".into(),
        None => "Root".into(),
    };
    let containers = crate::container::ContainerStore::open(&paths)
        .and_then(|s| s.list())
        .unwrap_or_default();
    // How the newest container's root file system was mounted (kernel overlay, else a copy;
    // fuse-overlayfs for keep-id): what this machine gives cove.
    let rootfs_mode = containers
        .iter()
        .find(|c| !c.rootfs_mode.is_empty())
        .map(|c| c.rootfs_mode.clone())
        .unwrap_or_else(|| "not used yet".into());
    let uname = nix::sys::utsname::uname().map_err(|e| Error::msg(format!("uname: {e}")))?;
    let info = json!({
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Containers": containers.len(),
        "Images": images.len(),
        "RootfsMode": rootfs_mode,
        "Layers": layers.len(),
        "Driver": "overlay",
        "DockerRootDir": paths.root.display().to_string(),
        "RunRoot": paths.runroot.display().to_string(),
        "Rootless": paths.rootless,
        "IDMapping": mapping,
        "SubIDRange": sandbox::subid_range(&paths).map(|(s, c)| format!("{s}:{c}")),
        "KernelVersion": uname.release().to_string_lossy(),
        "OperatingSystem": os_name(),
        "OSType": "linux",
        "Architecture": uname.machine().to_string_lossy(),
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total(),
        "CgroupVersion": cgroup_version(),
        "RegistryConfig": {
            "Search": conf.unqualified_search_registries(),
        },
    });
    match args.format.as_deref() {
        Some("json") => println!("{}", json_indent(&info)),
        Some(f) => {
            let t = Template::parse(&f.replace("\\n", "\n").replace("\\t", "\t"))
                .map_err(Error::msg)?;
            println!("{}", t.render(&info).map_err(Error::msg)?);
        }
        None => print!("{}", info_text(&info)),
    }
    Ok(0)
}

fn info_text(i: &Value) -> String {
    let s = |k: &str| match &i[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let search = i["RegistryConfig"]["Search"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    format!(
        "Client: cove\n Version: {v}\n\nServer:\n Containers: {containers}\n Images: {images}\n \
         Server Version: cove {v}\n Storage Driver: overlay\n  Layers: {layers}\n  Rootfs Mount: {rootfs}\n  ID Mapping: {map}\n  Sub-ID Range: {sub}\n \
         Cgroup Version: {cg}\n Kernel Version: {kernel}\n Operating System: {os}\n OSType: linux\n \
         Architecture: {arch}\n CPUs: {cpus}\n Total Memory: {mem}\n Docker Root Dir: {root}\n \
         Run Root: {run}\n Rootless: {rootless}\n Registries: {search}\n",
        v = s("ServerVersion"),
        containers = s("Containers"),
        images = s("Images"),
        rootfs = s("RootfsMode"),
        layers = s("Layers"),
        map = s("IDMapping"),
        sub = s("SubIDRange"),
        cg = s("CgroupVersion"),
        kernel = s("KernelVersion"),
        os = s("OperatingSystem"),
        arch = s("Architecture"),
        cpus = s("NCPU"),
        mem = human_size(i["MemTotal"].as_u64().unwrap_or(0)),
        root = s("DockerRootDir"),
        run = s("RunRoot"),
        rootless = s("Rootless"),
    )
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "linux".into())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// "2" on a unified host, "1 (hybrid)" where v1 controllers sit beside an empty v2 tree.
fn cgroup_version() -> &'static str {
    let unified = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let hybrid = std::path::Path::new("/sys/fs/cgroup/unified").exists();
    match (unified, hybrid) {
        (true, _) => "2",
        (false, true) => "1 (hybrid)",
        _ => "1",
    }
}

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Format output with a Go template, or "json"
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
}

pub fn version(args: VersionArgs) -> Result<i32> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let v = json!({
        "Client": {
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": "1.41",
            "Os": "linux",
            "Arch": arch,
            "Experimental": false,
        }
    });
    match args.format.as_deref() {
        Some("json") => println!("{}", v),
        Some(f) => {
            let t = Template::parse(&f.replace("\\n", "\n").replace("\\t", "\t")).map_err(Error::msg)?;
            println!("{}", t.render(&v).map_err(Error::msg)?);
        }
        None => println!(
            "Client:\n Version:           {}\n API version:       1.41\n OS/Arch:           linux/{arch}\n Experimental:      false",
            env!("CARGO_PKG_VERSION")
        ),
    }
    Ok(0)
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to print a completion script for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn completion(args: CompletionArgs) -> Result<i32> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut Cli::command(), "cove", &mut std::io::stdout());
    Ok(0)
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write the pages into
    pub dir: PathBuf,
}

/// Write `cove.1` and one page per (sub)command, `cove-image-ls.1` and so on.
pub fn man(args: ManArgs) -> Result<i32> {
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Error::msg(format!("cannot create {}: {e}", args.dir.display())))?;
    let mut cmd = Cli::command();
    cmd.build();
    write_pages(&args.dir, &cmd, "cove")?;
    Ok(0)
}

fn write_pages(dir: &std::path::Path, cmd: &clap::Command, name: &str) -> Result<()> {
    let page = cmd.clone().name(name.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .map_err(|e| Error::msg(format!("cannot render man page {name}: {e}")))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, buf)
        .map_err(|e| Error::msg(format!("cannot write {}: {e}", path.display())))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(dir, sub, &format!("{name}-{}", sub.get_name()))?;
    }
    Ok(())
}
