//! Tests for seccomp.rs: option parsing, rule selection, and real filters loaded in forked children.

use std::io::Write;
use std::panic::AssertUnwindSafe;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;

use super::*;
use crate::sandbox::caps::DEFAULT_CAPS;
use crate::sandbox::sys;

/// Runs `f` in a forked child (a filter or a capability change is for the whole thread and
/// cannot be undone) and returns its exit code: 0 when `f` succeeded.
pub(crate) fn in_child(f: impl FnOnce() -> Result<(), Error>) -> i32 {
    // SAFETY: a test child, forked beside the harness's threads, as sys::fork allows.
    match unsafe { sys::fork() }.unwrap() {
        ForkResult::Child => {
            let code = match std::panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(Ok(())) => 0,
                Ok(Err(e)) => {
                    let _ = writeln!(std::io::stderr(), "child: {e}");
                    1
                }
                Err(_) => 2,
            };
            sys::exit_now(code)
        }
        ForkResult::Parent { child } => match waitpid(child, None).unwrap() {
            WaitStatus::Exited(_, code) => code,
            other => panic!("child ended with {other:?}"),
        },
    }
}

fn opts(v: &[&str]) -> Result<(Seccomp, bool), Error> {
    parse_security_opts(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

fn default_caps() -> Vec<String> {
    DEFAULT_CAPS.iter().map(|s| s.to_string()).collect()
}

fn expect(what: &str, got: Result<impl std::fmt::Debug, Errno>, want: Errno) -> Result<(), Error> {
    match got {
        Err(e) if e == want => Ok(()),
        other => Err(Error::new(format!("{what}: got {other:?}, want {want}"))),
    }
}

#[test]
fn security_opts_table() {
    assert_eq!(opts(&[]).unwrap(), (Seccomp::Default, false));
    assert_eq!(
        opts(&["seccomp=unconfined"]).unwrap(),
        (Seccomp::Unconfined, false)
    );
    assert_eq!(
        opts(&["seccomp:unconfined"]).unwrap(),
        (Seccomp::Unconfined, false)
    );
    assert!(opts(&["no-new-privileges"]).unwrap().1);
    assert!(opts(&["no-new-privileges=true"]).unwrap().1);
    assert!(opts(&["no-new-privileges:true"]).unwrap().1);
    assert!(
        !opts(&["no-new-privileges", "no-new-privileges=false"])
            .unwrap()
            .1
    );
    assert_eq!(
        opts(&["label=disable", "label:type:svirt_t", "apparmor=unconfined"]).unwrap(),
        (Seccomp::Default, false)
    );
    for bad in [
        "bogus",
        "foo=bar",
        "no-new-privileges=maybe",
        "seccomp=",
        "label",
    ] {
        assert_eq!(
            opts(&[bad]).unwrap_err().to_string(),
            format!("invalid --security-opt: {bad}"),
        );
    }
}

#[test]
fn profile_files_are_read_at_parse_time() {
    let dir = std::env::temp_dir().join(format!("cove-seccomp-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.json");
    std::fs::write(&path, r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    let (got, _) = opts(&[&format!("seccomp={}", path.display())]).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        got,
        Seccomp::Profile(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#.into())
    );
    let err = opts(&["seccomp=/nonexistent/p.json"]).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("opening seccomp profile (/nonexistent/p.json) failed: "));
}

#[test]
fn default_profile_compiles_here() {
    validate(&Seccomp::Default).unwrap();
    validate(&Seccomp::Unconfined).unwrap();
}

#[test]
fn bad_profiles_fail_with_one_line() {
    let bad = |text: &str| {
        validate(&Seccomp::Profile(text.into()))
            .unwrap_err()
            .to_string()
    };
    assert!(bad("{nope").starts_with("seccomp profile: "));
    assert_eq!(
        bad(r#"{"defaultAction":"SCMP_ACT_MAYBE"}"#),
        "seccomp profile: unknown action \"SCMP_ACT_MAYBE\""
    );
    let rule = |r: &str| format!(r#"{{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{r}]}}"#);
    assert_eq!(
        bad(&rule(
            r#"{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_ISH"}]}"#
        )),
        "seccomp profile: unknown operator \"SCMP_CMP_ISH\""
    );
    assert_eq!(
        bad(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}"#),
        "seccomp profile: unknown architecture \"SCMP_ARCH_Z80\""
    );
    // Unknown syscall names, Go-style nulls and the old single "name" form are fine.
    validate(&Seccomp::Profile(rule(
        r#"{"names":["read","no_such_call"],"action":"SCMP_ACT_ALLOW","args":null,"includes":null},
           {"name":"write","action":"SCMP_ACT_ALLOW"}"#,
    )))
    .unwrap();
}

#[test]
fn rules_are_selected_by_caps_arch_and_kernel() {
    let rule = |json: &str| -> Rule { serde_json::from_str(json).unwrap() };
    let host = Host {
        caps: ["CAP_SYS_ADMIN".to_string()].into(),
        arch_names: &["amd64", "x86_64"],
        kernel: Some((5, 10)),
    };
    let base = r#""names":["x"],"action":"SCMP_ACT_ALLOW""#;
    let check = |extra: &str| applies(&rule(&format!("{{{base},{extra}}}")), &host).unwrap();
    assert!(check(r#""includes":{"caps":["sys_admin"]}"#));
    assert!(!check(r#""includes":{"caps":["CAP_SYS_ADMIN","CAP_BPF"]}"#));
    assert!(!check(r#""excludes":{"caps":["CAP_SYS_ADMIN"]}"#));
    assert!(check(r#""excludes":{"caps":["CAP_BPF"]}"#));
    assert!(check(r#""includes":{"arches":["amd64","x32"]}"#));
    assert!(!check(r#""includes":{"arches":["s390x"]}"#));
    assert!(!check(r#""excludes":{"arches":["amd64"]}"#));
    assert!(check(r#""includes":{"minKernel":"4.8"}"#));
    assert!(check(r#""includes":{"minKernel":"5.10"}"#));
    assert!(!check(r#""includes":{"minKernel":"5.11"}"#));
    assert_eq!(parse_kernel("6.18.44-fc-v782"), Some((6, 18)));
    assert_eq!(parse_kernel("6.1.0-13-amd64"), Some((6, 1)));
    assert_eq!(parse_kernel("junk"), None);
}

#[test]
fn default_profile_blocks_namespaces_and_allows_ordinary_calls() {
    let dir = std::env::temp_dir().join(format!("cove-seccomp-load-{}", std::process::id()));
    let code = in_child(|| {
        // The test may run without CAP_SYS_ADMIN; with no_new_privs the kernel allows the load.
        nix::sys::prctl::set_no_new_privs().map_err(|e| Error::new(e.to_string()))?;
        load(&Seccomp::Default, &default_caps())?;
        expect(
            "unshare(CLONE_NEWUTS)",
            sys::unshare(CloneFlags::CLONE_NEWUTS),
            Errno::EPERM,
        )?;
        expect(
            "unshare(CLONE_NEWUSER)",
            sys::unshare(CloneFlags::CLONE_NEWUSER),
            Errno::EPERM,
        )?;
        if nix::unistd::getpid().as_raw() <= 0 {
            return Err(Error::new("getpid failed"));
        }
        std::fs::create_dir(&dir).map_err(|e| Error::new(format!("mkdir: {e}")))?;
        std::fs::remove_dir(&dir).map_err(|e| Error::new(format!("rmdir: {e}")))?;
        // glibc creates threads with clone3 first: the profile's ENOSYS sends it to clone,
        // whose thread flags (no namespace bits) pass.
        std::thread::spawn(|| ())
            .join()
            .map_err(|_| Error::new("thread failed"))?;
        Ok(())
    });
    assert_eq!(code, 0);
}

#[test]
fn user_profile_blocking_mkdir() {
    let profile = Seccomp::Profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#
            .into(),
    );
    validate(&profile).unwrap();
    let dir = std::env::temp_dir().join(format!("cove-seccomp-mkdir-{}", std::process::id()));
    let code = in_child(|| {
        nix::sys::prctl::set_no_new_privs().map_err(|e| Error::new(e.to_string()))?;
        load(&profile, &default_caps())?;
        match std::fs::create_dir(&dir) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EPERM) => Ok(()),
            other => Err(Error::new(format!("mkdir: got {other:?}, want EPERM"))),
        }
    });
    assert_eq!(code, 0);
    assert!(!dir.exists());
}
