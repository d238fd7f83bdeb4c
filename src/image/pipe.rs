//! A bounded hand-off of byte chunks from one thread to another, read as a stream: the
//! download and decompression of a layer run on one core while its files are written on
//! the other.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

const CHUNK: usize = 256 * 1024;
/// What the writer says when the reader went away first.
pub const STOPPED: &str = "the unpacking stopped";
/// Chunks in flight: enough to ride over a slow file, small enough to bound memory (4 MiB).
const DEPTH: usize = 16;

pub fn channel() -> (ChunkWriter, ChunkReader) {
    let (tx, rx) = sync_channel(DEPTH);
    (
        ChunkWriter { tx },
        ChunkReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            done: false,
        },
    )
}

pub struct ChunkWriter {
    tx: SyncSender<io::Result<Vec<u8>>>,
}

impl ChunkWriter {
    /// Send everything `from` yields, then the end. A read error is passed on to the reader
    /// (and returned); a reader that went away ends the copy with an error.
    pub fn copy_from(self, from: &mut dyn Read) -> io::Result<()> {
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = match read_full(from, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let _ = self.tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            };
            buf.truncate(n);
            let last = n == 0;
            if self.tx.send(Ok(buf)).is_err() {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, STOPPED));
            }
            if last {
                return Ok(());
            }
        }
    }
}

impl ChunkWriter {
    /// The same end as a `Write`: bytes go over in chunks; `finish` sends the last one and
    /// the end. Dropped unfinished, the reader sees the stream fail rather than end.
    pub fn into_sink(self) -> ChunkSink {
        ChunkSink {
            tx: self.tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }
}

pub struct ChunkSink {
    tx: SyncSender<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
}

impl ChunkSink {
    fn send(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        self.tx
            .send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, STOPPED))
    }

    /// Send what is left, then the end of the stream.
    pub fn finish(mut self) -> io::Result<()> {
        let last = std::mem::take(&mut self.buf);
        if !last.is_empty() {
            self.send(last)?;
        }
        self.send(Vec::new())
    }
}

impl io::Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
            self.send(full)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fill `buf` as far as the stream allows (short only at the end).
fn read_full(from: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match from.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

pub struct ChunkReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.cur.len() {
                let n = out.len().min(self.cur.len() - self.pos);
                out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.done || out.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("the download stopped")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_cross_in_order() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let (w, mut r) = channel();
        let src = data.clone();
        let t = std::thread::spawn(move || w.copy_from(&mut &src[..]));
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        t.join().unwrap().unwrap();
        assert_eq!(got, data);
    }

    #[test]
    fn a_read_error_reaches_the_reader() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "digest mismatch",
                ))
            }
        }
        let (w, mut r) = channel();
        let t = std::thread::spawn(move || w.copy_from(&mut Broken));
        let err = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("digest mismatch"));
        assert!(t.join().unwrap().is_err());
    }

    #[test]
    fn sinks_write_in_chunks_and_end_only_when_finished() {
        use std::io::Write;
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
        let (w, mut r) = channel();
        let src = data.clone();
        let t = std::thread::spawn(move || {
            let mut sink = w.into_sink();
            sink.write_all(&src).unwrap();
            sink.finish()
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        t.join().unwrap().unwrap();
        assert_eq!(got, data);
        // Dropped before finish: the reader sees an error, not a short stream.
        let (w, mut r) = channel();
        let t = std::thread::spawn(move || {
            let mut sink = w.into_sink();
            sink.write_all(b"partial").unwrap();
        });
        assert!(r.read_to_end(&mut Vec::new()).is_err());
        t.join().unwrap();
    }

    #[test]
    fn a_gone_reader_stops_the_writer() {
        let (w, r) = channel();
        drop(r);
        let data = vec![1u8; CHUNK * 3];
        assert!(w.copy_from(&mut &data[..]).is_err());
    }
}
