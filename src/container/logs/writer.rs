//! The writer side, used by the supervisor (the monitor, or a foreground `run`): splits output
//! into lines, stamps them, rotates.
//! Kept small on purpose (the monitor's RSS budget is 2 MB): one reusable encode buffer and
//! at most 16 KiB of pending partial line per stream, as docker's copier.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{JsonLine, Stream};
use crate::time::now_rfc3339;

/// docker's copier flushes a line longer than this as a partial entry.
const MAX_LINE: usize = 16 * 1024;

pub struct LogWriter {
    path: PathBuf,
    max_size: u64,
    max_file: u32,
    file: File,
    size: u64,
    pending: [Vec<u8>; 2],
    buf: Vec<u8>,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl LogWriter {
    /// Appends to `path`; `max_size` 0 means never rotate, `max_file` counts ctr.log itself.
    pub fn open(path: &Path, max_size: u64, max_file: u32) -> io::Result<LogWriter> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            max_size,
            max_file: max_file.max(1),
            file,
            size,
            pending: [Vec::new(), Vec::new()],
            buf: Vec::with_capacity(256),
        })
    }

    /// Logs `bytes` from `stream`: every complete line becomes one entry; the rest waits
    /// for its newline (or for `flush`).
    pub fn write(&mut self, stream: Stream, mut bytes: &[u8]) -> io::Result<()> {
        let slot = stream as usize;
        while !bytes.is_empty() {
            let room = MAX_LINE - self.pending[slot].len();
            let take = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) if i < room => i + 1,
                _ => bytes.len().min(room),
            };
            self.pending[slot].extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            let pending = &self.pending[slot];
            if pending.last() == Some(&b'\n') || pending.len() >= MAX_LINE {
                let line = std::mem::take(&mut self.pending[slot]);
                self.emit(stream, &line)?;
                self.pending[slot] = line;
                self.pending[slot].clear();
            }
        }
        Ok(())
    }

    /// Writes out partial lines (the container ended without a final newline).
    pub fn flush(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let slot = stream as usize;
            if !self.pending[slot].is_empty() {
                let line = std::mem::take(&mut self.pending[slot]);
                self.emit(stream, &line)?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, stream: Stream, line: &[u8]) -> io::Result<()> {
        self.buf.clear();
        let time = now_rfc3339();
        let entry = JsonLine {
            log: String::from_utf8_lossy(line),
            stream: Cow::Borrowed(stream.as_str()),
            time: Cow::Borrowed(&time),
        };
        serde_json::to_writer(&mut self.buf, &entry).map_err(io::Error::other)?;
        self.buf.push(b'\n');
        if self.max_size > 0 && self.size > 0 && self.size + self.buf.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(&self.buf)?;
        self.size += self.buf.len() as u64;
        Ok(())
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_file <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for n in (1..self.max_file - 1).rev() {
            match fs::rename(self.rotated(n), self.rotated(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        fs::rename(&self.path, self.rotated(1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}
