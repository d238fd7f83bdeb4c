//! Stopping, killing and waiting for containers, for any front end: docker's stop (the stop
//! signal, a grace period, then SIGKILL), kill and wait.

use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::{
    parse_signal, read_run_state, ContainerLock, ContainerRecord, ContainerStore, Error, Result,
    Sig,
};

/// docker's grace period when neither the request nor the container sets one.
const DEFAULT_TIMEOUT: u64 = 10;

/// How to stop a container.
#[derive(Clone, Debug, Default)]
pub struct StopRequest {
    /// Seconds to wait before SIGKILL; None takes the container's `--stop-timeout`, else 10.
    pub timeout: Option<i64>,
    /// The first signal; None takes the container's `--stop-signal`, else SIGTERM.
    pub signal: Option<String>,
}

/// Stop one container: mark it stopped by the user (no restart policy brings it back), send
/// the stop signal, wait up to the grace period, then SIGKILL. Stopping a container that is
/// not running only records the mark, as docker does.
pub fn stop(store: &ContainerStore, rec: &ContainerRecord, req: &StopRequest) -> Result<()> {
    {
        let lock = store.lock_record(rec)?;
        let mut fresh = store.load(&rec.id)?;
        fresh.state.stopped_by_user = true;
        store.save(&lock, &fresh)?;
    }
    let state = store.live_state(rec);
    if !state.status.can_stop() {
        return Ok(());
    }
    let name = req
        .signal
        .clone()
        .or_else(|| Some(rec.config.stop_signal.clone()).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "SIGTERM".into());
    let sig = parse_signal(&name)?;
    let timeout =
        req.timeout
            .or(rec.config.stop_timeout)
            .map_or(Duration::from_secs(DEFAULT_TIMEOUT), |t| {
                // docker: a negative timeout waits as long as it takes.
                u64::try_from(t).map_or(Duration::MAX, Duration::from_secs)
            });
    let pid = Pid::from_raw(state.pid);
    if state.pid > 0 {
        let _ = sig.send(pid);
        if state.paused {
            // Stopped processes only see the signal once continued.
            super::pause::signal_all(state.pid, Sig::CONT, false);
        }
    }
    if wait_stopped(store, rec, state.pid, timeout) {
        return Ok(());
    }
    if state.pid > 0 {
        super::pause::signal_all(state.pid, Sig::KILL, false);
    }
    wait_stopped(store, rec, state.pid, Duration::from_secs(DEFAULT_TIMEOUT));
    Ok(())
}

/// Send `sig` to a running container's first process.
pub fn kill(store: &ContainerStore, rec: &ContainerRecord, sig: Sig) -> Result<()> {
    let st = store.live_state(rec);
    st.status.check_kill(&rec.name, &rec.id)?;
    sig.send(Pid::from_raw(st.pid))
        .map_err(|e| Error::Other(format!("cannot kill container {}: {e}", rec.name)))?;
    if st.paused {
        // As docker's: the signal is delivered, so the container runs again.
        let _ = super::pause::unpause(store, rec);
    }
    Ok(())
}

/// Block until the container is not running; its exit code.
pub fn wait(store: &ContainerStore, rec: &ContainerRecord) -> i32 {
    loop {
        let st = store.live_state(rec);
        if !st.status.is_active() {
            return st.exit_code;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `rm -f`: SIGKILL the container's process and wait for it to be gone, holding the lock, so
/// that its monitor can neither record the exit nor start it again before it is removed.
pub(super) fn kill_under_lock(
    _held: &ContainerLock,
    store: &ContainerStore,
    rec: &ContainerRecord,
) -> Result<()> {
    let Some(run) = read_run_state(store.paths(), &rec.id) else {
        return Ok(());
    };
    // A zombie is dead: its supervisor may not be there to reap it (a suspended `run`).
    if run.process_running() {
        // Its descendants too: with --pid host no namespace ends them with it.
        super::pause::signal_all(run.pid, Sig::KILL, false);
    }
    let start = Instant::now();
    while run.process_running() {
        if start.elapsed() >= Duration::from_secs(DEFAULT_TIMEOUT) {
            return Err(Error::Other(format!(
                "cannot remove container \"/{}\": its process {} survived SIGKILL",
                rec.name, run.pid
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Wait until the run whose first process is `pid` is over: the container is not running,
/// or runs again as another process (a `start` that raced this stop).
fn wait_stopped(store: &ContainerStore, rec: &ContainerRecord, pid: i32, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        let st = store.live_state(rec);
        if !st.status.is_active() || st.pid != pid {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
