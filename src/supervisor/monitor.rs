//! The per-container monitor: cove re-executed as `cove __monitor ID`, detached from the
//! terminal, which spawns the container, owns its pty or pipes and its log, serves attach
//! clients, records the exit, applies the restart policy and removes a `--rm` container.

use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::ForkResult;

use super::front::Clients;
use super::io::with_short_path;
use super::keeper::ContainerKeeper;
use super::pump::{self, IoMode, Pump};
use super::restart::Next;
use super::signals::Signals;
use super::sys;
use super::tty::WinSize;
use crate::container;
use crate::ipc::{self, Message};
use crate::paths::Paths;
use crate::sandbox::sys as proc_sys;
use crate::sandbox::SpawnError;

/// The monitor's status pipe arrives as this descriptor, announced by SYNC_ENV.
const SYNC_FD: i32 = 3;
const SYNC_ENV: &str = "_COVE_MONITOR_SYNC";
const HOLD_ENV: &str = "_COVE_MONITOR_HOLD";
/// "rows,cols" of the terminal that will attach first.
const SIZE_ENV: &str = "_COVE_MONITOR_SIZE";
/// How long a monitor started for `run -it`/`start -a` keeps output back for its client.
const HOLD_FOR: Duration = Duration::from_secs(5);

/// Start the monitor of container `id` and return once the container runs, or with the
/// spawn's own error (127 not found, 126 cannot invoke, 125 otherwise). With `hold_output`
/// the monitor keeps the container's output back until the first attach client connects, so
/// a caller that attaches right after (`run -it`, `start -a`) sees all of it.
///
/// The caller must not hold the container's lock: the monitor takes it to record the start.
pub fn start_monitor(paths: &Paths, id: &str, hold_output: bool) -> Result<(), SpawnError> {
    let engine = |what: &str, e: &dyn std::fmt::Display| {
        SpawnError::engine(format!("starting the monitor of {id}: {what}: {e}"))
    };
    let absolute = |p: &Path| -> PathBuf {
        std::env::current_dir()
            .map(|cwd| cwd.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let cstr = |s: &str| CString::new(s).map_err(|e| engine("argument", &e));
    let argv = [
        cstr("cove")?,
        cstr("--root")?,
        cstr(&absolute(&paths.root).to_string_lossy())?,
        cstr("--runroot")?,
        cstr(&absolute(&paths.runroot).to_string_lossy())?,
        cstr("__monitor")?,
        cstr(id)?,
    ];
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != SYNC_ENV && k != HOLD_ENV && k != SIZE_ENV)
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            CString::new(kv).ok()
        })
        .collect();
    env.push(cstr(&format!("{SYNC_ENV}={SYNC_FD}"))?);
    if hold_output {
        env.push(cstr(&format!("{HOLD_ENV}=1"))?);
        // The client that attaches next has this terminal: the container's starts this size,
        // so a program that asks at once (`stty size`) sees the right answer.
        if let Some(size) = super::tty::window_size(std::io::stdin())
            .or_else(|| super::tty::window_size(std::io::stdout()))
        {
            env.push(cstr(&format!("{SIZE_ENV}={},{}", size.rows, size.cols))?);
        }
    }
    let exe = cstr("/proc/self/exe")?;
    // Encoded now: the child must not allocate between fork and exec.
    let mut exec_failed = Vec::new();
    ipc::encode(
        &Message::StartFailed {
            code: 125,
            message: "cannot re-execute /proc/self/exe".to_string(),
        },
        &mut exec_failed,
    );
    let (status_r, status_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| engine("pipe", &e))?;

    // SAFETY: start_monitor runs in a single-threaded command (run, start, restart).
    match unsafe { proc_sys::fork() }.map_err(|e| engine("fork", &e))? {
        ForkResult::Child => {
            drop(status_r);
            detach_and_exec(status_w, &exe, &argv, &env, &exec_failed)
        }
        ForkResult::Parent { child } => {
            drop(status_w);
            let _ = waitpid(child, None);
            // One message; not read to EOF, in case some process still holds the write end.
            parse_report(ipc::read_message(File::from(status_r)))
        }
    }
}

/// Child of start_monitor: new session, second fork so the monitor is adopted by init (the
/// caller never has a zombie to reap), status pipe on fd 3, stdio on /dev/null, nothing else
/// inherited, then exec; `exec_failed` is written when the exec fails. Runs between fork and
/// exec: no allocation.
fn detach_and_exec(
    status: OwnedFd,
    exe: &CString,
    argv: &[CString],
    env: &[CString],
    exec_failed: &[u8],
) -> ! {
    let _ = nix::unistd::setsid();
    // SAFETY: the child of a fork is single-threaded.
    match unsafe { proc_sys::fork() } {
        Ok(ForkResult::Parent { .. }) => proc_sys::exit_now(0),
        Ok(ForkResult::Child) => {}
        Err(_) => proc_sys::exit_now(1),
    }
    let fd = status.as_raw_fd();
    if fd == SYNC_FD {
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        );
    } else if nix::unistd::dup2(fd, SYNC_FD).is_err() {
        proc_sys::exit_now(1);
    }
    crate::fsutil::stdio_to_null();
    proc_sys::close_fds_except(&[SYNC_FD]);
    let _ = nix::unistd::chdir("/");
    let _ = nix::unistd::execve(exe, argv, env);
    let _ = nix::unistd::write(&status, exec_failed);
    proc_sys::exit_now(crate::exit::ENGINE)
}

/// The monitor's status message as start_monitor's result.
fn parse_report(report: Result<Message, ipc::Error>) -> Result<(), SpawnError> {
    match report {
        Ok(Message::Started) => Ok(()),
        Ok(Message::StartFailed { code, message }) => Err(SpawnError::from_code(code, message)),
        _ => Err(SpawnError::engine(
            "the container's monitor exited before starting it",
        )),
    }
}

/// The status message for a failed start. On one line, as the status pipe carried it when it
/// was a line protocol.
fn start_failed(e: &SpawnError) -> Message {
    Message::StartFailed {
        code: e.code(),
        message: one_line(&e.message),
    }
}

/// Body of the hidden `cove __monitor ID` command; returns the process's exit code. The
/// caller has joined the user namespace (an exec keeps it, so this is already the case when
/// start_monitor started us).
pub fn run_monitor(paths: &Paths, id: &str) -> i32 {
    let mut status = take_status_pipe();
    let hold = std::env::var_os(HOLD_ENV).is_some();
    std::env::remove_var(HOLD_ENV);
    let _ = proc_sys::set_process_name(c"cove-monitor");
    let mut report = |msg: Message| {
        if let Some(mut f) = status.take() {
            let mut wire = Vec::new();
            ipc::encode(&msg, &mut wire);
            let _ = f.write_all(&wire);
        }
    };
    let setup = (|| {
        let signals = Signals::catch(true)?;
        let claim = super::claim::claim(paths, id)?;
        let keeper = ContainerKeeper::open(paths, id, false)?;
        // Under the container's lock: never for a container removed meanwhile.
        let listener = keeper.locked(|| bind_attach_socket(paths, id))?;
        let clients = Clients::new(listener, hold.then_some(HOLD_FOR))
            .map_err(|e| SpawnError::engine(format!("attach socket: {e}")))?;
        Ok::<_, SpawnError>((signals, clients, keeper, claim))
    })();
    let (signals, mut clients, mut keeper, claim) = match setup {
        Ok(parts) => parts,
        Err(e) => {
            report(start_failed(&e));
            return 1;
        }
    };
    let mut first = true;
    let mut last_delay = None;
    loop {
        let mode = keeper.io_mode();
        let started = Instant::now();
        let mut on_started = || {
            report(Message::Started);
            // Start-up is over: what it paged in of our binary need not stay resident.
            sys::drop_clean_file_pages();
            sys::release_free_heap();
        };
        let code = match run_once(&mut keeper, &mode, &mut clients, &signals, &mut on_started) {
            Ok(code) => code,
            Err(e) if first && keeper.lost_race() => {
                report(start_failed(&e));
                return 1;
            }
            Err(e) if first => {
                keeper.record_start_failure(&e);
                report(start_failed(&e));
                keeper.finish_removal();
                return 1;
            }
            // A failed restart counts as an exit with the spawn's code, as docker's does.
            Err(e) => {
                keeper.record_start_failure(&e);
                e.exit_code()
            }
        };
        first = false;
        let next = keeper.exited(code, last_delay, started.elapsed());
        if next == Next::Stop {
            // Removed before clients hear the exit: `run -it --rm` returns to a clean slate.
            keeper.finish_removal();
            clients.finish(code);
            break;
        }
        clients.finish(code);
        let Next::Restart { delay } = next else {
            break;
        };
        last_delay = Some(delay);
        if !wait_out(&signals, delay) || !keeper.still_wanted() {
            keeper.finish_removal();
            break;
        }
    }
    let _ = std::fs::remove_file(container::attach_socket(paths, id));
    drop(claim);
    0
}

/// One run of the container: wire, spawn, tell `on_started`, pump until it ends.
fn run_once(
    keeper: &mut ContainerKeeper,
    mode: &IoMode,
    clients: &mut Clients,
    signals: &Signals,
    on_started: &mut dyn FnMut(),
) -> Result<i32, SpawnError> {
    let (mut wiring, io) = pump::wire(mode, first_size()).map_err(|e| SpawnError::engine(e.0))?;
    let pid = signals.unblocked(|| pump::Keeper::spawn(keeper, io))?;
    pump::connect(&mut wiring, pid)?;
    on_started();
    let mut front = pump::socket_front(clients);
    let mut pump = Pump::new(pid, wiring, mode, keeper);
    Ok(pump.run(&mut front, signals).unwrap_or(-1))
}

/// The size start_monitor passed on for the first run's terminal, else docker's default.
fn first_size() -> WinSize {
    std::env::var(SIZE_ENV)
        .ok()
        .and_then(|v| {
            let (r, c) = v.split_once(',')?;
            Some(WinSize {
                rows: r.parse().ok()?,
                cols: c.parse().ok()?,
            })
        })
        .filter(|s| s.rows > 0 && s.cols > 0)
        .unwrap_or(WinSize::DEFAULT)
}

/// Sleep out a restart backoff; false when a signal asked the monitor to give up instead.
fn wait_out(signals: &Signals, delay: Duration) -> bool {
    let until = Instant::now() + delay;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        let mut fds = [nix::poll::PollFd::new(
            signals.fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let timeout = nix::poll::PollTimeout::try_from(left).unwrap_or(nix::poll::PollTimeout::MAX);
        let _ = nix::poll::poll(&mut fds, timeout);
        while let Some(sig) = signals.next() {
            use nix::sys::signal::Signal::*;
            if matches!(sig, SIGTERM | SIGINT | SIGHUP | SIGQUIT) {
                return false;
            }
        }
    }
}

/// The attach socket, mode 0600 like the rest of the run dir's contents. Bound through
/// /proc/self/fd/N of the run dir: a full path under a long --runroot would exceed the 108
/// bytes of sun_path.
fn bind_attach_socket(paths: &Paths, id: &str) -> Result<UnixListener, SpawnError> {
    let path = container::attach_socket(paths, id);
    let fail = |e: std::io::Error| {
        SpawnError::engine(format!(
            "cannot create attach socket {}: {e}",
            path.display()
        ))
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let _ = std::fs::remove_file(&path);
    let listener = with_short_path(&path, |p| UnixListener::bind(p)).map_err(fail)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    Ok(listener)
}

fn take_status_pipe() -> Option<File> {
    let announced = std::env::var(SYNC_ENV).ok()?;
    std::env::remove_var(SYNC_ENV);
    if announced != SYNC_FD.to_string() {
        return None;
    }
    sys::take_inherited_fd(SYNC_FD).map(File::from)
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sandbox::spec::SpawnErrorKind;

    fn through_a_pipe(msg: Option<Message>) -> Result<(), SpawnError> {
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let mut w = File::from(w);
        if let Some(msg) = msg {
            let mut wire = Vec::new();
            ipc::encode(&msg, &mut wire);
            w.write_all(&wire).unwrap();
        }
        drop(w);
        parse_report(ipc::read_message(File::from(r)))
    }

    #[test]
    fn reports_become_docker_errors() {
        assert!(through_a_pipe(Some(Message::Started)).is_ok());
        let e = SpawnError {
            kind: SpawnErrorKind::NotFound,
            message: "exec: \"nope\": executable file not found\nin $PATH".into(),
        };
        let e = through_a_pipe(Some(start_failed(&e))).unwrap_err();
        assert_eq!(e.kind, SpawnErrorKind::NotFound);
        assert_eq!(
            e.message,
            "exec: \"nope\": executable file not found in $PATH"
        );
        let cannot = SpawnError {
            kind: SpawnErrorKind::CannotInvoke,
            message: "x".into(),
        };
        let e = through_a_pipe(Some(start_failed(&cannot))).unwrap_err();
        assert_eq!(e.exit_code(), 126);
        let engine = start_failed(&SpawnError::engine("y"));
        assert_eq!(through_a_pipe(Some(engine)).unwrap_err().exit_code(), 125);
        // Silence, or a message of another channel, means the monitor died.
        assert_eq!(through_a_pipe(None).unwrap_err().exit_code(), 125);
        let e = through_a_pipe(Some(Message::Exit(0))).unwrap_err();
        assert_eq!(
            e.message,
            "the container's monitor exited before starting it"
        );
    }
}
