//! The supervisor's bookkeeping for a real container: builds the spec from the record, spawns,
//! writes state.json, the log and exit.json, updates the record under its lock, and decides on
//! restarts. Shared by the monitor and by foreground `run`.

use std::time::{Duration, Instant};

use super::event::Stream;
use super::pump::{self, IoMode, Keeper};
use super::restart::{next_action, Next};
use crate::container::logs::{self, LogWriter};
use crate::container::{
    self, ContainerLock, ContainerRecord, ContainerStore, ExitInfo, RunState, Status,
};
use crate::paths::Paths;
use crate::sandbox::{self, SpawnError, Stdio};
use crate::time::now_rfc3339;
use crate::warn;

pub struct ContainerKeeper {
    paths: Paths,
    store: ContainerStore,
    id: String,
    log: Option<LogWriter>,
    /// Foreground `run`: never restarts (nobody would be left to supervise the next run).
    foreground: bool,
    first_spawn: bool,
    auto_remove: bool,
    mode: IoMode,
    /// podman's `--timeout`, for each run.
    timeout: Option<Duration>,
    /// `--preserve-fds`: our descriptors 3.. handed to the container (foreground run only).
    preserve_fds: u32,
    me: (i32, u64),
    /// Another monitor's run of this container was found running: this one must leave
    /// without touching the record.
    lost_race: bool,
    /// `--userns keep-id`: each run's root file system is mounted by us (sandbox::spawn).
    keep_id: bool,
}

impl ContainerKeeper {
    pub fn open(paths: &Paths, id: &str, foreground: bool) -> Result<ContainerKeeper, SpawnError> {
        let store = ContainerStore::open(paths).map_err(engine)?;
        let rec = store.load(id).map_err(engine)?;
        let driver = rec.host.log_config.driver;
        if driver.is_passthrough() && !foreground {
            return Err(SpawnError::engine(format!(
                "container {} uses the {} log driver: only a foreground `run` has stdio to give it",
                rec.short_id(),
                driver.as_str()
            )));
        }
        // A driver that keeps no file: nothing is written.
        let log = match container::log_file(paths, &rec) {
            Some(path) => Some(
                LogWriter::open(&path, rec.host.log_max_size, rec.host.log_max_file).map_err(
                    |e| SpawnError::engine(format!("cannot open log {}: {e}", path.display())),
                )?,
            ),
            None => None,
        };
        let pid = nix::unistd::getpid().as_raw();
        Ok(ContainerKeeper {
            paths: paths.clone(),
            store,
            id: id.to_string(),
            log,
            foreground,
            first_spawn: true,
            auto_remove: rec.host.auto_remove,
            mode: IoMode {
                tty: rec.config.tty,
                stdin: rec.config.open_stdin,
                passthrough: driver.is_passthrough(),
                show: [rec.config.attach_stdout, rec.config.attach_stderr],
                console: true,
                ..IoMode::pipes()
            },
            timeout: (rec.config.timeout > 0).then(|| Duration::from_secs(rec.config.timeout)),
            preserve_fds: 0,
            me: (pid, container::pid_start_time(pid).unwrap_or(0)),
            lost_race: false,
            keep_id: rec.host.userns_mode == "keep-id",
        })
    }

    pub fn io_mode(&self) -> IoMode {
        self.mode.clone()
    }

    /// The container's lock; None, quietly, once the record is gone (removed by `rm -f`
    /// meanwhile): then nothing is recorded, and no file of it is made again.
    fn lock(&self) -> Option<ContainerLock> {
        match self.store.lock(&self.id) {
            Ok(lock) => Some(lock),
            Err(container::Error::NoSuchContainer(_)) => None,
            Err(e) => {
                warn!("recording the state of container {}: {e}", self.id);
                None
            }
        }
    }

    /// Load, change and save the record under its lock; a vanished record (removed by
    /// `rm -f` meanwhile) is not an error here.
    fn update(&self, change: impl FnOnce(&mut ContainerRecord)) -> Option<ContainerRecord> {
        let lock = self.lock()?;
        self.update_locked(&lock, change)
    }

    fn update_locked(
        &self,
        lock: &ContainerLock,
        change: impl FnOnce(&mut ContainerRecord),
    ) -> Option<ContainerRecord> {
        let mut rec = self.store.load(&self.id).ok()?;
        change(&mut rec);
        if let Err(e) = self.store.save(lock, &rec) {
            warn!("recording the state of container {}: {e}", self.id);
        }
        Some(rec)
    }

    /// Run `f` holding the container's lock; NoSuchContainer once it was removed.
    pub fn locked<T>(&self, f: impl FnOnce() -> Result<T, SpawnError>) -> Result<T, SpawnError> {
        let _lock = self.store.lock(&self.id).map_err(engine)?;
        f()
    }

    /// True when the container turned out to be run by another monitor (a racing `start`):
    /// nothing of it is ours to record or remove.
    pub fn lost_race(&self) -> bool {
        self.lost_race
    }

    /// A start that failed: docker keeps the message and the code on the record.
    pub fn record_start_failure(&mut self, e: &SpawnError) {
        self.update(|rec| {
            rec.state.error = e.message.clone();
            rec.state.exit_code = e.exit_code();
            if rec.state.status != Status::Created {
                rec.state.status = Status::Exited;
            }
        });
    }

    /// Record the exit (exit.json, then the record) and decide on a restart.
    pub fn exited(&mut self, code: i32, last_delay: Option<Duration>, ran_for: Duration) -> Next {
        // keep-id's root file system is mounted in our namespace for each run.
        if self.keep_id {
            sandbox::release_rootfs(&container::merged_dir(&self.paths, &self.id));
        }
        if let Some(log) = &mut self.log {
            let _ = log.flush();
        }
        let finished_at = now_rfc3339();
        let exit = ExitInfo {
            exit_code: code,
            finished_at: finished_at.clone(),
        };
        // One step under the lock: a removal is either wholly before (nothing is written) or
        // wholly after (it deletes what is written here).
        let Some(lock) = self.lock() else {
            return Next::Stop;
        };
        if let Err(e) = container::write_exit(&self.paths, &self.id, &exit) {
            warn!("{e}");
        }
        let mut next = Next::Stop;
        let foreground = self.foreground;
        let rec = self.update_locked(&lock, |rec| {
            rec.state.status = Status::Exited;
            rec.state.exit_code = code;
            rec.state.finished_at = finished_at;
            rec.state.pid = 0;
            if !foreground {
                let policy = &rec.host.restart_policy;
                next = next_action(
                    &policy.name,
                    policy.max_retry,
                    code,
                    rec.restart_count,
                    rec.state.stopped_by_user,
                    last_delay,
                    ran_for,
                );
            }
            if next != Next::Stop {
                rec.restart_count += 1;
            }
        });
        if rec.is_none() {
            return Next::Stop;
        }
        if next != Next::Stop {
            if let Some(mut run) = container::read_run_state(&self.paths, &self.id) {
                run.restarting = true;
                let _ = container::write_run_state(&self.paths, &self.id, &run);
            }
        }
        next
    }

    /// After a backoff: restart only if the record still exists and nobody stopped it.
    pub fn still_wanted(&self) -> bool {
        self.store
            .load(&self.id)
            .map(|rec| !rec.state.stopped_by_user)
            .unwrap_or(false)
    }

    /// `--rm`: remove the container for good once it will not run again.
    pub fn finish_removal(&mut self) {
        if !self.auto_remove {
            return;
        }
        self.log = None;
        let Some(lock) = self.lock() else {
            return;
        };
        if let Err(e) = self.store.remove(&lock) {
            warn!("removing container {}: {e}", self.id);
        }
    }
}

impl Keeper for ContainerKeeper {
    fn spawn(&mut self, io: Stdio) -> Result<i32, SpawnError> {
        // Held from the check to the recorded state: a removal waits for it, and a removed
        // container is not started (NoSuchContainer); a second monitor started by a racing
        // `start` finds the first one's container running and starts nothing.
        let lock = self.store.lock(&self.id).map_err(engine)?;
        let rec = self.store.load(&self.id).map_err(engine)?;
        if let Some(run) = container::read_run_state(&self.paths, &self.id) {
            let other = (run.monitor_pid, run.monitor_start) != self.me;
            if other && run.process_running() {
                self.lost_race = true;
                return Err(SpawnError::engine(format!(
                    "container {} is already running",
                    rec.name
                )));
            }
        }
        let mut spec = container::to_spec(&self.paths, &rec)?;
        spec.preserve_fds = self.preserve_fds;
        let spawned = sandbox::spawn(&spec, io)?;
        let run = RunState {
            pid: spawned.pid,
            pid_start: container::pid_start_time(spawned.pid).unwrap_or(0),
            started_at: now_rfc3339(),
            monitor_pid: self.me.0,
            monitor_start: self.me.1,
            restarting: false,
            boot_id: container::boot_id().to_string(),
            paused: false,
        };
        if let Err(e) = container::write_run_state(&self.paths, &self.id, &run) {
            // Unrecorded, the process would run on unseen by ps, stop and rm (a full run
            // root): it ends here, and the start fails like any other.
            let pid = nix::unistd::Pid::from_raw(spawned.pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            while let Err(nix::errno::Errno::EINTR) = nix::sys::wait::waitpid(pid, None) {}
            return Err(engine(e));
        }
        let first = std::mem::replace(&mut self.first_spawn, false);
        self.update_locked(&lock, |rec| {
            rec.state.status = Status::Running;
            rec.state.pid = run.pid;
            rec.state.started_at = run.started_at.clone();
            rec.state.error.clear();
            if first {
                rec.state.stopped_by_user = false;
            }
            rec.rootfs_mode = spawned.rootfs_mode.clone();
        });
        Ok(spawned.pid)
    }

    fn output(&mut self, stream: Stream, data: &[u8]) {
        let stream = match stream {
            Stream::Stdout => logs::Stream::Stdout,
            Stream::Stderr => logs::Stream::Stderr,
        };
        if let Some(log) = &mut self.log {
            let _ = log.write(stream, data);
        }
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

fn engine(e: impl std::fmt::Display) -> SpawnError {
    SpawnError::engine(e.to_string())
}

/// What a foreground `run` adds to the record's own settings.
#[derive(Clone, Copy, Debug)]
pub struct Foreground {
    /// Forward the signals we receive (`--sig-proxy`).
    pub sig_proxy: bool,
    /// `--preserve-fds N`: our descriptors 3..3+N go to the container at the same numbers
    /// (checked with `sandbox::check_inherited_fds` before the container was created).
    pub preserve_fds: u32,
}

impl Foreground {
    /// Whether only this process can supervise `rec`: it holds what the container must be
    /// given (its own stdio, preserved descriptors), which a monitor would not have. Such a
    /// `run -it` stays in the foreground and cannot detach.
    pub fn needed_for(&self, rec: &ContainerRecord) -> bool {
        self.preserve_fds > 0 || rec.host.log_config.driver.is_passthrough()
    }
}

/// `--preserve-fds N` of a `run`: the count, once descriptors 3..3+N are known to be cove's
/// inheritance, or a one-line refusal.
pub fn check_preserve_fds(n: u64, detach: bool) -> Result<u32, SpawnError> {
    if n > 0 && detach {
        return Err(SpawnError::engine(
            "--preserve-fds cannot be used with --detach: only a foreground run can pass its \
             descriptors on",
        ));
    }
    sandbox::check_inherited_fds(n)
}

/// Foreground `run` (no `-d`) of a created container: this process spawns and supervises it
/// on its own stdio, records the start and the exit like the monitor, removes it when it was
/// created with `--rm`, and returns its exit code (or the spawn's error: 125/126/127).
/// For `run -it`, which must be able to detach, use start_monitor(.., true) + attach instead.
pub fn run_foreground(paths: &Paths, id: &str, opts: &Foreground) -> Result<i32, SpawnError> {
    // The one supervisor, as a monitor would be: a `start` racing this run refuses.
    let _claim = super::claim::claim(paths, id)?;
    let mut keeper = ContainerKeeper::open(paths, id, true)?;
    keeper.preserve_fds = opts.preserve_fds;
    let mut mode = keeper.io_mode();
    mode.sig_proxy = opts.sig_proxy;
    let started = Instant::now();
    let result = pump::run_foreground(&mut keeper, &mode);
    match &result {
        Ok(code) => {
            keeper.exited(*code, None, started.elapsed());
        }
        // Another supervisor's run: nothing here is ours to record or remove.
        Err(_) if keeper.lost_race() => return result,
        Err(e) => keeper.record_start_failure(e),
    }
    keeper.finish_removal();
    result
}
