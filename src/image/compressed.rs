//! gzip copies of layers stored plain (commit, import, load keep layers uncompressed): made once,
//! at the first push, kept as blobs and remembered in `images/compressed/<plain hex>` so later
//! pushes `HEAD` them without compressing again. A copy lives as long as its plain blob is used.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::{Error, ImageStore, Result};
use crate::fsutil;

/// A compressed copy of a plain layer blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copy {
    pub digest: String,
    pub size: u64,
}

fn index_dir(images: &ImageStore) -> PathBuf {
    images.dir().join("images").join("compressed")
}

fn index_path(images: &ImageStore, plain: &str) -> PathBuf {
    index_dir(images).join(plain.strip_prefix("sha256:").unwrap_or(plain))
}

/// The gzip copy of `plain`, if one was made and its blob is still there.
pub fn lookup(images: &ImageStore, plain: &str) -> Option<Copy> {
    let text = fs::read_to_string(index_path(images, plain)).ok()?;
    let (digest, size) = text.trim().split_once(' ')?;
    let size = size.parse().ok()?;
    let path = images.blob_path(digest);
    let on_disk = fs::metadata(&path).ok()?.len();
    (crate::registry::is_valid_digest(digest) && on_disk == size).then(|| Copy {
        digest: digest.to_string(),
        size,
    })
}

/// The gzip copy of the plain blob `plain`, made now when there is none.
pub fn gzip_copy(images: &ImageStore, plain: &str) -> Result<Copy> {
    if let Some(c) = lookup(images, plain) {
        return Ok(c);
    }
    let src = images.blob_path(plain);
    let input = File::open(&src).map_err(|e| Error::io("cannot read blob", &src, e))?;
    let dir = images.blobs_dir();
    fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
    let temp = fsutil::temp_sibling(&dir.join("gzip"));
    let out = File::create(&temp).map_err(|e| Error::io("cannot create", &temp, e))?;
    let made = (|| -> io::Result<(String, u64)> {
        let mut hashed = HashWriter {
            out: io::BufWriter::with_capacity(1 << 18, out),
            hasher: Sha256::new(),
            written: 0,
        };
        let mut gz = flate2::write::GzEncoder::new(&mut hashed, flate2::Compression::default());
        io::copy(&mut BufReader::with_capacity(1 << 18, input), &mut gz)?;
        gz.finish()?;
        hashed.out.flush()?;
        hashed.out.get_ref().sync_all()?;
        let digest = format!("sha256:{}", crate::overlay::hex(&hashed.hasher.finalize()));
        Ok((digest, hashed.written))
    })();
    let (digest, size) = match made {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_file(&temp);
            return Err(Error::io("cannot compress layer into", &temp, e));
        }
    };
    let dest = images.blob_path(&digest);
    fs::rename(&temp, &dest).map_err(|e| {
        let _ = fs::remove_file(&temp);
        Error::io("cannot store blob", &dest, e)
    })?;
    let index = index_path(images, plain);
    fsutil::write_atomic(&index, format!("{digest} {size}\n").as_bytes())
        .map_err(|e| Error::io("cannot write", &index, e))?;
    Ok(Copy { digest, size })
}

/// The copies whose plain blob is in `used` (they are in use too).
pub fn used_copies(images: &ImageStore, used: &HashSet<String>) -> Vec<String> {
    let Ok(entries) = fs::read_dir(index_dir(images)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let plain = format!("sha256:{}", e.file_name().to_string_lossy());
            if !used.contains(&plain) {
                return None;
            }
            lookup(images, &plain).map(|c| c.digest)
        })
        .collect()
}

/// `plain` is being removed: its copy goes too, unless an image uses the copy itself (one
/// pulled back after the push).
pub fn drop_copy(images: &ImageStore, plain: &str, used: &HashSet<String>) -> Result<()> {
    if let Some(c) = lookup(images, plain) {
        if !used.contains(&c.digest) {
            images.remove_blob(&c.digest)?;
        }
    }
    let index = index_path(images, plain);
    match fs::remove_file(&index) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("cannot remove", &index, e)),
        _ => Ok(()),
    }
}

struct HashWriter<W> {
    out: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_is_made_once_and_found_again() {
        let dir = std::env::temp_dir().join(format!("cove-gzcopy-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let images = ImageStore::open(&dir);
        let data = vec![7u8; 100_000];
        let plain = crate::registry::sha256_digest(&data);
        images.write_blob(&plain, &data).unwrap();
        assert_eq!(lookup(&images, &plain), None);
        let c = gzip_copy(&images, &plain).unwrap();
        assert!(c.size < 10_000);
        assert!(images.verify_blob(&c.digest).unwrap());
        assert_eq!(lookup(&images, &plain), Some(c.clone()));
        let used: HashSet<String> = [plain.clone()].into();
        assert_eq!(used_copies(&images, &used), vec![c.digest.clone()]);
        assert!(used_copies(&images, &HashSet::new()).is_empty());
        drop_copy(&images, &plain, &HashSet::new()).unwrap();
        assert_eq!(lookup(&images, &plain), None);
        assert!(!images.has_blob(&c.digest));
        fs::remove_dir_all(&dir).unwrap();
    }
}
