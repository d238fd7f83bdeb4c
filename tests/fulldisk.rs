//! A full disk (issue 7): `pull`, `create`/`run` and `cp` on a store whose file system is
//! full fail with one line saying so and leave the store as it was (`images` and `ps -a`
//! unchanged, `system check` clean, no temp file or partial layer); once there is room the
//! same command works. A container that fills its own upper dir sees ENOSPC itself. The
//! "disk" is a small tmpfs under the test's dir, mounted as root and unmounted on drop.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use common::tmpfs::Tmpfs;
use common::{fixtures, Cove, Out, Who};

both!(
    pull_does_not_fit,
    create_and_run_on_full_store,
    container_fills_its_upper_dir,
    cp_into_full_store,
    runroot_full,
);

const FULL: &str = "no space left on device";

/// A test store whose `--root` is on a tmpfs of `kib` KiB. The tmpfs is declared after the
/// `Cove`, so it is unmounted first.
fn on_tmpfs(who: Who, kib: u64) -> (Cove, Tmpfs) {
    let mut c = Cove::new(who);
    let fs = Tmpfs::mount(&c, "disk", kib);
    c.root = fs.subdir(&c, "root");
    (c, fs)
}

fn pull_cmd(c: &Cove, reference: &str) -> Out {
    c.run(&["pull", "--tls-verify=false", reference])
}

/// `system check` finds nothing wrong.
fn assert_check_clean(c: &Cove) {
    let out = c.run(&["system", "check"]);
    out.assert_ok();
    assert_eq!(out.stdout, "", "system check finds damage: {out}");
}

/// Files under the blob dir that are no blob (a temp file of a cut download).
fn stray_blob_files(c: &Cove) -> Vec<String> {
    std::fs::read_dir(c.root.join("blobs/sha256"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !(n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit())))
                .collect()
        })
        .unwrap_or_default()
}

/// Everything `images`, the layer store and the blob store show, to compare.
fn store_view(c: &Cove) -> (String, Vec<String>, Vec<String>) {
    let mut blobs: Vec<String> = std::fs::read_dir(c.root.join("blobs/sha256"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    blobs.sort();
    (c.ok(&["images", "--digests"]).stdout, c.layer_dirs(), blobs)
}

fn assert_unchanged(c: &Cove, before: &(String, Vec<String>, Vec<String>), what: &str) {
    assert_eq!(&store_view(c), before, "{what} changed the store");
    assert_eq!(
        c.temp_leftovers(),
        Vec::<String>::new(),
        "{what}: temp dirs"
    );
    assert_eq!(
        stray_blob_files(c),
        Vec::<String>::new(),
        "{what}: temp blobs"
    );
    assert_check_clean(c);
}

/// Pulls the tiny `multi:latest` (arm64) into `c`, the image that must stay listed.
fn pull_small(c: &Cove) {
    let small = fixtures().reference("multi:latest");
    c.ok(&[
        "pull",
        "--tls-verify=false",
        "--platform",
        "linux/arm64",
        &small,
    ]);
}

fn pull_does_not_fit(who: Who) {
    let img = fixtures().reference("busybox:latest");
    // What the pull of busybox (a 1 MiB blob unpacking to 2 MiB) adds to a store.
    let need = {
        let (c, fs) = on_tmpfs(who, 16 * 1024);
        pull_small(&c);
        let before = fs.used_kib();
        c.pull(&img);
        fs.used_kib() - before
    };
    let (c, fs) = on_tmpfs(who, 16 * 1024);
    pull_small(&c);
    let before = store_view(&c);
    assert_eq!(before.1.len(), 1, "{before:?}");
    let free = fs.free_kib();
    // Room for none of it, half the blob, part of the layer's files, all but the record.
    for room in [0, 512, need / 2, need - 12, need - 4] {
        fs.fill_leaving(room);
        let out = pull_cmd(&c, &img);
        out.assert_err_line(FULL);
        fs.unfill();
        assert_unchanged(
            &c,
            &before,
            &format!("a pull with {room} of {need} KiB free"),
        );
        assert_eq!(
            fs.free_kib(),
            free,
            "a pull with {room} KiB free left files"
        );
    }
    c.pull(&img);
    let out = c.ok(&["run", "--rm", &img, "echo", "fits"]);
    assert_eq!(out.stdout, "fits\n", "{out}");
    assert_check_clean(&c);
}

fn create_and_run_on_full_store(who: Who) {
    let (c, fs) = on_tmpfs(who, 16 * 1024);
    let img = c.busybox();
    c.ok(&["create", "--name", "old", &img, "true"]);
    let before = store_view(&c);
    let ps = c.ok(&["ps", "-a", "-q"]).stdout;
    fs.fill();
    for args in [
        &["create", "--name", "web", &img, "true"][..],
        &["run", "--name", "web", &img, "true"],
        &["run", "--rm", &img, "true"],
        &["run", "--rm", "-d", &img, "true"],
    ] {
        let out = c.run(args);
        out.assert_err_line(FULL);
        assert_eq!(c.ok(&["ps", "-a", "-q"]).stdout, ps, "after {args:?}");
        assert_unchanged(&c, &before, &format!("{args:?} on a full disk"));
    }
    fs.unfill();
    c.ok(&["create", "--name", "web", &img, "true"]);
    let out = c.ok(&["start", "-a", "web"]);
    assert_eq!(out.code(), 0, "{out}");
    c.ok(&["rm", "web", "old"]);
    c.assert_no_containers();
    assert_check_clean(&c);
}

fn container_fills_its_upper_dir(who: Who) {
    let (c, fs) = on_tmpfs(who, 16 * 1024);
    let img = c.busybox();
    let out = c.run(&[
        "run",
        "--name",
        "big",
        &img,
        "sh",
        "-c",
        "cat /dev/zero > /big",
    ]);
    assert_ne!(out.code(), 0, "{out}");
    assert_ne!(
        out.code(),
        125,
        "the container's failure, not cove's: {out}"
    );
    assert!(
        out.stderr.to_lowercase().contains(FULL),
        "the container sees ENOSPC: {out}"
    );
    assert!(
        !out.stderr.contains("Error: "),
        "cove itself reports nothing: {out}"
    );
    assert_eq!(c.status_of("big"), "exited");
    assert_eq!(
        c.inspect_fmt("big", "{{.State.ExitCode}}"),
        out.code().to_string()
    );
    assert_check_clean(&c);
    c.ok(&["rm", "big"]);
    c.assert_no_containers();
    assert!(fs.free_kib() > 8 * 1024, "rm frees the upper dir");
    let out = c.ok(&["run", "--rm", &img, "echo", "room"]);
    assert_eq!(out.stdout, "room\n", "{out}");
    assert_check_clean(&c);
}

fn cp_into_full_store(who: Who) {
    let (c, fs) = on_tmpfs(who, 16 * 1024);
    let img = c.busybox();
    c.ok(&[
        "run",
        "--name",
        "box",
        &img,
        "sh",
        "-c",
        "echo original > /data.txt",
    ]);
    // Named like the file it replaces, so that a copy into `/` replaces it too.
    let src_dir = c.home.join("src");
    std::fs::create_dir(&src_dir).unwrap();
    let host_file = src_dir.join("data.txt");
    std::fs::write(&host_file, "x".repeat(256 * 1024)).unwrap();
    for p in [&src_dir, &host_file] {
        std::os::unix::fs::chown(p, Some(c.uid), Some(c.gid)).unwrap();
    }
    let out_file = c.home.join("out.txt");
    let read_back = |c: &Cove| {
        let _ = std::fs::remove_file(&out_file);
        c.ok(&["cp", "box:/data.txt", out_file.to_str().unwrap()]);
        std::fs::read_to_string(&out_file).unwrap()
    };
    fs.fill();
    for target in ["box:/data.txt", "box:/"] {
        let out = c.run(&["cp", host_file.to_str().unwrap(), target]);
        out.assert_err_line(FULL);
        assert_eq!(read_back(&c), "original\n", "cp to {target} on a full disk");
    }
    // Into a new name: nothing half-written is left under it.
    let out = c.run(&["cp", host_file.to_str().unwrap(), "box:/new.txt"]);
    out.assert_err_line(FULL);
    // With room again (the container's own run rewrites a file and logs), it still works.
    fs.unfill();
    let out = c.ok(&["start", "-a", "box"]);
    assert_eq!(out.code(), 0, "{out}");
    let names = c.ok(&["diff", "box"]).stdout;
    assert!(!names.contains("new.txt"), "a cut copy is left: {names}");
    assert!(!names.contains(".cove"), "a temp file is left: {names}");
    assert_check_clean(&c);
    c.ok(&["cp", host_file.to_str().unwrap(), "box:/data.txt"]);
    assert_eq!(read_back(&c).len(), 256 * 1024);
    c.ok(&["rm", "box"]);
    c.assert_no_containers();
}

fn runroot_full(who: Who) {
    let mut c = Cove::new(who);
    let fs = Tmpfs::mount(&c, "rundisk", 1024);
    c.runroot = fs.subdir(&c, "run");
    let img = c.busybox();
    c.ok(&["run", "--rm", &img, "true"]);
    fs.fill();
    for args in [
        &["run", "--rm", &img, "true"][..],
        &["run", "--rm", "-d", &img, "true"],
        &["run", "-d", "--name", "bg", &img, "sleep", "100"],
    ] {
        let out = c.run(args);
        out.assert_err_line(FULL);
    }
    fs.unfill();
    // As with any start that fails, `run` without --rm leaves the container created, not
    // running unseen.
    assert_eq!(c.ok(&["ps", "-a", "-q"]).lines().len(), 1);
    assert_eq!(c.status_of("bg"), "created");
    assert_check_clean(&c);
    c.ok(&["rm", "bg"]);
    assert_eq!(
        c.ok(&["ps", "-a", "-q"]).stdout,
        "",
        "no half-made container"
    );
    c.ok(&["run", "-d", "--name", "bg", &img, "sleep", "100"]);
    c.ok(&["rm", "-f", "bg"]);
    c.assert_no_containers();
}
