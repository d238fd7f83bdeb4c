//! Image commands: pull, images, rmi, tag, history, inspect, image prune, manifest inspect.

use super::progress::PullDisplay;
use super::{join_userns, Context};
use crate::error::{Error, Result};
use crate::fsutil::human_size;
use crate::image::pull::{self, PullRequest};
use crate::image::{remove as rm, ImageStore};
use crate::overlay::LayerStore;
use crate::paths::Paths;
use crate::registry::{Client, ClientOptions, Reference, RegistriesConf};

pub use super::image_flags::*;
pub use super::images::list;
pub use super::inspect::{history, inspect};

pub fn dispatch(ctx: &Context, cmd: ImageCommand) -> Result<i32> {
    match cmd {
        ImageCommand::Ls(a) => list(ctx, a),
        ImageCommand::Rm(a) => remove(ctx, a),
        ImageCommand::Pull(a) => pull(ctx, a),
        ImageCommand::Push(a) => super::registry::push(ctx, a),
        ImageCommand::Tag(a) => tag(ctx, a),
        ImageCommand::Inspect(a) => inspect(ctx, a),
        ImageCommand::History(a) => history(ctx, a),
        ImageCommand::Prune(a) => prune(ctx, a),
        ImageCommand::Untag(a) => untag(ctx, a),
        ImageCommand::Exists(a) => exists(ctx, a),
        ImageCommand::Save(a) => super::archive::save(ctx, a),
        ImageCommand::Load(a) => super::archive::load(ctx, a),
        ImageCommand::Import(a) => super::archive::import(ctx, a),
        ImageCommand::Build(a) => super::build::build(ctx, *a),
    }
}

pub fn pull(ctx: &Context, args: PullArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let userxattr = join_userns(&paths)?;
    let names = if args.all_tags {
        all_tags(&paths, &conf, &args)?
    } else {
        vec![args.name.clone()]
    };
    for name in names {
        // A malformed name fails before anything is printed.
        Reference::parse(&name, &conf)?;
        let display = PullDisplay::new(args.quiet, &name);
        let req = PullRequest {
            reference: name.clone(),
            platform: args.platform.clone(),
            tls_verify: args.tls_verify,
        };
        let outcome = pull::pull(&paths, &conf, userxattr, &req, &display)?;
        display.finish(&outcome);
    }
    Ok(0)
}

fn all_tags(paths: &Paths, conf: &RegistriesConf, args: &PullArgs) -> Result<Vec<String>> {
    let reference = Reference::parse(&args.name, conf)?;
    if reference.digest.is_some()
        || args
            .name
            .rsplit('/')
            .next()
            .is_some_and(|l| l.contains(':'))
    {
        return Err(Error::msg("tag can't be used with --all-tags/-a"));
    }
    let client = Client::new(paths, conf, &reference, client_options(args.tls_verify))?;
    let mut tags = client.tags()?;
    tags.sort();
    Ok(tags
        .into_iter()
        .map(|t| format!("{}:{t}", reference.name()))
        .collect())
}

/// The host's platform and cove's user agent, with `--tls-verify` as given.
fn client_options(tls_verify: Option<bool>) -> ClientOptions {
    ClientOptions {
        tls_verify,
        ..ClientOptions::default()
    }
}

pub fn remove(ctx: &Context, args: RmArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let userxattr = join_userns(&paths)?;
    let images = ImageStore::open(&paths.root);
    let layers = LayerStore::open(paths.overlay_root(), userxattr);
    let in_use = containers_using(&paths)?;
    if args.all && !args.images.is_empty() {
        return Err(Error::msg(
            "when using the --all switch, you may not pass any images names or IDs",
        ));
    }
    let names = if args.all {
        images.load()?.into_iter().map(|i| i.id).collect()
    } else {
        args.images.clone()
    };
    let mut failed = None;
    for name in &names {
        match rm::remove_image(&images, &layers, &conf, name, args.force, &in_use) {
            Err(crate::image::Error::NoSuchImage(_)) if args.ignore => {}
            Ok(out) => {
                for u in out.untagged {
                    println!("Untagged: {u}");
                }
                for d in out.deleted {
                    println!("Deleted: {d}");
                }
            }
            Err(e) if names.len() > 1 => {
                eprintln!("Error: {}", crate::error::printable(&e.to_string()));
                failed = Some(Error::Exit(crate::error::EXIT_ENGINE));
            }
            Err(e) => return Err(e.into()),
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// image ID -> the ID of a container created from it, if any.
pub(super) fn containers_using(paths: &Paths) -> Result<impl Fn(&str) -> Option<String>> {
    let records = crate::container::ContainerStore::open(paths)?.list()?;
    let users: Vec<(String, String)> = records.into_iter().map(|r| (r.image, r.id)).collect();
    Ok(move |image: &str| {
        users
            .iter()
            .find(|(img, _)| img == image)
            .map(|(_, id)| id.clone())
    })
}

pub fn tag(ctx: &Context, args: TagArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let target = Reference::parse(&args.target, &conf)?;
    if target.digest.is_some() {
        return Err(Error::msg(
            "refusing to create a tag with a digest reference",
        ));
    }
    let full = target.tagged_name();
    let images = ImageStore::open(&paths.root);
    images.update(|all| {
        let found = crate::image::lookup::find(all, &args.source, &conf)?;
        let id = all[found.index].id.clone();
        for img in all.iter_mut() {
            if img.id == id {
                if !img.repo_tags.contains(&full) {
                    img.repo_tags.push(full.clone());
                }
            } else {
                img.repo_tags.retain(|t| t != &full);
            }
        }
        Ok(())
    })?;
    Ok(0)
}

/// podman's `untag`: remove the given names from the image, or all of its names.
pub fn untag(ctx: &Context, args: UntagArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let mut wanted = Vec::new();
    for name in &args.names {
        wanted.push(Reference::parse(name, &conf)?.tagged_name());
    }
    ImageStore::open(&paths.root).update(|all| {
        let found = crate::image::lookup::find(all, &args.image, &conf)?;
        let img = &mut all[found.index];
        if let Some(missing) = wanted.iter().find(|w| !img.repo_tags.contains(w)) {
            return Err(crate::image::Error::Other(format!(
                "{}: tag not known",
                crate::image::lookup::familiar(missing)
            )));
        }
        if wanted.is_empty() {
            img.repo_tags.clear();
        } else {
            img.repo_tags.retain(|t| !wanted.contains(t));
        }
        Ok(())
    })?;
    Ok(0)
}

/// podman's `image exists`: the answer is the exit code, nothing is printed.
pub fn exists(ctx: &Context, args: ExistsArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let images = ImageStore::open(&paths.root).load()?;
    match crate::image::lookup::find(&images, &args.image, &conf) {
        Ok(_) => Ok(0),
        Err(crate::image::Error::NoSuchImage(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

pub fn prune(ctx: &Context, args: PruneArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let what = if args.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    if !args.force && !super::confirm(what)? {
        return Ok(0);
    }
    let userxattr = join_userns(&paths)?;
    let images = ImageStore::open(&paths.root);
    let layers = LayerStore::open(paths.overlay_root(), userxattr);
    let out = rm::prune(
        &images,
        &layers,
        &rm::dangling_or_all(args.all),
        &containers_using(&paths)?,
    )?;
    if !out.deleted.is_empty() {
        println!("Deleted Images:");
        for u in &out.untagged {
            println!("untagged: {u}");
        }
        for d in &out.deleted {
            println!("deleted: {d}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(out.reclaimed));
    Ok(0)
}
