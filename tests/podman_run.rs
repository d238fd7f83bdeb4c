//! podman's `run`/`create` flags for a container's stdio and lifetime, as a user sees them:
//! `--log-driver` and `--log-opt path=`, `--timeout`, `--preserve-fds`, and `-a/--attach`
//! (docker's too). Each case runs as root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::cove::cove_bin;
use common::ctr::wait_until;
use common::{Cove, Who};

both!(
    log_drivers,
    log_path_option,
    passthrough,
    passthrough_refusals,
    timeout,
    preserve_fds,
    attach_streams,
);

/// A shell script that runs `prelude`, then execs cove with its arguments: how a test gives
/// cove descriptors of its own choosing.
fn wrapper(c: &Cove, prelude: &str) -> PathBuf {
    let path = c.dir.join("wrap.sh");
    let script = format!(
        "#!/bin/sh\n{prelude}\nexec '{}' \"$@\"\n",
        cove_bin().display()
    );
    c.write(&path, &script);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn id_of(c: &Cove, name: &str) -> String {
    c.inspect_fmt(name, "{{.Id}}")
}

fn default_log(c: &Cove, name: &str) -> PathBuf {
    c.root
        .join("containers")
        .join(id_of(c, name))
        .join("ctr.log")
}

/// json-file (docker's default) and k8s-file (podman's name) both keep the log `logs` reads;
/// none keeps nothing and `logs` says so in docker's words; inspect shows the driver and its
/// options; an unknown driver is refused before anything is created.
fn log_drivers(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.ok(&["run", "--name", "plain", &img, "echo", "hi"]);
    assert_eq!(out.stdout, "hi\n");
    assert_eq!(
        c.inspect_fmt("plain", "{{.HostConfig.LogConfig.Type}}"),
        "json-file"
    );
    assert_eq!(c.ok(&["logs", "plain"]).stdout, "hi\n");
    let out = c.ok(&[
        "run",
        "--name",
        "k8s",
        "--log-driver",
        "k8s-file",
        "--log-opt",
        "max-size=1k",
        &img,
        "echo",
        "kept",
    ]);
    assert_eq!(out.stdout, "kept\n");
    assert_eq!(c.ok(&["logs", "k8s"]).stdout, "kept\n");
    assert_eq!(
        c.inspect_fmt("k8s", "{{.HostConfig.LogConfig.Type}}"),
        "k8s-file"
    );
    assert_eq!(
        c.inspect_fmt("k8s", "{{json .HostConfig.LogConfig.Config}}"),
        r#"{"max-size":"1k"}"#
    );
    // none: the foreground run still shows the output; nothing is written.
    let out = c.ok(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        &img,
        "echo",
        "gone",
    ]);
    assert_eq!(out.stdout, "gone\n", "{out}");
    c.run(&["logs", "quiet"])
        .assert_err_line("configured logging driver does not support reading");
    assert!(!default_log(&c, "quiet").exists(), "none wrote a log");
    assert_eq!(
        c.inspect_fmt("quiet", "{{.HostConfig.LogConfig.Type}}"),
        "none"
    );
    // Detached with none: runs and exits like any other.
    let d = c.ok(&["run", "-d", "--log-driver", "none", &img, "true"]);
    let id = d.stdout.trim().to_string();
    assert!(wait_until(Duration::from_secs(20), || c.status_of(&id) == "exited"));
    c.rm_f(&["plain", "k8s", "quiet", &id]);
    c.run(&["run", "--rm", "--log-driver", "journald", &img, "true"])
        .assert_err_line("invalid log driver \"journald\"");
    c.run(&["create", "--log-driver", "syslog", &img])
        .assert_err_line("invalid log driver");
    c.assert_no_containers();
}

/// podman's `--log-opt path=FILE`: the log goes there, `logs` reads it, inspect names it.
fn log_path_option(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let file = c.dir.join("web.log");
    let opt = format!("path={}", file.display());
    let out = c.ok(&[
        "run",
        "--name",
        "web",
        "--log-opt",
        &opt,
        &img,
        "echo",
        "to-file",
    ]);
    assert_eq!(out.stdout, "to-file\n");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("to-file"), "{text}");
    assert!(
        !default_log(&c, "web").exists(),
        "the default log was written too"
    );
    assert_eq!(c.ok(&["logs", "web"]).stdout, "to-file\n");
    assert_eq!(
        c.inspect_fmt("web", "{{.LogPath}}"),
        file.display().to_string()
    );
    assert_eq!(
        c.inspect_fmt("web", "{{index .HostConfig.LogConfig.Config \"path\"}}"),
        file.display().to_string()
    );
    c.rm_f(&["web"]);
    c.run(&["run", "--rm", "--log-opt", "path=rel.log", &img, "true"])
        .assert_err_line("log-opt path must be an absolute path");
    c.assert_no_containers();
}

/// passthrough: the container's stdio are cove's own descriptors, nothing pumped or logged.
fn passthrough(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    // The wrapper tells on stderr what its (and so cove's) stdout is.
    let wrap = wrapper(&c, "echo \"$(readlink /proc/$$/fd/1)\" >&2");
    let args = [
        "run",
        "--rm",
        "--log-driver",
        "passthrough",
        &img,
        "readlink",
        "/proc/self/fd/1",
    ];
    let out = c.cmd(&args).bin(&wrap).run();
    out.assert_ok();
    assert!(out.stderr.starts_with("pipe:["), "{out}");
    assert_eq!(
        out.stdout, out.stderr,
        "the container's stdout is cove's: {out}"
    );
    // Without passthrough the container writes to a pipe of cove's pump instead.
    let pumped = c
        .cmd(&["run", "--rm", &img, "readlink", "/proc/self/fd/1"])
        .bin(&wrap)
        .run();
    pumped.assert_ok();
    assert_ne!(pumped.stdout, pumped.stderr, "{pumped}");
    // stdin is cove's too, -i or not.
    let fed = c
        .cmd(&["run", "--rm", "--log-driver", "passthrough", &img, "cat"])
        .input("fed\n")
        .run();
    assert_eq!(fed.assert_ok().stdout, "fed\n", "{fed}");
    let out = c.ok(&[
        "run",
        "--name",
        "pt",
        "--log-driver",
        "passthrough",
        &img,
        "sh",
        "-c",
        "echo o; echo e >&2",
    ]);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("o\n", "e\n"));
    c.run(&["logs", "pt"])
        .assert_err_line("configured logging driver does not support reading");
    assert!(!default_log(&c, "pt").exists());
    // The exit code still comes through.
    let args = [
        "run",
        "--rm",
        "--log-driver",
        "passthrough",
        &img,
        "sh",
        "-c",
        "exit 7",
    ];
    c.run(&args).assert_code(7);
    c.rm_f(&["pt"]);
    c.assert_no_containers();
}

/// What passthrough cannot do, each refused in one line before a container exists (or, for
/// a created one, when something else than a foreground run would start it).
fn passthrough_refusals(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let pt = ["--log-driver", "passthrough"];
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(&pt);
        args.extend_from_slice(extra);
        args.push(&img);
        args.push("true");
        c.run(&args)
    };
    run(&["-d"]).assert_err_line("cannot be used with --detach");
    run(&["-t"]).assert_err_line("cannot be used with --tty");
    run(&["-a", "stdout"]).assert_err_line("cannot be used with --attach");
    c.assert_no_containers();
    c.ok(&[
        "create",
        "--name",
        "later",
        "--log-driver",
        "passthrough",
        &img,
        "true",
    ]);
    c.run(&["start", "later"])
        .assert_err_line("uses the passthrough log driver");
    c.rm_f(&["later"]);
    // On a terminal only passthrough-tty is allowed (a container could type into it).
    let on_tty = c
        .cmd(&[
            "run",
            "--rm",
            "--log-driver",
            "passthrough",
            &img,
            "echo",
            "x",
        ])
        .in_pty()
        .run();
    assert_eq!(on_tty.code(), 125, "{on_tty}");
    assert!(
        on_tty.stdout.contains("cannot be used on a terminal"),
        "{on_tty}"
    );
    let allowed = c
        .cmd(&[
            "run",
            "--rm",
            "--log-driver",
            "passthrough-tty",
            &img,
            "sh",
            "-c",
            "test -t 1 && echo tty",
        ])
        .in_pty()
        .run();
    allowed.assert_ok();
    assert!(allowed.stdout.contains("tty"), "{allowed}");
    c.assert_no_containers();
}

/// podman's `--timeout N`: the container is killed (SIGKILL, exit 137) after N seconds, by a
/// foreground run and by the detached monitor alike; 0 means no limit.
fn timeout(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let started = Instant::now();
    c.run(&["run", "--rm", "--timeout", "1", &img, "sleep", "30"])
        .assert_code(137);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let d = c.ok(&[
        "run",
        "-d",
        "--name",
        "bg",
        "--timeout",
        "1",
        &img,
        "sleep",
        "30",
    ]);
    assert_eq!(d.stdout.trim().len(), 64, "{d}");
    assert!(
        wait_until(Duration::from_secs(10), || c.status_of("bg") == "exited"),
        "still {} after {:?}",
        c.status_of("bg"),
        started.elapsed()
    );
    assert_eq!(c.inspect_fmt("bg", "{{.State.ExitCode}}"), "137");
    assert_eq!(c.inspect_fmt("bg", "{{.Config.Timeout}}"), "1");
    c.rm_f(&["bg"]);
    // With -i the monitor supervises (attach path): the limit holds there too.
    let out = c
        .cmd(&["run", "--rm", "-i", "--timeout", "1", &img, "sleep", "30"])
        .input("")
        .run();
    out.assert_code(137);
    c.ok(&["run", "--rm", "--timeout", "0", &img, "true"]);
    c.run(&["run", "--rm", "--timeout", "-1", &img, "true"])
        .assert_err_line("invalid argument \"-1\" for \"--timeout\" flag: strconv.ParseUint");
    c.assert_no_containers();
}

/// podman's `--preserve-fds N`: cove's descriptors 3.. reach the container at the same
/// numbers; descriptors cove was not given are refused in podman's words.
fn preserve_fds(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let fd3 = c.dir.join("fd3");
    let wrap = wrapper(&c, &format!("exec 3>'{}'", fd3.display()));
    let out = c
        .cmd(&[
            "run",
            "--rm",
            "--preserve-fds",
            "1",
            &img,
            "sh",
            "-c",
            "echo hi >&3",
        ])
        .bin(&wrap)
        .run();
    out.assert_ok();
    assert_eq!(std::fs::read_to_string(&fd3).unwrap(), "hi\n", "{out}");
    // With -i (which a monitor would otherwise supervise) the descriptor gets there too.
    let out = c
        .cmd(&[
            "run",
            "--rm",
            "-i",
            "--preserve-fds",
            "1",
            &img,
            "sh",
            "-c",
            "cat >&3",
        ])
        .bin(&wrap)
        .input("from stdin\n")
        .run();
    out.assert_ok();
    assert_eq!(
        std::fs::read_to_string(&fd3).unwrap(),
        "from stdin\n",
        "{out}"
    );
    // Without it, fd 3 is not open in the container.
    let out = c
        .cmd(&[
            "run",
            "--rm",
            &img,
            "sh",
            "-c",
            "test -e /proc/self/fd/3 && echo open || echo closed",
        ])
        .bin(&wrap)
        .run();
    assert_eq!(out.assert_ok().stdout, "closed\n", "{out}");
    c.run(&["run", "--rm", "--preserve-fds", "1", &img, "true"])
        .assert_err_line(
            "file descriptor 3 is not available - the preserve-fds option requires that file \
         descriptors must be passed",
        );
    c.cmd(&["run", "--rm", "--preserve-fds", "2", &img, "true"])
        .bin(&wrap)
        .run()
        .assert_err_line("file descriptor 4 is not available");
    c.cmd(&["run", "-d", "--preserve-fds", "1", &img, "true"])
        .bin(&wrap)
        .run()
        .assert_err_line("--preserve-fds cannot be used with --detach");
    c.assert_no_containers();
}

/// `-a/--attach`: a foreground run shows only the streams named; the log still has both;
/// `-a stdin` feeds stdin; bad values and `-a` with `-d` are refused in one line.
fn attach_streams(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let both = "echo out; echo err >&2";
    let out = c.ok(&["run", "--rm", "-a", "stderr", &img, "sh", "-c", both]);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "err\n"),
        "{out}"
    );
    let out = c.ok(&[
        "run", "--name", "att", "--attach", "STDOUT", &img, "sh", "-c", both,
    ]);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("out\n", ""),
        "{out}"
    );
    let logs = c.ok(&["logs", "att"]);
    assert_eq!(
        (logs.stdout.as_str(), logs.stderr.as_str()),
        ("out\n", "err\n")
    );
    assert_eq!(
        c.inspect_fmt("att", "{{.Config.AttachStdout}} {{.Config.AttachStderr}}"),
        "true false"
    );
    c.rm_f(&["att"]);
    let fed = c
        .cmd(&[
            "run",
            "--rm",
            "-a",
            "stdin",
            "-a",
            "stdout",
            &img,
            "sh",
            "-c",
            "cat; echo e >&2",
        ])
        .input("typed\n")
        .run();
    fed.assert_ok();
    assert_eq!(
        (fed.stdout.as_str(), fed.stderr.as_str()),
        ("typed\n", ""),
        "{fed}"
    );
    c.run(&["run", "--rm", "-a", "bogus", &img, "true"])
        .assert_err_line(
        "invalid argument \"bogus\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT \
         and STDERR",
    );
    c.run(&["run", "-d", "-a", "stdout", &img, "true"])
        .assert_err_line("conflicting options: cannot specify both --attach and --detach");
    c.assert_no_containers();
}
