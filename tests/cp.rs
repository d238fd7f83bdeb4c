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
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use common::{Cove, Who};

both!(
    cp_both_ways_running,
    cp_stopped_and_streams,
    cp_symlink_stays_inside,
    cp_special_files,
    cp_big_file_bounded_memory,
    cp_in_owners,
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

/// (name, entry type, device major, device minor) of each entry.
fn tar_kinds(data: &[u8]) -> Vec<(String, tar::EntryType, u32, u32)> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.entry_type(),
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0),
            )
        })
        .collect()
}

/// What the container chooses to put at a path must not decide what `cp` reads (issue 7,
/// defect 1): a symlink to /dev/zero is copied as the link (it used to be followed and read
/// without end), a FIFO as a FIFO (it used to block forever), and with -L the device node the
/// link leads to is copied as a device entry, never read. Each copy must end well in time.
fn cp_special_files(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "spc",
        &img,
        "sh",
        "-c",
        "busybox ln -s /dev/zero /out; busybox mkfifo /fifo; touch /ready; sleep 600",
    ]);
    common::ctr::wait_until(Duration::from_secs(10), || {
        c.run(&["exec", "spc", "cat", "/ready"]).code() == 0
    });
    let quick = |args: &[&str]| c.cmd(args).timeout(Duration::from_secs(30)).run();
    let x = c.home.join("x");
    quick(&["cp", "spc:/out", x.to_str().unwrap()]).assert_ok();
    assert_eq!(std::fs::read_link(&x).unwrap(), Path::new("/dev/zero"));
    let y = c.home.join("y");
    quick(&["cp", "spc:/fifo", y.to_str().unwrap()]).assert_ok();
    assert!(std::fs::symlink_metadata(&y).unwrap().file_type().is_fifo());

    let out = quick(&["cp", "spc:/fifo", "-"]);
    out.assert_ok();
    assert_eq!(
        tar_kinds(out.stdout.as_bytes()),
        [("fifo".to_string(), tar::EntryType::Fifo, 0, 0)]
    );
    let out = quick(&["cp", "spc:/out", "-"]);
    out.assert_ok();
    assert_eq!(
        tar_kinds(out.stdout.as_bytes())[0].1,
        tar::EntryType::Symlink
    );
    let out = quick(&["cp", "-L", "spc:/out", "-"]);
    out.assert_ok();
    assert_eq!(
        tar_kinds(out.stdout.as_bytes()),
        [("out".to_string(), tar::EntryType::Char, 1, 5)]
    );

    // On the host, a device node needs real root: rootless it is one clear error line.
    let z = c.home.join("z");
    let out = quick(&["cp", "-L", "spc:/out", z.to_str().unwrap()]);
    if who == Who::Root {
        out.assert_ok();
        let meta = std::fs::symlink_metadata(&z).unwrap();
        assert!(meta.file_type().is_char_device(), "{meta:?}");
        assert_eq!(meta.rdev(), nix::sys::stat::makedev(1, 5));
    } else {
        out.assert_err_line("device node");
        assert!(
            std::fs::symlink_metadata(&z).is_err(),
            "nothing made at {z:?}"
        );
    }

    let tarball = c.home.join("spc.tar");
    quick(&["export", "-o", tarball.to_str().unwrap(), "spc"]).assert_ok();
    let kinds = tar_kinds(&std::fs::read(&tarball).unwrap());
    let kind_of = |n: &str| {
        kinds
            .iter()
            .find(|k| k.0.trim_start_matches("./") == n)
            .map(|k| k.1)
    };
    assert_eq!(kind_of("fifo"), Some(tar::EntryType::Fifo));
    assert_eq!(kind_of("out"), Some(tar::EntryType::Symlink));
    c.rm_f(&["spc"]);
}

/// A 300 MB file goes out and back in, and the container is exported, with cove's peak
/// resident memory far below the file's size (issue 7, defect 1): the whole tar used to be
/// built in memory (a 300 MB file took 312 MB).
fn cp_big_file_bounded_memory(who: Who) {
    const SIZE: u64 = 300 << 20;
    const LIMIT_KIB: u64 = 50 << 10;
    let c = Cove::new(who);
    let img = c.busybox();
    let make = format!("head -c {SIZE} /dev/zero > /big");
    c.ok(&["run", "--name", "big", &img, "sh", "-c", &make]);
    let measured = |args: &[&str]| {
        let (out, peak) = c.cmd(args).spawn().wait_peak_rss();
        out.assert_ok();
        assert!(peak > 0, "no memory reading of cove {args:?}");
        assert!(peak < LIMIT_KIB, "cove {args:?} peaked at {peak} KiB");
    };
    let host = c.home.join("big");
    measured(&["cp", "big:/big", host.to_str().unwrap()]);
    assert_eq!(std::fs::metadata(&host).unwrap().len(), SIZE);
    measured(&["cp", host.to_str().unwrap(), "big:/big2"]);
    std::fs::remove_file(&host).unwrap();
    let tarball = c.home.join("big.tar");
    measured(&["export", "-o", tarball.to_str().unwrap(), "big"]);
    let mut a = tar::Archive::new(std::fs::File::open(&tarball).unwrap());
    let sizes: Vec<(String, u64)> = a
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            (name.trim_start_matches("./").to_string(), e.size())
        })
        .filter(|(n, _)| n.starts_with("big"))
        .collect();
    assert_eq!(
        sizes,
        [("big".to_string(), SIZE), ("big2".to_string(), SIZE)]
    );
    c.rm_f(&["big"]);
}

/// What `cp` puts into a container belongs to the container's root, 0:0, whoever owns it on
/// the host; with -a it keeps the owner numbers the host shows (issue 7, defect 3: host root's
/// files came in as nobody and the caller's as 0:65534).
fn cp_in_owners(who: Who) {
    use std::os::unix::fs::{chown, PermissionsExt};
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["run", "-d", "--name", "own", &img, "sleep", "100"]);
    // As root, "the caller's" files are another user's: 1234:5678.
    let (uid, gid) = match &c.user {
        Some(u) => (u.uid, u.gid),
        None => (1234, 5678),
    };
    let rootf = c.home.join("rootf");
    std::fs::write(&rootf, "root's\n").unwrap();
    chown(&rootf, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&rootf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mine = c.home.join("mine");
    std::fs::write(&mine, "mine\n").unwrap();
    let tree = c.home.join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("inner"), "inner\n").unwrap();
    for p in [&mine, &tree, &tree.join("inner")] {
        chown(p, Some(uid), Some(gid)).unwrap();
    }
    for p in [&rootf, &mine, &tree] {
        c.ok(&["cp", p.to_str().unwrap(), "own:/tmp/"]);
    }
    let owners = |paths: &[&str]| {
        let mut args = vec!["exec", "own", "stat", "-c", "%u:%g"];
        args.extend_from_slice(paths);
        c.ok(&args)
            .lines()
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        owners(&["/tmp/rootf", "/tmp/mine", "/tmp/tree", "/tmp/tree/inner"]),
        ["0:0"; 4]
    );
    c.ok(&["cp", "-a", mine.to_str().unwrap(), "own:/tmp/mine-a"]);
    c.ok(&["cp", "--archive", tree.to_str().unwrap(), "own:/tmp/tree-a"]);
    let kept = format!("{uid}:{gid}");
    assert_eq!(
        owners(&["/tmp/mine-a", "/tmp/tree-a", "/tmp/tree-a/inner"]),
        [kept.as_str(); 3]
    );

    // A tar on stdin: its owners are replaced the same way, and kept with -a.
    let mut b = tar::Builder::new(Vec::new());
    for name in ["s.txt", "s-a.txt"] {
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_uid(4321);
        h.set_gid(8765);
        h.set_cksum();
        b.append_data(&mut h, name, &b"in\n"[..]).unwrap();
    }
    let data = String::from_utf8(b.into_inner().unwrap()).unwrap();
    c.cmd(&["cp", "-", "own:/tmp"])
        .input(&data)
        .run()
        .assert_ok();
    assert_eq!(owners(&["/tmp/s.txt"]), ["0:0"]);
    c.cmd(&["cp", "-a", "-", "own:/home"])
        .input(&data)
        .run()
        .assert_ok();
    assert_eq!(owners(&["/home/s-a.txt"]), ["4321:8765"]);
    c.rm_f(&["own"]);
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
