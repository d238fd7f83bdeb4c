//! The reader side, for `logs`: old files first, `--tail` across rotations, `--since` and
//! `--until`, and `-f`, which polls every 100 ms and follows a rotation.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{JsonLine, LogEntry, Stream};
use crate::time::{now, parse_rfc3339};

#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    pub follow: bool,
    /// Only the last N lines (before since/until filtering, as docker does).
    pub tail: Option<usize>,
    /// (unix seconds, nanos): lines older are skipped.
    pub since: Option<(i64, u32)>,
    /// Lines newer end the output.
    pub until: Option<(i64, u32)>,
}

const POLL: Duration = Duration::from_millis(100);

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

fn decode(line: &[u8]) -> Option<LogEntry> {
    let raw: JsonLine = serde_json::from_slice(line).ok()?;
    let stream = if raw.stream == "stderr" {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    Some(LogEntry {
        stream,
        log: raw.log.into_owned(),
        time: parse_rfc3339(&raw.time)?,
    })
}

/// What to do after one line.
enum Flow {
    Go,
    Stop,
}

struct Filter<'a> {
    opts: &'a LogOptions,
    out: &'a mut dyn FnMut(&LogEntry) -> io::Result<()>,
}

impl Filter<'_> {
    fn line(&mut self, raw: &[u8]) -> io::Result<Flow> {
        let Some(entry) = decode(raw) else {
            return Ok(Flow::Go);
        };
        if self.opts.until.is_some_and(|u| entry.time > u) {
            return Ok(Flow::Stop);
        }
        if self.opts.since.is_some_and(|s| entry.time < s) {
            return Ok(Flow::Go);
        }
        (self.out)(&entry)?;
        Ok(Flow::Go)
    }
}

/// Reads the log at `path` (and its rotations) into `out`. With `follow`, keeps reading
/// until `running()` says the container has stopped and everything it wrote was read, or
/// until `out` fails (a closed pipe).
pub fn read(
    path: &Path,
    opts: &LogOptions,
    running: &dyn Fn() -> bool,
    out: &mut dyn FnMut(&LogEntry) -> io::Result<()>,
) -> io::Result<()> {
    let mut filter = Filter { opts, out };
    let mut files: Vec<PathBuf> = (1..1000)
        .map(|n| rotated(path, n))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    let mut current = match File::open(path) {
        Ok(f) => Some(BufReader::new(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut tail: Option<VecDeque<Vec<u8>>> =
        opts.tail.map(|n| VecDeque::with_capacity(n.min(4096)));
    let mut push = |line: Vec<u8>, filter: &mut Filter| -> io::Result<Flow> {
        match (&mut tail, opts.tail) {
            (Some(q), Some(n)) => {
                if n > 0 {
                    if q.len() == n {
                        q.pop_front();
                    }
                    q.push_back(line);
                }
                Ok(Flow::Go)
            }
            _ => filter.line(&line),
        }
    };
    let mut pending = Vec::new();
    for file in &files {
        let Ok(f) = File::open(file) else { continue };
        let mut r = BufReader::new(f);
        pending.clear();
        while r.read_until(b'\n', &mut pending)? > 0 {
            if let Flow::Stop = push(std::mem::take(&mut pending), &mut filter)? {
                return Ok(());
            }
        }
    }
    pending.clear();
    if let Some(r) = current.as_mut() {
        while r.read_until(b'\n', &mut pending)? > 0 {
            if pending.last() != Some(&b'\n') {
                break; // a line still being written: finish it while following
            }
            if let Flow::Stop = push(std::mem::take(&mut pending), &mut filter)? {
                return Ok(());
            }
        }
    }
    if let Some(q) = tail {
        for line in q {
            if let Flow::Stop = filter.line(&line)? {
                return Ok(());
            }
        }
    }
    if !opts.follow || opts.until.is_some_and(|u| now() > u) {
        return Ok(());
    }
    follow(path, current, pending, &mut filter, running)
}

fn follow(
    path: &Path,
    mut current: Option<BufReader<File>>,
    mut pending: Vec<u8>,
    filter: &mut Filter,
    running: &dyn Fn() -> bool,
) -> io::Result<()> {
    loop {
        // Asked before draining: whatever the container wrote before it stopped is read.
        let alive = running();
        if let Some(r) = current.as_mut() {
            loop {
                let n = r.read_until(b'\n', &mut pending)?;
                if n == 0 || pending.last() != Some(&b'\n') {
                    break;
                }
                if let Flow::Stop = filter.line(&pending)? {
                    return Ok(());
                }
                pending.clear();
            }
        }
        // Rotated (another file now at `path`) or truncated (max-file 1): switch over once
        // the old one is drained, which it now is.
        if let Ok(meta) = std::fs::metadata(path) {
            let switch = match current.as_mut() {
                None => true,
                Some(r) => {
                    let old = r.get_ref().metadata()?;
                    let pos = position(r);
                    old.ino() != meta.ino() || old.dev() != meta.dev() || meta.len() < pos
                }
            };
            if switch {
                current = Some(BufReader::new(File::open(path)?));
                pending.clear();
                continue;
            }
        }
        if !alive {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

fn position(r: &mut BufReader<File>) -> u64 {
    use std::io::Seek;
    r.stream_position().unwrap_or(0)
}
