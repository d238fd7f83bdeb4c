//! Unit tests of the report protocol, the PATH lookup and the exec error mapping.

use std::os::fd::OwnedFd;

use nix::errno::Errno;

use super::*;

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
}

#[test]
fn reports_round_trip_through_a_pipe() {
    let (r, w) = pipe();
    let rep = Reporter::new(w);
    rep.pid(4242);
    rep.rootfs_mode("overlay");
    rep.error(&SpawnError {
        kind: SpawnErrorKind::NotFound,
        message: "exec: \"nosuch\": executable file not found in $PATH".into(),
    });
    drop(rep);
    let got = read_reports(r);
    assert_eq!(got.pid, Some(4242));
    assert_eq!(got.rootfs_mode.as_deref(), Some("overlay"));
    let err = got.error.unwrap();
    assert_eq!(err.kind, SpawnErrorKind::NotFound);
    assert_eq!(err.exit_code(), 127);
    assert!(err.message.contains("not found in $PATH"));
}

#[test]
fn silence_means_exec_happened_and_garbage_is_an_error() {
    let (r, w) = pipe();
    drop(w);
    let got = read_reports(r);
    assert!(got.error.is_none() && got.pid.is_none());
    assert_eq!(
        parse_reports(b"E\x02\xff\xff\x00\x00ab")
            .error
            .unwrap()
            .kind,
        SpawnErrorKind::Engine
    );
    assert!(parse_reports(b"X").error.is_some());
}

#[test]
fn exec_errors_map_to_dockers_codes() {
    let e = exec_error("/etc", Errno::EACCES);
    assert_eq!(e.message, "exec: \"/etc\": permission denied");
    assert_eq!(e.exit_code(), 126);
    assert_eq!(
        exec_error("x", Errno::ENOEXEC).message,
        "exec: \"x\": exec format error"
    );
    assert_eq!(exec_error("x", Errno::ENOEXEC).exit_code(), 126);
    assert_eq!(exec_error("x", Errno::ENOENT).exit_code(), 127);
    assert_eq!(exec_error("x", Errno::ENOMEM).exit_code(), 125);
}

#[test]
fn path_lookup_follows_the_containers_path() {
    let env = |p: &str| vec!["A=1".to_string(), format!("PATH={p}")];
    let err = find_executable("nosuch-cove-cmd", &env("/usr/bin:/bin")).unwrap_err();
    assert_eq!(err.kind, SpawnErrorKind::NotFound);
    assert_eq!(
        err.message,
        "exec: \"nosuch-cove-cmd\": executable file not found in $PATH"
    );
    // Directories and files without an execute bit are passed over.
    assert_eq!(
        find_executable("sh", &env("/etc:/bin")).unwrap(),
        PathBuf::from("/bin/sh")
    );
    assert_eq!(
        find_executable("passwd", &env("/etc"))
            .unwrap_err()
            .exit_code(),
        127
    );
    assert_eq!(
        find_executable("sh", &[]).unwrap(),
        PathBuf::from("/usr/bin/sh")
    );
    assert_eq!(find_executable("", &[]).unwrap_err().exit_code(), 127);
    let e = find_executable("/nosuch/x", &[]).unwrap_err();
    assert_eq!(
        e.message,
        "exec: \"/nosuch/x\": stat /nosuch/x: no such file or directory"
    );
    assert_eq!(find_executable("/etc", &[]).unwrap(), PathBuf::from("/etc"));
}

#[test]
fn ulimit_names_are_dockers() {
    assert!(is_known_rlimit("nofile") && is_known_rlimit("as") && !is_known_rlimit("files"));
}
