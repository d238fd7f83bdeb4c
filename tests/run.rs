//! `cove run`: exit codes, the flags that shape the container's process and filesystem, `--rm`
//! leaving nothing behind, and many runs at once. Each case runs as root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::ctr::{processes_with, wait_until};
use common::{fixtures, Cove, Who};

both!(
    exit_codes,
    error_codes,
    pulls_missing_image,
    env_and_env_file,
    user_flag,
    workdir,
    bind_mount_owned_by_caller,
    userns_keep_id,
    hostname_and_add_host,
    ulimit,
    init_is_pid_1,
    network_none,
    read_only_with_tmpfs,
    stdin_with_i,
    rm_leaves_nothing,
    parallel_rm,
    name_conflict,
);

fn exit_codes(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.run(&["run", "--rm", &img, "true"]);
    out.assert_ok();
    assert_eq!(out.stdout, "");
    let out = c.run(&["run", "--rm", &img, "echo", "hello"]);
    out.assert_ok();
    assert_eq!(out.stdout, "hello\n", "{out}");
    let out = c.run(&["run", "--rm", &img, "sh", "-c", "echo err >&2; exit 3"]);
    out.assert_code(3);
    assert_eq!(
        out.stderr, "err\n",
        "the container's stderr is cove's: {out}"
    );
    c.assert_no_containers();
}

/// 125 when cove fails, 126 when the command cannot be invoked, 127 when it is not found; each
/// with one docker-like `Error:` line.
fn error_codes(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.run(&["run", "--rm", "--restart", "bogus", &img, "true"])
        .assert_err_line("restart");
    let missing = fixtures().reference("nothere:latest");
    c.run(&["run", "--rm", "--pull", "never", &missing, "true"])
        .assert_err_line("no such image");
    c.run(&["run", "--rm", "--ulimit", "nofile=abc", &img, "true"])
        .assert_err_line("ulimit|nofile");
    // Values that were accepted and then ignored: refused before anything is created.
    for (flag, value, says) in [
        (
            "--restart",
            "on-failure:",
            "maximum retry count must be an integer",
        ),
        (
            "--mount",
            "type=bind,src=/tmp,dst=/x,ro=maybe",
            "invalid value for ro: maybe",
        ),
        (
            "--mount",
            "type=bind,src=/tmp,dst=/x,bind-propagation=zz",
            "propagation mode: zz",
        ),
        ("-v", "/tmp:/proc", "located inside \"/proc\""),
    ] {
        c.run(&["run", "--rm", flag, value, &img, "true"])
            .assert_err_line(says);
    }
    c.assert_no_containers();
    let one_line = |code: i32, args: &[&str], fragment: &str| {
        let out = c.run(args);
        out.assert_code(code);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("Error: ") && lines[0].contains(fragment),
            "expected one `Error: ...{fragment}...` line: {out}"
        );
    };
    one_line(126, &["run", "--rm", &img, "/etc"], "permission denied");
    one_line(127, &["run", "--rm", &img, "nosuch"], "not found");
    one_line(127, &["run", "--rm", &img, "/bin/nosuch"], "no such file");
    // A failed start must not leave the container behind with --rm.
    c.assert_no_containers();
}

/// `run` pulls an image it does not have, printing docker's pull progress on stderr.
fn pulls_missing_image(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    c.registries_conf(&format!(
        "[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
        f.registry
    ));
    let img = f.reference("busybox:latest");
    let out = c.run(&["run", "--rm", &img, "echo", "pulled"]);
    out.assert_ok();
    assert_eq!(out.stdout, "pulled\n", "{out}");
    assert!(
        out.stderr.contains("Unable to find image") && out.stderr.contains("Pull complete"),
        "docker prints `Unable to find image '...' locally` and the pull on stderr: {out}"
    );
    let again = c.run(&["run", "--rm", &img, "true"]);
    again.assert_ok();
    assert_eq!(again.stderr, "", "no pull the second time: {again}");
}

fn env_and_env_file(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let file = c.write(
        &c.dir.join("env.list"),
        "# a comment\n\nB=2\nSPACED=x y\nFROM_HOST\n",
    );
    let out = c
        .cmd(&[
            "run",
            "--rm",
            "-e",
            "A=1",
            "-e",
            "B=overridden-by-file?",
            "--env-file",
            file.to_str().unwrap(),
            "-e",
            "C=3",
            &img,
            "env",
        ])
        .env("FROM_HOST", "hostval")
        .run();
    out.assert_ok();
    let env: Vec<&str> = out.lines();
    for want in [
        "A=1",
        "C=3",
        "SPACED=x y",
        "FROM_HOST=hostval",
        "HOME=/root",
    ] {
        assert!(env.contains(&want), "{want} missing: {out}");
    }
    assert!(env.iter().any(|l| l.starts_with("PATH=")), "{out}");
    assert!(env.iter().any(|l| l.starts_with("HOSTNAME=")), "{out}");
    // docker: -e on the command line wins over --env-file.
    assert!(env.contains(&"B=overridden-by-file?"), "{out}");
    assert!(!env.iter().any(|l| l.starts_with('#')), "{out}");
    let bad = c.run(&[
        "run",
        "--rm",
        "--env-file",
        "/nonexistent/env",
        &img,
        "true",
    ]);
    bad.assert_err_line("/nonexistent/env");
    // Bounded and regular: /dev/zero once grew cove to gigabytes.
    c.run(&["run", "--rm", "--env-file", "/dev/zero", &img, "true"])
        .assert_err_line("/dev/zero: not a regular file");
    let huge = c.write(&c.dir.join("huge.env"), &"X=1\n".repeat(1_300_000));
    c.run(&[
        "run",
        "--rm",
        "--env-file",
        huge.to_str().unwrap(),
        &img,
        "true",
    ])
    .assert_err_line("larger than 4 MiB");
    // 50,000 lines are read and all reach the container (the merge is linear: container::env).
    let lines: String = (0..50_000).map(|i| format!("V{i}={i}\n")).collect();
    let many = c.write(&c.dir.join("many.env"), &lines);
    let out = c.ok(&[
        "run",
        "--rm",
        "--env-file",
        many.to_str().unwrap(),
        &img,
        "sh",
        "-c",
        "echo $V49999",
    ]);
    assert_eq!(out.stdout, "49999\n");
}

fn user_flag(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.ok(&["run", "--rm", "-u", "500", &img, "id", "-u"]);
    assert_eq!(out.stdout, "500\n");
    let out = c.ok(&["run", "--rm", "-u", "500", &img, "id"]);
    assert!(
        out.stdout.starts_with("uid=500(user) gid=500(user)"),
        "the group comes from /etc/passwd: {out}"
    );
    let out = c.ok(&["run", "--rm", "-u", "500:500", &img, "id"]);
    assert!(
        out.stdout.starts_with("uid=500(user) gid=500(user)"),
        "{out}"
    );
    let out = c.ok(&[
        "run",
        "--rm",
        "-u",
        "user",
        &img,
        "sh",
        "-c",
        "id; echo $HOME",
    ]);
    let lines = out.lines();
    assert!(lines[0].starts_with("uid=500(user) gid=500(user)"), "{out}");
    assert_eq!(lines[1], "/home/user", "HOME comes from /etc/passwd: {out}");
    let out = c.ok(&["run", "--rm", "-u", "0:500", &img, "id", "-g"]);
    assert_eq!(out.stdout, "500\n");
    let out = c.ok(&["run", "--rm", "-u", "1234:4321", &img, "id"]);
    assert!(out.stdout.starts_with("uid=1234 gid=4321"), "{out}");
    let bad = c.run(&["run", "--rm", "-u", "nobody-here", &img, "true"]);
    assert!(
        bad.code() == 125 || bad.code() == 126,
        "an unknown user name is an error: {bad}"
    );
    assert!(bad.stderr.contains("nobody-here"), "{bad}");
    // -1 as a u32 would leave the id unchanged (root): refused, never run.
    for user in ["4294967295", "0:4294967295", "2147483648"] {
        c.run(&["run", "--rm", "-u", user, &img, "id"])
            .assert_err_line("uids and gids must be in range 0-2147483647");
    }
    c.ok(&["run", "-d", "--name", "idrange", &img, "sleep", "60"]);
    c.run(&["exec", "-u", "4294967295", "idrange", "id"])
        .assert_err_line("uids and gids must be in range 0-2147483647");
    c.ok(&["rm", "-f", "idrange"]);
}

fn workdir(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    assert_eq!(
        c.ok(&["run", "--rm", "-w", "/tmp", &img, "pwd"]).stdout,
        "/tmp\n"
    );
    assert_eq!(c.ok(&["run", "--rm", &img, "pwd"]).stdout, "/\n");
    // docker creates a missing working directory.
    let out = c.ok(&["run", "--rm", "-w", "/new/dir", &img, "pwd"]);
    assert_eq!(out.stdout, "/new/dir\n");
}

/// A bind mount of a host dir: what container root writes belongs to the caller on the host
/// (rootless: container root is the caller), `:ro` refuses writes.
fn bind_mount_owned_by_caller(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let seed = c.write(&c.dir.join("bind/seed.txt"), "seed\n");
    let dir = seed.parent().unwrap().to_path_buf();
    let spec = format!("{}:/data", dir.display());
    let out = c.ok(&[
        "run",
        "--rm",
        "-v",
        &spec,
        &img,
        "sh",
        "-c",
        "cat /data/seed.txt; echo new > /data/new.txt; stat -c '%u %g' /data/seed.txt",
    ]);
    assert_eq!(
        out.stdout, "seed\n0 0\n",
        "the caller's file is root's inside: {out}"
    );
    let meta = std::fs::metadata(dir.join("new.txt")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (c.uid, c.gid),
        "a file written by container root belongs to the caller"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("new.txt")).unwrap(),
        "new\n"
    );

    let ro = format!("{}:/data:ro", dir.display());
    let out = c.run(&["run", "--rm", "-v", &ro, &img, "touch", "/data/x"]);
    out.assert_code(1);
    assert!(out.stderr.contains("Read-only file system"), "{out}");
    assert!(!dir.join("x").exists());

    let mount = format!("type=bind,source={},target=/m,readonly", dir.display());
    let out = c.run(&[
        "run",
        "--rm",
        "--mount",
        &mount,
        &img,
        "sh",
        "-c",
        "cat /m/seed.txt; touch /m/y",
    ]);
    assert_eq!(out.stdout, "seed\n", "{out}");
    out.assert_code(1);

    // docker: --mount (unlike -v, which creates it) refuses a missing source.
    let missing = c.run(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,source=/nonexistent/dir,target=/x",
        &img,
        "true",
    ]);
    missing.assert_err_line("/nonexistent/dir");
}

fn hostname_and_add_host(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.ok(&[
        "run",
        "--rm",
        "--hostname",
        "h1",
        "--add-host",
        "foo:1.2.3.4",
        &img,
        "sh",
        "-c",
        "hostname; cat /etc/hostname; cat /etc/hosts",
    ]);
    let lines = out.lines();
    assert_eq!(&lines[..2], ["h1", "h1"], "{out}");
    assert!(
        lines.iter().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first() == Some(&"1.2.3.4") && f.contains(&"foo")
        }),
        "--add-host goes to /etc/hosts: {out}"
    );
    assert!(lines.iter().any(|l| l.contains("localhost")), "{out}");
    // Without --hostname, the hostname is the short ID (docker's default).
    let out = c.ok(&["run", "-d", &img, "sleep", "30"]);
    let id = out.stdout.trim().to_string();
    let h = c.ok(&["exec", &id, "hostname"]);
    assert_eq!(h.stdout.trim(), &id[..12]);
    c.rm_f(&[&id]);
}

fn ulimit(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=100:200",
        &img,
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn",
    ]);
    assert_eq!(out.stdout, "100\n200\n");
}

/// `--init`: a built-in pid 1 runs the command as its child (and reaps).
fn init_is_pid_1(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let plain = c.ok(&["run", "--rm", &img, "sh", "-c", "echo $$"]);
    assert_eq!(plain.stdout, "1\n", "without --init the command is pid 1");
    let out = c.ok(&[
        "run",
        "--rm",
        "--init",
        &img,
        "sh",
        "-c",
        "echo $$; tr '\\0' ' ' < /proc/1/cmdline; echo",
    ]);
    let lines = out.lines();
    assert_ne!(lines[0], "1", "with --init the command is not pid 1: {out}");
    assert!(
        !lines.get(1).unwrap_or(&"").starts_with("sh -c"),
        "pid 1 is not the command: {out}"
    );
    // The init passes on the command's exit code and reaps orphans.
    let out = c.run(&[
        "run",
        "--rm",
        "--init",
        &img,
        "sh",
        "-c",
        "(sleep 0.2 &) ; exit 5",
    ]);
    out.assert_code(5);
}

fn network_none(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &img,
        "cat",
        "/proc/net/dev",
    ]);
    let ifaces: Vec<&str> = out
        .lines()
        .iter()
        .filter_map(|l| l.split_once(':').map(|(i, _)| i.trim()))
        .filter(|i| !i.contains('|'))
        .collect();
    assert_eq!(ifaces, ["lo"], "{out}");
    let bad = c.run(&["run", "--rm", "--network", "bogus-net", &img, "true"]);
    bad.assert_err_line("bogus-net");
}

fn read_only_with_tmpfs(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.run(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/scratch",
        &img,
        "sh",
        "-c",
        "touch /scratch/ok && echo tmpfs-ok; touch /x",
    ]);
    out.assert_code(1);
    assert_eq!(out.stdout, "tmpfs-ok\n", "{out}");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
    let out = c.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/tmp",
        &img,
        "grep",
        " /tmp ",
        "/proc/mounts",
    ]);
    assert!(out.stdout.starts_with("tmpfs /tmp tmpfs"), "{out}");
}

fn stdin_with_i(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c
        .cmd(&["run", "--rm", "-i", &img, "sh", "-c", "cat; echo done"])
        .input("line one\nline two\n")
        .timeout(Duration::from_secs(30))
        .run();
    out.assert_ok();
    assert_eq!(out.stdout, "line one\nline two\ndone\n");
    // Without -i the container's stdin is empty.
    let out = c
        .cmd(&["run", "--rm", &img, "sh", "-c", "cat; echo done"])
        .input("ignored\n")
        .timeout(Duration::from_secs(30))
        .run();
    out.assert_ok();
    assert_eq!(out.stdout, "done\n");
}

/// `--rm` leaves nothing: no record, no upper dir, no run state, no process.
fn rm_leaves_nothing(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "--rm",
        "--name",
        "gone",
        &img,
        "sh",
        "-c",
        "echo x > /f",
    ]);
    c.assert_no_containers();
    let failed = c.run(&["run", "--rm", &img, "sh", "-c", "exit 9"]);
    failed.assert_code(9);
    c.assert_no_containers();

    let out = c.ok(&["run", "-d", "--rm", &img, "sleep", "0.5"]);
    let id = out.stdout.trim().to_string();
    assert_eq!(id.len(), 64, "{out}");
    assert!(
        wait_until(Duration::from_secs(15), || c
            .ok(&["ps", "-a", "-q"])
            .stdout
            .trim()
            .is_empty()),
        "a detached --rm container is removed once it exits"
    );
    assert!(
        wait_until(Duration::from_secs(5), || processes_with(&id).is_empty()),
        "processes left: {:?}",
        processes_with(&id)
    );
    c.assert_no_containers();
}

fn parallel_rm(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let runs: Vec<_> = (0..20)
        .map(|_| {
            c.cmd(&["run", "--rm", &img, "true"])
                .timeout(Duration::from_secs(120))
                .spawn()
        })
        .collect();
    let outs: Vec<_> = runs.into_iter().map(|r| r.wait()).collect();
    for out in &outs {
        out.assert_ok();
        assert_eq!(out.stderr, "", "{out}");
    }
    c.assert_no_containers();
}

fn name_conflict(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["run", "--name", "taken", &img, "true"]);
    let out = c.run(&["run", "--name", "taken", &img, "true"]);
    out.assert_err_line("already in use");
    let out = c.run(&["create", "--name", "taken", &img, "true"]);
    out.assert_err_line("already in use");
    assert_eq!(c.ok(&["ps", "-a", "-q"]).lines().len(), 1);
    let out = c.run(&["run", "--rm", "--name", "bad/name", &img, "true"]);
    out.assert_err_line("invalid container name");
    c.rm_f(&["taken"]);
    c.assert_no_containers();
}

/// `--userns keep-id` (podman's): the caller's uid and gid inside, so files written to a bind
/// mount are the caller's; refused as root, where it means nothing.
fn userns_keep_id(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let seed = c.write(&c.dir.join("kid/seed.txt"), "seed\n");
    let dir = seed.parent().unwrap().to_path_buf();
    let spec = format!("{}:/data", dir.display());
    if who == Who::Root {
        let out = c.run(&["run", "--rm", "--userns", "keep-id", &img, "true"]);
        out.assert_err_line("keep-id");
        c.assert_no_containers();
        return;
    }
    let out = c.ok(&[
        "run",
        "--rm",
        "--userns",
        "keep-id",
        "-v",
        &spec,
        &img,
        "sh",
        "-c",
        "id -u; id -g; stat -c '%u' /data/seed.txt; echo k > /data/kept.txt",
    ]);
    assert_eq!(
        out.lines(),
        [c.uid.to_string(), c.gid.to_string(), c.uid.to_string()],
        "the caller's ids inside, and its files shown as its own: {out}"
    );
    let meta = std::fs::metadata(dir.join("kept.txt")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (c.uid, c.gid));
    let out = c.ok(&[
        "run", "--rm", "--userns", "keep-id", "-u", "0", &img, "id", "-u",
    ]);
    assert_eq!(out.stdout, "0\n", "-u still wins: {out}");
    // The image's own files keep the owners they have without keep-id: its root's are root's
    // (through fuse-overlayfs's id mappings).
    let out = c.ok(&[
        "run", "--rm", "--userns", "keep-id", &img, "stat", "-c", "%u:%g", "/bin", "/bin/sh",
    ]);
    assert_eq!(out.stdout, "0:0\n0:0\n", "image root shows as root: {out}");
    // What the container writes in its own root file system stays writable across starts.
    c.ok(&[
        "create",
        "--name",
        "kid",
        "--userns",
        "keep-id",
        &img,
        "sh",
        "-c",
        "echo x >> /tmp/f && wc -l < /tmp/f",
    ]);
    assert_eq!(c.ok(&["start", "-a", "kid"]).stdout.trim(), "1");
    assert_eq!(c.ok(&["start", "-a", "kid"]).stdout.trim(), "2");
    c.ok(&["rm", "kid"]);
}
