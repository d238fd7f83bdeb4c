//! `pause` and `unpause` (with podman's `-a`), by SIGSTOP and SIGCONT of every process of the
//! container, as on a host without a usable cgroup freezer. Root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::time::Duration;

use common::ctr::{ppid, processes_with, wait_until};
use common::{Cove, Who};

both!(pause_and_unpause, pause_with_host_pids);

/// With `--pid host` the container's processes are its first process and what descends from
/// it: pause stops them all, unpause continues them all.
fn pause_with_host_pids(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let marker = format!("{}", 5_000_000 + c.uid);
    let script = format!("sleep {marker} & wait");
    c.ok(&[
        "run", "-d", "--pid", "host", "--name", "ph", &img, "sh", "-c", &script,
    ]);
    let first: i32 = c.inspect_fmt("ph", "{{.State.Pid}}").parse().unwrap();
    // The container's own child (an earlier run's could linger if rm -f missed it).
    let child = || {
        processes_with(&format!("sleep {marker} "))
            .into_iter()
            .map(|(p, _)| p)
            .find(|&p| ppid(p) == Some(first))
    };
    let state = |pid: i32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert!(wait_until(T, || child().is_some()), "the sleep started");
    let pid = child().unwrap();
    c.ok(&["pause", "ph"]);
    assert_eq!(state(pid), "T", "the child is stopped too");
    c.ok(&["unpause", "ph"]);
    assert!(wait_until(T, || state(pid) != "T"), "and continued");
    // rm -f takes the descendants too: there is no pid namespace to end them.
    c.ok(&["rm", "-f", "ph"]);
    assert!(
        wait_until(T, || !std::path::Path::new(&format!("/proc/{pid}"))
            .exists()),
        "the child is gone with the container"
    );
}

const T: Duration = Duration::from_secs(20);

/// `pause` stops every process of the container (a counter stops counting), `ps` says
/// "(Paused)", inspect "paused", exec is refused; `unpause` lets it go on; `-a` on both; docker's
/// refusals for a stopped or already paused container; stop and rm -f work on a paused one.
fn pause_and_unpause(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let count = "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done";
    c.ok(&["run", "-d", "--name", "pa", &img, "sh", "-c", count]);
    c.ok(&["run", "-d", "--name", "pb", &img, "sleep", "100"]);
    assert_eq!(c.ok(&["pause", "pa"]).stdout, "pa\n");
    let n = |c: &Cove| {
        std::fs::read_to_string(
            c.root
                .join("overlay/containers")
                .join(c.inspect_fmt("pa", "{{.Id}}"))
                .join("upper/tmp/n"),
        )
        .unwrap_or_default()
    };
    let first = n(&c);
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(n(&c), first, "nothing runs while paused");
    let ps = c.ok(&[
        "ps",
        "--format",
        "{{.Names}} {{.Status}}",
        "--filter",
        "name=pa",
    ]);
    assert!(
        ps.stdout.starts_with("pa Up") && ps.stdout.trim_end().ends_with("(Paused)"),
        "{ps}"
    );
    assert_eq!(
        c.inspect_fmt("pa", "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    let ex = c.run(&["exec", "pa", "true"]);
    assert_eq!(ex.code(), 125, "{ex}");
    assert!(
        ex.stderr
            .contains("is paused, unpause the container before exec"),
        "{ex}"
    );
    let again = c.run(&["pause", "pa"]);
    assert_eq!(again.code(), 125);
    assert!(again.stderr.contains("is already paused"), "{again}");
    assert_eq!(c.ok(&["unpause", "pa"]).stdout, "pa\n");
    assert!(wait_until(T, || n(&c) != first), "counting again");
    assert_eq!(
        c.inspect_fmt("pa", "{{.State.Status}} {{.State.Paused}}"),
        "running false"
    );
    let not = c.run(&["unpause", "pa"]);
    assert!(not.stderr.contains("is not paused"), "{not}");
    // -a: every running container, printed by ID as podman's -a does.
    let paused = c.ok(&["pause", "-a"]);
    let mut all = paused.lines();
    all.sort();
    let mut ids = [
        c.inspect_fmt("pa", "{{.Id}}"),
        c.inspect_fmt("pb", "{{.Id}}"),
    ];
    ids.sort();
    assert_eq!(all, ids, "{paused}");
    let ps = c.ok(&["ps", "--filter", "status=paused", "--format", "{{.Names}}"]);
    assert_eq!(ps.lines().len(), 2, "{ps}");
    c.ok(&["unpause", "--all"]);
    assert_eq!(c.inspect_fmt("pb", "{{.State.Paused}}"), "false");
    // A paused container stops, and goes with rm -f.
    c.ok(&["pause", "pa", "pb"]);
    c.ok(&["stop", "-t", "1", "pa"]);
    assert_eq!(c.status_of("pa"), "exited");
    let stopped = c.run(&["pause", "pa"]);
    assert_eq!(stopped.code(), 125);
    assert!(stopped.stderr.contains("is not running"), "{stopped}");
    c.ok(&["rm", "-f", "pb"]);
    c.rm_f(&["pa"]);
}
