//! Shared end-to-end harness: a local registry with fixture images, a fault-injecting front
//! proxy, test users, and a `Cove` runner that executes the real binary as root or rootless.
//!
//! Everything lives under one temp base, `$COVE_TEST_TMP` or `/tmp/cove-tests-<uid>`, with one
//! `run-<pid>` directory per test binary process. The registry cannot be killed reliably when
//! a Rust test binary exits (there is no process-exit hook), so it is started behind a small
//! shell watchdog that reads the test process's end of a pipe and kills the registry on EOF,
//! i.e. when the test process is gone for any reason. The watchdog and the registry share
//! their own process group; as a second line of defence each run writes `registry.pid`, and
//! the next run kills any registry (and removes any run dir) whose test process has died.
//!
//! Each `Cove` removes its private dirs when dropped; set `COVE_TEST_KEEP=1` to keep those of
//! failing tests for a look (they are under the run dir, reaped by the next run).
#![allow(dead_code, unused_imports)]

pub mod cove;
pub mod ctr;
pub mod fixtures;
pub mod fsx;
pub mod http;
pub mod layout;
pub mod out;
pub mod podman;
pub mod proxy;
pub mod pty;
pub mod registry;
pub mod tarball;
pub mod tmpfs;
pub mod users;

pub use cove::{Cove, Who};
pub use fixtures::{fixtures, remote_digests, Fixtures, Image};
pub use out::Out;
pub use proxy::{Mode, Proxy};
pub use registry::registry;
pub use users::{nosub_user, test_user, User};

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// `both!(case)` defines `mod case { fn root(); fn rootless(); }`, each running the function
/// `case(Who)` of the same name, so each side is reported (and run in parallel) separately.
#[macro_export]
macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn root() {
                    super::$name($crate::common::Who::Root)
                }
                #[test]
                fn rootless() {
                    super::$name($crate::common::Who::Rootless)
                }
            }
        )+
    };
}

/// The temp base shared by all test binaries of this user (0755 so test users can traverse it).
pub fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let base = std::env::var_os("COVE_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/cove-tests-{}", nix::unistd::getuid())));
        std::fs::create_dir_all(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        registry::reap_stale_runs(&base);
        base
    })
}

/// This test process's own directory under the base (registry storage, binary copy, test dirs).
pub fn run_dir() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = base().join(format!("run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("owner.pid"), std::process::id().to_string()).unwrap();
        dir
    })
}

/// A fresh, uniquely named directory under the run dir.
pub fn unique_dir(prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = run_dir().join(format!("{prefix}-{}", N.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Fails the calling test with a clear message unless it runs as root.
pub fn require_root(what: &str) {
    assert!(
        is_root(),
        "{what} needs root (it creates test users and runs cove as them): \
         run ./scripts/test.sh as root"
    );
}

pub fn sha256_hex(data: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(data);
    hex(&h.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = bits << 6 | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    Some(out)
}

/// Runs a host tool and panics with its output if it fails.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program}: {e} (is it installed? see scripts/test.sh)")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
