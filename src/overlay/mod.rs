//! Content-addressed image layers: safe tar unpacking into per-layer diff directories stored by
//! chain ID, ready to be stacked with kernel overlayfs.

mod access;
mod archive;
mod at;
mod decompress;
mod diff_tar;
mod entry;
mod host;
mod ids;
mod path;
mod store;
mod sys;
mod unpack;

#[cfg(test)]
mod copy_tests;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use access::{ContainerRoot, Kind};
pub use archive::Report as ArchiveReport;
pub use decompress::{decompress, decompress_kind, Compression};
pub use diff_tar::{write_diff_tar, DiffOptions};
pub use host::{archive_host, extract_host};
pub use ids::HostIds;
pub use store::{LayerStore, Leftover, Staged};
pub use unpack::Owners;

/// A layer-store failure: one line for the user (naming the layer and the cause), with the path
/// and errno kept.
pub type Error = crate::syserror::SysError<Style>;

/// Layer-store messages print an errno's description: `cannot open x: No such file or directory`.
pub enum Style {}

impl crate::syserror::Style for Style {
    fn errno_text(errno: Errno) -> String {
        errno.desc().to_string()
    }
}

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
    /// Length of the layer's uncompressed tar (what `save` writes), when it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tar_size: Option<u64>,
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

/// True for 64 lowercase hex digits, the file names of blobs and layers.
pub fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 64 hex digits of a `sha256:<hex>` digest, or None when it is not one (so that an ID can
/// never smuggle a path into the store).
pub(crate) fn digest_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    is_sha256_hex(hex).then_some(hex)
}
