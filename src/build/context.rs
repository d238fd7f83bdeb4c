//! The build context: a directory (or a tar on stdin unpacked into a temporary one), the
//! Dockerfile and `.dockerignore` it comes with, and COPY/ADD sources found in it — never a
//! path outside it, never an ignored file — hashed by content for the cache.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::glob::glob_match;
use super::ignore::{self, IgnoreRules};
use super::{BuildError, Result};

/// Where the context comes from.
#[derive(Clone, Debug)]
pub enum ContextSource {
    Dir(PathBuf),
    /// `-`: stdin holds a tar of the context, or a Dockerfile alone.
    Stdin,
}

/// Largest Dockerfile read; the parser refuses more.
const MAX_DOCKERFILE: u64 = 4 << 20;

pub struct Context {
    pub root: PathBuf,
    pub ignore: IgnoreRules,
    /// How the Dockerfile is named in messages (`Dockerfile`, `build/app.Dockerfile`).
    pub dockerfile_name: String,
    pub dockerfile: Vec<u8>,
    /// A directory this build made (a context from stdin); removed when the build ends.
    temp: Option<PathBuf>,
}

impl Drop for Context {
    fn drop(&mut self) {
        if let Some(t) = &self.temp {
            let _ = fs::remove_dir_all(t);
        }
    }
}

fn input(m: impl Into<String>) -> BuildError {
    BuildError::Input(m.into())
}

impl Context {
    /// Open the context and read its Dockerfile; `scratch` is where a context from stdin is
    /// unpacked.
    pub fn open(
        source: &ContextSource,
        dockerfile: Option<&Path>,
        scratch: &Path,
    ) -> Result<Context> {
        let mut temp = None;
        let mut from_stdin: Option<Vec<u8>> = None;
        let root = match source {
            ContextSource::Dir(d) => {
                if !d.is_dir() {
                    return Err(input(format!(
                        "unable to prepare context: path {:?} not found",
                        d.display().to_string()
                    )));
                }
                d.clone()
            }
            ContextSource::Stdin => {
                if dockerfile == Some(Path::new("-")) {
                    return Err(input(
                        "invalid argument: can't use stdin for both build context and dockerfile",
                    ));
                }
                let dir = scratch.join(format!("context-{}", std::process::id()));
                let _ = fs::remove_dir_all(&dir);
                fs::create_dir_all(&dir)
                    .map_err(|e| input(format!("cannot create {}: {e}", dir.display())))?;
                temp = Some(dir.clone());
                let mut data = Vec::new();
                io::stdin()
                    .lock()
                    .read_to_end(&mut data)
                    .map_err(|e| input(format!("reading the context from stdin: {e}")))?;
                if is_tar(&data) {
                    crate::overlay::extract_host(&dir, &mut &data[..]).map_err(|e| {
                        input(format!("the context on stdin is not a usable tar: {e}"))
                    })?;
                } else {
                    from_stdin = Some(data);
                }
                dir
            }
        };
        let (name, text) = match (from_stdin, dockerfile) {
            (Some(text), _) => ("Dockerfile".to_string(), text),
            (None, Some(p)) if p == Path::new("-") => {
                let mut data = Vec::new();
                io::stdin()
                    .lock()
                    .take(MAX_DOCKERFILE + 1)
                    .read_to_end(&mut data)
                    .map_err(|e| input(format!("reading the Dockerfile from stdin: {e}")))?;
                ("Dockerfile".to_string(), data)
            }
            (None, Some(p)) => {
                let path = if p.is_absolute() || p.exists() || temp.is_some() {
                    if temp.is_some() && !p.is_absolute() {
                        root.join(p)
                    } else {
                        p.to_path_buf()
                    }
                } else {
                    root.join(p)
                };
                (p.display().to_string(), read_dockerfile(&path)?)
            }
            (None, None) => {
                let mut path = root.join("Dockerfile");
                if !path.exists() && root.join("dockerfile").exists() {
                    path = root.join("dockerfile");
                }
                ("Dockerfile".to_string(), read_dockerfile(&path)?)
            }
        };
        // `NAME.dockerignore` beside the Dockerfile wins over the context's `.dockerignore`.
        let beside = dockerfile
            .filter(|p| *p != Path::new("-"))
            .map(|p| PathBuf::from(format!("{}.dockerignore", p.display())));
        let ignore_text = beside
            .iter()
            .chain(std::iter::once(&root.join(".dockerignore")))
            .find_map(|p| fs::read_to_string(p).ok())
            .unwrap_or_default();
        Ok(Context {
            root,
            ignore: ignore::parse(&ignore_text),
            dockerfile_name: name,
            dockerfile: text,
            temp,
        })
    }

    /// The context paths (relative, `/`-separated) a COPY source names: the path itself, or
    /// what a wildcard pattern matches. Ignored files do not exist here.
    pub fn resolve(&self, source: &str) -> Result<Vec<String>> {
        let rel = clean(source)?;
        let has_glob = rel.contains(['*', '?', '[']);
        if rel.is_empty() && self.everything_excluded() {
            return Err(input(
                "COPY failed: everything in the build context is excluded by .dockerignore",
            ));
        }
        if !has_glob {
            let path = self.root.join(&rel);
            if rel.is_empty() || (fs::symlink_metadata(&path).is_ok() && !self.excluded(&rel)) {
                return Ok(vec![rel]);
            }
            return Err(input(format!(
                "COPY failed: file not found in build context or excluded by .dockerignore: \
                 stat {rel}: file does not exist"
            )));
        }
        let mut found = Vec::new();
        self.glob(
            &rel.split('/').collect::<Vec<_>>(),
            String::new(),
            &mut found,
        )?;
        if found.is_empty() {
            return Err(input(format!(
                "COPY failed: no source files were specified (nothing in the build context \
                 matches {source})"
            )));
        }
        found.sort();
        Ok(found)
    }

    fn glob(&self, parts: &[&str], prefix: String, out: &mut Vec<String>) -> Result<()> {
        let Some((first, rest)) = parts.split_first() else {
            return Ok(());
        };
        let dir = self.root.join(&prefix);
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(());
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            if !glob_match(first, &name) {
                continue;
            }
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if self.excluded(&rel) {
                continue;
            }
            if rest.is_empty() {
                out.push(rel);
            } else if self.root.join(&rel).is_dir() {
                self.glob(rest, rel, out)?;
            }
        }
        Ok(())
    }

    /// The context has files and .dockerignore leaves none of them.
    fn everything_excluded(&self) -> bool {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return false;
        };
        let names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        !names.is_empty()
            && names
                .iter()
                .all(|n| self.excluded(n) && !self.ignore.may_include_below(n))
    }

    pub fn excluded(&self, rel: &str) -> bool {
        !rel.is_empty() && self.ignore.is_excluded(rel)
    }

    /// Every file under the context path `rel` that is not ignored, with `rel` itself first:
    /// (context-relative path, path below `rel`).
    pub fn walk(&self, rel: &str) -> Result<Vec<(String, String)>> {
        let top = self.root.join(rel);
        let mut out = vec![(rel.to_string(), String::new())];
        let meta =
            fs::symlink_metadata(&top).map_err(|e| input(format!("cannot read {rel}: {e}")))?;
        if !meta.is_dir() {
            return Ok(out);
        }
        let mut it = walkdir::WalkDir::new(&top)
            .min_depth(1)
            .sort_by_file_name()
            .into_iter();
        while let Some(entry) = it.next() {
            let entry = entry.map_err(|e| input(format!("cannot read the context: {e}")))?;
            let below = entry
                .path()
                .strip_prefix(&top)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let full = if rel.is_empty() {
                below.clone()
            } else {
                format!("{rel}/{below}")
            };
            if self.excluded(&full) {
                if entry.file_type().is_dir() && !self.ignore.may_include_below(&full) {
                    it.skip_current_dir();
                }
                continue;
            }
            out.push((full, below));
        }
        Ok(out)
    }

    /// A digest of what COPY would take from `sources`: names, types, modes, owners, sizes,
    /// link targets and contents, never times.
    pub fn hash(&self, sources: &[String]) -> Result<String> {
        let mut h = Sha256::new();
        for s in sources {
            for (full, _) in self.walk(s)? {
                let path = self.root.join(&full);
                let meta = fs::symlink_metadata(&path)
                    .map_err(|e| input(format!("cannot read {full}: {e}")))?;
                h.update(format!(
                    "{full}\0{:o}\0{}:{}\0{}\0",
                    meta.permissions().mode(),
                    meta.uid(),
                    meta.gid(),
                    meta.len()
                ));
                if meta.file_type().is_symlink() {
                    let target = fs::read_link(&path)
                        .map_err(|e| input(format!("cannot read {full}: {e}")))?;
                    h.update(target.as_os_str().as_encoded_bytes());
                } else if meta.is_file() {
                    let mut f = fs::File::open(&path)
                        .map_err(|e| input(format!("cannot read {full}: {e}")))?;
                    io::copy(&mut f, &mut h)
                        .map_err(|e| input(format!("cannot read {full}: {e}")))?;
                }
                h.update(b"\n");
            }
        }
        Ok(format!("{:x}", h.finalize()))
    }
}

fn read_dockerfile(path: &Path) -> Result<Vec<u8>> {
    let f = fs::File::open(path).map_err(|e| {
        input(format!(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: {}: {e}",
            path.display()
        ))
    })?;
    let mut data = Vec::new();
    f.take(MAX_DOCKERFILE + 1)
        .read_to_end(&mut data)
        .map_err(|e| input(format!("cannot read {}: {e}", path.display())))?;
    Ok(data)
}

/// A ustar or GNU tar header at the start.
fn is_tar(data: &[u8]) -> bool {
    data.len() >= 512 && &data[257..262] == b"ustar"
}

/// A source path relative to the context root, `/`-separated; `..` may not climb out.
pub fn clean(source: &str) -> Result<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(source).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(input(format!(
                        "COPY failed: forbidden path outside the build context: {source}"
                    )));
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_inside() {
        assert_eq!(clean("./a/b/../c").unwrap(), "a/c");
        assert_eq!(clean("/abs/x").unwrap(), "abs/x");
        assert_eq!(clean(".").unwrap(), "");
        assert!(clean("../x").is_err());
        assert!(clean("a/../../x").is_err());
    }
}
