//! Running the real cove binary as root or as a test user, each test with private `--root`,
//! `--runroot`, HOME, XDG_RUNTIME_DIR and XDG_CONFIG_HOME, and assertions on what it printed.

use std::io::Read;
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::out::Out;
use super::users::{nosub_user, test_user, User};

/// Who runs cove: root, `covetest` (subuid range), `covenosub` (no range), or whoever runs
/// the tests (for commands that need no privilege: help, version, completion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Root,
    Rootless,
    NoSubuid,
    Caller,
}

/// A copy of the binary under test in a 0755 dir, since the repo may not be readable by the
/// test users.
pub fn cove_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = super::run_dir().join("bin");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("cove");
        std::fs::copy(env!("CARGO_BIN_EXE_cove"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    })
}

/// Kills the pause process named in a `pause.pid` file, if it is still a cove pause process.
pub fn kill_pause(pidfile: &Path) {
    let Some(pid) = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    if super::registry::comm(pid).as_deref() == Some("cove-pause") {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

pub struct Cove {
    pub who: Who,
    /// None for root.
    pub user: Option<User>,
    pub uid: u32,
    pub gid: u32,
    /// The test's private dir holding everything below.
    pub dir: PathBuf,
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub home: PathBuf,
    pub runtime_dir: PathBuf,
    pub config_home: PathBuf,
    pub data_home: PathBuf,
}

impl Cove {
    pub fn new(who: Who) -> Cove {
        if who != Who::Caller {
            super::require_root("running cove as root and as test users");
        }
        let user = match who {
            Who::Root | Who::Caller => None,
            Who::Rootless => Some(test_user().clone()),
            Who::NoSubuid => Some(nosub_user().clone()),
        };
        let (uid, gid) = match (who, &user) {
            (Who::Caller, _) => (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            ),
            (_, Some(u)) => (u.uid, u.gid),
            (_, None) => (0, 0),
        };
        let dir = super::unique_dir("t");
        let sub = |n: &str| dir.join(n);
        let c = Cove {
            who,
            user,
            uid,
            gid,
            root: sub("root"),
            runroot: sub("runroot"),
            home: sub("home"),
            runtime_dir: sub("xdg-run"),
            config_home: sub("config"),
            data_home: sub("data"),
            dir,
        };
        for d in [
            &c.dir,
            &c.root,
            &c.runroot,
            &c.home,
            &c.runtime_dir,
            &c.config_home,
            &c.data_home,
        ] {
            std::fs::create_dir_all(d).unwrap();
            c.own(d, 0o700);
        }
        // An empty registries.conf shadows the host's /etc/containers one.
        c.write_config("containers/registries.conf", "");
        c
    }

    pub fn as_root() -> Cove {
        Cove::new(Who::Root)
    }

    pub fn as_user(user: &User) -> Cove {
        let who = if user.name == nosub_user_name() {
            Who::NoSubuid
        } else {
            Who::Rootless
        };
        Cove::new(who)
    }

    fn own(&self, path: &Path, mode: u32) {
        chown(path, Some(self.uid), Some(self.gid)).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Writes `content` to `path` (inside the test dir), creating parents, owned by the user.
    pub fn write(&self, path: &Path, content: &str) -> PathBuf {
        let mut created = Vec::new();
        let mut p = path.parent();
        while let Some(d) = p {
            if d.exists() {
                break;
            }
            created.push(d.to_path_buf());
            p = d.parent();
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        for d in created {
            self.own(&d, 0o700);
        }
        std::fs::write(path, content).unwrap();
        self.own(path, 0o600);
        path.to_path_buf()
    }

    /// Writes a file under `$XDG_CONFIG_HOME`.
    pub fn write_config(&self, rel: &str, content: &str) -> PathBuf {
        self.write(&self.config_home.join(rel), content)
    }

    pub fn registries_conf_path(&self) -> PathBuf {
        self.config_home.join("containers/registries.conf")
    }

    /// Replaces the registries.conf cove reads (`$XDG_CONFIG_HOME/containers/registries.conf`,
    /// also named by `CONTAINERS_REGISTRIES_CONF` for root).
    pub fn registries_conf(&self, content: &str) {
        self.write(&self.registries_conf_path(), content);
    }

    /// A command to adjust before running.
    pub fn cmd(&self, args: &[&str]) -> Run<'_> {
        Run {
            cove: self,
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            remove: Vec::new(),
            store_flags: true,
            timeout: Duration::from_secs(240),
            pty: false,
            input: None,
            bin: None,
            nofile: None,
        }
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.cmd(args).run()
    }

    /// `cove pull --tls-verify=false REF`, asserted to succeed.
    pub fn pull(&self, reference: &str) -> Out {
        let out = self.run(&["pull", "--tls-verify=false", reference]);
        out.assert_ok();
        out
    }

    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("overlay/layers")
    }

    /// Names of the unpacked layer dirs (64 hex, one per chain ID), sorted.
    pub fn layer_dirs(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.layers_dir())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// The content of an unpacked layer: its dir, or its `diff` subdir when there is one.
    pub fn layer_content(&self, chain_id: &str) -> PathBuf {
        let d = self.layers_dir().join(chain_id);
        if d.join("diff").is_dir() {
            d.join("diff")
        } else {
            d
        }
    }

    /// Leftover temporaries (`.tmp-*`) under `<root>/overlay/layers`.
    pub fn temp_leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.layers_dir())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(".tmp-"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the store is as if no pull had happened: no image listed, no layer, no temp.
    pub fn assert_store_empty(&self) {
        let out = self.run(&["images", "-q"]);
        out.assert_ok();
        assert_eq!(
            out.stdout.trim(),
            "",
            "images left after a failed pull: {out}"
        );
        assert_eq!(
            self.layer_dirs(),
            Vec::<String>::new(),
            "layer dirs left behind"
        );
        assert_eq!(
            self.temp_leftovers(),
            Vec::<String>::new(),
            "temp dirs left behind"
        );
    }
}

fn nosub_user_name() -> &'static str {
    "covenosub"
}

impl Drop for Cove {
    fn drop(&mut self) {
        // Monitors of this test's containers (and what they supervise) outlive a failed test.
        super::ctr::kill_monitors(&self.root);
        kill_pause(&self.runroot.join("pause.pid"));
        kill_pause(&self.runtime_dir.join("cove/pause.pid"));
        if !std::thread::panicking() || std::env::var_os("COVE_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A cove invocation being prepared.
pub struct Run<'a> {
    cove: &'a Cove,
    args: Vec<String>,
    env: Vec<(String, String)>,
    remove: Vec<String>,
    store_flags: bool,
    timeout: Duration,
    pty: bool,
    input: Option<Vec<u8>>,
    bin: Option<PathBuf>,
    nofile: Option<u32>,
}

impl Run<'_> {
    /// Run cove with at most `n` open descriptors (under util-linux `prlimit`), so that a
    /// descriptor leak shows whatever the machine's own limit is.
    pub fn nofile(mut self, n: u32) -> Self {
        self.nofile = Some(n);
        self
    }
    /// Feed `data` on stdin (then close it) instead of /dev/null.
    pub fn input(mut self, data: &str) -> Self {
        self.input = Some(data.as_bytes().to_vec());
        self
    }
    /// Feed these bytes on stdin (then close it): an archive, a tarball.
    pub fn input_bytes(mut self, data: Vec<u8>) -> Self {
        self.input = Some(data);
        self
    }
    /// Run this copy of the binary instead of the shared one.
    pub fn bin(mut self, path: &Path) -> Self {
        self.bin = Some(path.to_path_buf());
        self
    }
    /// Run cove on a real PTY of `rows` x `cols` (see `Pty`), as its controlling terminal.
    pub fn pty(self, rows: u16, cols: u16) -> super::pty::Pty {
        let label = format!("cove {:?} ({:?})", self.args, self.cove.who);
        let mut cmd = self.command();
        cmd.env("TERM", "xterm");
        super::pty::Pty::spawn(cmd, self.cove.uid, self.cove.gid, rows, cols, label)
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn env_remove(mut self, k: &str) -> Self {
        self.remove.push(k.into());
        self
    }
    /// Leave out `--root`/`--runroot` so cove picks its default locations.
    pub fn default_store(mut self) -> Self {
        self.store_flags = false;
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Run cove with a terminal as its stdin/stdout (util-linux `script` makes the PTY);
    /// what cove writes to the terminal arrives on `stdout`.
    pub fn in_pty(mut self) -> Self {
        self.pty = true;
        self
    }

    fn command(&self) -> Command {
        let c = self.cove;
        let bin = self.bin.as_deref().unwrap_or(cove_bin());
        let mut argv: Vec<String> = vec![bin.display().to_string()];
        if self.store_flags {
            argv.push("--root".into());
            argv.push(c.root.display().to_string());
            argv.push("--runroot".into());
            argv.push(c.runroot.display().to_string());
        }
        argv.extend(self.args.iter().cloned());
        if let Some(n) = self.nofile {
            let limit = format!("--nofile={n}:{n}");
            argv.splice(0..0, ["prlimit".to_string(), limit, "--".to_string()]);
        }
        let mut cmd = if self.pty {
            let line: Vec<String> = argv
                .iter()
                .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
                .collect();
            let mut cmd = Command::new("script");
            cmd.args(["-qec", &line.join(" "), "/dev/null"]);
            cmd
        } else {
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..]);
            cmd
        };
        cmd.env_clear().current_dir(&c.home);
        let name = c.user.as_ref().map_or("root", |u| u.name.as_str());
        let mut env: Vec<(String, String)> = vec![
            (
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ),
            ("HOME".into(), c.home.display().to_string()),
            ("USER".into(), name.into()),
            ("LOGNAME".into(), name.into()),
            (
                "XDG_RUNTIME_DIR".into(),
                c.runtime_dir.display().to_string(),
            ),
            (
                "XDG_CONFIG_HOME".into(),
                c.config_home.display().to_string(),
            ),
            ("XDG_DATA_HOME".into(), c.data_home.display().to_string()),
        ];
        if c.uid == 0 {
            env.push((
                "CONTAINERS_REGISTRIES_CONF".into(),
                c.registries_conf_path().display().to_string(),
            ));
        }
        env.extend(self.env.iter().cloned());
        for (k, v) in env.iter().filter(|(k, _)| !self.remove.contains(k)) {
            cmd.env(k, v);
        }
        if let Some(u) = &c.user {
            // std drops supplementary groups (setgroups(0)) when it changes the uid as root.
            cmd.uid(u.uid).gid(u.gid);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts cove without waiting (to kill it midway, or to run two at once).
    pub fn spawn(self) -> Running {
        let mut cmd = self.command();
        if self.input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("cannot start cove");
        if let Some(data) = self.input.clone() {
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = stdin.write_all(&data);
            });
        }
        Running {
            child,
            args: self.args,
            who: self.cove.who,
            timeout: self.timeout,
        }
    }

    pub fn run(self) -> Out {
        self.spawn().wait()
    }
}

pub struct Running {
    pub child: Child,
    args: Vec<String>,
    who: Who,
    timeout: Duration,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Waits for the exit (killing cove and failing the test past the timeout).
    pub fn wait(self) -> Out {
        self.wait_with(|| {})
    }

    /// Waits like `wait`, also returning the highest peak resident set size (VmHWM, in KiB)
    /// cove reached, read from its /proc status while it runs.
    pub fn wait_peak_rss(self) -> (Out, u64) {
        let status = format!("/proc/{}/status", self.pid());
        let mut peak = 0;
        let out = self.wait_with(|| {
            let text = std::fs::read_to_string(&status).unwrap_or_default();
            if let Some(kb) = super::ctr::status_field(&text, "VmHWM")
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        });
        (out, peak)
    }

    fn wait_with(mut self, mut tick: impl FnMut()) -> Out {
        let mut so = self.child.stdout.take().unwrap();
        let mut se = self.child.stderr.take().unwrap();
        let to = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = so.read_to_end(&mut s);
            s
        });
        let te = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = se.read_to_end(&mut s);
            s
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            tick();
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "cove {:?} ({:?}) still running after {:?}",
                    self.args, self.who, self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let raw = to.join().unwrap();
        Out {
            args: self.args,
            who: self.who,
            status,
            stdout: String::from_utf8_lossy(&raw).into_owned(),
            stderr: String::from_utf8_lossy(&te.join().unwrap()).into_owned(),
            raw_stdout: raw,
        }
    }
}
