//! `system check`: a store damaged on purpose in each way a crash or a full disk can damage
//! it is reported (exit 1, one line naming each problem), repaired with `--repair`, clean on
//! the next check (exit 0), and works again. Also: the name a killed create reserved is free
//! (defect 6), and `image prune` reclaims what a killed pull left but not a running pull's.

// Tests may panic on what they set up and cast the numbers they make.
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{fixtures, Cove, Mode, Out, Proxy, Who};

both!(
    clean_store,
    layer_removed,
    half_unpacked_layer,
    corrupt_blob_quick_and_full,
    container_damage,
    stale_run_dir_and_lock,
    killed_create_name,
    killed_pull_debris,
    unrecorded_pull_pruned,
    running_pull_untouched,
    stale_mount,
);

fn check(c: &Cove, args: &[&str]) -> Out {
    let mut all = vec!["system", "check"];
    all.extend_from_slice(args);
    c.run(&all)
}

/// `system check` exits 1 and names every fragment; `--repair` fixes all (exit 0); a second
/// check is clean.
fn found_then_repaired(c: &Cove, fragments: &[&str]) {
    let out = check(c, &[]);
    out.assert_code(1);
    for f in fragments {
        assert!(out.stdout.contains(f), "check does not name {f:?}: {out}");
    }
    let fixed = check(c, &["--repair"]);
    fixed.assert_ok();
    for f in fragments {
        assert!(
            fixed.stdout.contains(f),
            "repair does not name {f:?}: {fixed}"
        );
    }
    assert!(
        fixed.stdout.contains("repaired: ") && !fixed.stdout.contains("not repaired"),
        "{fixed}"
    );
    let again = check(c, &[]);
    again.assert_ok();
    assert_eq!(again.stdout, "", "a repaired store is clean: {again}");
}

fn run_echo(c: &Cove, img: &str) {
    let out = c.ok(&["run", "--rm", img, "echo", "works"]);
    assert_eq!(out.stdout, "works\n", "{out}");
}

fn blobs(c: &Cove) -> PathBuf {
    c.root.join("blobs/sha256")
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A pid no process has now.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn clean_store(who: Who) {
    let c = Cove::new(who);
    let empty = check(&c, &[]);
    empty.assert_ok();
    assert_eq!(empty.stdout, "", "{empty}");
    let img = c.busybox();
    run_echo(&c, &img);
    c.ok(&["create", "--name", "idle", &img, "true"]);
    for args in [&[][..], &["--quick"], &["--repair"]] {
        let out = check(&c, args);
        out.assert_ok();
        assert_eq!(out.stdout, "", "a sound store has no findings: {out}");
    }
    let bogus = check(&c, &["--bogus"]);
    bogus.assert_err_line("--bogus");
}

fn layer_removed(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let chain = &fixtures().busybox.chain_ids[0];
    std::fs::remove_dir_all(c.layers_dir().join(chain)).unwrap();
    found_then_repaired(&c, &["busybox:latest is damaged: missing layer"]);
    let images = c.ok(&["images", "-q"]);
    assert_eq!(images.stdout, "", "the damaged image is gone: {images}");
    c.pull(&img);
    run_echo(&c, &img);
}

fn half_unpacked_layer(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let chain = &fixtures().busybox.chain_ids[0];
    std::fs::remove_file(c.layers_dir().join(chain).join("layer.json")).unwrap();
    let staging = c
        .layers_dir()
        .join(format!(".tmp-{}-{}", "ab".repeat(32), dead_pid()));
    c.write(&staging.join("diff/etc/passwd"), "root:x:0:0::/:/bin/sh\n");
    found_then_repaired(
        &c,
        &[
            "is incomplete (no layer.json)",
            "an interrupted layer unpack or removal left",
            "is damaged: missing layer",
        ],
    );
    assert!(c.layer_dirs().is_empty(), "{:?}", c.layer_dirs());
    assert!(c.temp_leftovers().is_empty(), "{:?}", c.temp_leftovers());
    c.pull(&img);
    run_echo(&c, &img);
}

fn corrupt_blob_quick_and_full(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    let layer = &fixtures().busybox.layers[0].digest;
    let path = blobs(&c).join(layer.trim_start_matches("sha256:"));
    let mut data = std::fs::read(&path).unwrap();
    data.truncate(data.len() / 2);
    std::fs::write(&path, &data).unwrap();
    let quick = check(&c, &["--quick"]);
    quick.assert_ok();
    assert_eq!(quick.stdout, "", "--quick does not re-hash blobs: {quick}");
    found_then_repaired(&c, &["does not match its digest"]);
    assert!(!path.exists(), "the corrupt blob is removed");
    // The image's layers were intact: it stays and runs.
    run_echo(&c, &img);
}

fn write_state(c: &Cove, id: &str, started_at: &str, boot_id: &str) {
    let pid = dead_pid();
    let state = format!(
        r#"{{"pid":{pid},"pid_start":1,"started_at":"{started_at}","monitor_pid":{pid},"monitor_start":1,"restarting":false,"boot_id":"{boot_id}"}}"#
    );
    c.write(
        &c.runroot.join("containers").join(id).join("state.json"),
        &state,
    );
}

fn container_damage(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["run", "--name", "ran", &img, "sh", "-c", "echo x > /f"]);
    let ran = c.inspect_fmt("ran", "{{.Id}}");
    std::fs::remove_dir_all(c.root.join("overlay/containers").join(&ran).join("upper")).unwrap();
    // Two that ran, then lost their monitor before it recorded the exit: one in this boot,
    // one in a boot before.
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let now = "2099-01-01T00:00:00Z";
    let old_boot = "00000000-0000-0000-0000-000000000000";
    for (name, at, boot) in [
        ("dead", now, boot.trim()),
        ("old", "2001-01-01T00:00:00Z", old_boot),
    ] {
        c.ok(&["run", "--name", name, &img, "true"]);
        let id = c.inspect_fmt(name, "{{.Id}}");
        let _ = std::fs::remove_file(c.runroot.join("containers").join(&id).join("exit.json"));
        write_state(&c, &id, at, boot);
    }
    found_then_repaired(
        &c,
        &[
            "container ran (",
            "its root file system is missing",
            "container dead (",
            "its monitor (pid",
            "container old (",
            "run state from a previous boot",
        ],
    );
    assert_eq!(c.status_of("dead"), "exited");
    assert_eq!(c.status_of("old"), "exited");
    let out = c.ok(&["start", "-a", "ran"]);
    assert_eq!(out.code(), 0, "{out}");
    let out = c.ok(&["start", "-a", "dead"]);
    assert_eq!(out.code(), 0, "{out}");
    c.ok(&["rm", "ran", "dead", "old"]);
    c.assert_no_containers();
}

fn stale_run_dir_and_lock(who: Who) {
    let c = Cove::new(who);
    let ghost = "c".repeat(64);
    let dir = c.runroot.join("containers").join(&ghost);
    let locks = c.runroot.join("container-locks");
    write_state(&c, &ghost, "2099-01-01T00:00:00Z", "");
    c.write(&locks.join(&ghost), "");
    // A lock alone, and a killed monitor's claim alone, are found too.
    let lone = "d".repeat(64);
    c.write(&locks.join(&lone), "");
    let claim = "b".repeat(64);
    c.write(&locks.join(format!("{claim}.monitor")), "");
    found_then_repaired(
        &c,
        &[
            &format!(
                "run state or lock of a container that does not exist: {}",
                dir.display()
            ),
            &format!("does not exist: {}", locks.join(&lone).display()),
            &format!("does not exist: {}.monitor", locks.join(&claim).display()),
        ],
    );
    assert!(!dir.exists());
    assert_eq!(std::fs::read_dir(&locks).unwrap().count(), 0, "locks left");
}

/// Exactly what a `create --name X` killed between its name and its record leaves.
fn leave_killed_create(c: &Cove, name: &str) -> PathBuf {
    c.ok(&["ps", "-a"]); // the store's directories, made by cove as its user
    let ghost = "e".repeat(64);
    let dir = c.root.join("containers").join(&ghost);
    c.write(
        &dir.join(format!(".config.json.tmp-{}-0", dead_pid())),
        "{\"id\":",
    );
    let link = c.root.join("containers/names").join(name);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&ghost, &link).unwrap();
    dir
}

fn killed_create_name(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    // Defect 6: the name is free for the next create, no repair needed.
    let dir = leave_killed_create(&c, "x1");
    let rm = c.run(&["rm", "-f", "x1"]);
    assert!(rm.stderr.contains("No such container"), "{rm}");
    c.ok(&["create", "--name", "x1", &img, "true"]);
    assert!(!dir.exists(), "the killed create's directory is removed");
    assert_eq!(c.status_of("x1"), "created");
    // A rename killed after the record changed, before the old name was freed.
    let id = c.inspect_fmt("x1", "{{.Id}}");
    std::os::unix::fs::symlink(&id, c.root.join("containers/names/x0")).unwrap();
    found_then_repaired(&c, &["name x0 points at container x1"]);
    c.ok(&["create", "--name", "x0", &img, "true"]);
    c.ok(&["rm", "-f", "x0", "x1"]);
    // And system check --repair frees what an older cove left.
    let dir = leave_killed_create(&c, "x2");
    found_then_repaired(&c, &["name x2 is reserved for container eeeeeeeeeeee"]);
    assert!(!dir.exists());
    c.ok(&["run", "--rm", "--name", "x2", &img, "true"]);
    c.assert_no_containers();
}

/// Starts a throttled pull of busybox and kills it once part of the layer has arrived.
fn kill_pull_midway(c: &Cove, p: &Proxy) {
    let size = fixtures().busybox.layers[0].size;
    let r = p.reference("busybox:latest");
    let mut child = c.cmd(&["pull", "--tls-verify=false", &r]).spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.blob_bytes() < size / 4 {
        assert!(Instant::now() < deadline, "the pull never got going");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill();
    assert_eq!(child.wait().code(), -9);
}

fn killed_pull_debris(who: Who) {
    let size = fixtures().busybox.layers[0].size;
    let p = Proxy::start(Mode::Throttle {
        bytes_per_sec: size / 8,
    });
    let c = Cove::new(who);
    kill_pull_midway(&c, &p);
    assert!(
        !c.temp_leftovers().is_empty() || names_in(&blobs(&c)).iter().any(|n| n.contains(".tmp-")),
        "the killed pull left its staging files"
    );
    found_then_repaired(&c, &["an interrupted"]);
    assert!(c.temp_leftovers().is_empty(), "{:?}", c.temp_leftovers());
    let left: Vec<String> = names_in(&blobs(&c))
        .into_iter()
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    p.set_mode(Mode::Plain);
    let r = p.reference("busybox:latest");
    c.pull(&r);
    run_echo(&c, &r);
}

/// A pull killed after its layers were whole but before it recorded the image, and the
/// staging files of killed ones: `image prune` (without -a) reclaims all of it.
fn unrecorded_pull_pruned(who: Who) {
    let f = fixtures();
    let c = Cove::new(who);
    let layered = f.reference("layered:latest");
    c.pull(&layered);
    std::fs::write(c.root.join("images/images.json"), "{\"images\":[]}").unwrap();
    // And staging files named as a pull names them, of processes that are gone.
    let dead = dead_pid();
    let hex = "ab".repeat(32);
    let staging = c.layers_dir().join(format!(".tmp-{hex}-{dead}"));
    c.write(&staging.join("diff/big"), &"x".repeat(100_000));
    c.write(
        &blobs(&c).join(format!(".{hex}.tmp-{dead}-0")),
        &"y".repeat(100_000),
    );
    assert!(!c.layer_dirs().is_empty());
    // podman's --max: layers and blobs no image uses count only when older than that.
    let young = check(&c, &["--max", "24h"]);
    young.assert_code(1);
    assert!(!young.stdout.contains("used by no image"), "{young}");
    assert!(
        young.stdout.contains("an interrupted download left"),
        "{young}"
    );
    let all = check(&c, &[]);
    assert!(all.stdout.contains("used by no image"), "{all}");
    let out = c.ok(&["image", "prune", "-f"]);
    assert!(
        !out.stdout.contains("Total reclaimed space: 0B"),
        "prune reclaims the debris: {out}"
    );
    assert!(c.layer_dirs().is_empty(), "{:?}", c.layer_dirs());
    assert!(c.temp_leftovers().is_empty(), "{:?}", c.temp_leftovers());
    assert_eq!(names_in(&blobs(&c)), Vec::<String>::new());
    check(&c, &[]).assert_ok();
    c.pull(&layered);
    run_echo(&c, &layered);
}

/// While a pull runs, prune and check --repair leave its files alone; it then completes.
fn running_pull_untouched(who: Who) {
    let f = fixtures();
    let size = f.busybox.layers[0].size;
    let p = Proxy::start(Mode::Throttle {
        bytes_per_sec: size / 3,
    });
    let c = Cove::new(who);
    let r = p.reference("busybox:latest");
    let child = c.cmd(&["pull", "--tls-verify=false", &r]).spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.blob_bytes() < size / 4 {
        assert!(Instant::now() < deadline, "the pull never got going");
        std::thread::sleep(Duration::from_millis(50));
    }
    c.ok(&["image", "prune", "-a", "-f"]);
    let during = check(&c, &["--repair"]);
    assert!(
        !during.stdout.contains("interrupted"),
        "a running pull is not debris: {during}"
    );
    child.wait().assert_ok();
    run_echo(&c, &r);
    check(&c, &[]).assert_ok();
}

/// A merged dir still mounted (in the user's mount namespace, rootless) for a container
/// that does not run.
fn stale_mount(who: Who) {
    let c = Cove::new(who);
    let img = c.busybox();
    c.ok(&["run", "--name", "mnt", &img, "true"]);
    let id = c.inspect_fmt("mnt", "{{.Id}}");
    let merged = c.root.join("overlay/containers").join(&id).join("merged");
    let target = merged.to_str().unwrap();
    let mount = ["-t", "tmpfs", "stale", target];
    let stale = || {
        if who == Who::Root {
            common::sh("mount", &mount);
        } else {
            let pause = std::fs::read_to_string(c.runroot.join("pause.pid"))
                .or_else(|_| std::fs::read_to_string(c.runtime_dir.join("cove/pause.pid")))
                .unwrap();
            let mut args = vec!["-t", pause.trim(), "-m", "mount"];
            args.extend_from_slice(&mount);
            common::sh("nsenter", &args);
        }
    };
    stale();
    found_then_repaired(&c, &["its root file system is still mounted at"]);
    // rm of a stopped container unmounts what a supervisor that is gone left mounted.
    stale();
    c.ok(&["rm", "mnt"]);
    c.assert_no_containers();
    let clean = check(&c, &[]);
    assert_eq!(clean.code(), 0, "nothing left mounted or on disk: {clean}");
}
