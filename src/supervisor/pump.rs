//! The supervisor of a container's stdio: one single-threaded poll loop that pumps output to
//! the log and to a front (our own terminal for foreground `run`, attach clients for the
//! monitor), feeds stdin, forwards signals and window sizes, and reaps the container.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::event::{FrontEvent, Stream};
use super::front::{Clients, Front};
use super::signals::Signals;
use super::tty::{self, RawMode, WinSize};
pub use super::wire::{wire, IoMode, Wiring};
use super::{sys, Error};
use crate::sandbox::{SpawnError, Stdio};

/// What the supervisor needs from the layer that knows about containers. It knows nothing of
/// records, specs or logs itself, so tests drive it with a plain child process.
pub trait Keeper {
    /// Start the container with `io` as its stdio and do the bookkeeping of a start (state
    /// file, record); the pid must be a direct child of the caller.
    fn spawn(&mut self, io: Stdio) -> Result<i32, SpawnError>;
    /// Container output, for the log.
    fn output(&mut self, stream: Stream, data: &[u8]);
    /// How long one run may last before it is killed (podman's `--timeout`).
    fn timeout(&self) -> Option<Duration> {
        None
    }
}

/// The running container as the poll loop sees it.
pub(super) struct Pump<'a> {
    pub pid: Pid,
    pub pidfd: Option<OwnedFd>,
    pub wiring: Wiring,
    pub mode: &'a IoMode,
    pub keeper: &'a mut dyn Keeper,
    pending_in: Vec<u8>,
    close_input: bool,
    exit: Option<i32>,
    /// When the container is killed if it still runs (`--timeout`); None once it was.
    deadline: Option<Instant>,
}

#[derive(Clone, Copy)]
enum Role {
    Child,
    Signals,
    Output(usize),
    Input,
    Front(usize),
}

/// Time allowed, after the container's init exits, for output still in the pipes or pty;
/// bounded because a process outside a private pid namespace may hold them open forever.
const DRAIN: Duration = Duration::from_millis(300);
/// Stop taking input while this much waits for a container that does not read its stdin.
const INPUT_HIGH_WATER: usize = 64 * 1024;

impl<'a> Pump<'a> {
    pub fn new(pid: i32, wiring: Wiring, mode: &'a IoMode, keeper: &'a mut dyn Keeper) -> Self {
        let deadline = keeper.timeout().map(|t| Instant::now() + t);
        Pump {
            pid: Pid::from_raw(pid),
            // Without pidfds (Linux < 5.3) the loop polls waitpid on a short timeout instead.
            pidfd: sys::pidfd_open(pid).ok(),
            wiring,
            mode,
            keeper,
            pending_in: Vec::new(),
            close_input: false,
            exit: None,
            deadline,
        }
    }

    /// Run until the container has exited and its output is drained; its exit code (128+N
    /// for a signal, as a shell reports it).
    pub fn run(&mut self, front: &mut Front<'_>, signals: &Signals) -> Result<i32, Error> {
        let mut drain_until: Option<Instant> = None;
        let mut buf = [0u8; 16 * 1024];
        loop {
            self.try_reap(false);
            self.enforce_deadline();
            if self.exit.is_some() && drain_until.is_none() {
                drain_until = Some(Instant::now() + DRAIN);
            }
            let outputs_open = self.wiring.outputs.iter().any(Option::is_some);
            if let (Some(code), Some(until)) = (self.exit, drain_until) {
                if !outputs_open || Instant::now() >= until {
                    return Ok(code);
                }
            }
            let hold = front.holds_output();
            let mut roles = Vec::with_capacity(8);
            let mut fds = Vec::with_capacity(8);
            if let (Some(fd), None) = (&self.pidfd, self.exit) {
                roles.push(Role::Child);
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            }
            roles.push(Role::Signals);
            fds.push(PollFd::new(signals.fd(), PollFlags::POLLIN));
            for (i, out) in self.wiring.outputs.iter().enumerate() {
                if let (Some(fd), false) = (out, hold) {
                    roles.push(Role::Output(i));
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                }
            }
            if let (Some(fd), false) = (&self.wiring.input, self.pending_in.is_empty()) {
                roles.push(Role::Input);
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
            }
            let accept_input = self.pending_in.len() < INPUT_HIGH_WATER;
            for (i, fd, flags) in front.poll_fds(accept_input) {
                roles.push(Role::Front(i));
                fds.push(PollFd::new(fd, flags));
            }
            let timeout = match (drain_until, &self.pidfd, hold) {
                (Some(until), _, _) => until.saturating_duration_since(Instant::now()),
                (None, None, _) | (None, _, true) => Duration::from_millis(100),
                (None, Some(_), false) => Duration::from_secs(3600),
            };
            let timeout = match self.deadline {
                Some(t) => timeout.min(t.saturating_duration_since(Instant::now())),
                None => timeout,
            };
            let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
            match nix::poll::poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(Error(format!("poll: {e}"))),
            }
            let ready: Vec<(Role, PollFlags)> = roles
                .into_iter()
                .zip(
                    fds.iter()
                        .map(|f| f.revents().unwrap_or(PollFlags::empty())),
                )
                .filter(|(_, ev)| !ev.is_empty())
                .collect();
            drop(fds);
            for (role, ev) in ready {
                match role {
                    Role::Child => self.try_reap(true),
                    Role::Signals => self.on_signals(front, signals),
                    Role::Output(i) => self.on_output(i, front, &mut buf),
                    Role::Input => self.flush_input(),
                    Role::Front(i) => {
                        let events = front.on_ready(i, ev, &mut buf);
                        self.apply(events);
                    }
                }
            }
            if self.close_input && self.pending_in.is_empty() {
                self.wiring.input = None;
            }
        }
    }

    fn try_reap(&mut self, exited: bool) {
        if self.exit.is_some() {
            return;
        }
        self.exit = match crate::exit::wait(self.pid.as_raw(), !exited) {
            Ok(Some((_, code))) => Some(code),
            // Not our child (already reaped elsewhere): nothing more will come from it.
            Err(Errno::ECHILD) => Some(-1),
            _ => None,
        };
    }

    /// podman's `--timeout`: past the deadline the container gets SIGKILL, as conmon sends
    /// it, and exits 137 like any container killed so.
    fn enforce_deadline(&mut self) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if self.exit.is_none() && Instant::now() >= deadline {
            let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
            self.deadline = None;
        }
    }

    fn on_signals(&mut self, front: &mut Front<'_>, signals: &Signals) {
        while let Some(sig) = signals.next() {
            match sig {
                Signal::SIGCHLD => self.try_reap(false),
                Signal::SIGWINCH => {
                    if let (Some(master), Some(size)) = (&self.wiring.master, front.local_size()) {
                        let _ = tty::set_window_size(master, size);
                    }
                }
                other => self.deliver(other as i32),
            }
        }
    }

    fn deliver(&self, sig: i32) {
        if self.exit.is_none() {
            if let Ok(sig) = Signal::try_from(sig) {
                let _ = nix::sys::signal::kill(self.pid, sig);
            }
        }
    }

    fn on_output(&mut self, i: usize, front: &mut Front<'_>, buf: &mut [u8]) {
        let Some(fd) = &self.wiring.outputs[i] else {
            return;
        };
        match nix::unistd::read(fd.as_raw_fd(), buf) {
            Ok(0) => self.wiring.outputs[i] = None,
            Ok(n) => {
                let stream = if i == 0 {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                };
                self.keeper.output(stream, &buf[..n]);
                front.output(stream, &buf[..n]);
            }
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
            // EIO: every slave descriptor of the pty is closed.
            Err(_) => self.wiring.outputs[i] = None,
        }
    }

    fn flush_input(&mut self) {
        let Some(fd) = &self.wiring.input else {
            self.pending_in.clear();
            return;
        };
        match nix::unistd::write(fd, &self.pending_in) {
            Ok(n) => {
                self.pending_in.drain(..n);
            }
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
            // The container closed its stdin: what it did not read is dropped, like a pipe.
            Err(_) => {
                self.wiring.input = None;
                self.pending_in.clear();
            }
        }
    }

    fn apply(&mut self, events: Vec<FrontEvent>) {
        for event in events {
            match event {
                FrontEvent::Input(data) => {
                    if self.wiring.input.is_some() {
                        self.pending_in.extend_from_slice(&data);
                    }
                }
                FrontEvent::InputEof => {
                    if !self.mode.tty {
                        self.close_input = true;
                    }
                }
                FrontEvent::Resize(size) => {
                    if let Some(master) = &self.wiring.master {
                        let _ = tty::set_window_size(master, size);
                    }
                }
                FrontEvent::Signal(sig) => self.deliver(sig),
            }
        }
    }
}

/// Foreground `run`/`exec`: this process supervises the container on its own stdio and returns
/// its exit code. With a tty, our terminal goes raw (restored on every return, and on panic)
/// and follows window size changes. Detaching is not possible here: a front that must be able
/// to detach (`run -it`) uses the monitor and [`super::attach()`] instead.
pub fn run_foreground(keeper: &mut dyn Keeper, mode: &IoMode) -> Result<i32, SpawnError> {
    let engine = |e: Error| SpawnError::engine(e.0);
    let stdin = std::io::stdin();
    let stdout = crate::console::container_stdout()
        .map_err(|e| SpawnError::engine(format!("duplicating stdout: {e}")))?;
    let terminal = [stdout.as_fd(), stdin.as_fd()]
        .into_iter()
        .find(|fd| tty::is_terminal(fd));
    let size = terminal
        .and_then(tty::window_size)
        .unwrap_or(WinSize::DEFAULT);
    let (mut wiring, io) = wire(mode, size).map_err(engine)?;
    let signals = Signals::catch(mode.sig_proxy).map_err(engine)?;
    // Raw with any tty, -i or not: the container's terminal translates newlines already.
    let _raw = match (mode.tty, terminal) {
        (true, Some(fd)) => RawMode::enter(fd).map_err(engine)?,
        _ => None,
    };
    let pid = signals.unblocked(|| keeper.spawn(io))?;
    connect(&mut wiring, pid)?;
    let mut out = &stdout;
    let mut err = std::io::stderr().lock();
    // Streams left out by `-a` still reach the log, through the keeper.
    let (mut no_out, mut no_err) = (std::io::sink(), std::io::sink());
    let mut front = Front::Local {
        // With passthrough the container reads our stdin itself.
        stdin: (mode.stdin && !mode.passthrough).then(|| stdin.as_fd()),
        stdout: if mode.show[0] { &mut out } else { &mut no_out },
        stderr: if mode.show[1] { &mut err } else { &mut no_err },
        terminal,
    };
    let mut pump = Pump::new(pid, wiring, mode, keeper);
    let code = pump.run(&mut front, &signals).map_err(engine);
    let _ = out.flush();
    code
}

/// Take the terminal a container just started made for itself; without it the container is
/// beyond reach, so it is killed (and reaped) and the failure reported.
pub(super) fn connect(wiring: &mut Wiring, pid: i32) -> Result<(), SpawnError> {
    wiring.connect().map_err(|e| {
        let child = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(child, None);
        SpawnError::engine(e.0)
    })
}

/// The monitor's front: attach clients on a socket.
pub(super) fn socket_front(clients: &mut Clients) -> Front<'_> {
    Front::Socket(clients)
}

#[cfg(test)]
mod tests;
