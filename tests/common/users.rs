//! Unprivileged test users, created once and idempotently (a lock file guards concurrent test
//! binaries): `covetest` with an /etc/subuid and /etc/subgid range, `covenosub` without one
//! (cove must fall back to a single-ID mapping for it).

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use nix::fcntl::{Flock, FlockArg};

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

pub fn test_user() -> &'static User {
    static U: OnceLock<User> = OnceLock::new();
    U.get_or_init(|| ensure("covetest", true))
}

pub fn nosub_user() -> &'static User {
    static U: OnceLock<User> = OnceLock::new();
    U.get_or_init(|| ensure("covenosub", false))
}

fn lookup(name: &str) -> Option<User> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[0] == name).then(|| User {
            name: name.to_string(),
            uid: f[2].parse().unwrap(),
            gid: f[3].parse().unwrap(),
        })
    })
}

fn has_range(file: &str, name: &str) -> bool {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(':').next() == Some(name))
}

/// First ID after every range in /etc/subuid and /etc/subgid.
fn next_free_start() -> u64 {
    let mut start = 100_000u64;
    for file in ["/etc/subuid", "/etc/subgid"] {
        for l in fs::read_to_string(file).unwrap_or_default().lines() {
            let f: Vec<&str> = l.split(':').collect();
            if let (Some(s), Some(n)) = (f.get(1), f.get(2)) {
                if let (Ok(s), Ok(n)) = (s.parse::<u64>(), n.parse::<u64>()) {
                    start = start.max(s + n);
                }
            }
        }
    }
    start
}

fn ensure(name: &str, with_range: bool) -> User {
    super::require_root("creating test users");
    let lock = fs::File::create(super::base().join("users.lock")).unwrap();
    let _guard = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .unwrap();
    if lookup(name).is_none() {
        let out = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", name])
            .output()
            .expect("cannot run useradd");
        // 9: the user appeared meanwhile (another run without our lock file).
        assert!(
            out.status.success() || out.status.code() == Some(9),
            "useradd {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if with_range {
        if !has_range("/etc/subuid", name) || !has_range("/etc/subgid", name) {
            let s = next_free_start();
            let range = format!("{s}-{}", s + 65535);
            super::sh(
                "usermod",
                &["--add-subuids", &range, "--add-subgids", &range, name],
            );
        }
        assert!(
            has_range("/etc/subuid", name),
            "{name} has no /etc/subuid range"
        );
    } else {
        for file in ["/etc/subuid", "/etc/subgid"] {
            let text = fs::read_to_string(file).unwrap_or_default();
            let kept: String = text
                .lines()
                .filter(|l| l.split(':').next() != Some(name))
                .map(|l| format!("{l}\n"))
                .collect();
            if kept != text {
                fs::write(file, kept).unwrap();
            }
        }
    }
    lookup(name).unwrap_or_else(|| panic!("user {name} missing after useradd"))
}

impl User {
    pub fn home(&self) -> PathBuf {
        PathBuf::from(format!("/home/{}", self.name))
    }
}
