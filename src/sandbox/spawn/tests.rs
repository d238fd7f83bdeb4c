//! Real containers from a busybox root file system: spawn, exit codes, exec errors, exec_in.
//! They need root (the suite runs as root); as another user they say so and pass.

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::*;
use crate::sandbox::exec::exec_in;
use crate::sandbox::spec::{sample_spec, Process, SpawnErrorKind};

struct Box {
    dir: PathBuf,
}

impl Drop for Box {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A one-layer image: busybox and its applets, an /etc/passwd.
fn busybox_image(name: &str) -> Option<Box> {
    if !nix::unistd::geteuid().is_root() || !Path::new("/bin/busybox").is_file() {
        eprintln!("skipped: needs root and /bin/busybox");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("cove-spawn-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let bin = dir.join("lower/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::create_dir_all(dir.join("lower/etc")).unwrap();
    fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    for applet in [
        "sh", "echo", "id", "hostname", "cat", "ls", "sleep", "pwd", "readlink",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    fs::write(
        dir.join("lower/etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n",
    )
    .unwrap();
    fs::write(dir.join("lower/etc/group"), "root:x:0:\n").unwrap();
    Some(Box { dir })
}

/// Rootless runs of these tests happen in a single-ID user namespace (see `rootless`).
fn in_user_namespace() -> bool {
    let map = fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"]
}

fn spec_for(b: &Box, args: &[&str]) -> Spec {
    let mut spec = sample_spec(&b.dir);
    spec.process.args = args.iter().map(|s| s.to_string()).collect();
    spec.process.env = vec!["PATH=/bin".to_string()];
    spec.process.caps = crate::sandbox::caps::resolve(&[], &[], false).unwrap();
    spec.rootfs.userxattr = in_user_namespace();
    spec
}

/// Stdio with stdin from /dev/null and both outputs into one pipe; returns its read end.
fn pipes() -> (Stdio, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let null: OwnedFd = fs::File::open("/dev/null").unwrap().into();
    let stdio = Stdio {
        stdin: null,
        stdout: w.try_clone().unwrap(),
        stderr: w,
        console: None,
    };
    (stdio, r)
}

fn wait_code(pid: i32) -> i32 {
    match waitpid(Pid::from_raw(pid), None).unwrap() {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        other => panic!("{other:?}"),
    }
}

fn run(spec: &Spec) -> Result<(i32, String, String), SpawnError> {
    let (stdio, out) = pipes();
    let started = spawn(spec, stdio)?;
    let mut text = String::new();
    fs::File::from(out).read_to_string(&mut text).unwrap();
    Ok((wait_code(started.pid), text, started.rootfs_mode))
}

#[test]
fn busybox_container_runs_as_pid_1_with_its_own_dev() {
    let Some(b) = busybox_image("basic") else {
        return;
    };
    let spec = spec_for(
        &b,
        &[
            "sh",
            "-c",
            "echo hi; id; hostname; cat /proc/1/cmdline; echo; ls /dev; pwd",
        ],
    );
    let (code, out, mode) = run(&spec).unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(mode, "overlay");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "hi");
    assert!(lines[1].starts_with("uid=0(root) gid=0(root)"), "{out}");
    assert_eq!(lines[2], "box");
    assert_eq!(
        lines[3],
        "sh\0-c\0echo hi; id; hostname; cat /proc/1/cmdline; echo; ls /dev; pwd\0"
    );
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "mqueue", "fd",
        "stdin",
    ] {
        assert!(out.lines().any(|l| l == dev), "/dev/{dev} missing: {out}");
    }
    assert_eq!(lines.last().copied(), Some("/"));
    // The container's writes went to the upper directory, not to the layer.
    assert!(b.dir.join("upper/dev").exists() || b.dir.join("upper").exists());
    assert!(!b.dir.join("lower/proc").exists());
}

#[test]
fn exit_codes_and_exec_errors() {
    let Some(b) = busybox_image("codes") else {
        return;
    };
    let (code, _, _) = run(&spec_for(&b, &["sh", "-c", "exit 3"])).unwrap();
    assert_eq!(code, 3);

    let err = run(&spec_for(&b, &["nosuch"])).unwrap_err();
    assert_eq!(err.kind, SpawnErrorKind::NotFound);
    assert_eq!(
        err.message,
        "exec: \"nosuch\": executable file not found in $PATH"
    );
    let err = run(&spec_for(&b, &["/etc"])).unwrap_err();
    assert_eq!(err.kind, SpawnErrorKind::CannotInvoke, "{err}");
    assert_eq!(err.message, "exec: \"/etc\": permission denied");
    let err = run(&spec_for(&b, &["/etc/passwd"])).unwrap_err();
    assert_eq!(err.exit_code(), 126, "{err}");

    // The working directory is created inside the container, never taken from the host.
    let mut spec = spec_for(&b, &["pwd"]);
    spec.process.cwd = "/work/dir".to_string();
    let (code, out, _) = run(&spec).unwrap();
    assert_eq!((code, out.trim()), (0, "/work/dir"));
}

#[test]
fn no_host_descriptor_or_masked_path_leaks_in() {
    let Some(b) = busybox_image("leaks") else {
        return;
    };
    // A descriptor of ours without close-on-exec (CVE-2024-21626): the container must not get it.
    let dir = fs::File::open("/etc").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&dir);
    let raw = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD(50)).unwrap();
    let script = "ls /proc/self/fd; cat /proc/timer_list; ls /sys/firmware; echo end; \
                  (echo x > /proc/sys/kernel/hostname) 2>/dev/null || echo ro";
    let (code, out, _) = run(&spec_for(&b, &["sh", "-c", script])).unwrap();
    let _ = nix::unistd::close(raw);
    assert_eq!(code, 0, "{out}");
    let fds: Vec<&str> = out.lines().take_while(|l| *l != "end").collect();
    // 3 is the directory ls reads.
    assert_eq!(fds, ["0", "1", "2", "3"], "{out}");
    assert!(out.ends_with("end\nro\n"), "{out}");
}

#[test]
fn init_reaps_and_returns_the_commands_status() {
    let Some(b) = busybox_image("init") else {
        return;
    };
    // pid 1 is cove, not dumpable: its /proc/1/exe (our binary) cannot be opened from inside
    // (CVE-2019-5736).
    let script = "cat /proc/1/exe >/dev/null 2>&1 && echo opened; echo $$; exit 7";
    let mut spec = spec_for(&b, &["sh", "-c", script]);
    spec.init = true;
    let (code, out, _) = run(&spec).unwrap();
    assert_eq!(code, 7);
    assert_eq!(out.trim(), "2");
    let mut spec = spec_for(&b, &["nosuch"]);
    spec.init = true;
    assert_eq!(run(&spec).unwrap_err().kind, SpawnErrorKind::NotFound);
}

#[test]
fn exec_in_joins_a_running_container() {
    let Some(b) = busybox_image("exec") else {
        return;
    };
    let mut spec = spec_for(&b, &["sleep", "5"]);
    spec.hostname = "execbox".to_string();
    let (stdio, _out) = pipes();
    let started = spawn(&spec, stdio).unwrap();

    let process = Process {
        args: [
            "sh",
            "-c",
            "echo x; hostname; cat /proc/1/cmdline; echo; pwd; [ -d /usr ] && echo host || echo ours",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        cwd: "/etc".to_string(),
        ..spec.process.clone()
    };
    let (stdio, out) = pipes();
    let pid = exec_in(started.pid, &process, stdio).unwrap();
    let mut text = String::new();
    fs::File::from(out).read_to_string(&mut text).unwrap();
    assert_eq!(wait_code(pid), 0, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["x", "execbox", "sleep\u{0}5\u{0}", "/etc", "ours"],
        "{text}"
    );

    let nosuch = Process {
        args: vec!["nosuch".to_string()],
        ..process.clone()
    };
    let (stdio, _out) = pipes();
    let err = exec_in(started.pid, &nosuch, stdio).unwrap_err();
    assert_eq!(err.exit_code(), 127);

    let _ = nix::sys::signal::kill(
        Pid::from_raw(started.pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_eq!(wait_code(started.pid), 128 + 9);
}

/// keep-id: refused to real root; in a user namespace the command runs as the kept ids in a
/// nested one, and what it writes to a bind belongs to the caller (root of the outer namespace).
#[test]
fn keep_id_runs_as_the_kept_ids_in_a_nested_user_namespace() {
    let Some(b) = busybox_image("keepid") else {
        return;
    };
    let data = b.dir.join("data");
    fs::create_dir_all(&data).unwrap();
    let mut spec = spec_for(&b, &["sh", "-c", "id -u; id -g; echo hi > /data/f"]);
    spec.mounts.push(crate::sandbox::spec::Mount::Bind {
        source: data.clone(),
        destination: "/data".to_string(),
        read_only: false,
    });
    spec.keep_id = Some((4242, 4343));
    spec.process.uid = 4242;
    spec.process.gid = 4343;
    if !in_user_namespace() {
        let err = spawn(&spec, pipes().0).unwrap_err();
        assert_eq!(err.message, super::keepid::ROOTLESS_ONLY);
        return;
    }
    let (code, out, _) = run(&spec).unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "4242\n4343\n");
    let meta = fs::metadata(data.join("f")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
}

const IN_USERNS: &str = "COVE_TEST_SPAWN_ROOTLESS";

/// The tests above again, as an unprivileged user (covetest1) in a single-ID user namespace:
/// overlay with userxattr, sysfs and devices bound from the host, setgroups denied.
#[test]
fn rootless_single_id_user_namespace() {
    if std::env::var_os(IN_USERNS).is_some() {
        return;
    }
    let user_exists = std::process::Command::new("id")
        .arg("covetest1")
        .output()
        .is_ok_and(|o| o.status.success());
    if !nix::unistd::geteuid().is_root() || !user_exists {
        eprintln!("skipped: needs root and the test user covetest1");
        return;
    }
    // The test binary may sit in a directory the test user cannot enter.
    let exe = std::env::temp_dir().join(format!("cove-spawn-tests-{}", std::process::id()));
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    let out = std::process::Command::new("runuser")
        .args([
            "-u",
            "covetest1",
            "--",
            "unshare",
            "--user",
            "--map-root-user",
        ])
        .arg(&exe)
        .args(["sandbox::spawn::tests::", "--test-threads=1"])
        .env(IN_USERNS, "1")
        .current_dir("/")
        .output()
        .unwrap();
    let _ = fs::remove_file(&exe);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("7 passed"), "{text}");
    assert!(!text.contains("skipped"), "{text}");
}
