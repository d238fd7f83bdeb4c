//! Every message cove processes send one another, as one typed enum, and its errors: the report
//! pipe of a container child, the pause process's handshake, the monitor's status pipe and the
//! attach socket. A leaf: it knows nothing of the modules that use it. The wire format is in
//! `codec`.

mod codec;

use std::fmt;

pub use codec::{decode_all, encode, encode_into, read_message, Decoder};

/// One message. Each travels as one frame, except Stdout, Stderr and Stdin, whose data the
/// encoder splits into frames of at most [`codec::MAX_FRAME`] bytes (received as several).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    // The report pipe: a container's child (or the intermediate) to the cove that spawned it.
    /// The intermediate cloned the container's process, which has this pid.
    ChildPid(i32),
    /// How the child mounted its root file system.
    RootfsMode(String),
    /// The child failed before exec, with docker's exit code for it (125, 126 or 127; the
    /// decoder rejects any other).
    SpawnFailed {
        code: u8,
        message: String,
    },

    // The pause process's handshake with the cove that forks it.
    /// pause -> cove: it owns a new user namespace.
    UsernsCreated {
        pid: u32,
    },
    /// cove -> pause: its ids are mapped and recorded.
    IdsMapped,
    /// pause -> cove: its mount namespace exists; setup is over.
    MountNsReady,
    /// pause -> cove: a step failed (its number is the caller's business) with this errno.
    PauseFailed {
        stage: u8,
        errno: i32,
    },

    // The monitor's status pipe, to the cove that started it.
    /// The container runs.
    Started,
    /// The container could not be started, with docker's exit code (125, 126 or 127).
    StartFailed {
        code: u8,
        message: String,
    },

    // The attach socket: monitor -> client.
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The container ended with this code; the last message a client gets.
    Exit(i32),
    // The attach socket: client -> monitor.
    /// Bytes for the container's stdin.
    Stdin(Vec<u8>),
    /// The client's terminal size.
    Resize {
        rows: u16,
        cols: u16,
    },
    /// The client's stdin ended; close the container's (pipes only).
    StdinEof,
    /// Deliver this signal to the container (--sig-proxy).
    Signal(i32),
}

/// A byte stream that does not hold the messages it should.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A frame whose tag is no message's.
    UnknownTag(u8),
    /// A frame that announces a payload larger than [`codec::MAX_FRAME`].
    Oversized(usize),
    /// The bytes ended inside a frame.
    Truncated,
    /// A payload that does not fit its message (wrong length, bad code, invalid UTF-8).
    Malformed(&'static str),
    /// Reading failed, or the stream ended, before a whole message arrived.
    Io(std::io::ErrorKind),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownTag(tag) => write!(f, "unknown frame kind {tag}"),
            Error::Oversized(len) => write!(f, "frame of {len} bytes is too large"),
            Error::Truncated => f.write_str("truncated frame"),
            Error::Malformed(name) => write!(f, "malformed {name} message"),
            Error::Io(kind) => write!(f, "reading a message: {kind}"),
        }
    }
}

impl std::error::Error for Error {}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
