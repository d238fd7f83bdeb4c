//! The structured error of the mechanism layers (sandbox, overlay): one line worded for the
//! user, plus what a caller needs to tell causes apart — the path concerned and the errno.
//! Each layer is its own instantiation, so `error.rs` still tells them apart by type.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// How a layer prints an errno after its message.
pub trait Style {
    fn errno_text(errno: Errno) -> String;
}

pub struct SysError<S> {
    /// What failed, worded for the user; names the path wherever the message does.
    op: String,
    /// The cause as printed after `op: ` (an `io::Error`'s own text, the errno's text).
    cause: Option<String>,
    /// The file concerned: a host path, or a path inside a layer or a container.
    path: Option<PathBuf>,
    errno: Option<Errno>,
    style: PhantomData<fn() -> S>,
}

impl<S: Style> SysError<S> {
    /// A failure with no system cause; `op` is the whole message.
    pub fn new(op: impl Into<String>) -> Self {
        Self::make(op.into(), None, None, None)
    }

    /// `{op}: {e}`, keeping `path` and the OS error number of `e`.
    pub fn io(op: impl Into<String>, path: Option<&Path>, e: &io::Error) -> Self {
        let errno = e.raw_os_error().map(Errno::from_raw);
        Self::make(op.into(), Some(e.to_string()), path, errno)
    }

    /// `{op}: {errno}` in the layer's style.
    pub fn sys(op: impl Into<String>, path: Option<&Path>, errno: Errno) -> Self {
        Self::make(op.into(), Some(S::errno_text(errno)), path, Some(errno))
    }

    /// `{op}: {cause}` for a cause that is no system error (a parse error, a walk error).
    pub fn because(op: impl Into<String>, path: Option<&Path>, cause: impl fmt::Display) -> Self {
        Self::make(op.into(), Some(cause.to_string()), path, None)
    }

    /// The same failure inside a larger one: printed as `{outer}: {self}`.
    pub fn within(mut self, outer: impl fmt::Display) -> Self {
        self.op = format!("{outer}: {}", self.op);
        self
    }

    /// Keep `errno` for a failure whose message words it in its own way.
    pub fn with_errno(mut self, errno: Errno) -> Self {
        self.errno = Some(errno);
        self
    }

    /// Keep `path` for a failure whose message already names it (or deliberately does not).
    pub fn with_path(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    fn make(op: String, cause: Option<String>, path: Option<&Path>, errno: Option<Errno>) -> Self {
        SysError {
            op,
            cause,
            path: path.map(Path::to_path_buf),
            errno,
            style: PhantomData,
        }
    }
}

// For callers that tell causes apart (ENOSPC, EACCES, ENOENT) without parsing the text; the
// engine itself does not branch on them yet, the tests do.
#[allow(dead_code)]
impl<S> SysError<S> {
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

impl<S> fmt::Display for SysError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.op)?;
        match &self.cause {
            Some(cause) => write!(f, ": {cause}"),
            None => Ok(()),
        }
    }
}

impl<S> fmt::Debug for SysError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SysError")
            .field("op", &self.op)
            .field("cause", &self.cause)
            .field("path", &self.path)
            .field("errno", &self.errno)
            .finish()
    }
}

impl<S> std::error::Error for SysError<S> {}
