//! The container lifecycle after `run`: detached containers and their logs, stop/start/exec,
//! inspect, ps filters and formats, rename/wait/top/diff, restart policies, a killed monitor,
//! prune, and one user's containers hidden from another. Root and rootless unless noted.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::ctr::{alive, comm, monitors, ppid, wait_until};
use common::{fixtures, Cove, Who};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

both!(
    detached_logs_follow,
    logs_tail_timestamps_streams,
    stop_start_exec,
    exec_options,
    create_start_attach,
    inspect_fields,
    ps_filters_and_format,
    rename_wait_top_diff,
    restart_on_failure_counted,
    restart_always_then_stop,
    killed_monitor,
    run_root_gone,
    rm_and_prune,
    rm_deep_tree,
    images_in_use,
);

const T: Duration = Duration::from_secs(20);

fn names(out: &common::Out) -> Vec<String> {
    let mut v: Vec<String> = out.lines().iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn detached_logs_follow(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        &img,
        "sh",
        "-c",
        "echo hi; sleep 100",
    ]);
    let id = out.stdout.trim();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "run -d prints the full ID: {out}"
    );
    assert!(
        wait_until(T, || c.ok(&["logs", "web"]).stdout == "hi\n"),
        "logs: {}",
        c.run(&["logs", "web"])
    );
    let follow = c.cmd(&["logs", "-f", "web"]).timeout(T).spawn();
    std::thread::sleep(Duration::from_millis(500));
    let stop = c.ok(&["stop", "-t", "1", "web"]);
    assert_eq!(stop.stdout, "web\n", "stop echoes its argument: {stop}");
    let out = follow.wait();
    out.assert_ok();
    assert_eq!(
        out.stdout, "hi\n",
        "logs -f shows the output, ends at stop: {out}"
    );
    assert_eq!(c.status_of("web"), "exited");
    // sh as pid 1 ignores SIGTERM: stop kills it after the timeout.
    assert_eq!(c.inspect_fmt("web", "{{.State.ExitCode}}"), "137");
    let again = c.cmd(&["logs", "-f", "web"]).timeout(T).run();
    again.assert_ok();
    assert_eq!(
        again.stdout, "hi\n",
        "logs -f of a stopped container returns: {again}"
    );
    c.rm_f(&["web"]);
}

fn logs_tail_timestamps_streams(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let fg = c.ok(&[
        "run",
        "--name",
        "lt",
        &img,
        "sh",
        "-c",
        "echo a; echo b; echo c",
    ]);
    assert_eq!(fg.stdout, "a\nb\nc\n");
    assert_eq!(
        c.ok(&["logs", "lt"]).stdout,
        "a\nb\nc\n",
        "a foreground run is logged too"
    );
    assert_eq!(c.ok(&["logs", "--tail", "1", "lt"]).stdout, "c\n");
    assert_eq!(c.ok(&["logs", "--tail", "2", "lt"]).stdout, "b\nc\n");
    assert_eq!(c.ok(&["logs", "--tail", "0", "lt"]).stdout, "");
    let ts = c.ok(&["logs", "-t", "lt"]);
    let lines = ts.lines();
    assert_eq!(lines.len(), 3, "{ts}");
    for (l, want) in lines.iter().zip(["a", "b", "c"]) {
        let (stamp, text) = l.split_once(' ').unwrap();
        assert_eq!(text, want, "{ts}");
        assert!(
            stamp.len() >= 20
                && stamp.as_bytes()[4] == b'-'
                && stamp.contains('T')
                && stamp.ends_with('Z'),
            "RFC 3339 timestamp first: {ts}"
        );
    }
    let tail_ts = c.ok(&["logs", "-t", "--tail", "1", "lt"]);
    assert!(tail_ts.stdout.ends_with(" c\n"), "{tail_ts}");
    assert_eq!(
        c.ok(&["logs", "--since", "2100-01-01T00:00:00Z", "lt"])
            .stdout,
        ""
    );
    assert_eq!(
        c.ok(&["logs", "--until", "2000-01-01T00:00:00Z", "lt"])
            .stdout,
        ""
    );

    c.ok(&[
        "run",
        "--name",
        "st",
        &img,
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    let logs = c.ok(&["logs", "st"]);
    assert_eq!(
        (logs.stdout.as_str(), logs.stderr.as_str()),
        ("out\n", "err\n"),
        "{logs}"
    );
    let missing = c.run(&["logs", "nosuchctr"]);
    assert_ne!(missing.code(), 0);
    assert!(
        missing.stderr.to_lowercase().contains("no such container"),
        "{missing}"
    );
    c.rm_f(&["lt", "st"]);
}

/// The tutorial without a terminal: a file written by a container survives stop/start and is
/// seen by exec.
fn stop_start_exec(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "bob",
        &img,
        "sh",
        "-c",
        "echo data > /file; exec sleep 100",
    ]);
    let ps = c.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.stdout.starts_with("bob Up"), "{ps}");
    assert!(wait_until(T, || c
        .run(&["exec", "bob", "cat", "/file"])
        .stdout
        == "data\n"));
    c.ok(&["stop", "-t", "1", "bob"]);
    let ps = c.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.stdout.starts_with("bob Exited ("), "{ps}");
    assert_eq!(
        c.ok(&["ps", "-q"]).stdout,
        "",
        "ps without -a hides stopped containers"
    );
    let ex = c.run(&["exec", "bob", "true"]);
    ex.assert_err_line("not running");
    let start = c.ok(&["start", "bob"]);
    assert_eq!(start.stdout, "bob\n");
    assert_eq!(c.status_of("bob"), "running");
    assert_eq!(c.ok(&["exec", "bob", "cat", "/file"]).stdout, "data\n");
    let restart = c.ok(&["restart", "-t", "1", "bob"]);
    assert_eq!(restart.stdout, "bob\n");
    assert_eq!(c.status_of("bob"), "running");
    let k = c.ok(&["kill", "bob"]);
    assert_eq!(k.stdout, "bob\n");
    assert!(wait_until(T, || c.status_of("bob") == "exited"));
    assert_eq!(c.inspect_fmt("bob", "{{.State.ExitCode}}"), "137");
    // A signal the process handles: TERM to a shell trapping it.
    c.ok(&[
        "run",
        "-d",
        "--name",
        "trap",
        &img,
        "sh",
        "-c",
        "trap 'exit 42' USR1; while :; do sleep 0.1; done",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    c.ok(&["kill", "-s", "USR1", "trap"]);
    assert!(wait_until(T, || c.status_of("trap") == "exited"));
    assert_eq!(c.inspect_fmt("trap", "{{.State.ExitCode}}"), "42");
    let bad = c.run(&["kill", "-s", "NOSUCHSIG", "trap"]);
    assert_ne!(bad.code(), 0, "{bad}");
    c.rm_f(&["bob", "trap"]);
}

fn exec_options(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "ex",
        "-e",
        "FROM_RUN=1",
        &img,
        "sleep",
        "100",
    ]);
    assert_eq!(
        c.ok(&["exec", "-u", "500", "ex", "id", "-u"]).stdout,
        "500\n"
    );
    assert_eq!(c.ok(&["exec", "-w", "/tmp", "ex", "pwd"]).stdout, "/tmp\n");
    // A working directory exec cannot enter is docker's "cannot invoke".
    let out = c.run(&["exec", "-w", "/no/such/dir", "ex", "pwd"]);
    out.assert_code(126);
    assert!(
        out.stderr.starts_with("Error: ") && out.stderr.contains("no such file"),
        "{out}"
    );
    let env = c.ok(&["exec", "-e", "X=1", "ex", "env"]);
    assert!(env.lines().contains(&"X=1"), "{env}");
    assert!(
        env.lines().contains(&"FROM_RUN=1"),
        "exec inherits the container's env: {env}"
    );
    c.run(&["exec", "ex", "sh", "-c", "exit 4"]).assert_code(4);
    c.run(&["exec", "ex", "nosuch"]).assert_code(127);
    let piped = c
        .cmd(&["exec", "-i", "ex", "cat"])
        .input("through stdin\n")
        .timeout(T)
        .run();
    assert_eq!(piped.stdout, "through stdin\n", "{piped}");
    let d = c.ok(&[
        "exec",
        "-d",
        "ex",
        "sh",
        "-c",
        "sleep 0.2; touch /from-exec-d",
    ]);
    assert_eq!(d.stdout, "");
    assert!(wait_until(T, || c
        .run(&["exec", "ex", "test", "-e", "/from-exec-d"])
        .code()
        == 0));
    c.run(&["exec", "nosuchctr", "true"])
        .assert_err_line("no such container");
    c.rm_f(&["ex"]);
}

fn create_start_attach(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.ok(&["create", "--name", "cs", &img, "echo", "hello"]);
    assert_eq!(out.stdout.trim().len(), 64, "{out}");
    assert_eq!(c.status_of("cs"), "created");
    let ps = c.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert_eq!(ps.stdout, "cs Created\n");
    let st = c.cmd(&["start", "-a", "cs"]).timeout(T).run();
    st.assert_ok();
    assert_eq!(st.stdout, "hello\n", "start -a prints the output: {st}");
    assert_eq!(c.status_of("cs"), "exited");
    c.ok(&["create", "--name", "cs3", &img, "sh", "-c", "exit 3"]);
    c.cmd(&["start", "-a", "cs3"])
        .timeout(T)
        .run()
        .assert_code(3);
    c.rm_f(&["cs", "cs3"]);
}

fn inspect_fields(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let img = c.busybox();
    let bind = c.write(&c.dir.join("vol/f"), "x");
    let vol = format!("{}:/vol:ro", bind.parent().unwrap().display());
    let out = c.ok(&[
        "run", "-d", "--name", "bob", "-l", "a=b", "-e", "X=1", "-v", &vol, &img, "sleep", "100",
    ]);
    let id = out.stdout.trim().to_string();
    let all = c.ok(&["inspect", "bob"]).json();
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(1),
        "an array of one: {all}"
    );
    let j = &all[0];
    assert_eq!(j["Id"], id.as_str());
    assert_eq!(j["Name"], "/bob");
    assert_eq!(j["Path"], "sleep");
    assert_eq!(j["Args"], serde_json::json!(["100"]));
    assert_eq!(j["Image"], f.busybox.config_digest.as_str());
    assert!(j["Created"].as_str().unwrap_or("").contains('T'), "{j}");
    let s = &j["State"];
    assert_eq!(s["Status"], "running");
    assert_eq!(s["Running"], true);
    assert_eq!(s["Paused"], false);
    assert_eq!(s["Restarting"], false);
    assert_eq!(s["ExitCode"], 0);
    let pid = s["Pid"].as_i64().unwrap_or(0) as i32;
    assert!(pid > 0 && alive(pid), "State.Pid is the live host pid: {s}");
    assert!(!s["StartedAt"].as_str().unwrap().starts_with("0001"), "{s}");
    assert_eq!(s["FinishedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(j["Config"]["Cmd"], serde_json::json!(["sleep", "100"]));
    assert_eq!(j["Config"]["Image"], img.as_str());
    assert_eq!(j["Config"]["Labels"]["a"], "b");
    assert_eq!(
        j["Config"]["Labels"]["org.cove.test"], "busybox",
        "image labels kept"
    );
    assert!(
        j["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&"X=1".into()),
        "{j}"
    );
    assert_eq!(j["HostConfig"]["RestartPolicy"]["Name"], "no");
    assert!(j["HostConfig"].is_object());
    assert_eq!(j["RestartCount"], 0);
    let log = j["LogPath"].as_str().unwrap();
    assert!(std::path::Path::new(log).is_file(), "LogPath exists: {log}");
    let m = &j["Mounts"][0];
    assert_eq!(m["Type"], "bind", "{j}");
    assert_eq!(m["Source"], bind.parent().unwrap().to_str().unwrap());
    assert_eq!(m["Destination"], "/vol");
    assert_eq!(m["RW"], false);

    assert_eq!(c.inspect_fmt("bob", "{{.State.Status}}"), "running");
    assert_eq!(c.inspect_fmt("bob", "{{.Name}}"), "/bob");
    assert_eq!(
        c.inspect_fmt(&id[..12], "{{.Id}}"),
        id,
        "an ID prefix selects"
    );
    assert_eq!(
        c.inspect_fmt("bob", "{{json .Config.Cmd}}"),
        "[\"sleep\",\"100\"]"
    );

    c.ok(&["stop", "-t", "1", "bob"]);
    let j = c.ok(&["inspect", "bob"]).json();
    let s = &j[0]["State"];
    assert_eq!(
        (s["Status"].as_str(), s["Running"].as_bool()),
        (Some("exited"), Some(false))
    );
    assert_eq!(s["ExitCode"], 137, "sleep as pid 1 ignores SIGTERM: {s}");
    assert_eq!(s["Pid"], 0);
    assert!(
        !s["FinishedAt"].as_str().unwrap().starts_with("0001"),
        "{s}"
    );
    let missing = c.run(&["inspect", "nosuchctr"]);
    assert_ne!(missing.code(), 0);
    assert!(
        missing.stderr.to_lowercase().contains("no such"),
        "{missing}"
    );
    c.rm_f(&["bob"]);
}

fn ps_filters_and_format(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let e1 = c.ok(&["run", "--name", "e1", "-l", "k=v", &img, "true"]);
    let e1_id = c.inspect_fmt("e1", "{{.Id}}");
    assert_eq!(e1.stdout, "");
    c.run(&["run", "--name", "e2", &img, "sh", "-c", "exit 3"])
        .assert_code(3);
    c.ok(&[
        "run", "-d", "--name", "r1", "-l", "k=w", &img, "sleep", "100",
    ]);
    let f = |args: &[&str]| {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        names(&c.ok(&a))
    };
    assert_eq!(f(&[]), ["r1"]);
    assert_eq!(f(&["-a"]), ["e1", "e2", "r1"]);
    assert_eq!(f(&["-a", "--filter", "status=exited"]), ["e1", "e2"]);
    assert_eq!(f(&["-a", "--filter", "status=running"]), ["r1"]);
    assert_eq!(f(&["-a", "--filter", "exited=3"]), ["e2"]);
    assert_eq!(f(&["-a", "--filter", "name=e"]), ["e1", "e2"]);
    assert_eq!(f(&["-a", "--filter", "name=r1"]), ["r1"]);
    assert_eq!(f(&["-a", "--filter", "label=k"]), ["e1", "r1"]);
    assert_eq!(f(&["-a", "--filter", "label=k=v"]), ["e1"]);
    assert_eq!(
        f(&["-a", "--filter", &format!("ancestor={img}")]),
        ["e1", "e2", "r1"]
    );
    assert_eq!(
        f(&["-a", "--filter", &format!("id={}", &e1_id[..8])]),
        ["e1"]
    );
    assert_eq!(
        f(&["-a", "--filter", "status=exited", "--filter", "label=k"]),
        ["e1"]
    );
    // Newest first; -l is the latest created, -n the last N.
    let newest = c.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(newest.lines(), ["r1", "e2", "e1"], "{newest}");
    assert_eq!(
        c.ok(&["ps", "-l", "--format", "{{.Names}}"]).lines(),
        ["r1"]
    );
    assert_eq!(
        c.ok(&["ps", "-n", "2", "--format", "{{.Names}}"]).lines(),
        ["r1", "e2"]
    );
    let q = c.ok(&["ps", "-a", "-q"]);
    assert_eq!(q.lines().len(), 3);
    assert!(q.lines().iter().all(|l| l.len() == 12), "{q}");
    assert!(q.lines().contains(&&e1_id[..12]));
    let full = c.ok(&["ps", "-a", "-q", "--no-trunc"]);
    assert!(full.lines().contains(&e1_id.as_str()), "{full}");
    let table = c.ok(&["ps", "-a"]);
    let t = table.table();
    assert_eq!(
        t[0],
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "{table}"
    );
    let e2_row = t
        .iter()
        .find(|r| r.last().map(String::as_str) == Some("e2"))
        .unwrap();
    assert!(
        e2_row.iter().any(|cell| cell.starts_with("Exited (3) ")),
        "{table}"
    );
    assert!(
        e2_row.contains(&"\"sh -c 'exit 3'\"".to_string()),
        "{table}"
    );
    let tf = c.ok(&["ps", "-a", "--format", "table {{.Names}}\t{{.Status}}"]);
    assert_eq!(tf.table()[0], ["NAMES", "STATUS"], "{tf}");
    let labels = c.ok(&["ps", "--format", "{{.Labels}}"]);
    assert!(labels.stdout.contains("k=w"), "{labels}");
    let bad = c.run(&["ps", "--filter", "bogus=1"]);
    bad.assert_err_line("bogus");
    c.rm_f(&["e1", "e2", "r1"]);
}

fn rename_wait_top_diff(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "old",
        &img,
        "sh",
        "-c",
        "echo x > /newfile; exec sleep 100",
    ]);
    let r = c.ok(&["rename", "old", "new"]);
    assert_eq!(r.stdout, "");
    assert_eq!(c.inspect_fmt("new", "{{.Name}}"), "/new");
    assert_ne!(c.run(&["inspect", "old"]).code(), 0, "the old name is gone");
    c.ok(&["run", "-d", "--name", "other", &img, "sleep", "100"]);
    c.run(&["rename", "new", "other"])
        .assert_err_line("already in use");

    let top = c.ok(&["top", "new"]);
    let header = top.lines()[0];
    assert!(header.contains("PID") && header.contains("CMD"), "{top}");
    assert!(
        top.lines().iter().skip(1).any(|l| l.ends_with("sleep 100")),
        "{top}"
    );
    // ps options that select every process still show only the container's (one here).
    for opts in [&["-e"][..], &["aux"], &["-ef"]] {
        let mut args = vec!["top", "new"];
        args.extend_from_slice(opts);
        let all = c.ok(&args);
        assert_eq!(
            all.lines().len(),
            2,
            "{opts:?}: only the container's sleep: {all}"
        );
        assert!(all.lines()[1].contains("sleep"), "{all}");
    }
    c.run(&["top", "new", "--no-such-ps-option"])
        .assert_err_line("ps failed");

    let waiter = c.cmd(&["wait", "new"]).timeout(T).spawn();
    std::thread::sleep(Duration::from_millis(300));
    c.ok(&["stop", "-t", "1", "new"]);
    let w = waiter.wait();
    w.assert_ok();
    assert_eq!(w.stdout, "137\n", "{w}");
    c.ok(&["run", "-d", "--name", "seven", &img, "sh", "-c", "exit 7"]);
    let w = c.cmd(&["wait", "seven"]).timeout(T).run();
    assert_eq!(w.stdout, "7\n", "{w}");
    assert!(wait_until(T, || c
        .ok(&["diff", "new"])
        .stdout
        .contains("A /newfile")));
    let diff = c.ok(&["diff", "new"]);
    assert_eq!(
        diff.lines(),
        ["A /newfile"],
        "docker's diff lists the container's own changes, not its mount points: {diff}"
    );

    c.rm_f(&["new", "other", "seven"]);
}

fn restart_on_failure_counted(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "rf",
        "--restart",
        "on-failure:2",
        &img,
        "sh",
        "-c",
        "exit 3",
    ]);
    let done = || {
        c.inspect_fmt(
            "rf",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
        ) == "2 exited 3"
    };
    assert!(
        wait_until(Duration::from_secs(30), done),
        "inspect: {}",
        c.inspect_fmt(
            "rf",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}"
        )
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(done(), "no third restart");
    let ps = c.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(ps.stdout.starts_with("Exited (3) "), "{ps}");
    assert_eq!(
        c.inspect_fmt("rf", "{{.HostConfig.RestartPolicy.MaximumRetryCount}}"),
        "2"
    );

    c.ok(&[
        "run",
        "-d",
        "--name",
        "ok0",
        "--restart",
        "on-failure",
        &img,
        "true",
    ]);
    assert!(wait_until(T, || c.status_of("ok0") == "exited"));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        c.inspect_fmt("ok0", "{{.RestartCount}}"),
        "0",
        "exit 0 is no failure"
    );
    c.rm_f(&["rf", "ok0"]);
}

/// docker: `always` restarts until stopped by hand; after `stop` it stays stopped, and so
/// does `unless-stopped`.
fn restart_always_then_stop(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    for (name, policy) in [("ra", "always"), ("ru", "unless-stopped")] {
        c.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            &img,
            "sh",
            "-c",
            "sleep 0.3; exit 1",
        ]);
        assert!(
            wait_until(T, || c.inspect_fmt(name, "{{.RestartCount}}") != "0"),
            "{name} restarts"
        );
        c.ok(&["stop", "-t", "1", name]);
        let count = c.inspect_fmt(name, "{{.RestartCount}}");
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(c.status_of(name), "exited", "{name} stays stopped");
        assert_eq!(
            c.inspect_fmt(name, "{{.RestartCount}}"),
            count,
            "{name}: no restart after stop"
        );
        assert_eq!(c.ok(&["ps", "-q"]).stdout, "");
    }
    c.rm_f(&["ra", "ru"]);
}

/// A monitor killed with SIGKILL: the container is shown exited, not running, and `rm` works.
fn killed_monitor(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let id = c
        .ok(&["run", "-d", "--name", "mk", &img, "sleep", "100"])
        .stdout
        .trim()
        .to_string();
    let pid: i32 = c.inspect_fmt("mk", "{{.State.Pid}}").parse().unwrap();
    let mons = monitors(&id);
    // The monitor itself, not a monitor's child (rootless forks one inside the namespace).
    let top: Vec<i32> = mons
        .iter()
        .copied()
        .filter(|&m| ppid(m).is_some_and(|p| !mons.contains(&p)))
        .collect();
    assert_eq!(top.len(), 1, "one monitor per container: {mons:?}");
    kill(Pid::from_raw(top[0]), Signal::SIGKILL).unwrap();
    let shown_exited = wait_until(T, || {
        c.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
            .stdout
            .starts_with("mk Exited")
    });
    let ps = c.ok(&["ps", "-a"]);
    let running_left = alive(pid) && comm(pid).as_deref() == Some("sleep");
    if running_left {
        // Ours (the container's command); never leave it behind.
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    assert!(
        shown_exited,
        "ps shows the container exited once its monitor is gone: {ps}"
    );
    assert!(
        !running_left,
        "the container's process outlived its monitor"
    );
    assert_eq!(c.status_of("mk"), "exited");
    let rm = c.ok(&["rm", "mk"]);
    assert_eq!(rm.stdout, "mk\n");
    c.assert_no_containers();
}

/// After a reboot the run root is empty: containers that were running are shown exited, can
/// be started again and removed.
fn run_root_gone(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let id = c
        .ok(&["run", "-d", "--name", "rb", &img, "sleep", "100"])
        .stdout
        .trim()
        .to_string();
    c.ok(&["run", "--name", "done", &img, "true"]);
    // The reboot: every process of the store dies, the run root (a tmpfs) is emptied.
    common::ctr::kill_monitors(&c.root);
    common::cove::kill_pause(&c.runroot.join("pause.pid"));
    common::cove::kill_pause(&c.runtime_dir.join("cove/pause.pid"));
    assert!(wait_until(T, || common::ctr::processes_with(&id).is_empty()));
    for e in std::fs::read_dir(&c.runroot).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
    let ps = c.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert_eq!(ps.lines().len(), 2, "{ps}");
    assert!(
        ps.lines().iter().all(|l| l.contains(" Exited (")),
        "nothing is running after a reboot: {ps}"
    );
    assert_eq!(c.status_of("rb"), "exited");
    assert_eq!(c.ok(&["start", "rb"]).stdout, "rb\n");
    assert_eq!(c.status_of("rb"), "running");
    c.rm_f(&["rb", "done"]);
    c.assert_no_containers();
}

fn rm_and_prune(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["run", "-d", "--name", "live", &img, "sleep", "100"]);
    c.run(&["rm", "live"]).assert_err_line("running");
    c.ok(&["run", "--name", "dead1", &img, "true"]);
    c.ok(&["run", "--name", "dead2", &img, "true"]);
    let d1 = c.inspect_fmt("dead1", "{{.Id}}");
    let d2 = c.inspect_fmt("dead2", "{{.Id}}");
    // Without -f and without a terminal to answer on, docker's question is asked and "no" taken.
    let asked = c.ok(&["container", "prune"]);
    assert!(
        asked
            .stdout
            .starts_with("WARNING! This will remove all stopped containers."),
        "{asked}"
    );
    assert!(!asked.stdout.contains("Deleted"), "{asked}");
    let p = c.ok(&["container", "prune", "-f"]);
    assert!(p.stdout.starts_with("Deleted Containers:\n"), "{p}");
    assert!(p.stdout.contains(&d1) && p.stdout.contains(&d2), "{p}");
    assert!(p.stdout.contains("Total reclaimed space:"), "{p}");
    assert_eq!(
        names(&c.ok(&["ps", "-a", "--format", "{{.Names}}"])),
        ["live"]
    );
    let rm = c.ok(&["rm", "-f", "live"]);
    assert_eq!(rm.stdout, "live\n");
    c.run(&["rm", "live"]).assert_err_line("no such container");
    c.assert_no_containers();
}

/// A container that left a directory tree deeper than the descriptor limit is removed
/// (issue 7, defect 2): `rm` used to fail with "Too many open files" and keep it. cove runs
/// with 256 descriptors so the test means the same on a machine with a high limit.
fn rm_deep_tree(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    // 1100 levels in one mkdir -p: the path is 2200 bytes, within PATH_MAX.
    let script = "p=d; i=1; while [ $i -lt 1100 ]; do p=$p/d; i=$((i+1)); done; \
                  mkdir -p $p && echo bottom > $p/f && echo made";
    let out = c.ok(&["run", "--name", "deep", &img, "sh", "-c", script]);
    assert_eq!(out.stdout, "made\n", "{out}");
    let rm = c.cmd(&["rm", "deep"]).nofile(256).run();
    rm.assert_ok();
    assert_eq!(rm.stdout, "deep\n", "{rm}");
    c.assert_no_containers();
}

/// One user's containers are invisible to and untouchable by another: a second user pointed
/// at the first one's store gets a permission error, never the container.
#[test]
fn other_users_cannot_see_or_touch() {
    let owner = Cove::new(Who::Rootless);
    let img = owner.busybox();
    let id = owner
        .ok(&[
            "run",
            "-d",
            "--name",
            "secret",
            &img,
            "sh",
            "-c",
            "echo private; sleep 100",
        ])
        .stdout
        .trim()
        .to_string();
    let mode = std::fs::metadata(owner.root.join("containers"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the container store is owner-only: {mode:o}"
    );

    let root = Cove::new(Who::Root);
    let ps = root.ok(&["ps", "-a", "-q", "--no-trunc"]);
    assert!(
        !ps.stdout.contains(&id),
        "root's store does not list it: {ps}"
    );

    let other = Cove::new(Who::NoSubuid);
    let (r, rr) = (
        owner.root.display().to_string(),
        owner.runroot.display().to_string(),
    );
    for args in [
        vec!["ps", "-a", "--no-trunc"],
        vec!["inspect", "secret"],
        vec!["logs", "secret"],
        vec!["exec", "secret", "true"],
        vec!["stop", "secret"],
        vec!["rm", "-f", "secret"],
    ] {
        let mut a = vec!["--root", &r, "--runroot", &rr];
        a.extend(args);
        let out = other.cmd(&a).default_store().timeout(T).run();
        assert_ne!(out.code(), 0, "{out}");
        assert!(
            !out.stdout.contains(&id[..12]) && !out.stdout.contains("private"),
            "{out}"
        );
        assert!(
            out.stderr.to_lowercase().contains("permission denied"),
            "a permission error: {out}"
        );
    }
    assert_eq!(
        owner.status_of("secret"),
        "running",
        "still there, untouched"
    );
    owner.rm_f(&["secret"]);
}

/// An image a container was created from is not removed: `rmi` refuses with docker's
/// conflict, `rmi -f` only untags it, `image prune -a` keeps it; once the container is gone
/// the image can go.
fn images_in_use(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["create", "--name", "user1", &img, "true"]);
    let out = c.run(&["rmi", &img]);
    out.assert_code(125);
    out.assert_err_line("must force");
    c.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(
        c.ok(&["images", "-q"]).lines().len(),
        1,
        "prune -a kept the image in use"
    );
    let out = c.ok(&["rmi", "-f", &img]);
    assert!(out.stdout.contains("Untagged:"), "{out}");
    assert!(!out.stdout.contains("Deleted:"), "{out}");
    // The container still starts from its (now untagged) image.
    let out = c.ok(&["start", "-a", "user1"]);
    assert_eq!(out.code(), 0);
    c.ok(&["rm", "user1"]);
    c.ok(&["image", "prune", "-a", "-f"]);
    assert!(c.ok(&["images", "-q"]).stdout.trim().is_empty());
}
