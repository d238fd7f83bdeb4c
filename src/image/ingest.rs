//! One layer stream into the store (commit, import, load): its bytes kept as they come in a blob
//! temp file, while a second thread unpacks the decompressed tar into a staging dir; the blob
//! digest and the diff_id are computed on the way, and nothing stays behind on an error.

use std::fs::{self, File};
use std::io::{self, BufReader, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{pipe, Error, ImageStore, Result};
use crate::fsutil;
use crate::overlay::{self, Compression, LayerStore, Staged};

/// A layer read and unpacked, waiting to be placed (or dropped).
pub struct Ingested<'s> {
    /// The unpacked layer until it is placed.
    pub staged: Option<Staged<'s>>,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    pub blob: TempBlob,
    pub compression: Compression,
}

impl Ingested<'_> {
    /// The OCI media type of the blob as stored.
    pub fn media_type(&self) -> &'static str {
        self.compression.oci_media_type()
    }
}

/// A blob being written under a temporary name in the blob directory; removed when dropped
/// unless `keep` named it by its digest.
pub struct TempBlob {
    path: PathBuf,
    /// `sha256:` of what was written.
    pub digest: String,
    pub size: u64,
    kept: bool,
}

impl TempBlob {
    /// A new temp file in the blob directory (`.layer.tmp-PID-N`, which the debris sweep knows).
    pub fn create(images: &ImageStore) -> Result<(TempBlob, File)> {
        let dir = images.blobs_dir();
        fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, e))?;
        let path = fsutil::temp_sibling(&dir.join("layer"));
        let file = File::create(&path).map_err(|e| Error::io("cannot create", &path, e))?;
        let blob = TempBlob {
            path,
            digest: String::new(),
            size: 0,
            kept: false,
        };
        Ok((blob, file))
    }

    /// Where the blob is now: its temp file, or its place in the store once kept.
    pub fn current_path(&self, images: &ImageStore) -> PathBuf {
        if self.kept || !self.path.exists() {
            images.blob_path(&self.digest)
        } else {
            self.path.clone()
        }
    }

    /// Name the blob by its digest; true when the store did not have it yet.
    pub fn keep(&mut self, images: &ImageStore) -> Result<bool> {
        let dest = images.blob_path(&self.digest);
        if self.kept {
            return Ok(false);
        }
        if dest.is_file() {
            return Ok(false);
        }
        fs::rename(&self.path, &dest).map_err(|e| Error::io("cannot store blob", &dest, e))?;
        self.kept = true;
        Ok(true)
    }
}

impl Drop for TempBlob {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Read a layer blob (plain, gzip or zstd tar) to its end: kept in a blob temp file and
/// unpacked into a staging dir at once. `what` names it in errors.
pub fn ingest<'s>(
    images: &ImageStore,
    layers: &'s LayerStore,
    raw: &mut dyn Read,
    what: &str,
) -> Result<Ingested<'s>> {
    let mut head = [0u8; 4];
    let n = read_head(raw, &mut head).map_err(|e| Error::Other(format!("{what}: {e}")))?;
    let compression = Compression::sniff(&head[..n]);
    let (mut blob, file) = TempBlob::create(images)?;
    let mut tee = Tee {
        inner: Cursor::new(head[..n].to_vec()).chain(raw),
        out: file,
        path: &blob.path,
        // A plain tar's blob digest is its diff_id, which the unpacker computes anyway.
        hasher: (compression != Compression::None).then(Sha256::new),
        count: 0,
    };
    // Two stages on two cores: this thread reads, keeps and decompresses the blob (its reader
    // may not leave this thread), a helper writes the layer's files.
    let (writer, mut tar) = pipe::channel();
    let (read, unpacked) = std::thread::scope(|scope| {
        let unpack = scope.spawn(move || layers.stage(&mut tar, what));
        let read = (|| {
            let buffered = BufReader::with_capacity(1 << 18, &mut tee);
            let (_, mut stream) =
                overlay::decompress_kind(buffered).map_err(|e| io::Error::other(e.to_string()))?;
            writer.copy_from(&mut stream)?;
            drop(stream);
            // The decompressor may stop before the blob's last bytes: they are part of it.
            io::copy(&mut tee, &mut io::sink())?;
            tee.out.flush()?;
            tee.out.sync_all()
        })();
        let unpacked = unpack
            .join()
            .unwrap_or_else(|_| Err(overlay::Error::new("the unpacking thread failed")));
        (read, unpacked)
    });
    let staged = match (read, unpacked) {
        (Ok(()), Ok(staged)) => staged,
        // The unpacker's errors name the layer already.
        (Ok(()), Err(e)) => return Err(e.into()),
        // The reading only stopped because the unpacking did: that error counts.
        (Err(re), Err(e)) if re.to_string().contains(pipe::STOPPED) => return Err(e.into()),
        (Err(e), _) => return Err(Error::Other(format!("{what}: {e}"))),
    };
    blob.size = tee.count;
    blob.digest = match tee.hasher.take() {
        Some(h) => format!("sha256:{}", overlay::hex(&h.finalize())),
        None => staged.diff_id().to_string(),
    };
    Ok(Ingested {
        diff_id: staged.diff_id().to_string(),
        staged: Some(staged),
        blob,
        compression,
    })
}

/// Ingest what `produce` writes, run on a thread of its own (commit's layer tar): it may
/// not finish before the layer is unpacked, and either side's failure stops the other.
pub fn ingest_written<'s, T: Send>(
    images: &ImageStore,
    layers: &'s LayerStore,
    what: &str,
    produce: impl FnOnce(&mut dyn Write) -> Result<T> + Send,
) -> Result<(Ingested<'s>, T)> {
    let (writer, mut reader) = pipe::channel();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut sink = writer.into_sink();
            let out = produce(&mut sink)?;
            sink.finish()
                .map_err(|e| Error::Other(format!("{what}: {e}")))?;
            Ok(out)
        });
        let ingested = ingest(images, layers, &mut reader, what);
        drop(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(Error::Other(format!("{what}: the writing thread failed"))));
        match (ingested, produced) {
            (Ok(i), Ok(out)) => Ok((i, out)),
            // The writer only stopped because the reading did: that error counts.
            (Err(e), Err(pe)) if pe.to_string().contains(pipe::STOPPED) => Err(e),
            (_, Err(e)) => Err(e),
            (Err(e), Ok(_)) => Err(e),
        }
    })
}

/// Up to `buf.len()` bytes, fewer only at the end of the stream.
fn read_head(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut have = 0;
    while have < buf.len() {
        match r.read(&mut buf[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(have)
}

/// Copies what it reads into `out` (the blob file at `path`), hashing it when asked to.
struct Tee<'a, R> {
    inner: R,
    out: File,
    path: &'a Path,
    hasher: Option<Sha256>,
    count: u64,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // A full disk names the file, as every other write of the store does.
        self.out.write_all(&buf[..n]).map_err(|e| {
            io::Error::new(e.kind(), format!("writing {}: {e}", self.path.display()))
        })?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}
