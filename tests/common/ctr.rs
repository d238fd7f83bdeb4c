//! Helpers for container tests: the fixture image pulled into a test's store, polling, and
//! processes found through /proc (monitors, their descendants, what a container left behind).

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::cove::Cove;
use super::out::Out;

/// Every pid in /proc.
pub fn pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The command line with NULs as spaces (and a trailing space), or None once it is gone.
pub fn cmdline(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.iter()
            .map(|&b| if b == 0 { ' ' } else { b as char })
            .collect(),
    )
}

pub fn comm(pid: i32) -> Option<String> {
    super::registry::comm(pid)
}

/// The parent pid, from /proc/PID/stat (after the parenthesised comm, which may hold spaces).
pub fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

/// A process that exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 2..];
            Some(!rest.starts_with('Z') && !rest.starts_with('X'))
        })
        .unwrap_or(false)
}

/// Monitors (comm `cove-monitor`) whose command line contains `needle`.
pub fn monitors(needle: &str) -> Vec<i32> {
    pids()
        .into_iter()
        .filter(|&p| comm(p).as_deref() == Some("cove-monitor"))
        .filter(|&p| cmdline(p).is_some_and(|c| c.contains(needle)))
        .collect()
}

/// Processes whose command line contains `needle` (the test process itself excluded).
pub fn processes_with(needle: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    pids()
        .into_iter()
        .filter(|&p| p != me && alive(p))
        .filter_map(|p| Some((p, cmdline(p)?)))
        .filter(|(_, c)| c.contains(needle))
        .collect()
}

/// All descendants of `pid`.
pub fn descendants(pid: i32) -> Vec<i32> {
    let all: Vec<(i32, i32)> = pids()
        .into_iter()
        .filter_map(|p| Some((p, ppid(p)?)))
        .collect();
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for &(c, pp) in &all {
            if pp == p && !out.contains(&c) {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out
}

/// Kills the monitors of the store at `root` and everything they started (all of it was
/// started by the test owning that store). Monitors first, so none restarts a container.
pub fn kill_monitors(root: &Path) {
    let needle = format!("--root {} ", root.display());
    for m in monitors(&needle) {
        let tree = descendants(m);
        let _ = kill(Pid::from_raw(m), Signal::SIGKILL);
        for p in tree {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
}

/// Polls `f` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A field of /proc/PID/status text (`CapEff`, `NoNewPrivs`...), trimmed.
pub fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == name).then(|| v.trim())
    })
}

/// A capability mask field of /proc/PID/status text as a number.
pub fn cap_mask(status: &str, name: &str) -> u64 {
    let v = status_field(status, name).unwrap_or_else(|| panic!("no {name} in status:\n{status}"));
    u64::from_str_radix(v, 16).unwrap()
}

impl Cove {
    /// Pulls the fixture `busybox:latest` into this store and returns its reference.
    pub fn busybox(&self) -> String {
        let r = super::fixtures().reference("busybox:latest");
        self.pull(&r);
        r
    }

    /// Runs cove and asserts success.
    pub fn ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        out.assert_ok();
        out
    }

    /// `inspect --format FMT CTR`, trimmed, asserted to succeed.
    pub fn inspect_fmt(&self, ctr: &str, fmt: &str) -> String {
        self.ok(&["inspect", "--format", fmt, ctr])
            .stdout
            .trim()
            .to_string()
    }

    pub fn status_of(&self, ctr: &str) -> String {
        self.inspect_fmt(ctr, "{{.State.Status}}")
    }

    /// `rm -f` of each container, ignoring ones already gone.
    pub fn rm_f(&self, ctrs: &[&str]) {
        for c in ctrs {
            let _ = self
                .cmd(&["rm", "-f", c])
                .timeout(Duration::from_secs(60))
                .run();
        }
    }

    /// Asserts that no container record, upper dir or run state is left in this store.
    pub fn assert_no_containers(&self) {
        let q = self.ok(&["ps", "-a", "-q"]);
        assert_eq!(q.stdout.trim(), "", "containers left: {q}");
        let left = |dir: &Path, keep: &[&str]| -> Vec<String> {
            std::fs::read_dir(dir)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| !keep.contains(&n.as_str()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let names_index: &[&str] = &["names", "names.json", "names.lock", ".lock", "lock"];
        assert_eq!(
            left(&self.root.join("containers"), names_index),
            Vec::<String>::new(),
            "container records left under {}",
            self.root.join("containers").display()
        );
        assert_eq!(
            left(&self.root.join("overlay/containers"), &[]),
            Vec::<String>::new(),
            "container layers left"
        );
        assert_eq!(
            left(&self.runroot.join("containers"), names_index),
            Vec::<String>::new(),
            "run state left"
        );
    }
}
