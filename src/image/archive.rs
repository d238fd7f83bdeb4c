//! Images out and in as archives: `save` writes docker-archive, OCI archives and layouts, and
//! containers/image's `dir:`; `load` reads docker-archive and OCI archives as docker, podman,
//! skopeo and cove write them, in one pass and all or nothing.

mod load;
mod oci;
mod read;
mod save;
mod sink;

pub use load::load;
pub use save::{choose, save, Format, Target};
