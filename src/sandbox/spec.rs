//! What a container process is made of, as plain data: the container layer builds a `Spec` from
//! its record, the sandbox turns it into namespaces, mounts and an exec. Nothing here touches the
//! system, so the whole of it can be built and checked in unit tests.

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::exit;

pub use super::seccomp::Seccomp;

/// Everything `spawn` needs to start a container's first process.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Spec {
    pub rootfs: Rootfs,
    pub process: Process,
    pub hostname: String,
    /// User binds, tmpfs and volumes, plus the userdata hosts/hostname/resolv.conf binds.
    pub mounts: Vec<Mount>,
    pub read_only_root: bool,
    pub namespaces: Namespaces,
    pub devices: Vec<Device>,
    pub privileged: bool,
    /// /proc and /sys paths left unmasked (`--security-opt systempaths=unconfined`, `unmask=`;
    /// "ALL" for every one).
    pub unmasked: Vec<String>,
    /// Keep cove as pid 1: forward signals, reap orphans, exit with the command's status.
    pub init: bool,
    /// `--userns keep-id`: the caller's (uid, gid) inside, in a nested user namespace.
    pub keep_id: Option<(u32, u32)>,
    /// `--preserve-fds N`: the caller's descriptors 3..3+N stay open in the container, at the
    /// same numbers.
    #[serde(default)]
    pub preserve_fds: u32,
}

/// The layers and per-container directories the root file system is stacked from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Rootfs {
    /// Layer diff directories, top first. Empty for a `scratch` image.
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
    /// Rootless: overlay keeps its attributes in `user.overlay.*` (mount option `userxattr`).
    pub userxattr: bool,
    /// `--userns keep-id`: the layers' owners are shown as the user's shared namespace has
    /// them (image root as 0), through fuse-overlayfs's id mappings; the kernel's overlay
    /// cannot shift ids without root.
    pub shift_ids: bool,
}

/// The process to exec, and the identity and confinement it runs with.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// Absolute path inside the container; created when missing, like docker does.
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub terminal: bool,
    /// The final capability set, e.g. "CAP_CHOWN".
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub rlimits: Vec<Rlimit>,
    pub seccomp: Seccomp,
    /// The default profile already compiled to BPF for this process's caps (a cached copy;
    /// see `seccomp::default_bpf`). When set, it is loaded instead of compiling `seccomp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_bpf: Option<Vec<u8>>,
    pub apparmor: Option<String>,
}

/// One `--ulimit`: docker's names ("nofile", "nproc", "core", ...).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// A mount requested for the container; destinations are absolute paths inside it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Mount {
    /// A host file or directory (already resolved to an absolute host path).
    Bind {
        source: PathBuf,
        destination: String,
        read_only: bool,
    },
    /// A tmpfs; `options` as `--tmpfs` takes them ("size=64m,mode=1777", "ro", "noexec").
    Tmpfs {
        destination: String,
        options: String,
    },
}

impl Mount {
    pub fn destination(&self) -> &str {
        match self {
            Mount::Bind { destination, .. } | Mount::Tmpfs { destination, .. } => destination,
        }
    }
}

/// Which namespaces are shared with the host instead of created.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub pid_host: bool,
    pub ipc_host: bool,
    pub uts_host: bool,
    pub net: NetMode,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetMode {
    /// The host's network (the default until rootless networking exists).
    #[default]
    Host,
    /// A new network namespace with only loopback.
    None,
}

/// `--device`: a host device node made visible in the container (bind-mounted: a user
/// namespace may not create device nodes).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub host_path: PathBuf,
    pub container_path: String,
    /// "rwm" as docker takes it; only `w` matters here (no `w`: read-only bind).
    pub permissions: String,
}

/// The three descriptors the container process gets as 0, 1 and 2: pipes, or a PTY's slave.
pub struct Stdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// With a terminal: the container makes its own pty once its devpts is mounted and takes
    /// it over 0-2 (whatever they were), sending the master back on this socket.
    pub console: Option<super::console::ConsoleSocket>,
}

/// A started container: `pid` is its first process (pid 1 inside, unless `--pid host`), a
/// direct child of the caller, which must reap it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spawned {
    pub pid: i32,
    /// "overlay", "fuse-overlayfs" or "copy".
    pub rootfs_mode: String,
}

/// Why a container process did not start, sorted the way docker's exit codes need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnErrorKind {
    /// cove itself failed (125).
    Engine,
    /// The command exists but cannot be run: a directory, no permission, not an executable (126).
    CannotInvoke,
    /// The command does not exist (127).
    NotFound,
}

/// A failure of `spawn` or `exec_in`, already worded like docker's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpawnError {
    pub kind: SpawnErrorKind,
    pub message: String,
}

impl SpawnError {
    pub fn engine(message: impl Into<String>) -> SpawnError {
        SpawnError {
            kind: SpawnErrorKind::Engine,
            message: message.into(),
        }
    }

    /// docker's exit code for this failure: 125, 126 or 127.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            SpawnErrorKind::Engine => exit::ENGINE,
            SpawnErrorKind::CannotInvoke => exit::CANNOT_INVOKE,
            SpawnErrorKind::NotFound => exit::NOT_FOUND,
        }
    }

    /// The exit code as ipc messages carry it (one byte: 125, 126 or 127).
    pub fn code(&self) -> u8 {
        u8::try_from(self.exit_code()).unwrap_or(u8::MAX)
    }

    /// The failure an ipc message carries: 126 and 127 keep their kind, anything else is 125.
    pub fn from_code(code: u8, message: String) -> SpawnError {
        let kind = match code {
            126 => SpawnErrorKind::CannotInvoke,
            127 => SpawnErrorKind::NotFound,
            _ => SpawnErrorKind::Engine,
        };
        SpawnError { kind, message }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpawnError {}

impl From<super::Error> for SpawnError {
    fn from(e: super::Error) -> SpawnError {
        SpawnError::engine(e.to_string())
    }
}

/// Docker's PATH when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A plain container spec for tests: busybox-like, unprivileged, all namespaces private.
#[cfg(test)]
pub fn sample_spec(root: &std::path::Path) -> Spec {
    Spec {
        rootfs: Rootfs {
            lower: vec![root.join("lower")],
            upper: root.join("upper"),
            work: root.join("work"),
            merged: root.join("merged"),
            userxattr: false,
            shift_ids: false,
        },
        process: Process {
            args: vec!["sh".to_string()],
            env: vec![format!("PATH={DEFAULT_PATH}")],
            cwd: "/".to_string(),
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            terminal: false,
            caps: Vec::new(),
            no_new_privs: false,
            rlimits: Vec::new(),
            seccomp: Seccomp::Default,
            seccomp_bpf: None,
            apparmor: None,
        },
        hostname: "box".to_string(),
        mounts: Vec::new(),
        read_only_root: false,
        namespaces: Namespaces::default(),
        devices: Vec::new(),
        privileged: false,
        unmasked: Vec::new(),
        init: false,
        keep_id: None,
        preserve_fds: 0,
    }
}
