//! Where `save` writes: a tar stream (an archive file or stdout) or a new directory (oci-dir,
//! docker-dir); the same named members either way, their data streamed.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::super::{Error, Result};

pub trait Sink {
    /// A member of exactly `size` bytes read from `data`.
    fn file(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<()>;
    fn dir(&mut self, name: &str) -> Result<()>;
    /// Finish the archive (its end blocks); nothing more is written.
    fn finish(&mut self) -> Result<()>;

    fn bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.file(name, data.len() as u64, &mut &data[..])
    }
}

pub struct TarSink<W: Write> {
    b: tar::Builder<W>,
}

impl<W: Write> TarSink<W> {
    pub fn new(out: W) -> TarSink<W> {
        TarSink {
            b: tar::Builder::new(out),
        }
    }

    pub fn into_inner(self) -> Result<W> {
        self.b.into_inner().map_err(write_error)
    }
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

impl<W: Write> Sink for TarSink<W> {
    fn file(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<()> {
        let mut h = header(EntryType::Regular, 0o644, size);
        self.b.append_data(&mut h, name, data).map_err(write_error)
    }

    fn dir(&mut self, name: &str) -> Result<()> {
        let mut h = header(EntryType::Directory, 0o755, 0);
        self.b
            .append_data(&mut h, format!("{name}/"), io::empty())
            .map_err(write_error)
    }

    fn finish(&mut self) -> Result<()> {
        self.b.finish().map_err(write_error)
    }
}

/// Members written as files below `root`, a directory this save made (nothing else can be
/// in it, so no name of ours can meet a symlink).
pub struct DirSink {
    pub root: PathBuf,
}

impl Sink for DirSink {
    fn file(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<()> {
        let path = self.root.join(name);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        }
        let mut f = File::create(&path).map_err(|e| Error::io("cannot create", &path, e))?;
        let n = io::copy(&mut data.take(size), &mut f)
            .map_err(|e| Error::Other(format!("writing {}: {e}", path.display())))?;
        if n != size {
            return Err(Error::Other(format!(
                "writing {}: {n} of {size} bytes",
                path.display()
            )));
        }
        Ok(())
    }

    fn dir(&mut self, name: &str) -> Result<()> {
        let path = self.root.join(name);
        fs::create_dir_all(&path).map_err(|e| Error::io("cannot create", &path, e))
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

fn write_error(e: io::Error) -> Error {
    Error::Other(format!("writing the archive: {e}"))
}

/// Write to a temporary name beside `target`, then rename it there: an error leaves no half
/// archive. `make` creates what the temp path names (a file or a directory) and fills it.
pub fn atomically(target: &Path, make: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let temp = crate::fsutil::temp_sibling(target);
    let done = make(&temp)
        .and_then(|()| fs::rename(&temp, target).map_err(|e| Error::io("cannot write", target, e)));
    if done.is_err() {
        let _ = crate::fsutil::tree::remove_all(&temp);
    }
    done
}
