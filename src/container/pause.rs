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
    let lock = store.lock_record(rec)?;
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

/// The processes sharing `pid`'s pid namespace, and those of namespaces nested in it (they
/// descend from it); with `--pid host`, `pid` and its descendants.
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
        return tree(pid);
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![pid];
    };
    let mut out: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ns(&p.to_string()) == Some(theirs))
        .collect();
    // Nested pid namespaces (cove inside the container) hang below its processes.
    for p in tree(pid) {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// True when /proc says the process is stopped (or gone).
fn stopped(pid: i32) -> bool {
    matches!(
        super::runstate::process_state(pid),
        None | Some('T' | 't' | 'Z' | 'X')
    )
}

/// `pid` and its descendants, from /proc/PID/task/TID/children.
fn tree(pid: i32) -> Vec<i32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() && out.len() < 100_000 {
        let p = out[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for task in tasks.flatten() {
                let children = std::fs::read_to_string(task.path().join("children"));
                out.extend(
                    children
                        .unwrap_or_default()
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
        i += 1;
    }
    out
}
