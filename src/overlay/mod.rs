//! Content-addressed image layers: safe tar unpacking into per-layer diff directories stored by
//! chain ID, ready to be stacked with kernel overlayfs.

mod access;
mod at;
mod decompress;
mod entry;
mod path;
mod store;
mod sys;
mod unpack;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use access::{ContainerRoot, Kind};
pub use decompress::decompress;
pub use store::LayerStore;

/// A layer-store failure, worded for the user (one line, naming the layer and the cause), that
/// keeps what a caller needs to tell causes apart: the path concerned and the errno, if any.
#[derive(Debug)]
pub struct Error {
    /// What failed, worded for the user; names the path wherever the message does.
    op: String,
    /// The cause as printed after `op: ` (an `io::Error`'s own text, an errno's description).
    cause: Option<String>,
    /// The file concerned: a host path, or a path inside a layer or a container.
    path: Option<PathBuf>,
    errno: Option<Errno>,
}

impl Error {
    /// A failure with no system cause; `op` is the whole message.
    pub(crate) fn new(op: impl Into<String>) -> Error {
        Error {
            op: op.into(),
            cause: None,
            path: None,
            errno: None,
        }
    }

    /// `{op}: {e}`, keeping `path` and the OS error number of `e`.
    pub(crate) fn io(op: impl Into<String>, path: Option<&Path>, e: &io::Error) -> Error {
        Error {
            op: op.into(),
            cause: Some(e.to_string()),
            path: path.map(Path::to_path_buf),
            errno: e.raw_os_error().map(Errno::from_raw),
        }
    }

    /// `{op}: {description of errno}`, e.g. `cannot open x: No such file or directory`.
    pub(crate) fn sys(op: impl Into<String>, path: Option<&Path>, errno: Errno) -> Error {
        Error {
            op: op.into(),
            cause: Some(errno.desc().to_string()),
            path: path.map(Path::to_path_buf),
            errno: Some(errno),
        }
    }

    /// `{op}: {cause}` for a cause that is no system error (a parse error, a walk error).
    pub(crate) fn because(
        op: impl Into<String>,
        path: Option<&Path>,
        cause: impl fmt::Display,
    ) -> Error {
        Error {
            op: op.into(),
            cause: Some(cause.to_string()),
            path: path.map(Path::to_path_buf),
            errno: None,
        }
    }

    /// The same failure inside a larger one: printed as `{outer}: {self}`.
    pub(crate) fn within(mut self, outer: impl fmt::Display) -> Error {
        self.op = format!("{outer}: {}", self.op);
        self
    }

    /// Keep `errno` for a failure whose message words it in its own way.
    pub(crate) fn with_errno(mut self, errno: Errno) -> Error {
        self.errno = Some(errno);
        self
    }

    /// Keep `path` for a failure whose message already names it (or deliberately does not).
    pub(crate) fn with_path(mut self, path: &Path) -> Error {
        self.path = Some(path.to_path_buf());
        self
    }
}

// For callers that tell causes apart (ENOSPC, EACCES, ENOENT) without parsing the text; the
// engine itself does not branch on them yet, the tests do.
#[allow(dead_code)]
impl Error {
    /// What failed, without the cause.
    pub fn op(&self) -> &str {
        &self.op
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.op)?;
        match &self.cause {
            Some(cause) => write!(f, ": {cause}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

/// What the store knows about one unpacked layer; kept as `layer.json` beside its `diff` dir.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LayerInfo {
    pub chain_id: String,
    pub diff_id: String,
    pub parent: Option<String>,
    /// Sum of the sizes of the regular files in this layer's diff.
    pub size: u64,
    /// Entries that could not be reproduced, e.g. `dev/sda: device node`.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// True when some owners could not be set (single-ID user namespace) and files kept ours.
    #[serde(default)]
    pub squashed_ids: bool,
}

/// OCI chain IDs: chain(L0) = diffid(L0), chain(Ln) = sha256(chain(Ln-1) + " " + diffid(Ln)).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match out.last() {
            None => diff_id.clone(),
            Some(prev) => {
                let sum = Sha256::digest(format!("{prev} {diff_id}").as_bytes());
                format!("sha256:{}", hex(&sum))
            }
        };
        out.push(next);
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 64 hex digits of a `sha256:<hex>` digest, or None when it is not one (so that an ID can
/// never smuggle a path into the store).
pub(crate) fn digest_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then_some(hex)
}
