//! Debian's `docker-registry` (the CNCF distribution registry), started once per test binary on
//! a free loopback port, with storage under the run dir and deletes enabled.
//!
//! Lifetime: see the module docs of `common`. The registry runs as
//! `sh -c 'docker-registry serve CFG & ...; read _; kill $!'` in a process group of its own; the
//! shell's stdin is a pipe whose write end this process keeps in a static, so when the test
//! binary exits the shell reads EOF and kills the registry. `reap_stale_runs` is the fallback.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub struct Registry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub port: u16,
    /// The registry's storage root (`docker/registry/v2/...` below it).
    pub storage: PathBuf,
    /// The registry process (not the watchdog shell).
    pub pid: i32,
    _watchdog: Mutex<(Child, ChildStdin)>,
}

const WATCHDOG: &str =
    r#"docker-registry serve "$1" & echo $! > "$2"; read _eof; kill $! 2>/dev/null; wait"#;

/// The registry of this test binary, started on first use.
pub fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(start)
}

/// Picks a port the kernel says is free right now. Another process may take it before the
/// registry binds it, so callers retry on failure.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn start() -> Registry {
    start_named("registry", "", |addr| {
        super::http::get(addr, "/v2/", &[]).is_ok_and(|r| r.status() == 200)
    })
}

/// A registry in `<run dir>/NAME` with `extra` appended to its config's `http:` section's
/// siblings (auth, tls), ready once `ready(addr)` says so.
fn start_named(name: &str, extra: &str, ready: fn(&str) -> bool) -> Registry {
    let dir = super::run_dir().join(name);
    fs::create_dir_all(&dir).unwrap();
    let storage = dir.join("storage");
    let mut last_log = String::new();
    for _attempt in 0..5 {
        let port = free_port();
        let config = dir.join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n{extra}",
                storage.display()
            ),
        )
        .unwrap();
        let pidfile = dir.join("registry.pid");
        let _ = fs::remove_file(&pidfile);
        let log = fs::File::create(dir.join("registry.log")).unwrap();
        let mut child = Command::new("sh")
            .args(["-c", WATCHDOG, "cove-registry-watchdog"])
            .arg(&config)
            .arg(&pidfile)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("cannot start sh for docker-registry");
        let stdin = child.stdin.take().unwrap();
        let pgid = child.id() as i32;
        let addr = format!("127.0.0.1:{port}");
        match wait_ready(&addr, &pidfile, ready) {
            Some(pid) => {
                fs::write(
                    super::run_dir().join(format!("{name}.pid")),
                    format!("{pid} {pgid}\n"),
                )
                .unwrap();
                return Registry {
                    addr,
                    port,
                    storage,
                    pid,
                    _watchdog: Mutex::new((child, stdin)),
                };
            }
            None => {
                let _ = kill(Pid::from_raw(-pgid), Signal::SIGKILL);
                let _ = child.wait();
                last_log = fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
            }
        }
    }
    panic!(
        "docker-registry did not start (is the docker-registry package installed? \
         see scripts/test.sh); its log:\n{last_log}"
    );
}

/// Waits until `ready(addr)`; `None` if the registry died or never got ready.
fn wait_ready(addr: &str, pidfile: &Path, ready: fn(&str) -> bool) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let Some(pid) = fs::read_to_string(pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return None;
        }
        if ready(addr) {
            return Some(pid);
        }
    }
    None
}

/// Kills what a previous, dead test process left behind (registry, pause processes) and
/// removes its run dir. Runs of live processes (a concurrent `cargo test`) are left alone.
pub fn reap_stale_runs(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix("run-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let run = e.path();
        let pidfiles: Vec<PathBuf> = fs::read_dir(&run)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with("registry.pid"))
            .collect();
        for s in pidfiles.iter().filter_map(|p| fs::read_to_string(p).ok()) {
            let ids: Vec<i32> = s
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if let Some(&pid) = ids.first() {
                if comm(pid).as_deref() == Some("docker-registry") {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            if let Some(&pgid) = ids.get(1) {
                if comm(pgid).as_deref() == Some("sh") {
                    let _ = kill(Pid::from_raw(-pgid), Signal::SIGKILL);
                }
            }
        }
        for entry in walkdir::WalkDir::new(&run)
            .max_depth(6)
            .into_iter()
            .flatten()
        {
            if entry.file_name() == "pause.pid" {
                super::cove::kill_pause(entry.path());
            }
        }
        let _ = fs::remove_dir_all(&run);
    }
}

/// `/proc/PID/comm` without the newline.
pub fn comm(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Path of a blob's data file in the registry storage (to corrupt or inspect it directly).
pub fn blob_path(reg: &Registry, digest: &str) -> PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    reg.storage
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

/// A second registry: TLS with a certificate made here by `openssl` (CA = the certificate
/// itself, for 127.0.0.1), and htpasswd (bcrypt) basic auth for `user`/`password`.
pub struct SecureRegistry {
    pub reg: Registry,
    /// The PEM certificate a client must trust (goes to `certs.d/ADDR/ca.crt`).
    pub ca: PathBuf,
    pub user: &'static str,
    pub password: &'static str,
}

pub fn secure_registry() -> &'static SecureRegistry {
    static REG: OnceLock<SecureRegistry> = OnceLock::new();
    REG.get_or_init(|| {
        let dir = super::run_dir().join("secure-registry-files");
        fs::create_dir_all(&dir).unwrap();
        let (cert, key, htpasswd) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("htpasswd"));
        // A CA of the test's own, and a server certificate it signed for 127.0.0.1.
        let ca = dir.join("ca.crt");
        let ext = dir.join("server.ext");
        fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .expect("cannot run openssl (scripts/test.sh installs it)");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cove-test-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
        openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "server.csr"]);
        openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "cert.pem"]);
        let (user, password) = ("pusher", "p4ss-w0rd");
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .expect("cannot run htpasswd (apache2-utils; scripts/test.sh installs it)");
        assert!(out.status.success());
        fs::write(&htpasswd, &out.stdout).unwrap();
        let extra = format!(
            "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: cove-test\n    path: {}\n",
            cert.display(),
            key.display(),
            htpasswd.display()
        );
        let reg = start_named("secure-registry", &extra, |addr| {
            std::net::TcpStream::connect(addr).is_ok()
        });
        SecureRegistry {
            reg,
            ca,
            user,
            password,
        }
    })
}
