//! Lexical clean-up of tar entry names: what a name means inside a layer, before any file is touched.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// An entry name split into components, with `/`, `.` and `a/..` folded away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rel(pub Vec<Vec<u8>>);

impl Rel {
    /// Clean `raw` lexically: a leading `/` or `./` is dropped (absolute names land inside the
    /// layer), `.` vanishes, `a/../b` becomes `b`. None when `..` climbs above the top.
    pub fn parse(raw: &[u8]) -> Option<Rel> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for part in raw.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    parts.pop()?;
                }
                name => parts.push(name.to_vec()),
            }
        }
        Some(Rel(parts))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent and the last component; None for the layer root.
    pub fn split_last(&self) -> Option<(Rel, &OsStr)> {
        let (last, parent) = self.0.split_last()?;
        Some((Rel(parent.to_vec()), OsStr::from_bytes(last)))
    }

    /// The relative path, "." for the root (openat2 wants a non-empty path).
    pub fn path(&self) -> PathBuf {
        if self.0.is_empty() {
            return PathBuf::from(".");
        }
        self.0.iter().map(|c| OsStr::from_bytes(c)).collect()
    }
}

/// What a name starting with `.wh.` asks of overlayfs.
#[derive(Debug, PartialEq, Eq)]
pub enum Whiteout<'a> {
    /// `.wh.<name>`: hide `<name>` of the layers below.
    Hide(&'a OsStr),
    /// `.wh..wh..opq`: hide everything the layers below have in this directory.
    Opaque,
    /// Other `.wh..wh.*` names (aufs bookkeeping) mean nothing to overlayfs.
    Meta,
    /// `.wh..` or `.wh...`: would whiteout the directory itself or its parent.
    Bad,
}

pub fn whiteout(name: &OsStr) -> Option<Whiteout<'_>> {
    let rest = name.as_bytes().strip_prefix(b".wh.")?;
    Some(match rest {
        b".wh..opq" => Whiteout::Opaque,
        b"." | b".." => Whiteout::Bad,
        r if r.starts_with(b".wh.") || r.is_empty() => Whiteout::Meta,
        r => Whiteout::Hide(OsStr::from_bytes(r)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(raw: &str) -> Option<String> {
        Rel::parse(raw.as_bytes()).map(|r| r.path().to_string_lossy().into_owned())
    }

    #[test]
    fn names_are_cleaned_lexically() {
        assert_eq!(clean("./usr/bin/"), Some("usr/bin".into()));
        assert_eq!(clean("/abs/path"), Some("abs/path".into()));
        assert_eq!(clean("a/./b/../c"), Some("a/c".into()));
        assert_eq!(clean("./"), Some(".".into()));
        assert_eq!(clean("a/../.."), None);
        assert_eq!(clean("../x"), None);
        assert_eq!(clean("/../x"), None);
    }

    #[test]
    fn whiteouts_are_recognised() {
        assert_eq!(
            whiteout(OsStr::new(".wh.foo")),
            Some(Whiteout::Hide(OsStr::new("foo")))
        );
        assert_eq!(whiteout(OsStr::new(".wh..wh..opq")), Some(Whiteout::Opaque));
        assert_eq!(whiteout(OsStr::new(".wh..wh.plnk")), Some(Whiteout::Meta));
        assert_eq!(whiteout(OsStr::new("foo.wh.")), None);
        assert_eq!(whiteout(OsStr::new(".wh...")), Some(Whiteout::Bad));
    }
}
