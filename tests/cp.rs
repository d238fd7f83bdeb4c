//! `cp` (both directions, and tar streams with `-`), `export`, `port` and `--device`: what a
//! user sees, as root and rootless. Container paths resolve inside the container, never on the
//! host, even through a symlink the container made.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::io::Read;

use common::{Cove, Who};

both!(
    cp_both_ways_running,
    cp_stopped_and_streams,
    cp_symlink_stays_inside,
    export_rootfs,
    port_and_device,
);

fn tar_names(data: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

fn cp_both_ways_running(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["run", "-d", "--name", "cpr", &img, "sleep", "100"]);
    let host_file = c.home.join("in.txt");
    std::fs::write(&host_file, "from the host\n").unwrap();
    if let Some(u) = &c.user {
        std::os::unix::fs::chown(&host_file, Some(u.uid), Some(u.gid)).unwrap();
    }
    c.ok(&["cp", host_file.to_str().unwrap(), "cpr:/tmp/"]);
    let out = c.ok(&["exec", "cpr", "cat", "/tmp/in.txt"]);
    assert_eq!(out.stdout, "from the host\n");
    // Into a new name, and back out to a new host name.
    c.ok(&["cp", host_file.to_str().unwrap(), "cpr:/tmp/renamed"]);
    c.ok(&[
        "exec",
        "cpr",
        "sh",
        "-c",
        "mkdir -p /d/e && echo deep > /d/e/f",
    ]);
    let back = c.home.join("back");
    c.ok(&["cp", "cpr:/d", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(back.join("e/f")).unwrap(), "deep\n");
    let renamed = c.home.join("renamed.txt");
    c.ok(&["cp", "cpr:/tmp/renamed", renamed.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&renamed).unwrap(),
        "from the host\n"
    );
    let out = c.run(&["cp", "cpr:/nonexistent", c.home.to_str().unwrap()]);
    out.assert_code(125);
    out.assert_err_line("nonexistent");
    c.rm_f(&["cpr"]);
}

fn cp_stopped_and_streams(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "--name",
        "cps",
        &img,
        "sh",
        "-c",
        "echo kept > /kept",
    ]);
    // A stopped container: its layers are mounted for this command alone.
    let out = c.ok(&["cp", "cps:/kept", "-"]);
    let names = tar_names(out.stdout.as_bytes());
    assert_eq!(names, ["kept"], "{out}");
    let mut a = tar::Archive::new(out.stdout.as_bytes());
    let mut e = a.entries().unwrap().next().unwrap().unwrap();
    let mut text = String::new();
    e.read_to_string(&mut text).unwrap();
    assert_eq!(text, "kept\n");
    // A tar on stdin lands in a container directory.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "streamed.txt", &b"piped\n"[..])
        .unwrap();
    let data = String::from_utf8(b.into_inner().unwrap()).unwrap();
    c.cmd(&["cp", "-", "cps:/tmp"])
        .input(&data)
        .run()
        .assert_ok();
    // A garbage tar whose bytes include terminal escapes: one line, nothing raw echoed.
    let mut garbage = "\x1b[2J\x1b]0;owned\x07".repeat(40);
    garbage.push_str(&"x".repeat(600));
    let bad = c.cmd(&["cp", "-", "cps:/tmp"]).input(&garbage).run();
    bad.assert_err_line("");
    assert!(
        !bad.stderr.contains('\x1b') && !bad.stderr.contains('\x07'),
        "{bad}"
    );
    c.ok(&["start", "cps"]);
    let out = c.ok(&["cp", "cps:/tmp/streamed.txt", "-"]);
    assert_eq!(tar_names(out.stdout.as_bytes()), ["streamed.txt"]);
    c.rm_f(&["cps"]);
}

/// A symlink made inside the container that points at /etc resolves to the container's /etc,
/// in both directions: nothing of the host is read or written.
fn cp_symlink_stays_inside(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "cpl",
        &img,
        "sh",
        "-c",
        "ln -s /etc /escape; echo inside > /etc/marker; sleep 100",
    ]);
    common::ctr::wait_until(std::time::Duration::from_secs(10), || {
        c.run(&["exec", "cpl", "cat", "/etc/marker"]).code() == 0
    });
    let out = c.ok(&["cp", "cpl:/escape/marker", "-"]);
    let mut a = tar::Archive::new(out.stdout.as_bytes());
    let mut e = a.entries().unwrap().next().unwrap().unwrap();
    let mut text = String::new();
    e.read_to_string(&mut text).unwrap();
    assert_eq!(text, "inside\n");
    // The host's /etc/hostname is not what comes out of the container's.
    let out = c.ok(&["cp", "cpl:/escape/passwd", "-"]);
    let mut a = tar::Archive::new(out.stdout.as_bytes());
    let mut e = a.entries().unwrap().next().unwrap().unwrap();
    let mut text = String::new();
    e.read_to_string(&mut text).unwrap();
    assert_ne!(text, std::fs::read_to_string("/etc/passwd").unwrap());
    // Writing through the symlink lands in the container too.
    let f = c.home.join("through.txt");
    std::fs::write(&f, "x\n").unwrap();
    if let Some(u) = &c.user {
        std::os::unix::fs::chown(&f, Some(u.uid), Some(u.gid)).unwrap();
    }
    c.ok(&["cp", f.to_str().unwrap(), "cpl:/escape/"]);
    assert!(!std::path::Path::new("/etc/through.txt").exists());
    assert_eq!(
        c.ok(&["exec", "cpl", "cat", "/etc/through.txt"]).stdout,
        "x\n"
    );
    c.rm_f(&["cpl"]);
}

fn export_rootfs(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "exp",
        &img,
        "sh",
        "-c",
        "echo new > /newfile; sleep 100",
    ]);
    common::ctr::wait_until(std::time::Duration::from_secs(10), || {
        c.run(&["exec", "exp", "cat", "/newfile"]).code() == 0
    });
    let tarball = c.home.join("exp.tar");
    c.ok(&["export", "-o", tarball.to_str().unwrap(), "exp"]);
    let data = std::fs::read(&tarball).unwrap();
    let names = tar_names(&data);
    let has = |n: &str| names.iter().any(|x| x.trim_start_matches("./") == n);
    assert!(has("bin/busybox"), "{names:?}");
    assert!(has("newfile"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|x| x.trim_start_matches("./").starts_with("proc/")),
        "mounts exported: {names:?}"
    );
    c.rm_f(&["exp"]);
}

fn port_and_device(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "pd",
        "--device",
        "/dev/null:/dev/mynull",
        &img,
        "sleep",
        "100",
    ]);
    let out = c.ok(&["port", "pd"]);
    assert_eq!(out.stdout, "");
    let out = c.run(&["port", "pd", "80"]);
    out.assert_code(125);
    out.assert_err_line("No public port");
    let out = c.ok(&[
        "exec",
        "pd",
        "sh",
        "-c",
        "echo gone > /dev/mynull && echo ok",
    ]);
    assert_eq!(out.stdout, "ok\n");
    c.rm_f(&["pd"]);
}
