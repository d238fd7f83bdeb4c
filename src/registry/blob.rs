//! Streaming blob download: hashed while read, never more than the descriptor's size, checked
//! against its digest as soon as the last byte arrives, and resumed with `Range` when the
//! connection drops.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::reference::{hex_digest, is_valid_digest, short_digest};
use super::transport::{io_detail, Op, Transport};
use super::{Error, ErrorKind};

const MAX_RECONNECTS: u32 = 5;
const BACKOFF_STEP: Duration = Duration::from_millis(100);

type Body = Box<dyn Read + Send + Sync>;

pub struct BlobReader {
    transport: Arc<Transport>,
    digest: String,
    size: u64,
    hasher: Sha256,
    read: u64,
    body: Option<Body>,
    /// Bytes still to throw away after a server ignored our Range and started from 0.
    skip: u64,
    reconnects: u32,
    verified: bool,
    progress: Option<Box<dyn FnMut(u64) + Send>>,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BlobReader({}, {}/{})",
            self.digest, self.read, self.size
        )
    }
}

fn data_error(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl BlobReader {
    /// Start the download; errors that come before any byte (not found, denied, unreachable)
    /// are reported here as registry errors.
    pub(crate) fn open(
        transport: Arc<Transport>,
        digest: &str,
        size: u64,
    ) -> Result<BlobReader, Error> {
        if !is_valid_digest(digest) {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("invalid blob digest {digest:?}"),
            ));
        }
        let mut reader = BlobReader {
            transport,
            digest: digest.to_string(),
            size,
            hasher: Sha256::new(),
            read: 0,
            body: None,
            skip: 0,
            reconnects: 0,
            verified: false,
            progress: None,
        };
        reader.connect()?;
        Ok(reader)
    }

    /// Call `f` with the total number of bytes read so far after every chunk. Pull reports
    /// progress through its own reader, so only the tests watch the blob reader itself.
    #[cfg(test)]
    pub fn with_progress(mut self, f: Box<dyn FnMut(u64) + Send>) -> Self {
        self.progress = Some(f);
        self
    }

    #[cfg(test)]
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    fn connect(&mut self) -> Result<(), Error> {
        let range = format!("bytes={}-", self.read);
        let headers: Vec<(&str, &str)> = if self.read > 0 {
            vec![("Range", range.as_str())]
        } else {
            Vec::new()
        };
        let (resp, _) = self.transport.get(
            &format!("blobs/{}", self.digest),
            &headers,
            Op::Blob(&self.digest),
        )?;
        let status = resp.status();
        let expected = match status {
            206 if self.read > 0 => {
                let content_range = resp.header("content-range").unwrap_or("");
                if !content_range.starts_with(&format!("bytes {}-", self.read)) {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "blob {}: resumed download answered the wrong range {content_range:?}",
                            short_digest(&self.digest)
                        ),
                    ));
                }
                self.skip = 0;
                self.size - self.read
            }
            200 => {
                self.skip = self.read;
                self.size
            }
            other => {
                return Err(Error::new(
                    ErrorKind::Other,
                    format!(
                        "blob {}: unexpected answer {other} {}",
                        short_digest(&self.digest),
                        resp.status_text()
                    ),
                ))
            }
        };
        let length = resp
            .header("content-length")
            .and_then(|l| l.parse::<u64>().ok());
        if length.is_some_and(|l| l > expected) {
            return Err(self.oversize());
        }
        self.body = Some(resp.into_reader());
        Ok(())
    }

    fn oversize(&self) -> Error {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "blob {} is larger than its expected {} bytes",
                short_digest(&self.digest),
                self.size
            ),
        )
    }

    /// Called when the body ended or failed: reconnect if we may, else report `cause`.
    fn reconnect(&mut self, cause: &str) -> io::Result<()> {
        self.body = None;
        loop {
            if self.reconnects >= MAX_RECONNECTS {
                return Err(data_error(format!(
                    "blob {} truncated: got {} of {} bytes: {cause}",
                    short_digest(&self.digest),
                    self.read,
                    self.size
                )));
            }
            self.reconnects += 1;
            std::thread::sleep(BACKOFF_STEP * self.reconnects);
            crate::debug!(
                "blob {}: reconnecting at byte {} ({cause})",
                short_digest(&self.digest),
                self.read
            );
            match self.connect() {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Network => continue,
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
    }

    fn verify(&mut self) -> io::Result<()> {
        if self.verified {
            return Ok(());
        }
        let got = hex_digest(&self.hasher.clone().finalize());
        if got != self.digest {
            return Err(data_error(format!(
                "blob {} digest mismatch: got {}",
                short_digest(&self.digest),
                short_digest(&got)
            )));
        }
        self.verified = true;
        Ok(())
    }

    /// Account for `n` fresh bytes at the start of `buf`: drop what must be skipped, then hash.
    fn take_chunk(&mut self, buf: &mut [u8], n: usize) -> io::Result<usize> {
        let mut n = n;
        if self.skip > 0 {
            // min() with n keeps it within usize.
            let drop = usize::try_from(self.skip).map_or(n, |s| s.min(n));
            buf.copy_within(drop..n, 0);
            self.skip -= drop as u64;
            n -= drop;
        }
        if n == 0 {
            return Ok(0);
        }
        if self.read + n as u64 > self.size {
            return Err(data_error(self.oversize().to_string()));
        }
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        if let Some(f) = self.progress.as_mut() {
            f(self.read);
        }
        if self.read == self.size {
            self.verify()?;
        }
        Ok(n)
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.body.is_none() && self.verified && self.read == self.size {
                return Ok(0);
            }
            let Some(body) = self.body.as_mut() else {
                self.reconnect("connection lost")?;
                continue;
            };
            // One byte past the end is asked for, so that an oversized blob is noticed.
            let room = self.skip + (self.size - self.read) + 1;
            let want = usize::try_from(room).map_or(buf.len(), |r| r.min(buf.len()));
            match body.read(&mut buf[..want]) {
                Ok(0) => {
                    if self.read == self.size && self.skip == 0 {
                        self.body = None;
                        self.verify()?;
                        return Ok(0);
                    }
                    self.reconnect("connection closed early")?;
                }
                Ok(n) => {
                    let n = self.take_chunk(buf, n)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if self.read == self.size && self.skip == 0 {
                        // Everything arrived; the connection died before saying so.
                        self.body = None;
                        self.verify()?;
                        return Ok(0);
                    }
                    let cause = io_detail(&e);
                    self.reconnect(&cause)?;
                }
            }
        }
    }
}
