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
    let mut wire = Vec::new();
    crate::ipc::encode(&Message::ChildPid(9), &mut wire);
    crate::ipc::encode(
        &Message::SpawnFailed {
            code: 126,
            message: "exec: \"/etc\": permission denied".into(),
        },
        &mut wire,
    );
    // A cut report is the engine's error, and the pid before it is kept to be reaped.
    let cut = parse_reports(&wire[..wire.len() - 1]);
    assert_eq!(cut.pid, Some(9));
    assert_eq!(cut.error.unwrap().kind, SpawnErrorKind::Engine);
    let whole = parse_reports(&wire).error.unwrap();
    assert_eq!(
        (whole.kind, whole.exit_code()),
        (SpawnErrorKind::CannotInvoke, 126)
    );
    assert!(parse_reports(b"X").error.is_some());
    // A message of another protocol does not belong here.
    let mut other = Vec::new();
    crate::ipc::encode(&Message::Started, &mut other);
    assert!(parse_reports(&other).error.is_some());
}

#[test]
fn long_reports_stay_within_one_atomic_pipe_write() {
    let (r, w) = pipe();
    let rep = Reporter::new(w);
    rep.error(&SpawnError::engine("é".repeat(5000)));
    rep.rootfs_mode(&"m".repeat(300));
    drop(rep);
    let got = read_reports(r);
    assert_eq!(got.rootfs_mode.map(|m| m.len()), Some(255));
    let message = got.error.unwrap().message;
    assert!(message.len() <= PIPE_BUF - 6 && message.len() > 4000);
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
