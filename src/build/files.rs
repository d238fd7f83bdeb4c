//! The tars COPY and ADD write: into a step container's root, or as the layer itself (with the
//! image's directories on the way, when nothing is in the way); context files under their new
//! names (symlinks as links, modes kept or `--chmod`), heredoc bodies, streamed from a thread.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::context::Context;
use super::Result;
use crate::overlay::{ContainerRoot, Owners};

/// Stream a tar made by `produce` on a thread into the root at `/`, owned by uid:gid.
pub fn unpack(
    root: &ContainerRoot,
    uid: u32,
    gid: u32,
    produce: impl FnOnce(&mut dyn Write) -> io::Result<()> + Send,
) -> io::Result<()> {
    let (mut reader, writer) = io::pipe()?;
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut w = io::BufWriter::with_capacity(1 << 16, writer);
            produce(&mut w)?;
            w.flush()
        });
        let consumed = root
            .extract("/", &mut reader, Owners::Fixed(uid, gid))
            .map_err(|e| io::Error::other(e.to_string()));
        drop(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the archive writer failed")));
        consumed.and(produced)
    })
}

/// Context files and the names they get: (context path, name in the root).
pub fn plan_context(
    ctx: &Context,
    sources: &[String],
    dest: &str,
    dest_is_dir: bool,
    missing_dest: bool,
) -> Result<Vec<(String, String)>> {
    let mut plan = Vec::new();
    for src in sources {
        let is_dir = fs::symlink_metadata(ctx.root.join(src)).is_ok_and(|m| m.is_dir());
        for (full, below) in ctx.walk(src)? {
            let name = if is_dir {
                if below.is_empty() {
                    if !missing_dest {
                        continue;
                    }
                    dest.to_string()
                } else if dest.is_empty() {
                    below
                } else {
                    format!("{dest}/{below}")
                }
            } else if dest_is_dir {
                let base = Path::new(src)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if dest.is_empty() {
                    base
                } else {
                    format!("{dest}/{base}")
                }
            } else {
                dest.to_string()
            };
            if !name.is_empty() {
                plan.push((full, name));
            }
        }
    }
    Ok(plan)
}

pub fn write_context(
    ctx: &Context,
    plan: &[(String, String)],
    chmod: Option<u32>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut t = tar::Builder::new(w);
    t.follow_symlinks(false);
    for (full, name) in plan {
        append(&mut t, ctx, full, name, chmod, None)?;
    }
    t.finish()
}

/// One context path as a tar entry named `name`: its mode (or `chmod`), its time, and
/// `owner` when given; anything but a file, directory or link is left out with a warning.
fn append<W: Write>(
    t: &mut tar::Builder<W>,
    ctx: &Context,
    full: &str,
    name: &str,
    chmod: Option<u32>,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    let path = ctx.root.join(full);
    let meta = fs::symlink_metadata(&path)?;
    let mut h = tar::Header::new_gnu();
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    h.set_mode(chmod.unwrap_or(meta.permissions().mode() & 0o7777));
    if let Some((uid, gid)) = owner {
        h.set_uid(u64::from(uid));
        h.set_gid(u64::from(gid));
    }
    let ft = meta.file_type();
    if ft.is_dir() {
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        t.append_data(&mut h, name, io::empty())
    } else if ft.is_symlink() {
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        t.append_link(&mut h, name, fs::read_link(&path)?)
    } else if ft.is_file() {
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(meta.len());
        t.append_data(&mut h, name, fs::File::open(&path)?)
    } else {
        crate::warn!("not copied (not a file, directory or link): {full}");
        Ok(())
    }
}

pub fn write_files(
    files: &[(String, Vec<u8>)],
    chmod: Option<u32>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut t = tar::Builder::new(w);
    for (name, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(chmod.unwrap_or(0o644));
        h.set_size(body.len() as u64);
        t.append_data(&mut h, name, &body[..])?;
    }
    t.finish()
}

/// A tar of one directory entry (0755), for a destination that does not exist yet.
pub fn write_dir(name: &str, w: &mut dyn Write) -> io::Result<()> {
    let mut t = tar::Builder::new(w);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    t.append_data(&mut h, name, io::empty())?;
    t.finish()
}

/// A directory a COPY layer must carry: an ancestor of what is copied, with the metadata the
/// image gives it (or a new one's).
pub struct ParentDir {
    pub name: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
}

/// A COPY layer written directly: the parent directories as the image has them (what an
/// overlay copy-up would have put in the upper directory), then the planned files, owned by
/// uid:gid.
pub fn write_layer(
    ctx: &Context,
    parents: &[ParentDir],
    plan: &[(String, String)],
    chmod: Option<u32>,
    uid: u32,
    gid: u32,
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut t = tar::Builder::new(w);
    t.follow_symlinks(false);
    for p in parents {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(p.mode & 0o7777);
        h.set_uid(u64::from(p.uid));
        h.set_gid(u64::from(p.gid));
        h.set_mtime(p.mtime);
        h.set_size(0);
        t.append_data(&mut h, &p.name, io::empty())?;
    }
    for (full, name) in plan {
        append(&mut t, ctx, full, name, chmod, Some((uid, gid)))?;
    }
    t.finish()
}

/// A COPY layer to write directly: the image's directories on the way, the files, the owner.
pub struct Direct {
    pub parents: Vec<ParentDir>,
    pub plan: Vec<(String, String)>,
    pub uid: u32,
    pub gid: u32,
}

/// The directories above what `plan` writes, as the image has them (new ones 0755 root), when
/// the layer can be written directly: every one a real directory, and nothing in the image
/// of another kind (or a symlink) where a planned entry goes. None otherwise.
pub fn direct_parents(
    ctx: &Context,
    root: &ContainerRoot,
    plan: &[(String, String)],
) -> Result<Option<Vec<ParentDir>>> {
    use nix::sys::stat::SFlag;
    let kind =
        |st: &nix::sys::stat::FileStat| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    let planned: std::collections::HashSet<&str> = plan.iter().map(|(_, n)| n.as_str()).collect();
    let mut parents: std::collections::BTreeMap<String, ParentDir> = Default::default();
    let mut missing: Vec<String> = Vec::new();
    let now = u64::try_from(crate::time::now().0).unwrap_or(0);
    let under_missing =
        |missing: &[String], name: &str| missing.iter().any(|m| name.starts_with(&format!("{m}/")));
    for (full, name) in plan {
        let mut prefix = String::new();
        let comps: Vec<&str> = name.split('/').collect();
        for c in &comps[..comps.len().saturating_sub(1)] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(c);
            if planned.contains(prefix.as_str()) || parents.contains_key(&prefix) {
                continue;
            }
            let st = if under_missing(&missing, &prefix) {
                None
            } else {
                root.lstat(&prefix)?
            };
            let dir = match st {
                Some(st) if kind(&st) == SFlag::S_IFDIR => ParentDir {
                    name: prefix.clone(),
                    mode: st.st_mode,
                    uid: st.st_uid,
                    gid: st.st_gid,
                    mtime: u64::try_from(st.st_mtime).unwrap_or(0),
                },
                Some(_) => return Ok(None),
                None => {
                    missing.push(prefix.clone());
                    ParentDir {
                        name: prefix.clone(),
                        mode: 0o755,
                        uid: 0,
                        gid: 0,
                        mtime: now,
                    }
                }
            };
            parents.insert(prefix.clone(), dir);
        }
        if under_missing(&missing, name) {
            continue;
        }
        if let Some(st) = root.lstat(name)? {
            let src_dir = std::fs::symlink_metadata(ctx.root.join(full)).is_ok_and(|m| m.is_dir());
            let image_dir = kind(&st) == SFlag::S_IFDIR;
            if src_dir != image_dir || kind(&st) == SFlag::S_IFLNK {
                return Ok(None);
            }
        }
    }
    Ok(Some(parents.into_values().collect()))
}
