//! `cove build` / `image build` / `builder prune`: docker's and podman's flags turned into a
//! build request (the work is in `build`). A failed build prints one line and exits 1, as
//! `docker build` does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::grammar::GoBool;
use super::progress::PullDisplay;
use super::{join_userns, Context};
use crate::build::{self, BuildRequest, ContextSource, Output};
use crate::error::{printable, Error, Result};
use crate::fsutil::human_size;
use crate::image::policy::PullPolicy;
use crate::image::{remove as rm, ImageStore};
use crate::overlay::LayerStore;
use crate::registry::RegistriesConf;

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag (NAME:TAG); may be given several times
    #[arg(short, long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: PATH/Dockerfile; - for stdin)
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Set a build-time variable: KEY=VALUE, or KEY to take it from the environment
    #[arg(long, value_name = "KEY=VALUE")]
    pub build_arg: Vec<String>,
    /// Set the target build stage to build
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Do not use the cache when building the image
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub no_cache: Option<bool>,
    /// Pull base images: always (--pull alone), missing (default), never
    #[arg(long, value_name = "POLICY", num_args = 0..=1, require_equals = true, default_missing_value = "always")]
    pub pull: Option<String>,
    /// Set metadata for the image: KEY=VALUE
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Suppress the build output and print the image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to FILE
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Network mode for RUN instructions: none or host
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// Set the target platform (the host's, or one the base image has)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Secret for RUN --mount=type=secret: id=ID,src=PATH
    #[arg(long, value_name = "SPEC")]
    pub secret: Vec<String>,
    /// Require HTTPS and verify certificates when pulling base images
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub tls_verify: Option<bool>,
    /// When a RUN step fails, run COMMAND (default: an interactive sh) in its file system
    #[arg(long, value_name = "COMMAND", num_args = 0..=1, require_equals = true, default_missing_value = "sh")]
    pub debug_on_fail: Option<String>,
    /// Use the build cache saved in a directory: type=local,src=DIR (or DIR)
    #[arg(long, value_name = "SPEC")]
    pub cache_from: Vec<String>,
    /// Save this build's cache to a directory: type=local,dest=DIR (or DIR)
    #[arg(long, value_name = "SPEC")]
    pub cache_to: Option<String>,
    /// Remove intermediate containers (always done; accepted)
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub rm: Option<bool>,
    /// Remove intermediate containers even after a failure (always done; accepted)
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub force_rm: Option<bool>,
    /// Cache intermediate images (always done; podman's, accepted)
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = GoBool)]
    pub layers: Option<bool>,
    /// Output style (plain is what cove prints; accepted)
    #[arg(long, hide = true, value_name = "TYPE")]
    pub progress: Option<String>,
    /// Build context: a directory, or - for a tar (or a Dockerfile alone) on stdin
    #[arg(value_name = "PATH")]
    pub context: String,
}

#[derive(Subcommand, Debug)]
pub enum BuilderCommand {
    /// Remove the build cache
    Prune(BuilderPruneArgs),
}

#[derive(Args, Debug)]
pub struct BuilderPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Remove all build cache (the same here: cache no image uses)
    #[arg(short, long)]
    pub all: bool,
}

fn request(args: &BuildArgs, conf: &RegistriesConf) -> Result<BuildRequest> {
    let mut tags = Vec::new();
    for t in &args.tags {
        tags.push(crate::image::local::tag_name(t, conf)?);
    }
    let mut build_args = BTreeMap::new();
    for a in &args.build_arg {
        match a.split_once('=') {
            Some((k, v)) => build_args.insert(k.to_string(), Some(v.to_string())),
            None => build_args.insert(a.clone(), None),
        };
    }
    let mut labels = BTreeMap::new();
    for l in &args.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let pull = match args.pull.as_deref() {
        None | Some("false") | Some("missing") => PullPolicy::Missing,
        Some("true") | Some("always") => PullPolicy::Always,
        Some(p) => PullPolicy::parse(p)?,
    };
    let mut secrets = BTreeMap::new();
    for s in &args.secret {
        let mut id = None;
        let mut src = None;
        for part in s.split(',') {
            match part.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
                Some(("type", "file")) => {}
                _ => {
                    return Err(Error::msg(format!(
                        "invalid secret {s:?}: expected id=ID,src=PATH"
                    )))
                }
            }
        }
        let id = id.ok_or_else(|| Error::msg(format!("invalid secret {s:?}: no id")))?;
        let src = src.ok_or_else(|| Error::msg(format!("invalid secret {s:?}: no src")))?;
        let src = std::fs::canonicalize(&src)
            .map_err(|e| Error::msg(format!("secret {id}: {}: {e}", src.display())))?;
        secrets.insert(id, src);
    }
    let network = match args.network.as_deref() {
        None | Some("default") => String::new(),
        Some(n @ ("none" | "host")) => n.to_string(),
        Some(other) => {
            return Err(Error::msg(format!(
                "network mode {other:?} not supported for builds: use none or host"
            )))
        }
    };
    let context = if args.context == "-" {
        ContextSource::Stdin
    } else {
        ContextSource::Dir(PathBuf::from(&args.context))
    };
    Ok(BuildRequest {
        context,
        dockerfile: args.file.clone(),
        tags,
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache.unwrap_or(false),
        pull,
        labels,
        network,
        platform: args.platform.clone(),
        secrets,
        tls_verify: args.tls_verify,
        debug_on_fail: args.debug_on_fail.clone(),
        cache_from: args.cache_from.clone(),
        cache_to: args.cache_to.clone(),
    })
}

pub fn build(ctx: &Context, args: BuildArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let req = request(&args, &conf)?;
    let userxattr = join_userns(&paths)?;
    let out = Output { quiet: args.quiet };
    let progress = PullDisplay::for_build(args.quiet);
    match build::build(&paths, &conf, userxattr, &req, &out, &progress) {
        Ok(done) => {
            if let Some(f) = &args.iidfile {
                std::fs::write(f, &done.id)
                    .map_err(|e| Error::msg(format!("cannot write {}: {e}", f.display())))?;
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("Error: {}", printable(&e.to_string()));
            Err(Error::Exit(1))
        }
    }
}

pub fn builder(ctx: &Context, cmd: BuilderCommand) -> Result<i32> {
    let BuilderCommand::Prune(args) = cmd;
    if !args.force && !super::confirm("all dangling build cache")? {
        return Ok(0);
    }
    let paths = ctx.paths()?;
    let userxattr = join_userns(&paths)?;
    let images = ImageStore::open(&paths.root);
    let layers = LayerStore::open(paths.overlay_root(), userxattr);
    let out = rm::prune(
        &images,
        &layers,
        &|img: &crate::image::ImageRecord| img.is_build_cache(),
        &super::image::containers_using(&paths)?,
    )?;
    let cache = paths.root.join("build-cache");
    let freed = out.reclaimed;
    if args.all && cache.is_dir() {
        crate::fsutil::tree::remove_all(&cache)
            .map_err(|e| Error::msg(format!("cannot remove {}: {e}", cache.display())))?;
    }
    if !out.deleted.is_empty() {
        println!("Deleted build cache objects:");
        for d in &out.deleted {
            println!("{}", d.trim_start_matches("sha256:"));
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(freed));
    Ok(0)
}
