//! Blob and manifest uploads (the distribution spec's push side): a `HEAD` first so what the
//! registry has is not sent again, a cross-repository mount when another repository of the
//! registry has the blob, then a monolithic `PUT` for small blobs or `PATCH` chunks for large
//! ones, resumed from the registry's `Range` when a connection drops.

use std::io::{self, Read};

use super::reference::{is_valid_digest, sha256_digest, short_digest};
use super::transport::{Body, Endpoint, Failure, Op};
use super::{Client, Error, ErrorKind};

/// Reopens a blob's content at a byte offset (a retry starts where the registry left off).
pub type Opener<'a> = dyn Fn(u64) -> io::Result<Box<dyn Read + Send>> + Sync + 'a;

/// How blobs are sent.
#[derive(Clone, Copy, Debug)]
pub struct UploadPolicy {
    /// Blobs up to this size go in one `PUT`.
    pub monolithic_max: u64,
    /// Larger ones in `PATCH` chunks of this size.
    pub chunk: u64,
    /// Connection failures survived per blob.
    pub retries: u32,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        UploadPolicy {
            monolithic_max: 32 << 20,
            chunk: 16 << 20,
            retries: 4,
        }
    }
}

/// What a push did with one blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobPush {
    /// The registry had it (`HEAD` said so).
    Exists,
    /// Mounted from another repository of the registry.
    Mounted {
        from: String,
    },
    Uploaded,
}

impl Client {
    /// Whether the registry has the blob in this repository.
    pub fn blob_exists(&self, digest: &str) -> Result<bool, Error> {
        let t = &self.transport;
        let ep = t.origin()?;
        let path = format!("/v2/{}/blobs/{digest}", ep.repo);
        match t.send(ep, "HEAD", &path, &[], Body::Empty) {
            Ok(_) => Ok(true),
            Err(Failure::Status { code: 404, .. }) => Ok(false),
            Err(f) => Err(t.describe(f, ep, Op::Push)),
        }
    }

    /// Make sure the registry has the blob: skipped when present, mounted from one of
    /// `mount_from` when it can be, else uploaded. `progress` gets the bytes sent so far.
    pub fn push_blob(
        &self,
        digest: &str,
        size: u64,
        mount_from: &[String],
        open: &Opener,
        policy: UploadPolicy,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BlobPush, Error> {
        if !is_valid_digest(digest) {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("invalid blob digest {digest:?}"),
            ));
        }
        if self.blob_exists(digest)? {
            return Ok(BlobPush::Exists);
        }
        let t = &self.transport;
        let ep = t.origin()?;
        // One mount attempt, from the first other repository: a 202 instead of a 201 means
        // no mount but an upload session to use.
        let mut session = None;
        if let Some(from) = mount_from.iter().find(|f| **f != ep.repo) {
            let path = format!("/v2/{}/blobs/uploads/?mount={digest}&from={from}", ep.repo);
            let resp = t
                .send(ep, "POST", &path, &[], Body::Empty)
                .map_err(|f| t.describe(f, ep, Op::Push))?;
            if resp.status() == 201 {
                return Ok(BlobPush::Mounted { from: from.clone() });
            }
            session = Some(location(ep, &resp)?);
        }
        let mut tries = 0;
        loop {
            let loc = match session.take() {
                Some(l) => l,
                None => self.start_upload(ep)?,
            };
            let sent = if size <= policy.monolithic_max {
                self.put_whole(ep, &loc, digest, size, open, progress)
            } else {
                self.put_chunks(ep, loc, digest, size, open, policy, progress)
            };
            match sent {
                Ok(()) => return Ok(BlobPush::Uploaded),
                Err(Failure::Transport(detail)) if tries < policy.retries => {
                    tries += 1;
                    crate::debug!("upload of {digest} interrupted ({detail}), starting again");
                    std::thread::sleep(std::time::Duration::from_millis(100 * u64::from(tries)));
                }
                Err(f) => return Err(t.describe(f, ep, Op::Push)),
            }
        }
    }

    fn start_upload(&self, ep: &Endpoint) -> Result<String, Error> {
        let t = &self.transport;
        let path = format!("/v2/{}/blobs/uploads/", ep.repo);
        let resp = t
            .send(ep, "POST", &path, &[], Body::Empty)
            .map_err(|f| t.describe(f, ep, Op::Push))?;
        location(ep, &resp)
    }

    fn put_whole(
        &self,
        ep: &Endpoint,
        loc: &str,
        digest: &str,
        size: u64,
        open: &Opener,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), Failure> {
        let url = with_digest(loc, digest);
        let stream = || -> io::Result<Box<dyn Read + Send + '_>> {
            Ok(Box::new(Counted {
                inner: open(0)?.take(size),
                done: 0,
                report: progress,
            }))
        };
        self.transport
            .send_url(
                ep,
                "PUT",
                &url,
                &[("Content-Type", "application/octet-stream")],
                Body::Stream {
                    len: size,
                    open: &stream,
                },
            )
            .map(|_| ())
    }

    /// `PATCH` chunk after chunk with `Content-Range`; after a dropped connection, ask the
    /// registry how much it has (`GET` of the session: `Range: 0-N`) and go on from there.
    #[allow(clippy::too_many_arguments)]
    fn put_chunks(
        &self,
        ep: &Endpoint,
        mut loc: String,
        digest: &str,
        size: u64,
        open: &Opener,
        policy: UploadPolicy,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), Failure> {
        let t = &self.transport;
        let mut offset = 0u64;
        let mut resumes = 0;
        while offset < size {
            let len = policy.chunk.min(size - offset);
            let start = offset;
            let stream = || -> io::Result<Box<dyn Read + Send + '_>> {
                Ok(Box::new(Counted {
                    inner: open(start)?.take(len),
                    done: start,
                    report: progress,
                }))
            };
            let range = format!("{start}-{}", start + len - 1);
            let sent = t.send_url(
                ep,
                "PATCH",
                &loc,
                &[
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Range", &range),
                ],
                Body::Stream { len, open: &stream },
            );
            match sent {
                Ok(resp) => {
                    loc = location(ep, &resp).map_err(Failure::Worded)?;
                    offset = start + len;
                }
                Err(Failure::Transport(detail)) if resumes < policy.retries => {
                    resumes += 1;
                    crate::debug!("chunk {range} of {digest} interrupted ({detail}), resuming");
                    let (new_loc, have) = self.upload_status(ep, &loc)?;
                    loc = new_loc;
                    offset = have;
                }
                Err(f) => return Err(f),
            }
        }
        let url = with_digest(&loc, digest);
        t.send_url(ep, "PUT", &url, &[], Body::Empty).map(|_| ())
    }

    /// Where an upload session stands: its location and how many bytes the registry has.
    fn upload_status(&self, ep: &Endpoint, loc: &str) -> Result<(String, u64), Failure> {
        let resp = self.transport.send_url(ep, "GET", loc, &[], Body::Empty)?;
        let have = resp
            .header("range")
            .and_then(|r| r.rsplit_once('-'))
            .and_then(|(_, end)| end.trim().parse::<u64>().ok())
            // "0-0" is what distribution says for an empty session too.
            .map_or(0, |end| if end == 0 { 0 } else { end + 1 });
        let next = location(ep, &resp).unwrap_or_else(|_| loc.to_string());
        Ok((next, have))
    }

    /// Store a manifest under a tag or its digest; returns its digest.
    pub fn put_manifest(
        &self,
        tag_or_digest: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        let t = &self.transport;
        let ep = t.origin()?;
        let digest = sha256_digest(bytes);
        let path = format!("/v2/{}/manifests/{tag_or_digest}", ep.repo);
        let resp = t
            .send(
                ep,
                "PUT",
                &path,
                &[("Content-Type", media_type)],
                Body::Bytes(bytes),
            )
            .map_err(|f| t.describe(f, ep, Op::Push))?;
        if let Some(theirs) = resp.header("docker-content-digest") {
            if theirs != digest {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "registry {} stored the manifest as {}, cove sent {}",
                        ep.host,
                        short_digest(theirs),
                        short_digest(&digest)
                    ),
                ));
            }
        }
        Ok(digest)
    }
}

/// The `Location` of an upload session, made absolute.
fn location(ep: &Endpoint, resp: &ureq::Response) -> Result<String, Error> {
    match resp.header("location") {
        Some(l) if !l.is_empty() => Ok(ep.resolve(l)),
        _ => Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "registry {} answered {} without an upload location",
                ep.host,
                resp.status()
            ),
        )),
    }
}

/// The session URL with `digest=` added to its query.
fn with_digest(loc: &str, digest: &str) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}digest={digest}")
}

/// Counts what is read and reports the running total (about every 512 KiB).
struct Counted<'a, R> {
    inner: R,
    done: u64,
    report: &'a (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let before = self.done;
        self.done += n as u64;
        if n == 0 || self.done >> 19 != before >> 19 {
            (self.report)(self.done);
        }
        Ok(n)
    }
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod tests;
