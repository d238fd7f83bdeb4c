//! Errors of the container layer (the store and the operations on containers), worded as
//! docker words them.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// Nothing matches what the user typed.
    NoSuchContainer(String),
    /// An ID prefix matches more than one container.
    Ambiguous(String),
    /// The name belongs to another container.
    NameInUse { name: String, id: String },
    /// Anything else, already worded: a flag value or request that is invalid (bad name,
    /// restart policy, ulimit, ...), a state that forbids the operation, a failed step.
    Other(String),
    /// Reading or writing the store failed.
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A stored file is not what cove wrote.
    Corrupt { path: PathBuf, reason: String },
    /// Building or starting a container process failed (keeps docker's 125/126/127 kind).
    Spawn(crate::sandbox::SpawnError),
    /// The sandbox refused a request (a user that does not exist, an unknown capability).
    Sandbox(crate::sandbox::Error),
    /// Reading or writing a container's file system failed (`cp`, `export`).
    Overlay(crate::overlay::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Error {
        Error::Other(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSuchContainer(name) => write!(f, "No such container: {name}"),
            Error::Ambiguous(prefix) => {
                write!(
                    f,
                    "multiple containers found with provided prefix: {prefix}"
                )
            }
            Error::NameInUse { name, id } => write!(
                f,
                "Conflict. The container name \"/{name}\" is already in use by container \
                 \"{id}\". You have to remove (or rename) that container to be able to reuse \
                 that name."
            ),
            Error::Other(msg) => f.write_str(msg),
            Error::Io { what, path, source } => write!(f, "{what} {}: {source}", path.display()),
            Error::Corrupt { path, reason } => {
                write!(f, "container file {} is damaged: {reason}", path.display())
            }
            Error::Spawn(e) => write!(f, "{e}"),
            Error::Sandbox(e) => write!(f, "{e}"),
            Error::Overlay(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::overlay::Error> for Error {
    fn from(e: crate::overlay::Error) -> Error {
        Error::Overlay(e)
    }
}
