//! `save`, `load` and `import` (also under `image`): docker's flags, podman's accepted, turned
//! into requests for `image::archive` and `image::import`.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;

use clap::Args;

use super::{join_userns, Context};
use crate::error::{Error, Result};
use crate::image::archive::{self, Format, Target};
use crate::image::import::{self, ImportRequest};
use crate::image::local::tag_name;
use crate::image::lookup::familiar;
use crate::image::ImageStore;
use crate::registry::RegistriesConf;

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// docker-archive (default), oci-archive, oci-dir or docker-dir (podman)
    #[arg(long, value_name = "FORMAT", default_value = "docker-archive", value_parser = ["docker-archive", "oci-archive", "oci-dir", "docker-dir"])]
    pub format: String,
    /// Suppress the output (podman)
    #[arg(short, long)]
    pub quiet: bool,
    /// Several images in one docker-archive (podman; always so here)
    #[arg(short, long)]
    pub multi_image_archive: bool,
    /// Images to save: names (every tag of a name given without one), name:tag or IDs
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
    /// Load only the images of this platform (os/arch[/variant]); from a multi-platform
    /// index, this machine's unless given
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long, value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Print only the image ID (podman)
    #[arg(short, long)]
    pub quiet: bool,
    /// A tarball of a root file system: a file, an http(s) URL or - for STDIN
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    /// Name of the new image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub name: Option<String>,
}

pub fn save(ctx: &Context, args: SaveArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let format = Format::parse(&args.format)?;
    let all = ImageStore::open(&paths.root).load()?;
    let chosen = archive::choose(&all, &args.images, &conf)?;
    match &args.output {
        Some(path) => archive::save(&paths, &chosen, format, Target::Path(path))?,
        None => {
            if io::stdout().is_terminal() {
                return Err(Error::msg(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            let mut out = io::stdout().lock();
            archive::save(&paths, &chosen, format, Target::Stream(&mut out))?;
        }
    }
    Ok(0)
}

pub fn load(ctx: &Context, args: LoadArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let platform = args
        .platform
        .as_deref()
        .map(crate::registry::Platform::parse)
        .transpose()?;
    let mut input: Box<dyn Read> = match &args.input {
        Some(path) => Box::new(
            File::open(path)
                .map_err(|e| Error::msg(format!("cannot open {}: {e}", path.display())))?,
        ),
        None => {
            if io::stdin().is_terminal() {
                return Err(Error::msg("requested load from stdin, but stdin is empty"));
            }
            Box::new(io::stdin().lock())
        }
    };
    let userxattr = join_userns(&paths)?;
    let loaded = archive::load(&paths, userxattr, &mut input, platform.as_ref())?;
    for image in loaded {
        if image.tags.is_empty() {
            println!("Loaded image ID: {}", image.id);
        }
        for t in &image.tags {
            println!("Loaded image: {}", familiar(t));
        }
    }
    Ok(0)
}

pub fn import(ctx: &Context, args: ImportArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let tag = args
        .name
        .as_deref()
        .map(|n| tag_name(n, &conf))
        .transpose()?;
    crate::image::change::validate(&args.change)?;
    let source = args.source.as_str();
    let url = source.starts_with("http://") || source.starts_with("https://");
    let file = match source {
        "-" => None,
        _ if url => None,
        path => Some(File::open(path).map_err(|e| Error::msg(format!("cannot open {path}: {e}")))?),
    };
    // Joined before any thread is started (a URL's download may start some).
    let userxattr = join_userns(&paths)?;
    let mut input: Box<dyn Read> = match file {
        Some(f) => Box::new(f),
        None if url => import::fetch_url(source)?,
        None => Box::new(io::stdin().lock()),
    };
    let req = ImportRequest {
        tag,
        changes: args.change,
        message: args.message,
        platform: args.platform,
        source: source.to_string(),
    };
    let id = import::import(&paths, userxattr, &mut input, &req)?;
    println!("{id}");
    Ok(0)
}
