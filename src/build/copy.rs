//! COPY and ADD (and WORKDIR's directory): sources from the context (globs, directories'
//! contents, symlinks as links, ignored files left out), another stage or an image, or a
//! heredoc, unpacked into a step container's root with their owner (`--chown`, else 0:0) and
//! `--chmod`; the container's changes become the layer.

use std::io;
use std::path::Path;

use super::dockerfile::{Heredoc, Instruction, Kind};
use super::run::{self, StepContainer};
use super::state::State;
use super::step::{key_of, Builder, Made};
use super::{add, files};
use super::{BuildError, Result};
use crate::container;
use crate::image::ingest::ingest_written;
use crate::image::local::Adding;
use crate::overlay::{ContainerRoot, Kind as PathKind, Owners};

/// Where COPY's files come from.
enum From {
    Context,
    /// A finished stage or an image: its state.
    Image(Box<State>),
}

pub fn copy(b: &Builder, state: &mut State, ins: &Instruction) -> Result<()> {
    let (flags, words, heredocs, add) = match &ins.kind {
        Kind::Copy {
            flags,
            words,
            heredocs,
        } => (flags, words, heredocs, false),
        Kind::Add {
            flags,
            words,
            heredocs,
        } => (flags, words, heredocs, true),
        _ => return Err(BuildError::Engine("not a COPY".into())),
    };
    let keyword = if add { "ADD" } else { "COPY" };
    let bad = |m: String| BuildError::Input(format!("{}:{}: {m}", b.ctx.dockerfile_name, ins.line));
    let sub = |w: &str| super::config::sub(state, b.df.escape, w).map_err(bad);
    let mut from = From::Context;
    let mut chown = None;
    let mut chmod = None;
    let mut from_text = String::new();
    for (k, v) in flags {
        match k.as_str() {
            "from" => {
                let v = sub(v)?;
                from_text = v.clone();
                from = match super::stages::find_stage(&b.df, &v) {
                    Some(i) => {
                        From::Image(Box::new(b.done.get(&i).cloned().ok_or_else(|| {
                            bad(format!("stage {v} is not built before this step"))
                        })?))
                    }
                    None => {
                        let image = b.image(&v, ins.line)?;
                        From::Image(Box::new(b.state_of(&image)?))
                    }
                };
            }
            "chown" => chown = Some(sub(v)?),
            "chmod" => {
                let v = sub(v)?;
                chmod = Some(u32::from_str_radix(&v, 8).map_err(|_| {
                    bad(format!(
                        "invalid chmod {v:?}: expected an octal mode like 0755"
                    ))
                })?);
            }
            // Layers here are always independent of what is below them.
            "link" => {}
            other @ ("parents" | "exclude" | "checksum" | "keep-git-dir") => {
                return Err(bad(format!("{keyword} --{other} is not supported yet")))
            }
            other => return Err(bad(format!("unknown flag: --{other}"))),
        }
    }
    let mut words: Vec<String> = words.iter().map(|w| sub(w)).collect::<Result<_>>()?;
    if words.len() < 2 {
        return Err(bad(format!("{keyword} requires at least two arguments")));
    }
    let dest_word = words.pop().unwrap_or_default();
    let dest = if dest_word.starts_with('/') {
        dest_word.clone()
    } else {
        let wd = state.workdir();
        format!("{}/{dest_word}", wd.trim_end_matches('/'))
    };
    // Sources: heredocs by name, else context paths (globs resolved) or paths in the image.
    let docs: Vec<&Heredoc> = words
        .iter()
        .filter_map(|w| {
            let name = w.strip_prefix("<<")?.trim_start_matches('-');
            heredocs
                .iter()
                .find(|h| h.name == name.trim_matches(['"', '\'']))
        })
        .collect();
    let mut sources = Vec::new();
    let mut downloads: Vec<add::Download> = Vec::new();
    let content = match &from {
        _ if !docs.is_empty() => docs
            .iter()
            .map(|h| format!("{}={}", h.name, h.content))
            .collect::<Vec<_>>()
            .join("\n"),
        From::Context => {
            for w in &words {
                if add && add::is_url(w) {
                    let scratch = b.paths.runroot.join("build");
                    downloads.push(add::download(w, &scratch, downloads.len()).map_err(bad)?);
                    continue;
                }
                sources.extend(b.ctx.resolve(w).map_err(|e| bad(e.to_string()))?);
            }
            let mut h = b.ctx.hash(&sources)?;
            for d in &downloads {
                let bytes = std::fs::read(&d.path).map_err(|e| bad(format!("ADD: {e}")))?;
                h.push_str(&format!(
                    "\n{}={}",
                    d.name,
                    crate::registry::sha256_digest(&bytes)
                ));
            }
            h
        }
        From::Image(st) => {
            sources = words.clone();
            st.key.clone()
        }
    };
    let many = words.len() > 1 || sources.len() + downloads.len() > 1 || docs.len() > 1;
    let text = format!(
        "{keyword} --from={from_text} --chown={} --chmod={} {} {dest_word}",
        chown.clone().unwrap_or_default(),
        chmod.map(|m| format!("{m:o}")).unwrap_or_default(),
        words.join(" ")
    );
    let key = key_of(&state.key, &text, &content);
    if b.try_cache(state, &key)? {
        return Ok(());
    }
    let ctr = run::idle(b.paths, &b.store, state)?;
    // Some((parents, plan)): the layer is written directly instead of through the root.
    let wrote = (|| -> Result<Option<files::Direct>> {
        let root = container::open_root(&b.store, b.paths, &ctr.rec)?;
        let dest_is_dir = dest_word.ends_with('/') || root.kind(&dest)? == PathKind::Dir;
        if many && !dest_is_dir {
            return Err(bad(format!(
                "When using {keyword} with more than one source file, the destination must be a \
             directory and end with a /"
            )));
        }
        let (uid, gid) = match &chown {
            Some(c) => owner(b, &ctr, c).map_err(bad)?,
            None => (0, 0),
        };
        let dest_rel = dest
            .trim_start_matches('/')
            .trim_end_matches('/')
            .to_string();
        let missing_dest = root.kind(&dest)? == PathKind::Missing;
        let wrote = if !docs.is_empty() {
            let files: Vec<(String, Vec<u8>)> = docs
                .iter()
                .map(|h| {
                    let body = if h.quoted {
                        h.content.clone()
                    } else {
                        super::config::sub(state, b.df.escape, &h.content)
                            .unwrap_or(h.content.clone())
                    };
                    let name = if dest_is_dir {
                        format!("{dest_rel}/{}", h.name)
                    } else {
                        dest_rel.clone()
                    };
                    (name, body.into_bytes())
                })
                .collect();
            files::unpack(&root, uid, gid, |w| files::write_files(&files, chmod, w))
                .map(|_| None)
                .map_err(|e| bad(e.to_string()))
        } else {
            match &from {
                From::Context => {
                    let (archives, plain): (Vec<String>, Vec<String>) = sources
                        .iter()
                        .cloned()
                        .partition(|s| add && add::is_archive(&b.ctx.root.join(s)));
                    let mut plan =
                        files::plan_context(&b.ctx, &plain, &dest_rel, dest_is_dir, missing_dest)?;
                    for d in &downloads {
                        let name = if dest_is_dir {
                            format!("{dest_rel}/{}", d.name)
                        } else {
                            dest_rel.clone()
                        };
                        plan.push((d.path.display().to_string(), name));
                    }
                    if archives.is_empty() && downloads.is_empty() {
                        if let Some(parents) = files::direct_parents(&b.ctx, &root, &plan)? {
                            return Ok(Some(files::Direct {
                                parents,
                                plan,
                                uid,
                                gid,
                            }));
                        }
                    }
                    let ctx = &b.ctx;
                    files::unpack(&root, uid, gid, |w| {
                        files::write_context(ctx, &plan, chmod, w)
                    })
                    .map_err(|e| bad(e.to_string()))?;
                    let owners = match &chown {
                        Some(_) => Owners::Fixed(uid, gid),
                        None => Owners::FromTar,
                    };
                    for a in &archives {
                        if root.kind(&dest)? == PathKind::Missing {
                            files::unpack(&root, uid, gid, |w| files::write_dir(&dest_rel, w))
                                .map_err(|e| bad(e.to_string()))?;
                        }
                        add::extract(&root, &b.ctx.root.join(a), &dest, owners)
                            .map_err(|e| bad(format!("{keyword} {a}: {e}")))?;
                    }
                    Ok(None)
                }
                From::Image(src) => {
                    copy_from_image(b, src, &sources, &dest_rel, dest_is_dir, &root, uid, gid)
                        .map(|_| None)
                        .map_err(|e| bad(e.to_string()))
                }
            }
        };
        wrote
    })();
    release(b, &ctr);
    let direct = wrote?;
    let mut adding = Adding::begin(&b.images, &b.layers)?;
    let parent = state.layers.last().map(|l| l.chain_id.clone());
    let layer = match direct {
        Some(d) => {
            let ctx = &b.ctx;
            let (mut ingested, ()) = ingest_written(&b.images, &b.layers, "the COPY", |out| {
                files::write_layer(ctx, &d.parents, &d.plan, chmod, d.uid, d.gid, out)
                    .map_err(|e| crate::image::Error::Other(format!("writing the layer: {e}")))
            })?;
            let media_type = ingested.media_type();
            Some(adding.place(&mut ingested, media_type, parent.as_deref())?)
        }
        None => container::changes_layer(
            b.paths,
            b.userxattr,
            &ctr.rec,
            &mut adding,
            parent.as_deref(),
            &[],
        )?,
    };
    drop(ctr);
    state.history(&format!("{text} # buildkit"), layer.is_none());
    let made = Made {
        adding: Some(adding),
        layer,
    };
    b.finish(state, key, made)?;
    Ok(())
}

/// WORKDIR's directory, made when the image does not have it.
pub fn make_dir<'b>(b: &'b Builder, state: &mut State, dir: &str) -> Result<Made<'b>> {
    if state.image.is_none() {
        // scratch: the directory comes with the first layer that needs it.
        return Ok(Made::default());
    }
    let ctr = run::idle(b.paths, &b.store, state)?;
    let root = container::open_root(&b.store, b.paths, &ctr.rec)?;
    let missing = root.kind(dir)? == PathKind::Missing;
    let wrote = if missing {
        let name = dir.trim_start_matches('/').to_string();
        files::unpack(&root, 0, 0, |w| files::write_dir(&name, w))
    } else {
        Ok(())
    };
    release(b, &ctr);
    wrote.map_err(|e| BuildError::Engine(format!("WORKDIR {dir}: {e}")))?;
    if !missing {
        return Ok(Made::default());
    }
    let made = b.container_layer(state, &ctr.rec, &[])?;
    if let Some(h) = state.config["history"]
        .as_array_mut()
        .and_then(|h| h.last_mut())
    {
        if made.layer.is_some() {
            h["empty_layer"] = serde_json::Value::Null;
            if let Some(m) = h.as_object_mut() {
                m.remove("empty_layer");
            }
        }
    }
    Ok(made)
}

/// Unmount the step container's root (mounted by `open_root`) so it can be removed.
fn release(b: &Builder, ctr: &StepContainer) {
    if let Ok(spec) = container::to_spec(b.paths, &ctr.rec) {
        crate::sandbox::release_rootfs(&spec.rootfs.merged);
    }
}

/// `--chown`: numbers, or names looked up in the image's /etc/passwd and /etc/group.
fn owner(b: &Builder, ctr: &StepContainer, spec: &str) -> Result<(u32, u32), String> {
    let (user, group) = spec.split_once(':').unwrap_or((spec, ""));
    if let (Ok(u), Ok(g)) = (user.parse::<u32>(), group.parse::<u32>()) {
        return Ok((u, g));
    }
    if group.is_empty() {
        if let Ok(u) = user.parse::<u32>() {
            return Ok((u, u));
        }
    }
    let spec_ = container::to_spec(b.paths, &ctr.rec).map_err(|e| e.to_string())?;
    let (u, g, _) = crate::sandbox::resolve_user_in_layers(&spec_.rootfs.lower, spec)
        .map_err(|e| format!("--chown={spec}: {e}"))?;
    let g = if group.is_empty() { u } else { g };
    Ok((u, g))
}

/// `COPY --from`: each path of the other image's root, archived under its new name.
#[allow(clippy::too_many_arguments)]
fn copy_from_image(
    b: &Builder,
    src: &State,
    paths: &[String],
    dest: &str,
    dest_is_dir: bool,
    root: &ContainerRoot,
    uid: u32,
    gid: u32,
) -> io::Result<()> {
    let other = run::idle(b.paths, &b.store, src).map_err(|e| io::Error::other(e.to_string()))?;
    let result = (|| {
        let src_root = container::open_root(&b.store, b.paths, &other.rec)
            .map_err(|e| io::Error::other(e.to_string()))?;
        for p in paths {
            let kind = src_root
                .kind(p)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let name = match kind {
                PathKind::Missing => {
                    return Err(io::Error::other(format!(
                        "{p}: not found in the source image"
                    )))
                }
                PathKind::Dir => dest.to_string(),
                PathKind::Other if dest_is_dir => {
                    let base = Path::new(p)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    format!("{dest}/{base}").trim_start_matches('/').to_string()
                }
                PathKind::Other => dest.to_string(),
            };
            let name = if name.is_empty() {
                ".".to_string()
            } else {
                name
            };
            let src_root = &src_root;
            files::unpack(root, uid, gid, move |w| {
                src_root
                    .archive(p, false, Path::new(&name), w)
                    .map(|_| ())
                    .map_err(|e| io::Error::other(e.to_string()))
            })?;
        }
        Ok(())
    })();
    release(b, &other);
    result
}
