//! The two fronts of the supervisor: our own stdio (foreground `run`), or attach clients on the
//! monitor's unix socket, any number of them, each fed the same output.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::PollFlags;

use super::event::{FrontEvent, Stream};
use super::io::write_out;
use super::tty::{self, WinSize};
use crate::ipc::{self, Decoder, Message};

/// A client that lets this much output pile up unread is cut off, so that one stalled
/// `attach` can neither stall the log nor grow the monitor.
const CLIENT_BACKLOG: usize = 256 * 1024;

pub(super) enum Front<'a> {
    Local {
        stdin: Option<BorrowedFd<'a>>,
        stdout: &'a mut dyn Write,
        stderr: &'a mut dyn Write,
        /// Where our window size comes from (stdout or stdin, whichever is a terminal).
        terminal: Option<BorrowedFd<'a>>,
    },
    Socket(&'a mut Clients),
}

struct Client {
    sock: UnixStream,
    dec: Decoder,
    out: Vec<u8>,
    dead: bool,
}

/// The monitor's listening socket and its attached clients; outlives one run of the
/// container, so a restart keeps the socket.
pub struct Clients {
    listener: UnixListener,
    list: Vec<Client>,
    /// Output is held back until the first client attaches, or until this instant, so that
    /// `run -it` and `start -a` miss nothing the container prints first.
    hold_until: Option<Instant>,
}

impl Clients {
    pub fn new(listener: UnixListener, hold: Option<Duration>) -> std::io::Result<Clients> {
        listener.set_nonblocking(true)?;
        Ok(Clients {
            listener,
            list: Vec::new(),
            hold_until: hold.map(|d| Instant::now() + d),
        })
    }

    /// Accept whoever is waiting in the backlog.
    pub fn accept(&mut self) {
        while let Ok((sock, _)) = self.listener.accept() {
            if sock.set_nonblocking(true).is_ok() {
                self.list.push(Client {
                    sock,
                    dec: Decoder::default(),
                    out: Vec::new(),
                    dead: false,
                });
                self.hold_until = None;
            }
        }
    }

    /// Tell every client the container's exit code after its last output, then let them go.
    pub fn finish(&mut self, code: i32) {
        for mut c in self.list.drain(..).filter(|c| !c.dead) {
            ipc::encode(&Message::Exit(code), &mut c.out);
            let _ = c.sock.set_nonblocking(false);
            let _ = c.sock.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = c.sock.write_all(&c.out);
        }
    }

    fn broadcast(&mut self, stream: Stream, data: &[u8]) {
        if self.list.iter().all(|c| c.dead) {
            return;
        }
        let msg = match stream {
            Stream::Stdout => Message::Stdout(data.to_vec()),
            Stream::Stderr => Message::Stderr(data.to_vec()),
        };
        let mut wire = Vec::new();
        ipc::encode(&msg, &mut wire);
        for c in self.list.iter_mut().filter(|c| !c.dead) {
            c.out.extend_from_slice(&wire);
            c.flush();
            if c.out.len() > CLIENT_BACKLOG {
                c.dead = true;
            }
        }
    }
}

impl Client {
    fn flush(&mut self) {
        while !self.out.is_empty() {
            match self.sock.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        if self.out.capacity() > CLIENT_BACKLOG {
            self.out = Vec::new();
        }
    }

    fn read(&mut self, buf: &mut [u8], events: &mut Vec<FrontEvent>) {
        let n = match self.sock.read(buf) {
            Ok(0) => {
                self.dead = true;
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(_) => {
                self.dead = true;
                return;
            }
        };
        self.dec.feed(&buf[..n]);
        loop {
            // A client that does not speak the protocol is cut off.
            let msg = match self.dec.next() {
                Ok(Some(msg)) => msg,
                Ok(None) => return,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            };
            let event = match msg {
                Message::Stdin(data) => FrontEvent::Input(data),
                Message::StdinEof => FrontEvent::InputEof,
                Message::Resize { rows, cols } if rows > 0 && cols > 0 => {
                    FrontEvent::Resize(WinSize { rows, cols })
                }
                Message::Resize { .. } => continue,
                Message::Signal(sig) => FrontEvent::Signal(sig),
                // Messages only a monitor sends, or another channel's: a confused or hostile
                // client.
                _ => {
                    self.dead = true;
                    return;
                }
            };
            events.push(event);
        }
    }
}

impl<'a> Front<'a> {
    pub fn holds_output(&self) -> bool {
        match self {
            Front::Socket(c) => c.hold_until.is_some_and(|t| Instant::now() < t),
            Front::Local { .. } => false,
        }
    }

    pub fn local_size(&self) -> Option<WinSize> {
        match self {
            Front::Local { terminal, .. } => terminal.and_then(tty::window_size),
            Front::Socket(_) => None,
        }
    }

    /// Descriptors to poll: index 0 is our stdin or the listener, 1.. the clients.
    pub fn poll_fds(&mut self, accept_input: bool) -> Vec<(usize, BorrowedFd<'_>, PollFlags)> {
        let mut fds = Vec::new();
        match self {
            Front::Local { stdin, .. } => {
                if let (Some(fd), true) = (stdin, accept_input) {
                    fds.push((0, *fd, PollFlags::POLLIN));
                }
            }
            Front::Socket(clients) => {
                clients.list.retain(|c| !c.dead);
                fds.push((0, clients.listener.as_fd(), PollFlags::POLLIN));
                for (i, c) in clients.list.iter().enumerate() {
                    let mut flags = PollFlags::empty();
                    if accept_input {
                        flags |= PollFlags::POLLIN;
                    }
                    if !c.out.is_empty() {
                        flags |= PollFlags::POLLOUT;
                    }
                    fds.push((i + 1, c.sock.as_fd(), flags));
                }
            }
        }
        fds
    }

    pub fn on_ready(&mut self, i: usize, ev: PollFlags, buf: &mut [u8]) -> Vec<FrontEvent> {
        let mut events = Vec::new();
        match self {
            Front::Local { stdin, .. } => {
                let Some(fd) = *stdin else {
                    return events;
                };
                match nix::unistd::read(fd.as_raw_fd(), buf) {
                    Ok(0) => {
                        *stdin = None;
                        events.push(FrontEvent::InputEof);
                    }
                    Ok(n) => events.push(FrontEvent::Input(buf[..n].to_vec())),
                    Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                    Err(_) => {
                        *stdin = None;
                        events.push(FrontEvent::InputEof);
                    }
                }
            }
            Front::Socket(clients) if i == 0 => clients.accept(),
            Front::Socket(clients) => {
                let Some(c) = clients.list.get_mut(i - 1) else {
                    return events;
                };
                if ev.contains(PollFlags::POLLOUT) {
                    c.flush();
                }
                if ev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                    c.read(buf, &mut events);
                }
            }
        }
        events
    }

    pub fn output(&mut self, stream: Stream, data: &[u8]) {
        match self {
            Front::Local { stdout, stderr, .. } => {
                let w: &mut dyn Write = match stream {
                    Stream::Stdout => &mut **stdout,
                    Stream::Stderr => &mut **stderr,
                };
                let _ = write_out(w, data);
            }
            Front::Socket(clients) => clients.broadcast(stream, data),
        }
    }
}
