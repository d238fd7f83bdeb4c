//! `cove manifest`: docker's create/annotate/inspect/push/rm and podman's add/remove/exists
//! for multi-platform lists (the work is in image::list).

use std::collections::BTreeMap;

pub use super::manifest_flags::*;
use super::{join_userns, Context};
use crate::error::{Error, Result};
use crate::image::list::add::{self, AddRequest, Overrides};
use crate::image::list::push::{self as list_push, ListPushRequest};
use crate::image::list::{self, ListRecord, ListStore};
use crate::image::lookup::familiar;
use crate::image::push::Format;
use crate::paths::Paths;
use crate::registry::{Client, ClientOptions, Reference, RegistriesConf};

pub fn dispatch(ctx: &Context, cmd: ManifestCommand) -> Result<i32> {
    match cmd {
        ManifestCommand::Create(a) => create(ctx, a),
        ManifestCommand::Add(a) => add_cmd(ctx, a),
        ManifestCommand::Annotate(a) => annotate(ctx, a),
        ManifestCommand::Inspect(a) => inspect(ctx, a),
        ManifestCommand::Push(a) => push(ctx, a),
        ManifestCommand::Rm(a) => rm(ctx, a),
        ManifestCommand::Remove(a) => remove(ctx, a),
        ManifestCommand::Exists(a) => exists(ctx, a),
    }
}

/// Paths with `--authfile`, registries.conf, and the store's namespace joined (describing a
/// local image writes gzip copies of its plain layers).
fn setup(ctx: &Context, tls: Option<&TlsArgs>) -> Result<(Paths, RegistriesConf)> {
    let mut paths = ctx.paths()?;
    if let Some(f) = tls.and_then(|t| t.authfile.clone()) {
        paths.auth_file = Some(f);
    }
    let conf = RegistriesConf::load(&paths)?;
    join_userns(&paths)?;
    Ok((paths, conf))
}

fn list_name(input: &str, conf: &RegistriesConf) -> Result<String> {
    let r = Reference::parse(input, conf)?;
    if r.digest.is_some() {
        return Err(Error::msg(format!(
            "{input}: a manifest list is named with a tag, not a digest"
        )));
    }
    Ok(r.tagged_name())
}

fn create(ctx: &Context, args: CreateArgs) -> Result<i32> {
    let (paths, conf) = setup(ctx, Some(&args.tls))?;
    let name = list_name(&args.list, &conf)?;
    let lists = ListStore::open(&paths.root);
    let existed = lists.update(|all| {
        if all.iter().any(|l| l.name == name) {
            return Ok(true);
        }
        all.push(ListRecord {
            id: list::new_id(&name),
            name: name.clone(),
            entries: Vec::new(),
            annotations: BTreeMap::new(),
            created: crate::time::now().0,
        });
        Ok(false)
    })?;
    if existed && !args.amend {
        return Err(Error::msg(format!(
            "refusing to amend an existing manifest list with no --amend flag: {}",
            familiar(&name)
        )));
    }
    for image in &args.images {
        let req = AddRequest {
            image: image.clone(),
            all: args.all,
            tls_verify: args.tls.tls(),
            overrides: Overrides::default(),
        };
        if let Err(e) = add::add(&paths, &conf, &name, &req) {
            // A list made here and left half-filled would be a surprise; drop it.
            if !existed {
                let _ = lists.update(|all| {
                    all.retain(|l| l.name != name);
                    Ok(())
                });
            }
            return Err(e.into());
        }
    }
    println!("Created manifest list {name}");
    Ok(0)
}

fn add_cmd(ctx: &Context, args: AddArgs) -> Result<i32> {
    let (paths, conf) = setup(ctx, Some(&args.tls))?;
    let name = list_name(&args.list, &conf)?;
    let req = AddRequest {
        image: args.image.clone(),
        all: args.all,
        tls_verify: args.tls.tls(),
        overrides: args.platform.overrides()?,
    };
    add::add(&paths, &conf, &name, &req)?;
    print_id(&paths, &name)
}

fn annotate(ctx: &Context, args: AnnotateArgs) -> Result<i32> {
    let (paths, conf) = setup(ctx, None)?;
    let name = list_name(&args.list, &conf)?;
    let overrides = args.platform.overrides()?;
    let lists = ListStore::open(&paths.root);
    if args.index {
        if overrides.arch.is_some() || overrides.os.is_some() || overrides.variant.is_some() {
            return Err(Error::msg(
                "--index sets annotations of the list; platform flags belong to an entry",
            ));
        }
        lists.edit(&name, |l| {
            l.annotations.extend(overrides.annotations.clone());
            Ok(())
        })?;
        return Ok(0);
    }
    let Some(entry) = args.entry else {
        return Err(Error::msg(
            "manifest annotate needs the entry to annotate: its image reference or digest",
        ));
    };
    let full = Reference::parse(&entry, &conf)
        .ok()
        .map(|r| list::full_reference(&r));
    lists.edit(&name, |l| {
        let i = l.find_entry(&entry, full.as_deref()).ok_or_else(|| {
            crate::image::Error::Other(format!(
                "manifest for image {entry} does not exist in {}",
                familiar(&name)
            ))
        })?;
        overrides.apply(&mut l.entries[i].descriptor);
        Ok(())
    })?;
    Ok(0)
}

fn inspect(ctx: &Context, args: InspectArgs) -> Result<i32> {
    let (paths, conf) = setup(ctx, Some(&args.tls))?;
    let first = &args.names[0];
    let local = match list_name(first, &conf) {
        Ok(n) => ListStore::open(&paths.root).get(&n)?,
        Err(_) => None,
    };
    let value: serde_json::Value = match (local, args.names.get(1)) {
        (Some(l), None) => {
            let (bytes, _) = l.document(Format::Docker)?;
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::msg(format!("{first}: manifest list is not JSON: {e}")))?
        }
        (Some(l), Some(entry)) => {
            let full = Reference::parse(entry, &conf)
                .ok()
                .map(|r| list::full_reference(&r));
            let i = l.find_entry(entry, full.as_deref()).ok_or_else(|| {
                Error::msg(format!(
                    "No such manifest: {entry} in {}",
                    familiar(&l.name)
                ))
            })?;
            serde_json::to_value(&l.entries[i].descriptor).map_err(|e| Error::msg(e.to_string()))?
        }
        (None, Some(_)) => return Err(list::no_such_list(first).into()),
        (None, None) => remote_manifest(&paths, &conf, first, args.tls.tls())?,
    };
    println!("{}", super::inspect::json_indent(&value));
    Ok(0)
}

fn remote_manifest(
    paths: &Paths,
    conf: &RegistriesConf,
    name: &str,
    tls_verify: Option<bool>,
) -> Result<serde_json::Value> {
    let reference = Reference::parse(name, conf)?;
    let opts = ClientOptions {
        tls_verify,
        ..ClientOptions::default()
    };
    let client = Client::new(paths, conf, &reference, opts)?;
    let raw = client.manifest(&reference.tag_or_digest())?;
    serde_json::from_slice(&raw.bytes)
        .map_err(|e| Error::msg(format!("{reference}: manifest is not JSON: {e}")))
}

fn push(ctx: &Context, args: PushArgs) -> Result<i32> {
    let (paths, conf) = setup(ctx, Some(&args.tls))?;
    let req = ListPushRequest {
        list: args.list.clone(),
        destination: args.destination.clone(),
        format: match args.format.as_deref() {
            Some("oci") => Format::Oci,
            _ => Format::Docker,
        },
        tls_verify: args.tls.tls(),
        remove: args.purge,
    };
    let outcome = list_push::push(&paths, &conf, &req)?;
    if !args.quiet {
        for p in &outcome.pushed {
            let digest = p.rsplit('@').next().unwrap_or_default();
            println!("Pushed ref {} with digest: {digest}", familiar(p));
        }
    }
    println!("{}", outcome.digest);
    if let Some(file) = &args.digestfile {
        std::fs::write(file, &outcome.digest)
            .map_err(|e| Error::msg(format!("cannot write {}: {e}", file.display())))?;
    }
    Ok(0)
}

fn rm(ctx: &Context, args: RmArgs) -> Result<i32> {
    let (paths, conf) = setup(ctx, None)?;
    let lists = ListStore::open(&paths.root);
    let mut status = 0;
    for input in &args.lists {
        let removed = match list_name(input, &conf) {
            Ok(name) => lists.update(|all| {
                let before = all.len();
                all.retain(|l| l.name != name);
                Ok(all.len() < before)
            })?,
            Err(_) => false,
        };
        if !removed {
            eprintln!("Error: No such manifest: {input}");
            status = 1;
        }
    }
    Ok(status)
}

fn remove(ctx: &Context, args: RemoveArgs) -> Result<i32> {
    let (paths, conf) = setup(ctx, None)?;
    let name = list_name(&args.list, &conf)?;
    ListStore::open(&paths.root).edit(&name, |l| {
        let i = l.find_entry(&args.digest, None).ok_or_else(|| {
            crate::image::Error::Other(format!(
                "no entry {} in manifest list {}",
                args.digest,
                familiar(&name)
            ))
        })?;
        l.entries.remove(i);
        Ok(())
    })?;
    print_id(&paths, &name)
}

fn exists(ctx: &Context, args: ExistsArgs) -> Result<i32> {
    let paths = ctx.paths()?;
    let conf = RegistriesConf::load(&paths)?;
    let found = match list_name(&args.list, &conf) {
        Ok(n) => ListStore::open(&paths.root).get(&n)?.is_some(),
        Err(_) => false,
    };
    Ok(if found { 0 } else { 1 })
}

/// podman prints the list's ID after changing it.
fn print_id(paths: &Paths, name: &str) -> Result<i32> {
    if let Some(l) = ListStore::open(&paths.root).get(name)? {
        println!("{}", l.id);
    }
    Ok(0)
}
