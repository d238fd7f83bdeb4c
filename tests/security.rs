//! Confinement: capabilities, seccomp, no_new_privs, masked and read-only kernel paths, and the
//! two runtime escapes every engine must close: overwriting the host binary through
//! /proc/PID/exe (CVE-2019-5736) and inheriting a host fd or working directory
//! (CVE-2024-21626). Root and rootless.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

use common::cove::cove_bin;
use common::ctr::{cap_mask, status_field, wait_until};
use common::{sha256_hex, Cove, Who};

both!(
    default_capabilities,
    cap_drop_and_add,
    seccomp_profile,
    no_new_privileges,
    masked_and_read_only_paths,
    cve_2019_5736_proc_exe,
    cve_2019_5736_during_exec,
    cve_2024_21626_fds_and_cwd,
    cve_2024_21626_workdir_through_proc,
    store_is_private,
);

/// Other local users cannot read the store or the run state: both roots are 0700, and an older
/// store left at 0755 is tightened by the next command.
fn store_is_private(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for dir in [&c.root, &c.runroot] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    c.ok(&["run", "--rm", &img, "true"]);
    assert_eq!(mode(&c.root), 0o700, "store root");
    assert_eq!(mode(&c.runroot), 0o700, "run root");
    // A fresh store is made private too.
    let fresh = c.dir.join("fresh");
    let runroot = c.runroot.to_str().unwrap();
    let out = c
        .cmd(&[
            "--root",
            fresh.to_str().unwrap(),
            "--runroot",
            runroot,
            "images",
            "-q",
        ])
        .default_store()
        .run();
    out.assert_ok();
    assert_eq!(mode(&fresh), 0o700, "new store root: {out}");
}

const T: Duration = Duration::from_secs(30);
/// docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
/// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
const DOCKER_DEFAULT_CAPS: u64 = 0xa80425fb;
const NET_RAW: u64 = 1 << 13;
const SYS_ADMIN: u64 = 1 << 21;

fn status(c: &Cove, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["cat", "/proc/self/status"]);
    c.ok(&a).stdout
}

fn default_capabilities(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let s = status(&c, &[&img]);
    assert_eq!(cap_mask(&s, "CapEff"), DOCKER_DEFAULT_CAPS, "{s}");
    assert_eq!(cap_mask(&s, "CapPrm"), DOCKER_DEFAULT_CAPS, "{s}");
    assert_eq!(cap_mask(&s, "CapBnd"), DOCKER_DEFAULT_CAPS, "{s}");
    // docker >= 20.10.14 (CVE-2022-24769): nothing inheritable, nothing ambient.
    assert_eq!(cap_mask(&s, "CapInh"), 0, "{s}");
    assert_eq!(cap_mask(&s, "CapAmb"), 0, "{s}");
    // A non-root user gets no effective capabilities; the bounding set stays.
    let s = status(&c, &["-u", "500", &img]);
    assert_eq!(cap_mask(&s, "CapEff"), 0, "{s}");
    assert_eq!(cap_mask(&s, "CapBnd"), DOCKER_DEFAULT_CAPS, "{s}");
    // exec gets the same set as the container.
    let id = c
        .ok(&["run", "-d", &img, "sleep", "60"])
        .stdout
        .trim()
        .to_string();
    let e = c.ok(&["exec", &id, "cat", "/proc/self/status"]).stdout;
    assert_eq!(cap_mask(&e, "CapEff"), DOCKER_DEFAULT_CAPS, "{e}");
    assert_eq!(cap_mask(&e, "CapInh"), 0, "exec: {e}");
    assert_eq!(cap_mask(&e, "CapAmb"), 0, "exec: {e}");
    let e = c
        .ok(&["exec", "-u", "500", &id, "cat", "/proc/self/status"])
        .stdout;
    assert_eq!(cap_mask(&e, "CapEff"), 0, "exec -u 500: {e}");
    c.rm_f(&[&id]);
}

fn cap_drop_and_add(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let s = status(&c, &["--cap-drop", "NET_RAW", &img]);
    assert_eq!(cap_mask(&s, "CapEff") & NET_RAW, 0, "{s}");
    assert_eq!(
        cap_mask(&s, "CapEff"),
        DOCKER_DEFAULT_CAPS & !NET_RAW,
        "{s}"
    );
    let s = status(&c, &["--cap-drop", "net_raw", &img]);
    assert_eq!(
        cap_mask(&s, "CapEff"),
        DOCKER_DEFAULT_CAPS & !NET_RAW,
        "lower case, {s}"
    );
    let s = status(&c, &["--cap-drop", "CAP_NET_RAW", &img]);
    assert_eq!(
        cap_mask(&s, "CapEff"),
        DOCKER_DEFAULT_CAPS & !NET_RAW,
        "CAP_ prefix, {s}"
    );
    let s = status(&c, &["--cap-drop", "ALL", &img]);
    for f in ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"] {
        assert_eq!(cap_mask(&s, f), 0, "{f} with --cap-drop ALL: {s}");
    }
    let s = status(&c, &["--cap-drop", "ALL", "--cap-add", "NET_RAW", &img]);
    assert_eq!(cap_mask(&s, "CapEff"), NET_RAW, "{s}");
    let s = status(&c, &["--cap-add", "SYS_ADMIN", &img]);
    assert_eq!(
        cap_mask(&s, "CapEff"),
        DOCKER_DEFAULT_CAPS | SYS_ADMIN,
        "{s}"
    );
    // --privileged: every capability the caller holds (all of them, rootless, inside its own
    // user namespace); a capability the host lacks is left out, not an error.
    let host = std::fs::read_to_string("/proc/self/status").unwrap();
    let host_bnd = cap_mask(&host, "CapBnd");
    let s = status(&c, &["--privileged", &img]);
    let eff = cap_mask(&s, "CapEff");
    assert_eq!(
        eff & host_bnd,
        host_bnd,
        "--privileged: every capability: {s}"
    );
    assert_eq!(eff, cap_mask(&s, "CapBnd"), "{s}");
    let out = c.run(&["run", "--rm", "--cap-add", "BOGUS", &img, "true"]);
    out.assert_err_line("bogus");
}

fn seccomp_profile(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let s = status(&c, &[&img]);
    assert_eq!(
        status_field(&s, "Seccomp"),
        Some("2"),
        "a filter by default: {s}"
    );
    c.ok(&["run", "--rm", &img, "mkdir", "/x"]);

    let profile = c.write(
        &c.dir.join("no-mkdir.json"),
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }
  ]
}"#,
    );
    let opt = format!("seccomp={}", profile.display());
    let out = c.run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        &img,
        "sh",
        "-c",
        "echo before; mkdir /x",
    ]);
    out.assert_code(1);
    assert_eq!(out.stdout, "before\n", "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    let old = format!("seccomp:{}", profile.display());
    let out = c.run(&["run", "--rm", "--security-opt", &old, &img, "mkdir", "/x"]);
    out.assert_code(1);

    // The container's profile binds exec too.
    let id = c
        .ok(&["run", "-d", "--security-opt", &opt, &img, "sleep", "60"])
        .stdout
        .trim()
        .to_string();
    c.run(&["exec", &id, "mkdir", "/y"]).assert_code(1);
    c.rm_f(&[&id]);

    let s = status(&c, &["--security-opt", "seccomp=unconfined", &img]);
    assert_eq!(status_field(&s, "Seccomp"), Some("0"), "{s}");
    c.run(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=/nonexistent.json",
        &img,
        "true",
    ])
    .assert_err_line("/nonexistent.json");
    let bad = c.write(&c.dir.join("bad.json"), "{ not json");
    let opt = format!("seccomp={}", bad.display());
    c.run(&["run", "--rm", "--security-opt", &opt, &img, "true"])
        .assert_err_line("seccomp");
}

fn no_new_privileges(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let s = status(&c, &[&img]);
    assert_eq!(status_field(&s, "NoNewPrivs"), Some("0"), "{s}");
    let s = status(&c, &["--security-opt", "no-new-privileges", &img]);
    assert_eq!(status_field(&s, "NoNewPrivs"), Some("1"), "{s}");
    let s = status(&c, &["--security-opt", "no-new-privileges:true", &img]);
    assert_eq!(status_field(&s, "NoNewPrivs"), Some("1"), "{s}");
    let id = c
        .ok(&[
            "run",
            "-d",
            "--security-opt",
            "no-new-privileges",
            &img,
            "sleep",
            "60",
        ])
        .stdout
        .trim()
        .to_string();
    let e = c.ok(&["exec", &id, "cat", "/proc/self/status"]).stdout;
    assert_eq!(status_field(&e, "NoNewPrivs"), Some("1"), "exec too: {e}");
    c.rm_f(&[&id]);
    c.run(&["run", "--rm", "--security-opt", "bogus-opt", &img, "true"])
        .assert_err_line("bogus-opt");
}

/// docker masks /proc/kcore and friends and mounts /proc/sys, /proc/sysrq-trigger and /sys
/// read-only.
fn masked_and_read_only_paths(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let out = c.run(&["run", "--rm", &img, "sh", "-c", "cat /proc/kcore | wc -c"]);
    assert_eq!(out.stdout.trim(), "0", "/proc/kcore is masked: {out}");
    let out = c.run(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo h > /proc/sysrq-trigger",
    ]);
    assert_ne!(out.code(), 0, "/proc/sysrq-trigger is read-only: {out}");
    let out = c.run(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo h1 > /proc/sys/kernel/hostname",
    ]);
    assert_ne!(out.code(), 0, "/proc/sys is read-only: {out}");
    let mounts = c.ok(&["run", "--rm", &img, "cat", "/proc/mounts"]);
    let sys = mounts
        .lines()
        .into_iter()
        .find(|l| l.split(' ').nth(1) == Some("/sys"))
        .unwrap_or_else(|| panic!("no /sys mount: {mounts}"));
    let opts = sys.split(' ').nth(3).unwrap_or("");
    assert!(
        opts.split(',').any(|o| o == "ro"),
        "/sys is read-only: {sys}"
    );
    let fw = c.ok(&["run", "--rm", &img, "ls", "/sys/firmware"]);
    assert_eq!(fw.stdout, "", "/sys/firmware is masked: {fw}");
}

/// A copy of the binary under test owned by the test's user: the container's root (the caller,
/// rootless) could overwrite it if it were reachable. Returns it and its sha256.
fn private_binary(c: &Cove) -> (PathBuf, String) {
    let dir = c.dir.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    chown(&dir, Some(c.uid), Some(c.gid)).unwrap();
    let bin = dir.join("cove");
    std::fs::copy(cove_bin(), &bin).unwrap();
    chown(&bin, Some(c.uid), Some(c.gid)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let hash = sha256_hex(&std::fs::read(&bin).unwrap());
    (bin, hash)
}

/// Reads and appends to /proc/PID/exe of every other process the container sees; prints LEAK
/// when one of them reads as the host binary (hash in $H), WROTE when a write got through.
const PROBE: &str = r#"for p in /proc/[0-9]*; do
  n=${p#/proc/}; [ "$n" = "$$" ] && continue
  h=$(cat $p/exe 2>/dev/null | sha256sum | cut -d' ' -f1)
  [ "$h" = "$H" ] && echo "LEAK $n"
  (echo x >> $p/exe) 2>/dev/null && echo "WROTE $n"
done; echo probed"#;

/// CVE-2019-5736: with `--init` cove's own code is pid 1 in the container; neither it nor any
/// other process lets the container read or write the host binary through /proc/PID/exe.
fn cve_2019_5736_proc_exe(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let (bin, hash) = private_binary(&c);
    let h = format!("H={hash}");
    let out = c
        .cmd(&["run", "--rm", "--init", "-e", &h, &img, "sh", "-c", PROBE])
        .bin(&bin)
        .timeout(T)
        .run();
    out.assert_ok();
    assert_eq!(
        out.stdout, "probed\n",
        "the host binary was reachable: {out}"
    );

    let id = c
        .cmd(&["run", "-d", "--init", "-e", &h, &img, "sleep", "100"])
        .bin(&bin)
        .run();
    id.assert_ok();
    let id = id.stdout.trim().to_string();
    let out = c
        .cmd(&["exec", &id, "sh", "-c", PROBE])
        .bin(&bin)
        .timeout(T)
        .run();
    out.assert_ok();
    assert_eq!(
        out.stdout, "probed\n",
        "the host binary was reachable from exec: {out}"
    );
    c.rm_f(&[&id]);
    assert_eq!(
        sha256_hex(&std::fs::read(&bin).unwrap()),
        hash,
        "the host binary changed"
    );
}

/// CVE-2019-5736, the race: while a container keeps probing every process it sees, `exec`
/// enters it twenty times (each exec is cove until it becomes the command).
fn cve_2019_5736_during_exec(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let (bin, hash) = private_binary(&c);
    let h = format!("H={hash}");
    let looper = format!(
        "while [ ! -e /tmp/stop ]; do {} ; done >> /tmp/probe.log 2>&1; echo stopped > /tmp/stopped; sleep 100",
        PROBE.replace("echo probed", "true")
    );
    let out = c
        .cmd(&[
            "run", "-d", "--name", "prober", "-e", &h, &img, "sh", "-c", &looper,
        ])
        .bin(&bin)
        .run();
    out.assert_ok();
    for _ in 0..20 {
        c.cmd(&["exec", "prober", "true"])
            .bin(&bin)
            .timeout(T)
            .run()
            .assert_ok();
    }
    c.cmd(&["exec", "prober", "touch", "/tmp/stop"])
        .bin(&bin)
        .run()
        .assert_ok();
    assert!(wait_until(T, || c
        .cmd(&["exec", "prober", "test", "-e", "/tmp/stopped"])
        .bin(&bin)
        .run()
        .code()
        == 0));
    let log = c
        .cmd(&["exec", "prober", "cat", "/tmp/probe.log"])
        .bin(&bin)
        .run();
    log.assert_ok();
    assert_eq!(log.stdout, "", "a probe reached the host binary: {log}");
    c.rm_f(&["prober"]);
    assert_eq!(
        sha256_hex(&std::fs::read(&bin).unwrap()),
        hash,
        "the host binary changed"
    );
}

/// The fds a process inside sees, as a set of numbers (`ls` adds its own directory fd).
fn fd_set(listing: &str) -> BTreeSet<u32> {
    listing
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// CVE-2024-21626: no host fd beyond stdio reaches the container, and the working directory
/// is inside it, for `run`, `run -d` and `exec`.
fn cve_2024_21626_fds_and_cwd(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let probe = "ls /proc/self/fd; echo ---; readlink /proc/self/cwd";
    let check = |what: &str, out: &str, cwd: &str| {
        let (fds, rest) = out
            .split_once("---\n")
            .unwrap_or_else(|| panic!("{what}: {out:?}"));
        let want: BTreeSet<u32> = [0, 1, 2, 3].into();
        assert_eq!(
            fd_set(fds),
            want,
            "{what}: only stdio (and ls's own dir fd): {out:?}"
        );
        let lines: Vec<&str> = rest.lines().collect();
        assert_eq!(lines, [cwd], "{what}: cwd inside: {out:?}");
    };
    let out = c.ok(&["run", "--rm", &img, "sh", "-c", probe]);
    check("run", &out.stdout, "/");
    let out = c.ok(&["run", "--rm", "-w", "/tmp", &img, "sh", "-c", probe]);
    check("run -w", &out.stdout, "/tmp");
    let out = c.ok(&[
        "run",
        "--rm",
        "-u",
        "500",
        "-w",
        "/home/user",
        &img,
        "sh",
        "-c",
        probe,
    ]);
    check("run -u", &out.stdout, "/home/user");

    let id = c.ok(&[
        "run",
        "-d",
        &img,
        "sh",
        "-c",
        &format!("{probe}; sleep 100"),
    ]);
    let id = id.stdout.trim().to_string();
    assert!(wait_until(T, || c
        .ok(&["logs", &id])
        .stdout
        .lines()
        .count()
        >= 6));
    check("run -d", &c.ok(&["logs", &id]).stdout, "/");
    let out = c.ok(&["exec", &id, "sh", "-c", probe]);
    check("exec", &out.stdout, "/");
    let out = c.ok(&["exec", "-w", "/tmp", &id, "sh", "-c", probe]);
    check("exec -w", &out.stdout, "/tmp");
    let out = c.ok(&["exec", "-u", "500", &id, "sh", "-c", probe]);
    check("exec -u", &out.stdout, "/");
    c.rm_f(&[&id]);
}

/// The attack itself: a working directory of /proc/self/fd/N names whatever fd N the runtime
/// leaked. It must fail or stay inside: the host's /etc/passwd (which has the test users) must
/// never be read through it.
fn cve_2024_21626_workdir_through_proc(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let up = "../".repeat(12);
    let script = format!("readlink /proc/self/cwd; cat {up}etc/passwd");
    let id = c
        .ok(&["run", "-d", &img, "sleep", "100"])
        .stdout
        .trim()
        .to_string();
    for n in 3..10 {
        let w = format!("/proc/self/fd/{n}");
        for args in [
            vec!["run", "--rm", "-w", &w, &img, "sh", "-c", &script],
            vec!["exec", "-w", &w, &id, "sh", "-c", &script],
        ] {
            let out = c.cmd(&args).timeout(T).run();
            assert!(
                !out.stdout.contains("covetest") && !out.stdout.contains("covenosub"),
                "escaped to the host through -w {w}: {out}"
            );
        }
    }
    c.rm_f(&[&id]);
}
