//! The local image store: tags -> manifest digest -> config, blobs by digest, and the pull,
//! push, commit, load, import and remove operations that keep it consistent with the layer store.

pub mod archive;
pub mod change;
pub mod compressed;
pub mod config;
pub mod debris;
mod error;
pub mod import;
pub mod ingest;
pub mod list;
pub mod local;
pub mod lookup;
mod pipe;
pub mod policy;
pub mod pull;
pub mod push;
pub mod remove;
pub mod store;

pub use error::Error;

/// The result of an image operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
pub use store::{BlobFile, ImageRecord, ImageStore};
