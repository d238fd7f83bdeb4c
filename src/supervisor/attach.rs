//! The client side of `cove attach` / `start -a` / `run -it`: our stdio on the monitor's
//! socket (`ipc` messages), raw mode, window sizes, signals, and docker's detach keys.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;

use super::io::{with_short_path, write_out};
use super::signals::Signals;
use super::tty::{self, RawMode};
use super::Error;
use crate::container;
use crate::ipc::{encode, Decoder, Message};
use crate::paths::Paths;

/// docker's default detach sequence, Ctrl-P Ctrl-Q.
pub const DEFAULT_DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// Parse docker's `--detach-keys` format: comma-separated keys, each a single character or
/// `ctrl-<c>` with c in `a-z @ [ \ ] ^ _`. The empty string means docker's default.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, Error> {
    if s.is_empty() {
        return Ok(DEFAULT_DETACH_KEYS.to_vec());
    }
    s.split(',')
        .map(|key| {
            let bytes = key.as_bytes();
            if bytes.len() == 1 {
                return Ok(bytes[0]);
            }
            let ctrl = key.strip_prefix("ctrl-").map(str::as_bytes);
            match ctrl {
                Some([c @ b'a'..=b'z']) => Ok(c - b'a' + 1),
                Some([b'@']) => Ok(0),
                Some([c @ (b'[' | b'\\' | b']' | b'^' | b'_')]) => Ok(c - b'@'),
                _ => Err(Error(format!(
                    "Invalid detach keys ({s}) provided: unknown character '{key}'"
                ))),
            }
        })
        .collect()
}

/// Watches a stdin stream for the detach sequence. Bytes that might start the sequence are
/// held back until it is clear they do not; a mismatch releases them in order.
pub struct DetachMatcher {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachMatcher {
    /// An empty `keys` never detaches.
    pub fn new(keys: &[u8]) -> DetachMatcher {
        DetachMatcher {
            keys: keys.to_vec(),
            matched: 0,
        }
    }

    /// Append to `out` the bytes of `input` to forward; true when the sequence completed (the
    /// sequence itself and everything after it in `input` are not forwarded).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return false;
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return true;
                }
                continue;
            }
            // Release what was held, then let this byte start a new match (Ctrl-P Ctrl-P Ctrl-Q).
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return true;
                }
            } else {
                out.push(b);
            }
        }
        false
    }
}

/// What `attach` does: which streams, how, and when it lets go.
#[derive(Clone, Debug)]
pub struct AttachOpts {
    /// Forward our stdin to the container (`-i`, or `attach` without `--no-stdin`).
    pub stdin: bool,
    /// The container has a tty: our terminal goes raw and sends its size.
    pub tty: bool,
    /// With a tty, this sequence on stdin detaches (docker's default Ctrl-P Ctrl-Q).
    pub detach_keys: Vec<u8>,
    /// Forward the signals we receive to the container (`--sig-proxy`).
    pub sig_proxy: bool,
    /// Close the container's stdin when ours ends (`run -i` without a tty, like docker's
    /// StdinOnce); `attach` leaves it open.
    pub stdin_once: bool,
    /// Which of stdout and stderr are written out (`run -a`); the others are dropped.
    pub show: [bool; 2],
}

/// How an attach session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachEnd {
    /// The user typed the detach keys; the container keeps running.
    Detached,
    /// The container ended with this code.
    Exited(i32),
}

/// Attach our stdio to the running container `id` through its monitor's socket. Returns when
/// the container exits or on detach (after printing docker's "read escape sequence").
pub fn attach(paths: &Paths, id: &str, opts: &AttachOpts) -> Result<AttachEnd, Error> {
    let path = container::attach_socket(paths, id);
    let sock = with_short_path(&path, |p| UnixStream::connect(p)).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            Error("You cannot attach to a stopped container, start it first".into())
        }
        _ => Error(format!(
            "cannot attach to container {id}: {}: {e}",
            path.display()
        )),
    })?;
    let stdin = io::stdin();
    let stdout = crate::console::container_stdout()
        .map_err(|e| Error(format!("duplicating stdout: {e}")))?;
    let terminal = [stdout.as_fd(), stdin.as_fd()]
        .into_iter()
        .find(|fd| tty::is_terminal(fd));
    let signals = Signals::catch(opts.sig_proxy)?;
    // With a tty the container's terminal does the line discipline, so ours goes raw even
    // without -i (as docker does); else every newline would be translated twice.
    let raw = match (opts.tty, terminal) {
        (true, Some(fd)) => RawMode::enter(fd)?,
        _ => None,
    };
    let client = Client {
        input: opts.stdin.then(|| stdin.as_fd()),
        terminal: terminal.filter(|_| opts.tty),
        signals: Some(&signals),
    };
    let (mut out, mut err) = (&stdout, io::stderr().lock());
    let (mut no_out, mut no_err) = (io::sink(), io::sink());
    let out: &mut dyn Write = if opts.show[0] { &mut out } else { &mut no_out };
    let err: &mut dyn Write = if opts.show[1] { &mut err } else { &mut no_err };
    let end = client.run(sock, opts, out, err);
    drop(raw);
    match end? {
        Some(AttachEnd::Detached) => {
            eprintln!("read escape sequence");
            Ok(AttachEnd::Detached)
        }
        Some(end) => Ok(end),
        // The monitor went away without a word (killed?): exit.json may still tell.
        None => match container::read_exit(paths, id) {
            Some(exit) => Ok(AttachEnd::Exited(exit.exit_code)),
            None => Err(Error(format!(
                "the monitor of container {id} went away before the container exited"
            ))),
        },
    }
}

/// One client connection's loop, separate from our real stdio so tests can drive it.
pub(super) struct Client<'a> {
    pub input: Option<BorrowedFd<'a>>,
    /// Source of the size sent at start and on SIGWINCH.
    pub terminal: Option<BorrowedFd<'a>>,
    pub signals: Option<&'a Signals>,
}

impl Client<'_> {
    /// Some(end), or None when the monitor closed the socket without an Exit frame.
    pub fn run(
        mut self,
        mut sock: UnixStream,
        opts: &AttachOpts,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Option<AttachEnd>, Error> {
        let fail = |e: io::Error| Error(format!("attach: {e}"));
        let mut matcher = DetachMatcher::new(if opts.tty { &opts.detach_keys } else { &[] });
        let mut wire = Vec::new();
        self.send_size(&mut wire);
        let mut dec = Decoder::default();
        let mut buf = [0u8; 16 * 1024];
        loop {
            if !wire.is_empty() {
                sock.write_all(&wire).map_err(fail)?;
                wire.clear();
            }
            let mut fds = vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
            if let Some(fd) = self.input {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            if let Some(s) = self.signals {
                fds.push(PollFd::new(s.fd(), PollFlags::POLLIN));
            }
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(Error(format!("poll: {e}"))),
            }
            let ready: Vec<bool> = fds.iter().map(|f| f.any().unwrap_or(false)).collect();
            drop(fds);
            if ready.get(2).copied().unwrap_or(false)
                || (self.input.is_none() && ready.get(1).copied().unwrap_or(false))
            {
                self.on_signals(&mut wire);
            }
            if self.input.is_some() && ready.get(1).copied().unwrap_or(false) {
                if let Some(fd) = self.input {
                    match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                        Ok(0) | Err(_) => {
                            self.input = None;
                            if opts.stdin_once {
                                encode(&Message::StdinEof, &mut wire);
                            }
                        }
                        Ok(n) => {
                            let mut pass = Vec::with_capacity(n);
                            let detached = matcher.feed(&buf[..n], &mut pass);
                            if !pass.is_empty() {
                                encode(&Message::Stdin(pass), &mut wire);
                            }
                            if detached {
                                let _ = sock.write_all(&wire);
                                return Ok(Some(AttachEnd::Detached));
                            }
                        }
                    }
                }
            }
            if ready[0] {
                let n = match sock.read(&mut buf) {
                    Ok(0) => return Ok(None),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(fail(e)),
                };
                dec.feed(&buf[..n]);
                let protocol = |e: crate::ipc::Error| Error(format!("attach protocol: {e}"));
                while let Some(msg) = dec.next().map_err(protocol)? {
                    match msg {
                        Message::Stdout(data) => write_out(out, &data).map_err(fail)?,
                        Message::Stderr(data) => write_out(err, &data).map_err(fail)?,
                        Message::Exit(code) => return Ok(Some(AttachEnd::Exited(code))),
                        _ => {
                            return Err(Error(
                                "attach protocol: unexpected frame from the monitor".into(),
                            ))
                        }
                    }
                }
            }
        }
    }

    fn send_size(&self, wire: &mut Vec<u8>) {
        if let Some(size) = self.terminal.and_then(tty::window_size) {
            let (rows, cols) = (size.rows, size.cols);
            encode(&Message::Resize { rows, cols }, wire);
        }
    }

    fn on_signals(&self, wire: &mut Vec<u8>) {
        let Some(signals) = self.signals else {
            return;
        };
        while let Some(sig) = signals.next() {
            match sig {
                Signal::SIGWINCH => self.send_size(wire),
                Signal::SIGCHLD => {}
                other => encode(&Message::Signal(other as i32), wire),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_dockers() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(parse_detach_keys("").unwrap(), DEFAULT_DETACH_KEYS);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), [0x01, b'x']);
        assert_eq!(parse_detach_keys("a").unwrap(), [b'a']);
        assert_eq!(
            parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            [0, 27, 28, 29, 30, 31]
        );
        let err = parse_detach_keys(",").unwrap_err();
        assert!(
            err.0.starts_with("Invalid detach keys (,) provided"),
            "{err}"
        );
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("ctrl-A").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }

    #[test]
    fn matcher_detaches_and_releases_partial_matches() {
        let mut m = DetachMatcher::new(&DEFAULT_DETACH_KEYS);
        let mut out = Vec::new();
        assert!(!m.feed(b"ls\x10", &mut out));
        assert_eq!(out, b"ls");
        // A mismatch after a partial match forwards the held byte, then the new one.
        assert!(!m.feed(b"x", &mut out));
        assert_eq!(out, b"ls\x10x");
        // Ctrl-P Ctrl-P Ctrl-Q: the first Ctrl-P is forwarded, the pair detaches.
        out.clear();
        assert!(m.feed(b"\x10\x10\x11tail", &mut out));
        assert_eq!(out, b"\x10");
        // Split across reads.
        let mut m = DetachMatcher::new(&DEFAULT_DETACH_KEYS);
        out.clear();
        assert!(!m.feed(b"\x10", &mut out));
        assert!(m.feed(b"\x11", &mut out));
        assert!(out.is_empty());
        // No keys: everything passes.
        let mut m = DetachMatcher::new(&[]);
        out.clear();
        assert!(!m.feed(b"\x10\x11", &mut out));
        assert_eq!(out, b"\x10\x11");
        // One key.
        let mut m = DetachMatcher::new(b"q");
        out.clear();
        assert!(m.feed(b"abq", &mut out));
        assert_eq!(out, b"ab");
    }
}
