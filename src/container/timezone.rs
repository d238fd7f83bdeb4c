//! podman's `--tz`: the host's zone file for a zone name (or the host's own zone for
//! "local"), bind-mounted on the container's /etc/localtime.

use std::path::PathBuf;

use super::{Error, Result};

const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The host file holding zone `tz`: a name under /usr/share/zoneinfo, or "local".
pub fn zone_file(tz: &str) -> Result<PathBuf> {
    let unknown = || Error::invalid(format!("finding timezone: unknown time zone {tz}"));
    if tz == "local" {
        return std::fs::canonicalize("/etc/localtime").map_err(|_| unknown());
    }
    // A name, never a path out of the zone directory.
    let bad = |p: &str| p.is_empty() || p == "." || p == "..";
    if tz.starts_with('/') || tz.split('/').any(bad) {
        return Err(unknown());
    }
    let path = PathBuf::from(ZONEINFO).join(tz);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => Ok(path),
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_not_paths() {
        for bad in [
            "../../etc/shadow",
            "/etc/passwd",
            "Asia/../..",
            "",
            "No/Such_Zone",
        ] {
            assert!(zone_file(bad).is_err(), "{bad}");
        }
        if std::path::Path::new("/usr/share/zoneinfo/UTC").is_file() {
            assert_eq!(
                zone_file("UTC").unwrap(),
                PathBuf::from("/usr/share/zoneinfo/UTC")
            );
        }
    }
}
