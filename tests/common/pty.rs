//! A real pseudo-terminal for terminal tests: cove runs as a session leader whose controlling
//! terminal and stdio are the PTY's slave; the test types into the master and reads what cove
//! (and the container behind it) writes back.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::Mode;

pub struct Pty {
    master: File,
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    eof: Arc<AtomicBool>,
    /// Bytes of `out` already consumed by `expect`.
    seen: usize,
    label: String,
}

/// Sets the terminal size the kernel reports for the PTY (and sends SIGWINCH to its
/// foreground process group when it changes).
fn set_winsize(master: &File, rows: u16, cols: u16) {
    let ws = nix::libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct, which lives across the call.
    let r = unsafe { nix::libc::ioctl(master.as_raw_fd(), nix::libc::TIOCSWINSZ, &ws) };
    assert_eq!(r, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
}

/// A master and its slave, both close-on-exec (other tests spawn processes concurrently; a
/// leaked slave would keep the master from ever seeing EOF), the slave owned by the user.
fn open(rows: u16, cols: u16, uid: u32, gid: u32) -> (File, OwnedFd) {
    let m = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).unwrap();
    grantpt(&m).unwrap();
    unlockpt(&m).unwrap();
    let name = ptsname_r(&m).unwrap();
    let fd = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let slave = unsafe { OwnedFd::from_raw_fd(fd) };
    std::os::unix::fs::fchown(&slave, Some(uid), Some(gid)).unwrap();
    // SAFETY: into_raw_fd hands over the only owner of the master fd.
    let master = unsafe { File::from_raw_fd(m.into_raw_fd()) };
    set_winsize(&master, rows, cols);
    (master, slave)
}

impl Pty {
    pub fn spawn(mut cmd: Command, uid: u32, gid: u32, rows: u16, cols: u16, label: String) -> Pty {
        let (master, slave) = open(rows, cols, uid, gid);
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe; nothing is allocated in the child.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("cannot start cove on a PTY");
        // Our copies of the slave go with `cmd`: only cove (and what it passes them to) holds it.
        drop(cmd);
        let out = Arc::new(Mutex::new(Vec::new()));
        let eof = Arc::new(AtomicBool::new(false));
        let mut reader = master.try_clone().unwrap();
        let (o, e) = (out.clone(), eof.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => o.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
            e.store(true, Ordering::SeqCst);
        });
        Pty {
            master,
            child,
            out,
            eof,
            seen: 0,
            label,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything read from the terminal so far.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Types `bytes` on the terminal.
    pub fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }

    pub fn resize(&self, rows: u16, cols: u16) {
        set_winsize(&self.master, rows, cols);
    }

    /// Waits until `needle` appears after what earlier calls consumed; returns the text up to
    /// and including it. Fails the test with the transcript after `timeout`.
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let out = self.out.lock().unwrap();
                let rest = String::from_utf8_lossy(&out[self.seen..]).into_owned();
                if let Some(i) = rest.find(needle) {
                    // Advance by the bytes of the matched prefix (lossy text may differ in length
                    // from the bytes only where invalid UTF-8 was replaced; terminals send none).
                    self.seen += rest[..i + needle.len()].len();
                    return rest[..i + needle.len()].to_string();
                }
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{}: {needle:?} not seen on the terminal within {timeout:?}; transcript:\n{:?}",
                    self.label,
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for cove to exit; returns its exit code (minus the signal that killed it).
    pub fn wait(&mut self, timeout: Duration) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} still running after {timeout:?}; transcript:\n{:?}",
                    self.label,
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The last output may still be in the master's buffer; EOF comes once every holder of
        // the slave is gone (a leaked holder only costs this grace period).
        let grace = Instant::now() + Duration::from_secs(2);
        while !self.eof.load(Ordering::SeqCst) && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(20));
        }
        status
            .code()
            .unwrap_or_else(|| -status.signal().unwrap_or(0))
    }

    /// Whether the terminal is in canonical mode with echo (as a shell leaves it; a program in
    /// raw mode clears both and must restore them when it exits).
    pub fn cooked(&self) -> bool {
        use nix::sys::termios::{tcgetattr, LocalFlags};
        let t = tcgetattr(&self.master).unwrap();
        t.local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO)
    }

    /// Whether something besides cove still holds the terminal after cove exited (a detached
    /// monitor must let go of the caller's terminal).
    pub fn reached_eof(&self) -> bool {
        self.eof.load(Ordering::SeqCst)
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
