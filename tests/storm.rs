//! Lifecycle operations racing each other on one container: start, restart, stop and rm -f at
//! once must never leave a container process or monitor running without a record (issue 7,
//! defect 2). Root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::ctr::{monitors, ppid, processes_with, wait_until};
use common::{Cove, Who};

both!(rm_f_racing_start_restart_stop, starts_racing_each_other);

const T: Duration = Duration::from_secs(60);
const ROUNDS: usize = 5;

/// The container processes of `marker` (`sleep MARKER`), and the monitors of the test's store
/// (their argv names its root), each with its parent for the failure message.
fn left_running(c: &Cove, marker: &str) -> Vec<String> {
    let root = c.root.to_string_lossy().into_owned();
    let procs = processes_with(&format!("sleep {marker} ")).into_iter();
    let mons = monitors(&root)
        .into_iter()
        .map(|p| (p, String::from("monitor")));
    procs
        .chain(mons)
        .map(|(p, cmd)| format!("{p} {cmd}(parent {:?})", ppid(p)))
        .collect()
}

/// Nothing of the test's store is left running: no container process with the marker
/// argument and no monitor.
fn nothing_left(c: &Cove, marker: &str) -> Result<(), String> {
    if wait_until(Duration::from_secs(10), || {
        left_running(c, marker).is_empty()
    }) {
        return Ok(());
    }
    Err(format!("left running: {:?}", left_running(c, marker)))
}

/// 16 mixed start/restart/stop at 8 in parallel on one running container, then `rm -f`:
/// afterwards the container is gone from `ps -a`, and so are its process and its monitor.
fn rm_f_racing_start_restart_stop(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    for round in 0..ROUNDS {
        // Unique to this test and this user: the root and rootless runs go on side by side.
        let marker = format!("{}{}", 7_000_000 + round, c.uid);
        let name = format!("storm{round}");
        c.ok(&["run", "-d", "--name", &name, &img, "sleep", &marker]);
        let ops: [&[&str]; 4] = [
            &["start"],
            &["restart", "-t", "0"],
            &["stop", "-t", "0"],
            &["start"],
        ];
        for wave in 0..2 {
            let running: Vec<_> = (0..8)
                .map(|i| {
                    let mut args: Vec<&str> = ops[(i + wave) % ops.len()].to_vec();
                    args.push(&name);
                    c.cmd(&args).timeout(T).spawn()
                })
                .collect();
            // The rm -f lands in the middle of the second wave.
            if wave == 1 {
                let rm = c.cmd(&["rm", "-f", &name]).timeout(T).run();
                assert_eq!(rm.code(), 0, "rm -f during the storm: {rm}");
            }
            // Each may fail (the container is gone, or was started meanwhile); wait fails the
            // test if one hangs.
            for r in running {
                r.wait();
            }
        }
        // Whatever the storm left, one more rm -f must clean it up, and then nothing runs.
        let _ = c.cmd(&["rm", "-f", &name]).timeout(T).run();
        let ps = c.ok(&["ps", "-a", "--format", "{{.Names}}"]);
        assert_eq!(ps.stdout, "", "round {round}: ps -a after rm -f");
        if let Err(e) = nothing_left(&c, &marker) {
            panic!("round {round}: {e}");
        }
        assert!(
            !has_entries(&c.runroot.join("containers")),
            "round {round}: run state left behind"
        );
    }
}

fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// Eight `start`s of one stopped container at once: one container process runs (not one per
/// start, each with its own monitor), and stop then leaves nothing running.
fn starts_racing_each_other(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let marker = &format!("6999999{}", c.uid);
    c.ok(&["create", "--name", "st", &img, "sleep", marker]);
    let running: Vec<_> = (0..8)
        .map(|_| c.cmd(&["start", "st"]).timeout(T).spawn())
        .collect();
    for r in running {
        r.wait();
    }
    assert!(wait_until(T, || c.status_of("st") == "running"));
    let procs = processes_with(&format!("sleep {marker} "));
    assert_eq!(procs.len(), 1, "{procs:?}");
    c.ok(&["stop", "-t", "0", "st"]);
    c.ok(&["rm", "st"]);
    nothing_left(&c, marker).unwrap();
}
