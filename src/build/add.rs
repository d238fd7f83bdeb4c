//! What ADD does beyond COPY: a URL is downloaded into the layer (mode 0600, named after the
//! URL's last path segment), and a local tar archive (plain, gzip or zstd) is unpacked into
//! the destination instead of being copied.

use std::fs;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::overlay::{ContainerRoot, Owners};

/// A downloaded source: the temporary file and the name it gets.
pub struct Download {
    pub path: PathBuf,
    pub name: String,
}

impl Drop for Download {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

pub fn is_url(w: &str) -> bool {
    w.starts_with("http://") || w.starts_with("https://")
}

/// Fetch `url` into a file under `scratch`.
pub fn download(url: &str, scratch: &Path, n: usize) -> Result<Download, String> {
    let path_part = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(url)
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    let name = path_part
        .split_once('/')
        .map(|(_, p)| p)
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!(
            "ADD {url}: cannot determine a file name from the URL"
        ));
    }
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(120))
        .build();
    let resp = agent
        .get(url)
        .call()
        .map_err(|e| format!("ADD {url}: {e}"))?;
    let path = scratch.join(format!("add-{}-{n}", std::process::id()));
    let dl = Download {
        path: path.clone(),
        name,
    };
    let mut f =
        fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    io::copy(&mut resp.into_reader(), &mut f).map_err(|e| format!("ADD {url}: {e}"))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    Ok(dl)
}

/// Whether the file is a tar archive, plain or compressed (what ADD unpacks).
pub fn is_archive(path: &Path) -> bool {
    let Ok(f) = fs::File::open(path) else {
        return false;
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(mut r) = crate::overlay::decompress(Box::new(BufReader::new(f))) else {
        return false;
    };
    let mut head = [0u8; 512];
    let mut have = 0;
    while have < head.len() {
        match r.read(&mut head[have..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => have += k,
        }
    }
    have == 512 && &head[257..262] == b"ustar"
}

/// Unpack the archive into the existing directory `dest` of the root.
pub fn extract(
    root: &ContainerRoot,
    archive: &Path,
    dest: &str,
    owners: Owners,
) -> Result<(), String> {
    let f = fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut r =
        crate::overlay::decompress(Box::new(BufReader::new(f))).map_err(|e| e.to_string())?;
    root.extract(dest, &mut r, owners)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_file() {
        let dir = std::env::temp_dir();
        assert!(download("http://127.0.0.1:1/", &dir, 0)
            .err()
            .unwrap()
            .contains("file name"));
        assert!(is_url("https://x/y"));
        assert!(!is_url("x/y"));
    }
}
