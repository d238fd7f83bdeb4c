//! The wire format of [`Message`]: frames `[tag u8][len u32 LE][len bytes of payload]`, len at
//! most [`MAX_FRAME`]; integers little-endian, text UTF-8. An encoder into a buffer (or, without
//! allocating, into a slice), an incremental decoder for sockets, a decoder of a whole buffer
//! read to end of file, and a blocking reader of one message.
//!
//! Payloads: ChildPid, UsernsCreated, Exit, Signal: 4 bytes; Resize: rows u16, cols u16;
//! PauseFailed: stage u8, errno i32; SpawnFailed, StartFailed: code u8, then the text;
//! RootfsMode: the text; Stdout, Stderr, Stdin: the data; the others: nothing. Text longer
//! than a frame is cut at a character boundary.

use std::io::{ErrorKind, Read};

use super::{clip, Error, Message};

/// Largest payload a frame may carry; a peer that announces more is cut off.
pub const MAX_FRAME: usize = 32 * 1024;
const HEADER: usize = 5;

// The attach tags are those of the protocol before this module, so that an attach client and a
// monitor of neighbouring builds still understand each other.
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const EXIT: u8 = 3;
const STDIN: u8 = 16;
const RESIZE: u8 = 17;
const STDIN_EOF: u8 = 18;
const SIGNAL: u8 = 19;
const CHILD_PID: u8 = 32;
const ROOTFS_MODE: u8 = 33;
const SPAWN_FAILED: u8 = 34;
const USERNS_CREATED: u8 = 48;
const IDS_MAPPED: u8 = 49;
const MOUNT_NS_READY: u8 = 50;
const PAUSE_FAILED: u8 = 51;
const STARTED: u8 = 64;
const START_FAILED: u8 = 65;

const NAMES: [(u8, &str); 16] = [
    (STDOUT, "Stdout"),
    (STDERR, "Stderr"),
    (EXIT, "Exit"),
    (STDIN, "Stdin"),
    (RESIZE, "Resize"),
    (STDIN_EOF, "StdinEof"),
    (SIGNAL, "Signal"),
    (CHILD_PID, "ChildPid"),
    (ROOTFS_MODE, "RootfsMode"),
    (SPAWN_FAILED, "SpawnFailed"),
    (USERNS_CREATED, "UsernsCreated"),
    (IDS_MAPPED, "IdsMapped"),
    (MOUNT_NS_READY, "MountNsReady"),
    (PAUSE_FAILED, "PauseFailed"),
    (STARTED, "Started"),
    (START_FAILED, "StartFailed"),
];

fn name(tag: u8) -> Result<&'static str, Error> {
    NAMES
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, name)| *name)
        .ok_or(Error::UnknownTag(tag))
}

impl Message {
    /// The tag of this message's frames.
    pub fn tag(&self) -> u8 {
        match self {
            Message::ChildPid(_) => CHILD_PID,
            Message::RootfsMode(_) => ROOTFS_MODE,
            Message::SpawnFailed { .. } => SPAWN_FAILED,
            Message::UsernsCreated { .. } => USERNS_CREATED,
            Message::IdsMapped => IDS_MAPPED,
            Message::MountNsReady => MOUNT_NS_READY,
            Message::PauseFailed { .. } => PAUSE_FAILED,
            Message::Started => STARTED,
            Message::StartFailed { .. } => START_FAILED,
            Message::Stdout(_) => STDOUT,
            Message::Stderr(_) => STDERR,
            Message::Exit(_) => EXIT,
            Message::Stdin(_) => STDIN,
            Message::Resize { .. } => RESIZE,
            Message::StdinEof => STDIN_EOF,
            Message::Signal(_) => SIGNAL,
        }
    }
}

/// A message's payload as a fixed head (at most 5 bytes) and borrowed data; `split` when the
/// data may span several frames.
struct Parts<'a> {
    head: [u8; 5],
    head_len: usize,
    data: &'a [u8],
    split: bool,
}

fn parts(msg: &Message) -> Parts<'_> {
    let fixed = |bytes: &[u8]| {
        let mut head = [0u8; 5];
        head[..bytes.len()].copy_from_slice(bytes);
        Parts {
            head,
            head_len: bytes.len(),
            data: &[],
            split: false,
        }
    };
    let stream = |data| Parts {
        head: [0; 5],
        head_len: 0,
        data,
        split: true,
    };
    match msg {
        Message::ChildPid(n) | Message::Exit(n) | Message::Signal(n) => fixed(&n.to_le_bytes()),
        Message::UsernsCreated { pid } => fixed(&pid.to_le_bytes()),
        Message::IdsMapped | Message::MountNsReady | Message::Started | Message::StdinEof => {
            fixed(&[])
        }
        Message::PauseFailed { stage, errno } => {
            let e = errno.to_le_bytes();
            fixed(&[*stage, e[0], e[1], e[2], e[3]])
        }
        Message::Resize { rows, cols } => {
            let (r, c) = (rows.to_le_bytes(), cols.to_le_bytes());
            fixed(&[r[0], r[1], c[0], c[1]])
        }
        Message::RootfsMode(text) => Parts {
            data: clip(text, MAX_FRAME).as_bytes(),
            split: false,
            ..fixed(&[])
        },
        Message::SpawnFailed { code, message } | Message::StartFailed { code, message } => Parts {
            data: clip(message, MAX_FRAME - 1).as_bytes(),
            ..fixed(&[*code])
        },
        Message::Stdout(data) | Message::Stderr(data) | Message::Stdin(data) => stream(data),
    }
}

/// `len` is at most MAX_FRAME (callers clip and split), so it always fits the u32 field.
fn header(tag: u8, len: usize) -> [u8; HEADER] {
    let n = u32::try_from(len.min(MAX_FRAME))
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    [tag, n[0], n[1], n[2], n[3]]
}

/// Append `msg` to `out`: one frame, or for data longer than MAX_FRAME several.
pub fn encode(msg: &Message, out: &mut Vec<u8>) {
    let tag = msg.tag();
    let p = parts(msg);
    if p.split && p.data.len() > MAX_FRAME {
        for chunk in p.data.chunks(MAX_FRAME) {
            out.extend_from_slice(&header(tag, chunk.len()));
            out.extend_from_slice(chunk);
        }
        return;
    }
    let head = &p.head[..p.head_len];
    out.extend_from_slice(&header(tag, head.len() + p.data.len()));
    out.extend_from_slice(head);
    out.extend_from_slice(p.data);
}

/// Write `msg` as one frame at the start of `out`, without allocating (for a process between
/// fork and exec). Returns its length, or None when it does not fit `out` or one frame.
pub fn encode_into(msg: &Message, out: &mut [u8]) -> Option<usize> {
    let p = parts(msg);
    let len = p.head_len + p.data.len();
    if len > MAX_FRAME || out.len() < HEADER + len {
        return None;
    }
    out[..HEADER].copy_from_slice(&header(msg.tag(), len));
    out[HEADER..HEADER + p.head_len].copy_from_slice(&p.head[..p.head_len]);
    out[HEADER + p.head_len..HEADER + len].copy_from_slice(p.data);
    Some(HEADER + len)
}

/// The frame at the start of `data`: its message and length, or None when `data` holds only
/// part of it.
fn decode_frame(data: &[u8]) -> Result<Option<(Message, usize)>, Error> {
    let Some(&tag) = data.first() else {
        return Ok(None);
    };
    name(tag)?;
    let Some(len) = data.get(1..HEADER) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > MAX_FRAME {
        return Err(Error::Oversized(len));
    }
    match data.get(HEADER..HEADER + len) {
        Some(payload) => Ok(Some((parse(tag, payload)?, HEADER + len))),
        None => Ok(None),
    }
}

fn parse(tag: u8, p: &[u8]) -> Result<Message, Error> {
    let bad = Error::Malformed(name(tag)?);
    let four = || <[u8; 4]>::try_from(p).map_err(|_| bad.clone());
    let int = || four().map(i32::from_le_bytes);
    let none = |msg| {
        if p.is_empty() {
            Ok(msg)
        } else {
            Err(bad.clone())
        }
    };
    let text = |t: &[u8]| String::from_utf8(t.to_vec()).map_err(|_| bad.clone());
    let failure = || match p.split_first() {
        Some((&code, t)) if (125..=127).contains(&code) => Ok((code, text(t)?)),
        _ => Err(bad.clone()),
    };
    Ok(match tag {
        STDOUT => Message::Stdout(p.to_vec()),
        STDERR => Message::Stderr(p.to_vec()),
        STDIN => Message::Stdin(p.to_vec()),
        EXIT => Message::Exit(int()?),
        SIGNAL => Message::Signal(int()?),
        CHILD_PID => Message::ChildPid(int()?),
        RESIZE => {
            let b = four()?;
            Message::Resize {
                rows: u16::from_le_bytes([b[0], b[1]]),
                cols: u16::from_le_bytes([b[2], b[3]]),
            }
        }
        USERNS_CREATED => Message::UsernsCreated {
            pid: u32::from_le_bytes(four()?),
        },
        PAUSE_FAILED => match p {
            &[stage, a, b, c, d] => Message::PauseFailed {
                stage,
                errno: i32::from_le_bytes([a, b, c, d]),
            },
            _ => return Err(bad),
        },
        ROOTFS_MODE => Message::RootfsMode(text(p)?),
        SPAWN_FAILED => {
            let (code, message) = failure()?;
            Message::SpawnFailed { code, message }
        }
        START_FAILED => {
            let (code, message) = failure()?;
            Message::StartFailed { code, message }
        }
        STDIN_EOF => none(Message::StdinEof)?,
        IDS_MAPPED => none(Message::IdsMapped)?,
        MOUNT_NS_READY => none(Message::MountNsReady)?,
        STARTED => none(Message::Started)?,
        other => return Err(Error::UnknownTag(other)),
    })
}

/// Incremental decoder: feed it whatever a socket gave, take whole messages out. An error is
/// final: the peer does not speak the protocol, and every later call returns it again.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Where the next frame starts in `buf`.
    start: usize,
}

impl Decoder {
    pub fn feed(&mut self, data: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next whole message, or None when more bytes are needed.
    pub fn next(&mut self) -> Result<Option<Message>, Error> {
        let Some((msg, used)) = decode_frame(&self.buf[self.start..])? else {
            return Ok(None);
        };
        self.start += used;
        if self.start == self.buf.len() {
            self.start = 0;
            self.buf.clear();
            if self.buf.capacity() > 2 * MAX_FRAME {
                self.buf = Vec::new();
            }
        }
        Ok(Some(msg))
    }
}

/// The messages of a buffer read to end of file, in order; a partial frame at its end yields
/// [`Error::Truncated`]. Nothing follows an error.
pub fn decode_all(data: &[u8]) -> impl Iterator<Item = Result<Message, Error>> + '_ {
    let mut rest = data;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        match decode_frame(rest) {
            Ok(Some((msg, used))) => {
                rest = &rest[used..];
                Some(Ok(msg))
            }
            Ok(None) => {
                done = true;
                (!rest.is_empty()).then_some(Err(Error::Truncated))
            }
            Err(e) => {
                done = true;
                Some(Err(e))
            }
        }
    })
}

/// Read exactly one message from a blocking stream, and nothing after it. The stream ending
/// before a whole header is `Io(UnexpectedEof)`, inside a payload `Truncated`. Allocates
/// nothing for a message without payload.
pub fn read_message(mut r: impl Read) -> Result<Message, Error> {
    let mut head = [0u8; HEADER];
    r.read_exact(&mut head).map_err(|e| Error::Io(e.kind()))?;
    let tag = head[0];
    name(tag)?;
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(Error::Oversized(len));
    }
    if len == 0 {
        return parse(tag, &[]);
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => Error::Truncated,
        kind => Error::Io(kind),
    })?;
    parse(tag, &payload)
}
