//! `pause` and `unpause`: every process of a running container stopped with SIGSTOP and
//! continued with SIGCONT (where no cgroup freezer is at hand, as on a rootless v1 host), the
//! mark kept in the run state so that `ps` and `inspect` say "paused".

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::runstate::{read_run_state, write_run_state};
use super::{ContainerRecord, ContainerStore, Error, Result, Sig};

/// Stop the container's processes; docker's refusals for one that does not run or is paused.
pub fn pause(store: &ContainerStore, rec: &ContainerRecord) -> Result<()> {
    set_paused(store, rec, true)
}

/// Continue the container's processes.
pub fn unpause(store: &ContainerStore, rec: &ContainerRecord) -> Result<()> {
    set_paused(store, rec, false)
}

fn set_paused(store: &ContainerStore, rec: &ContainerRecord, paused: bool) -> Result<()> {
    let lock = store.lock(&rec.id)?;
    let st = store.live_state(rec);
    if st.status != super::Status::Running {
        return Err(Error::Other(format!("Container {} is not running", rec.id)));
    }
    if st.paused == paused {
        let what = if paused {
            "is already paused"
        } else {
            "is not paused"
        };
        return Err(Error::Other(format!("Container {} {what}", rec.id)));
    }
    let Some(mut run) = read_run_state(store.paths(), &rec.id) else {
        return Err(Error::Other(format!("Container {} is not running", rec.id)));
    };
    let sig = if paused { Sig::STOP } else { Sig::CONT };
    signal_all(st.pid, sig, paused);
    run.paused = paused;
    let written = write_run_state(store.paths(), &rec.id, &run);
    drop(lock);
    written
}

/// Send `sig` to every process in the pid namespace of `pid` (the container's first process;
/// with `--pid host`, it alone). When stopping, repeat until every one is stopped: a process
/// may fork while the others are being stopped.
pub(super) fn signal_all(pid: i32, sig: Sig, wait_stopped: bool) {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let members = members(pid);
        for p in &members {
            let _ = sig.send(Pid::from_raw(*p));
        }
        if !wait_stopped || members.iter().all(|p| stopped(*p)) || Instant::now() >= until {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The processes sharing `pid`'s pid namespace (just `pid` when it shares ours).
fn members(pid: i32) -> Vec<i32> {
    let ns = |p: &str| {
        std::fs::metadata(format!("/proc/{p}/ns/pid"))
            .map(|m| m.ino())
            .ok()
    };
    let (Some(theirs), Some(ours)) = (ns(&pid.to_string()), ns("self")) else {
        return vec![pid];
    };
    if theirs == ours {
        return vec![pid];
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![pid];
    };
    let mut out: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ns(&p.to_string()) == Some(theirs))
        .collect();
    if !out.contains(&pid) {
        out.push(pid);
    }
    out
}

/// True when /proc says the process is stopped (or gone).
fn stopped(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next();
    matches!(state, Some("T" | "t" | "Z" | "X"))
}
