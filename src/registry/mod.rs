//! Registry client: references (docker's normalisation), registries.conf, auth, manifests with
//! platform choice, streamed, digest-checked, resumable blob downloads, uploads for push, and
//! TLS with per-registry certificates.

mod auth;
mod authfile;
mod blob;
mod client;
mod config;
mod credhelper;
pub mod login;
pub mod manifest;
mod platform;
mod reference;
pub mod search;
#[cfg(test)]
mod testserver;
mod tls;
mod token;
mod transport;
mod upload;
mod wording;

use std::fmt;

pub use auth::Credentials;
pub use client::{Client, ClientOptions, MAX_CONFIG_BYTES};
pub use config::RegistriesConf;
pub use manifest::{layer_compression, Descriptor};
pub use platform::Platform;
pub use reference::{is_valid_digest, sha256_digest, Reference};
pub use upload::{BlobPush, UploadPolicy};

/// What went wrong, for callers that react differently (e.g. "not found" vs "unreachable").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The image reference does not parse.
    InvalidReference,
    /// registries.conf or an auth file is malformed, or the registry is blocked.
    Config,
    /// The manifest, tag or blob does not exist.
    NotFound,
    /// Authentication failed or access was denied.
    Denied,
    /// The registry could not be reached or the connection failed.
    Network,
    /// The registry answered with something invalid (bad digest, too large, bad JSON).
    InvalidData,
    /// The content is valid but cove cannot use it (schema 1, no matching platform).
    Unsupported,
    /// Any other failure reported by the registry.
    Other,
}

#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
