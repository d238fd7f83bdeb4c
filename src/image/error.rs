//! Errors of the image store.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// No local image matches what the user typed.
    NoSuchImage(String),
    /// A prefix or short name matches more than one image.
    Ambiguous(String),
    /// Reading or writing the store failed.
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A stored file is not what cove wrote.
    Corrupt { path: PathBuf, reason: String },
    /// Talking to the registry failed.
    Registry(crate::registry::Error),
    /// The layer store failed.
    Overlay(crate::overlay::Error),
    /// Anything else, already worded (a bad pull policy, a conflict).
    Other(String),
}

impl From<crate::registry::Error> for Error {
    fn from(e: crate::registry::Error) -> Error {
        Error::Registry(e)
    }
}

impl From<crate::overlay::Error> for Error {
    fn from(e: crate::overlay::Error) -> Error {
        Error::Overlay(e)
    }
}

impl Error {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoSuchImage(name) => write!(f, "No such image: {name}"),
            Error::Ambiguous(name) => {
                write!(
                    f,
                    "{name} matches more than one image: use a longer ID or the full name"
                )
            }
            Error::Io { what, path, source } => {
                write!(f, "{what} {}: {source}", path.display())
            }
            Error::Corrupt { path, reason } => {
                write!(
                    f,
                    "image store file {} is damaged: {reason}",
                    path.display()
                )
            }
            Error::Other(msg) => f.write_str(msg),
            Error::Registry(e) => write!(f, "{e}"),
            Error::Overlay(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}
