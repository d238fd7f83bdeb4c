//! What lies in the layer directory besides whole layers: half-unpacked dirs and the staging
//! dirs of unpacks and removals, told apart from those a live process is working on by the
//! per-layer lock that process holds.

use std::fs;
use std::io;
use std::path::PathBuf;

use super::{io_error, LayerStore, TMP, TRASH};
use crate::fsutil::tree::remove_all;
use crate::fsutil::Lock;
use crate::overlay::Error;

/// One entry of `<dir>/layers` that is not a whole layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// `<hex>` without `layer.json`: not whole, yet named as if it were.
    Partial { hex: String, path: PathBuf },
    /// `.tmp-<hex>-<pid>` or `.trash-<hex>-<pid>` whose unpack or removal is not running.
    Staging { hex: String, path: PathBuf },
}

impl Leftover {
    pub fn path(&self) -> &PathBuf {
        match self {
            Leftover::Partial { path, .. } | Leftover::Staging { path, .. } => path,
        }
    }
}

impl LayerStore {
    pub(super) fn lock_path(&self, hex: &str) -> PathBuf {
        self.dir.join("locks").join(format!("{hex}.lock"))
    }

    /// Every leftover nobody is working on now (an unpack or removal in progress holds the
    /// layer's lock, and its staging dir is not listed).
    pub fn leftovers(&self) -> Result<Vec<Leftover>, Error> {
        let layers = self.layers();
        let read = match fs::read_dir(&layers) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("listing layers", &layers, e)),
        };
        let mut out = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| io_error("listing layers", &layers, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if let Some(hex) = staging_hex(&name) {
                if self.idle(hex)? {
                    let hex = hex.to_string();
                    out.push(Leftover::Staging { hex, path });
                }
            } else if is_hex(&name) && !path.join("layer.json").is_file() && self.idle(&name)? {
                out.push(Leftover::Partial { hex: name, path });
            }
        }
        out.sort_by(|a, b| a.path().cmp(b.path()));
        Ok(out)
    }

    /// True when no process holds the layer's lock (the check takes and drops it at once).
    fn idle(&self, hex: &str) -> Result<bool, Error> {
        let path = self.lock_path(hex);
        Lock::try_exclusive(&path)
            .map(|held| held.is_some())
            .map_err(|e| io_error("locking", &path, e))
    }

    /// Remove a leftover under its layer's lock, unless a process started working on that
    /// layer since it was listed (then false).
    pub fn remove_leftover(&self, leftover: &Leftover) -> Result<bool, Error> {
        let (hex, path) = match leftover {
            Leftover::Partial { hex, path } | Leftover::Staging { hex, path } => (hex, path),
        };
        let lock = self.lock_path(hex);
        let Some(_held) = Lock::try_exclusive(&lock).map_err(|e| io_error("locking", &lock, e))?
        else {
            return Ok(false);
        };
        if matches!(leftover, Leftover::Partial { .. }) && path.join("layer.json").is_file() {
            return Ok(false);
        }
        remove_all(path).map_err(|e| io_error("removing", path, e))?;
        Ok(true)
    }
}

/// The layer a staging dir `.tmp-<hex>-<pid>` / `.trash-<hex>-<pid>` belongs to.
fn staging_hex(name: &str) -> Option<&str> {
    let rest = name
        .strip_prefix(TMP)
        .or_else(|| name.strip_prefix(TRASH))?;
    let (hex, pid) = rest.rsplit_once('-')?;
    (is_hex(hex) && pid.parse::<u32>().is_ok()).then_some(hex)
}

use crate::overlay::is_sha256_hex as is_hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_name_their_layer() {
        let hex = "ab".repeat(32);
        assert_eq!(staging_hex(&format!(".tmp-{hex}-12")), Some(hex.as_str()));
        assert_eq!(staging_hex(&format!(".trash-{hex}-7")), Some(hex.as_str()));
        assert_eq!(staging_hex(&format!(".tmp-{hex}-x")), None);
        assert_eq!(staging_hex(".tmp-abc-1"), None);
        assert_eq!(staging_hex(&hex), None);
    }
}
