//! One pass over an image archive (plain, gzip or zstd; entries in any order): small JSON
//! members kept in memory (capped), layer blobs streamed into the store as they come (kept as
//! blob temp files and unpacked into staging dirs, so nothing is read twice), links noted.
//! Names that leave the archive's root are refused; nothing is ever written by its name.

use std::collections::HashMap;
use std::io::{self, BufReader, Read};

use tar::EntryType;

use super::super::ingest::{ingest, Ingested};
use super::super::{Error, ImageStore, Result};
use crate::overlay::{self, LayerStore};

/// A JSON member larger than this is refused (manifests and configs are far smaller).
const SMALL_MAX: u64 = 8 << 20;
/// All JSON members together.
const SMALL_TOTAL: u64 = 64 << 20;
/// Links followed when a name is resolved.
const MAX_HOPS: usize = 32;

/// What the archive holds, by normalised name (`blobs/sha256/<hex>`, `manifest.json`).
pub struct Contents<'s> {
    files: HashMap<String, Vec<u8>>,
    blobs: HashMap<String, Blob<'s>>,
    links: HashMap<String, String>,
}

/// A member read as a layer: ready to place, or why it is not a layer.
pub enum Blob<'s> {
    Ready(Box<Ingested<'s>>),
    Failed(String),
}

/// What a member's name says it may be.
#[derive(PartialEq)]
enum Role {
    Json,
    Blob,
    Other,
}

fn role(name: &str) -> Role {
    let base = name.rsplit('/').next().unwrap_or(name);
    if matches!(
        base,
        "manifest.json" | "index.json" | "oci-layout" | "repositories" | "json" | "VERSION"
    ) || base.ends_with(".json")
    {
        Role::Json
    } else if name.starts_with("blobs/")
        || [".tar", ".tar.gz", ".tgz", ".tar.zst"]
            .iter()
            .any(|ext| base.ends_with(ext))
    {
        Role::Blob
    } else {
        Role::Other
    }
}

/// `name` cleaned (`./a//b` -> `a/b`); an absolute name or one climbing out is refused.
fn normalise(raw: &[u8]) -> Result<String> {
    let name = String::from_utf8_lossy(raw);
    let refuse = || Error::Other(format!("archive member {name:?} is outside the archive"));
    if name.starts_with('/') {
        return Err(refuse());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(refuse()),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// The target of a link member `name`, as a name in the archive.
fn link_target(name: &str, target: &[u8], symbolic: bool) -> Result<String> {
    let shown = String::from_utf8_lossy(target).into_owned();
    let refuse = || {
        Error::Other(format!(
            "archive member {name:?} links outside the archive ({shown:?})"
        ))
    };
    if shown.starts_with('/') {
        return Err(refuse());
    }
    // A symlink is relative to its own directory, a hard link to the archive's root.
    let mut parts: Vec<&str> = if symbolic {
        name.split('/').collect()
    } else {
        Vec::new()
    };
    if symbolic {
        parts.pop();
    }
    for part in shown.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or_else(refuse)?;
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(refuse());
    }
    Ok(parts.join("/"))
}

/// Read the whole archive from `input`.
pub fn read_archive<'s>(
    images: &ImageStore,
    layers: &'s LayerStore,
    input: &mut dyn Read,
) -> Result<Contents<'s>> {
    let (_, plain) = overlay::decompress_kind(BufReader::with_capacity(1 << 18, input))?;
    let mut archive = tar::Archive::new(plain);
    let mut contents = Contents {
        files: HashMap::new(),
        blobs: HashMap::new(),
        links: HashMap::new(),
    };
    let mut small_total = 0;
    let entries = archive.entries().map_err(broken)?;
    for entry in entries {
        let mut entry = entry.map_err(broken)?;
        let name = normalise(&entry.path_bytes())?;
        let kind = entry.header().entry_type();
        if name.is_empty() {
            continue;
        }
        match kind {
            EntryType::Symlink | EntryType::Link => {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                let to = link_target(&name, &target, kind == EntryType::Symlink)?;
                contents.links.insert(name, to);
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.size();
                let mut counted = Counted {
                    inner: &mut entry,
                    count: 0,
                };
                match role(&name) {
                    Role::Other => continue,
                    Role::Json => {
                        let data = read_small(&mut counted, &name, size, &mut small_total)?;
                        contents.files.insert(name, data);
                    }
                    Role::Blob => {
                        // A JSON blob (config, manifest, index) starts with '{'; the rest are
                        // layers (tar, gzip or zstd).
                        let mut head = [0u8; 1];
                        let n = counted.read(&mut head).map_err(broken)?;
                        let prefix = io::Cursor::new(head[..n].to_vec());
                        if head[..n] == *b"{" && size <= SMALL_MAX {
                            let mut whole = prefix.chain(&mut counted);
                            let data = read_small(&mut whole, &name, size, &mut small_total)?;
                            contents.files.insert(name, data);
                        } else {
                            let mut whole = prefix.chain(&mut counted);
                            let what = format!("layer {name}");
                            let blob = match ingest(images, layers, &mut whole, &what) {
                                Ok(i) => Blob::Ready(Box::new(i)),
                                Err(e) => Blob::Failed(e.to_string()),
                            };
                            io::copy(&mut counted, &mut io::sink()).map_err(broken)?;
                            if counted.count < size {
                                return Err(truncated());
                            }
                            contents.blobs.insert(name, blob);
                        }
                    }
                }
                if counted.count < size {
                    return Err(truncated());
                }
            }
            _ => {}
        }
    }
    // Read on to the end, so that a compressed archive's checksum is checked too.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(broken)?;
    Ok(contents)
}

/// A JSON member into memory, within the caps.
fn read_small(r: &mut dyn Read, name: &str, size: u64, total: &mut u64) -> Result<Vec<u8>> {
    *total += size;
    if size > SMALL_MAX || *total > SMALL_TOTAL {
        return Err(Error::Other(format!(
            "archive member {name} is too large ({size} bytes) for what it names"
        )));
    }
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    r.take(size).read_to_end(&mut data).map_err(broken)?;
    if (data.len() as u64) < size {
        return Err(truncated());
    }
    Ok(data)
}

fn broken(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return truncated();
    }
    let text = e.to_string();
    // The tar reader quotes the bytes of a damaged header; they say nothing to a user.
    if text.chars().any(|c| !c.is_ascii() || c.is_ascii_control()) {
        return Error::Other(
            "reading the archive: it is damaged (a member header is not valid)".into(),
        );
    }
    Error::Other(format!("reading the archive: {text}"))
}

fn truncated() -> Error {
    Error::Other("reading the archive: it ends in the middle of a member (truncated?)".into())
}

struct Counted<'r, R> {
    inner: &'r mut R,
    count: u64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl<'s> Contents<'s> {
    /// `name` with the links on its way followed.
    pub fn resolve(&self, name: &str) -> Result<String> {
        let mut cur = normalise(name.as_bytes())?;
        for _ in 0..MAX_HOPS {
            let parts: Vec<&str> = cur.split('/').collect();
            let hop = (1..=parts.len()).find_map(|n| {
                let prefix = parts[..n].join("/");
                self.links.get(&prefix).map(|to| {
                    let rest = &parts[n..];
                    if rest.is_empty() {
                        to.clone()
                    } else {
                        format!("{to}/{}", rest.join("/"))
                    }
                })
            });
            match hop {
                Some(next) => cur = next,
                None => return Ok(cur),
            }
        }
        Err(Error::Other(format!(
            "archive member {name:?}: too many links"
        )))
    }

    pub fn has(&self, name: &str) -> bool {
        self.resolve(name)
            .is_ok_and(|n| self.files.contains_key(&n) || self.blobs.contains_key(&n))
    }

    /// A JSON member's bytes; `why` says who names it, for the error.
    pub fn file(&self, name: &str, why: &str) -> Result<&[u8]> {
        let real = self.resolve(name)?;
        match (self.files.get(&real), self.blobs.get(&real)) {
            (Some(data), _) => Ok(data),
            (None, Some(_)) => Err(Error::Other(format!(
                "{why} names {name}, which is not a JSON document"
            ))),
            (None, None) => Err(missing(name, why)),
        }
    }

    /// A layer member, ready to place; `why` says who names it.
    pub fn blob(&mut self, name: &str, why: &str) -> Result<&mut Ingested<'s>> {
        let real = self.resolve(name)?;
        match self.blobs.get_mut(&real) {
            Some(Blob::Ready(i)) => Ok(i),
            Some(Blob::Failed(e)) => Err(Error::Other(e.clone())),
            None if self.files.contains_key(&real) => Err(Error::Other(format!(
                "{why} names {name} as a layer, but it is a JSON document"
            ))),
            None => Err(missing(name, why)),
        }
    }
}

fn missing(name: &str, why: &str) -> Error {
    Error::Other(format!("{why} names {name}, which is not in the archive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_archive() {
        assert_eq!(normalise(b"./blobs//sha256/ab").unwrap(), "blobs/sha256/ab");
        assert!(normalise(b"../x").is_err());
        assert!(normalise(b"a/../../x").is_err());
        assert!(normalise(b"/etc/passwd").is_err());
        assert_eq!(
            link_target("a/layer.tar", b"../b.tar", true).unwrap(),
            "b.tar"
        );
        assert_eq!(
            link_target("a/layer.tar", b"b/layer.tar", false).unwrap(),
            "b/layer.tar"
        );
        assert!(link_target("a/layer.tar", b"../../x", true).is_err());
        assert!(link_target("manifest.json", b"/etc/passwd", true).is_err());
        assert!(link_target("x", b"..", true).is_err());
    }

    #[test]
    fn roles_follow_the_names_archives_use() {
        assert!(role("manifest.json") == Role::Json);
        assert!(role("abc.json") == Role::Json);
        assert!(role("abc/json") == Role::Json);
        assert!(role("abc/layer.tar") == Role::Blob);
        assert!(role("blobs/sha256/abc") == Role::Blob);
        assert!(role("bin/busybox") == Role::Other);
        assert!(role("etc/passwd") == Role::Other);
    }
}
