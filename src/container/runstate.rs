//! Run state on tmpfs (`state.json`, `exit.json`) and how it corrects a record's status: a
//! container is running only while the recorded pid lives with the recorded start time, so a
//! reused pid, a killed monitor or a reboot never leaves a container "running" forever.

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::layout::{exit_path, state_path};
use super::state::{State, Status};
use crate::fsutil::write_json_atomic;
use crate::paths::Paths;
use crate::time::parse_rfc3339;

/// `<runroot>/containers/<id>/state.json`, written when the process is spawned.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct RunState {
    pub pid: i32,
    /// Field 22 of /proc/PID/stat (clock ticks after boot): guards against pid reuse.
    pub pid_start: u64,
    pub started_at: String,
    /// The process that reaps the container and writes exit.json (monitor, or the
    /// foreground `run` itself).
    pub monitor_pid: i32,
    pub monitor_start: u64,
    /// Set by the monitor while it waits out a restart backoff.
    pub restarting: bool,
    /// The kernel's boot_id when this was written: pids and start times of another boot mean
    /// nothing (a run root that is not on tmpfs survives a reboot).
    pub boot_id: String,
    /// `pause`: the container's processes are stopped (SIGSTOP) until `unpause`.
    pub paused: bool,
}

impl RunState {
    /// Whether this run's first process still runs: the recorded pid, with its recorded start
    /// time, and not a zombie (dead, whether or not its supervisor is there to reap it).
    pub fn process_running(&self) -> bool {
        self.pid > 0
            && pid_start_time(self.pid) == Some(self.pid_start)
            && !matches!(process_state(self.pid), Some('Z' | 'X'))
    }
}

/// `<runroot>/containers/<id>/exit.json`, written atomically after the reap.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct ExitInfo {
    pub exit_code: i32,
    pub finished_at: String,
}

/// The run state written in this boot; one of a previous boot is as good as none.
pub fn read_run_state(paths: &Paths, id: &str) -> Option<RunState> {
    read_any_boot(paths, id).filter(|r| !from_previous_boot(r))
}

/// The run state on disk, whichever boot wrote it.
pub fn read_any_boot(paths: &Paths, id: &str) -> Option<RunState> {
    let data = std::fs::read(state_path(paths, id)).ok()?;
    serde_json::from_slice(&data).ok()
}

/// `/proc/sys/kernel/random/boot_id`, new at every boot ("" when unreadable).
pub fn boot_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

/// True when `run` was written before the host last booted: its boot_id is another one, or
/// (written by an older cove, without one) it started before the boot time.
pub fn from_previous_boot(run: &RunState) -> bool {
    previous_boot(run, boot_id(), boot_time())
}

fn previous_boot(run: &RunState, now_id: &str, booted: Option<i64>) -> bool {
    if !run.boot_id.is_empty() && !now_id.is_empty() {
        return run.boot_id != now_id;
    }
    match (parse_rfc3339(&run.started_at), booted) {
        (Some((started, _)), Some(b)) => started < b,
        _ => false,
    }
}

/// The `btime` line of /proc/stat: when the host booted, in unix seconds.
fn boot_time() -> Option<i64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

pub fn write_run_state(paths: &Paths, id: &str, run: &RunState) -> Result<()> {
    let path = state_path(paths, id);
    write_json_atomic(&path, run).map_err(|e| Error::io("cannot write run state", path, e))
}

pub fn read_exit(paths: &Paths, id: &str) -> Option<ExitInfo> {
    let data = std::fs::read(exit_path(paths, id)).ok()?;
    serde_json::from_slice(&data).ok()
}

pub fn write_exit(paths: &Paths, id: &str, exit: &ExitInfo) -> Result<()> {
    let path = exit_path(paths, id);
    write_json_atomic(&path, exit).map_err(|e| Error::io("cannot write exit file", path, e))
}

/// Start time of `pid` (field 22 of /proc/PID/stat), None when there is no such process.
pub fn pid_start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// The state letter of `pid` (field 3 of /proc/PID/stat: R, S, D, T, Z, ...), None when gone.
pub fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

fn parse_start_time(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// True when `pid` exists and, if `start` is known, started at that time. A zombie counts
/// as alive: its reaper is about to record the exit.
pub fn alive(pid: i32, start: u64) -> bool {
    match pid_start_time(pid) {
        Some(t) => start == 0 || t == start,
        None => false,
    }
}

/// The error of a container whose process and monitor died without an exit record.
pub const MONITOR_DIED: &str = "monitor died";

/// The outcome of comparing a record with its run state.
pub(crate) struct Derived {
    pub state: State,
    /// The process is gone, its reaper lives but has not written exit.json yet.
    pub exit_pending: bool,
}

/// Pure: the live state from the persisted one, the run files and liveness answers.
pub(crate) fn derive(
    persisted: &State,
    run: Option<&RunState>,
    exit: Option<&ExitInfo>,
    alive: &dyn Fn(i32, u64) -> bool,
) -> Derived {
    let mut s = persisted.clone();
    // Only a live run can be paused.
    s.paused = false;
    let Some(run) = run else {
        // No run state: never started, stopped and recorded, or the run root was lost.
        if let Some(e) = exit {
            apply_exit(&mut s, e);
        } else if s.status.is_active() {
            s.status = Status::Exited;
            s.exit_code = -1;
            s.pid = 0;
            s.error = "run state lost (run root cleared, host rebooted?)".into();
        }
        return Derived {
            state: s,
            exit_pending: false,
        };
    };
    if !run.started_at.is_empty() {
        s.started_at = run.started_at.clone();
    }
    if alive(run.pid, run.pid_start) {
        s.status = Status::Running;
        s.pid = run.pid;
        s.paused = run.paused;
        s.error.clear();
        return Derived {
            state: s,
            exit_pending: false,
        };
    }
    s.pid = 0;
    let monitor_alive = run.monitor_pid > 0 && alive(run.monitor_pid, run.monitor_start);
    // An exit file older than this start belongs to the previous run.
    let exit = exit.filter(|e| !finished_before(&e.finished_at, &run.started_at));
    match exit {
        Some(e) => {
            apply_exit(&mut s, e);
            if run.restarting && monitor_alive {
                s.status = Status::Restarting;
            }
            Derived {
                state: s,
                exit_pending: false,
            }
        }
        None if monitor_alive => {
            s.status = Status::Exited;
            Derived {
                state: s,
                exit_pending: true,
            }
        }
        None => {
            s.status = Status::Exited;
            s.exit_code = -1;
            s.error = MONITOR_DIED.into();
            Derived {
                state: s,
                exit_pending: false,
            }
        }
    }
}

fn apply_exit(s: &mut State, e: &ExitInfo) {
    s.status = Status::Exited;
    s.pid = 0;
    s.exit_code = e.exit_code;
    s.finished_at = e.finished_at.clone();
}

fn finished_before(finished: &str, started: &str) -> bool {
    match (parse_rfc3339(finished), parse_rfc3339(started)) {
        (Some(f), Some(s)) => f < s,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_survives_odd_command_names() {
        let stat =
            "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987_654));
        assert!(pid_start_time(std::process::id() as i32).is_some());
        assert!(alive(std::process::id() as i32, 0));
        assert!(!alive(-5, 0));
    }

    #[test]
    fn run_state_of_another_boot_is_recognised() {
        let mut r = run(1); // started 2023-11-14T22:13:20Z = 1700000000
        assert!(!previous_boot(&r, "b", Some(1_600_000_000)));
        assert!(previous_boot(&r, "b", Some(1_700_000_001)));
        assert!(!previous_boot(&r, "b", None));
        r.boot_id = "a".into();
        assert!(
            previous_boot(&r, "b", Some(0)),
            "another boot_id wins over times"
        );
        assert!(!previous_boot(&r, "a", Some(1_800_000_000)));
        assert!(!from_previous_boot(&RunState {
            boot_id: boot_id().to_string(),
            ..r
        }));
    }

    #[test]
    fn exit_files_with_the_old_oom_field_still_load() {
        let old = r#"{"exit_code":3,"finished_at":"2023-11-14T22:13:20Z","oom":false}"#;
        let e: ExitInfo = serde_json::from_str(old).unwrap();
        assert_eq!(e, exit(3, "2023-11-14T22:13:20Z"));
    }

    fn run(pid: i32) -> RunState {
        RunState {
            pid,
            pid_start: 7,
            started_at: "2023-11-14T22:13:20Z".into(),
            monitor_pid: 50,
            monitor_start: 9,
            restarting: false,
            boot_id: String::new(),
            paused: false,
        }
    }

    fn exit(code: i32, at: &str) -> ExitInfo {
        ExitInfo {
            exit_code: code,
            finished_at: at.into(),
        }
    }

    #[test]
    fn running_only_while_the_same_process_lives() {
        let persisted = State {
            status: Status::Running,
            ..State::default()
        };
        let all = |_: i32, _: u64| true;
        let d = derive(&persisted, Some(&run(10)), None, &all);
        assert_eq!((d.state.status, d.state.pid), (Status::Running, 10));
        // Same pid, other start time: reused pid.
        let reused = |pid: i32, start: u64| pid != 10 || start != 7;
        let later = exit(3, "2023-11-14T22:20:00Z");
        let d = derive(&persisted, Some(&run(10)), Some(&later), &reused);
        assert_eq!((d.state.status, d.state.exit_code), (Status::Exited, 3));
        // Process gone, monitor alive, no exit file yet: wait for it.
        let d = derive(&persisted, Some(&run(10)), None, &|pid, _| pid == 50);
        assert!(d.exit_pending);
        // Monitor killed too.
        let none = |_: i32, _: u64| false;
        let d = derive(&persisted, Some(&run(10)), None, &none);
        assert_eq!((d.state.status, d.state.exit_code), (Status::Exited, -1));
        assert_eq!(d.state.error, "monitor died");
        // A stale exit file from the run before does not count.
        let stale = exit(0, "2023-11-14T22:00:00Z");
        let d = derive(&persisted, Some(&run(10)), Some(&stale), &none);
        assert_eq!(d.state.exit_code, -1);
    }

    #[test]
    fn lost_run_root_means_exited() {
        let persisted = State {
            status: Status::Running,
            pid: 10,
            ..State::default()
        };
        let d = derive(&persisted, None, None, &|_, _| true);
        assert_eq!(
            (d.state.status, d.state.exit_code, d.state.pid),
            (Status::Exited, -1, 0)
        );
        let created = State::default();
        assert_eq!(
            derive(&created, None, None, &|_, _| true).state.status,
            Status::Created
        );
    }

    #[test]
    fn restarting_between_runs() {
        let persisted = State {
            status: Status::Running,
            ..State::default()
        };
        let mut r = run(10);
        r.restarting = true;
        let e = exit(1, "2023-11-14T22:20:00Z");
        let d = derive(&persisted, Some(&r), Some(&e), &|pid, _| pid == 50);
        assert_eq!((d.state.status, d.state.exit_code), (Status::Restarting, 1));
    }
}
