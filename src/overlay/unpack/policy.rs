//! What an unpack makes of a tar: an image layer's rules, or `cp`'s (docker's untar for
//! `docker cp`), and whose owners the new files get.

/// How an unpack treats what a tar asks for.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    pub kind: Kind<'a>,
    pub owners: Owners,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    /// An image layer: `.wh.` names are whiteouts (opaque directories get this xattr), the
    /// `./` entry describes the layer's top, and an entry replaces whatever is in its way.
    Layer { opaque_xattr: &'a str },
    /// `cp`, as docker's untar does it: names are literal (`.wh.x` is a file called that), the
    /// destination directory keeps its own metadata, and a directory is never replaced by a
    /// non-directory nor the other way round (a user's tree is not deleted to make room).
    Copy,
}

/// Who owns what the unpack creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owners {
    /// The owners the tar names (a layer; `cp -a` into a container).
    FromTar,
    /// These ids whatever the tar says (`cp` into a container: its root, as docker does).
    Fixed(u32, u32),
    /// No chown at all: files belong to whoever runs cove (`cp` out to the host, as the
    /// docker client extracts).
    Unchanged,
}

impl<'a> Policy<'a> {
    pub fn layer(opaque_xattr: &'a str) -> Policy<'a> {
        Policy {
            kind: Kind::Layer { opaque_xattr },
            owners: Owners::FromTar,
        }
    }

    pub fn copy(owners: Owners) -> Policy<'static> {
        Policy {
            kind: Kind::Copy,
            owners,
        }
    }

    /// A layer leaves out a device node it cannot create (EPERM: not real root) and lists it
    /// in the report, so that it stays usable rootless; a copy fails naming the entry.
    pub fn is_layer(&self) -> bool {
        matches!(self.kind, Kind::Layer { .. })
    }
}
