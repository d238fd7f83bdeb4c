//! The supervisor driven with plain child processes: pipes, a real pty, the socket front with
//! a real attach client, and detaching.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use super::*;
use crate::ipc::{Decoder, Message};
use crate::supervisor::attach::{AttachEnd, AttachOpts, Client, DEFAULT_DETACH_KEYS};
use crate::supervisor::event::Stream;
use crate::supervisor::front::{Clients, Front};
use crate::supervisor::signals::Signals;
use crate::supervisor::tty::{open_pty, WinSize};

struct TestKeeper {
    cmd: Vec<&'static str>,
    log: Vec<u8>,
}

impl Keeper for TestKeeper {
    fn spawn(&mut self, io: Stdio) -> Result<i32, SpawnError> {
        let child = std::process::Command::new(self.cmd[0])
            .args(&self.cmd[1..])
            .stdin(std::process::Stdio::from(io.stdin))
            .stdout(std::process::Stdio::from(io.stdout))
            .stderr(std::process::Stdio::from(io.stderr))
            .spawn()
            .map_err(|e| SpawnError::engine(e.to_string()))?;
        Ok(child.id() as i32)
    }

    fn output(&mut self, _stream: Stream, data: &[u8]) {
        self.log.extend_from_slice(data);
    }
}

fn keeper(cmd: &[&'static str]) -> TestKeeper {
    TestKeeper {
        cmd: cmd.to_vec(),
        log: Vec::new(),
    }
}

/// A pipe whose read end yields `data` then EOF.
fn input(data: &[u8]) -> OwnedFd {
    let (r, w) = nix::unistd::pipe().unwrap();
    std::fs::File::from(w).write_all(data).unwrap();
    r
}

fn run_local(mode: &IoMode, k: &mut TestKeeper, stdin: &[u8]) -> (i32, Vec<u8>, Vec<u8>) {
    let (wiring, io) = wire(
        mode,
        WinSize {
            rows: 33,
            cols: 101,
        },
    )
    .unwrap();
    let signals = Signals::catch(false).unwrap();
    let pid = signals.unblocked(|| k.spawn(io)).unwrap();
    let stdin = input(stdin);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut front = Front::Local {
        stdin: Some(stdin.as_fd()),
        stdout: &mut out,
        stderr: &mut err,
        terminal: None,
    };
    let code = Pump::new(pid, wiring, mode, k)
        .run(&mut front, &signals)
        .unwrap();
    (code, out, err)
}

#[test]
fn pipes_keep_streams_apart_and_feed_stdin() {
    let mode = IoMode {
        tty: false,
        stdin: true,
        sig_proxy: false,
        ptmx: None,
        ..IoMode::pipes()
    };
    let script = "read x; echo got:$x; echo err >&2; cat; exit 3";
    let mut k = keeper(&["sh", "-c", script]);
    let (code, out, err) = run_local(&mode, &mut k, b"hello\nrest\n");
    assert_eq!(code, 3);
    // `cat` ends only because our stdin's EOF closed the container's.
    assert_eq!(String::from_utf8_lossy(&out), "got:hello\nrest\n");
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    assert_eq!(k.log.len(), out.len() + err.len());
}

#[test]
fn no_stdin_means_dev_null_and_signals_show_as_128_plus() {
    let mode = IoMode {
        tty: false,
        stdin: false,
        sig_proxy: false,
        ptmx: None,
        ..IoMode::pipes()
    };
    let mut k = keeper(&["sh", "-c", "cat; kill -TERM $$"]);
    let (code, out, _) = run_local(&mode, &mut k, b"ignored\n");
    assert_eq!((code, out.len()), (143, 0));
}

#[test]
fn pty_gives_the_container_a_terminal_of_our_size() {
    let mode = IoMode {
        tty: true,
        stdin: true,
        sig_proxy: false,
        ptmx: None,
        ..IoMode::pipes()
    };
    let script = "stty size; read x; echo got:$x; exit 4";
    let mut k = keeper(&["setsid", "-w", "-c", "sh", "-c", script]);
    let (code, out, err) = run_local(&mode, &mut k, b"hi\n");
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 4, "output: {out:?}");
    assert!(out.contains("33 101\r\n"), "{out:?}");
    assert!(out.contains("got:hi\r\n"), "{out:?}");
    assert!(err.is_empty());
}

fn listener() -> (UnixListener, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("cove-sup-{}-{}", std::process::id(), rand()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("attach.sock");
    (UnixListener::bind(&path).unwrap(), path)
}

fn rand() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn socket_front_serves_a_client_from_the_first_byte() {
    let mode = IoMode {
        tty: true,
        stdin: true,
        sig_proxy: true,
        ptmx: None,
        ..IoMode::pipes()
    };
    let (l, path) = listener();
    let mut clients = Clients::new(l, Some(Duration::from_secs(5))).unwrap();
    let script = "echo early; sleep 0.3; stty size; read x; echo got:$x; exit 5";
    let mut k = keeper(&["setsid", "-w", "-c", "sh", "-c", script]);
    let (wiring, io) = wire(&mode, WinSize::DEFAULT).unwrap();
    let signals = Signals::catch(false).unwrap();
    let pid = signals.unblocked(|| k.spawn(io)).unwrap();

    let client = std::thread::spawn(move || {
        // Connect late: the monitor holds output back until a client is there.
        std::thread::sleep(Duration::from_millis(100));
        let sock = UnixStream::connect(&path).unwrap();
        let term = open_pty(WinSize {
            rows: 40,
            cols: 132,
        })
        .unwrap();
        let stdin = input(b"yo\n");
        let opts = AttachOpts {
            stdin: true,
            tty: true,
            detach_keys: DEFAULT_DETACH_KEYS.to_vec(),
            sig_proxy: false,
            show: [true, true],
            stdin_once: false,
        };
        let client = Client {
            input: Some(stdin.as_fd()),
            terminal: Some(term.slave.as_fd()),
            signals: None,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let end = client.run(sock, &opts, &mut out, &mut err).unwrap();
        (end, String::from_utf8_lossy(&out).into_owned())
    });
    let mut front = socket_front(&mut clients);
    let code = Pump::new(pid, wiring, &mode, &mut k)
        .run(&mut front, &signals)
        .unwrap();
    clients.finish(code);
    let (end, out) = client.join().unwrap();
    assert_eq!(end, Some(AttachEnd::Exited(5)));
    assert!(out.starts_with("early\r\n"), "{out:?}");
    assert!(out.contains("40 132\r\n"), "{out:?}");
    assert!(out.contains("got:yo\r\n"), "{out:?}");
}

#[test]
fn client_detaches_on_the_key_sequence_and_forwards_what_came_before() {
    let (mine, theirs) = UnixStream::pair().unwrap();
    let stdin = input(b"ab\x10x\x10\x11never");
    let opts = AttachOpts {
        stdin: true,
        tty: true,
        detach_keys: DEFAULT_DETACH_KEYS.to_vec(),
        sig_proxy: false,
        show: [true, true],
        stdin_once: false,
    };
    let client = Client {
        input: Some(stdin.as_fd()),
        terminal: None,
        signals: None,
    };
    let end = client
        .run(mine, &opts, &mut Vec::new(), &mut Vec::new())
        .unwrap();
    assert_eq!(end, Some(AttachEnd::Detached));
    let mut wire = Vec::new();
    theirs.set_nonblocking(true).unwrap();
    let _ = std::io::Read::read_to_end(&mut &theirs, &mut wire);
    let mut dec = Decoder::default();
    dec.feed(&wire);
    let mut sent = Vec::new();
    while let Some(msg) = dec.next().unwrap() {
        let Message::Stdin(data) = msg else {
            panic!("{msg:?}");
        };
        sent.extend(data);
    }
    assert_eq!(sent, b"ab\x10x");
}
