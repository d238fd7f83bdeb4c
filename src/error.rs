//! The top error type: every subsystem's error folds into it and gets its exit code here, from
//! the codes `exit.rs` defines.

use std::fmt;

use crate::{container, image, overlay, paths, registry, sandbox, supervisor};

/// Exit code for a failure of cove itself (docker's and podman's 125).
pub const EXIT_ENGINE: i32 = crate::exit::ENGINE;

#[derive(Debug)]
pub enum Error {
    Registry(registry::Error),
    Overlay(overlay::Error),
    Image(image::Error),
    Sandbox(sandbox::Error),
    Supervisor(supervisor::Error),
    Container(container::Error),
    /// A container process that did not start: 125, 126 (cannot invoke) or 127 (not found).
    Spawn(sandbox::SpawnError),
    /// Any other engine failure, already worded for the user.
    Engine(String),
    /// The process should exit with this code and print nothing more (a container's own
    /// status, or a command that already reported its failure).
    Exit(i32),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn msg(text: impl Into<String>) -> Error {
        Error::Engine(text.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exit(code) => *code,
            Error::Spawn(e) => e.exit_code(),
            _ => EXIT_ENGINE,
        }
    }

    /// The one line printed after `Error: `, or None when nothing should be printed.
    pub fn message(&self) -> Option<String> {
        match self {
            Error::Exit(_) => None,
            other => Some(printable(&other.to_string())),
        }
    }
}

/// `text` as one line safe for a terminal: control characters (an escape sequence from a
/// hostile tar, a newline) are shown escaped instead of acted on.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Registry(e) => write!(f, "{e}"),
            Error::Overlay(e) => write!(f, "{e}"),
            Error::Image(e) => write!(f, "{e}"),
            Error::Sandbox(e) => write!(f, "{e}"),
            Error::Supervisor(e) => write!(f, "{e}"),
            Error::Container(e) => write!(f, "{e}"),
            Error::Spawn(e) => write!(f, "{e}"),
            Error::Engine(e) => write!(f, "{e}"),
            Error::Exit(code) => write!(f, "exit status {code}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<paths::Error> for Error {
    fn from(e: paths::Error) -> Error {
        Error::Engine(e.to_string())
    }
}
impl From<registry::Error> for Error {
    fn from(e: registry::Error) -> Error {
        Error::Registry(e)
    }
}
impl From<overlay::Error> for Error {
    fn from(e: overlay::Error) -> Error {
        Error::Overlay(e)
    }
}
impl From<image::Error> for Error {
    fn from(e: image::Error) -> Error {
        match e {
            image::Error::Registry(e) => Error::Registry(e),
            image::Error::Overlay(e) => Error::Overlay(e),
            other => Error::Image(other),
        }
    }
}
impl From<sandbox::Error> for Error {
    fn from(e: sandbox::Error) -> Error {
        Error::Sandbox(e)
    }
}
impl From<supervisor::Error> for Error {
    fn from(e: supervisor::Error) -> Error {
        Error::Supervisor(e)
    }
}
impl From<container::Error> for Error {
    fn from(e: container::Error) -> Error {
        match e {
            // A spawn failure keeps its 126/127 kind wherever it was wrapped.
            container::Error::Spawn(e) => Error::Spawn(e),
            container::Error::Overlay(e) => Error::Overlay(e),
            other => Error::Container(other),
        }
    }
}
impl From<sandbox::SpawnError> for Error {
    fn from(e: sandbox::SpawnError) -> Error {
        Error::Spawn(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_printable_line() {
        assert_eq!(
            printable("a\x1b[2Jb\nc\td\u{7}"),
            "a\\u{1b}[2Jb\\nc d\\u{7}"
        );
        assert_eq!(
            Error::msg("bad \x1b]0;x\x07").message().unwrap(),
            "bad \\u{1b}]0;x\\u{7}"
        );
        assert_eq!(printable("ünïcode ok"), "ünïcode ok");
    }

    #[test]
    fn sandbox_errors_are_engine_failures_and_spawn_errors_keep_their_code() {
        let e = Error::from(sandbox::Error::new("invalid capability: CAP_FOO"));
        assert_eq!(e.exit_code(), EXIT_ENGINE);
        assert_eq!(e.message().as_deref(), Some("invalid capability: CAP_FOO"));
        let not_found = sandbox::SpawnError {
            kind: sandbox::spec::SpawnErrorKind::NotFound,
            message: "exec: \"x\": executable file not found in $PATH".to_string(),
        };
        let e = Error::from(container::Error::Spawn(not_found.clone()));
        assert_eq!(e.exit_code(), 127);
        assert_eq!(Error::from(not_found).exit_code(), 127);
    }
}
