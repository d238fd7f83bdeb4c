//! The container record kept at `<root>/containers/<id>/config.json`: what to run (Config),
//! how the host sets it up (HostConfig) and the persisted part of its state. Field names
//! follow docker's inspect output so `inspect` can print these structs as they are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::State;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerRecord {
    /// 64 hex characters.
    pub id: String,
    /// Without the leading '/'.
    pub name: String,
    /// RFC3339Nano, UTC.
    pub created: String,
    /// The image ID, "sha256:...".
    pub image: String,
    /// The image as the user typed it (ps's IMAGE column).
    pub image_name: String,
    pub config: ContainerConfig,
    #[serde(rename = "HostConfig")]
    pub host: HostConfig,
    pub state: State,
    pub restart_count: u32,
    /// "overlay" | "fuse-overlayfs" | "copy": how the root file system was last mounted.
    pub rootfs_mode: String,
}

/// The image's defaults merged with the run flags (docker's `Config`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, Value>,
    pub tty: bool,
    pub open_stdin: bool,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    /// What the user typed, kept for ps/inspect.
    pub image: String,
    pub working_dir: String,
    pub entrypoint: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// podman's `--passwd-entry`: the /etc/passwd line template for a user the image lacks.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub passwd_entry: String,
    /// podman's `--tz`: a zone name ("Asia/Tokyo") or "local".
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timezone: String,
    /// podman's `--timeout`: seconds a run may last before it is killed; 0 for no limit.
    pub timeout: u64,
}

/// Host-side setup from the run flags (docker's `HostConfig`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// `-v` values as typed: "src:dst[:opts]".
    pub binds: Vec<String>,
    /// `--mount` values, parsed.
    pub mounts: Vec<MountArg>,
    /// `--tmpfs`: target -> options.
    pub tmpfs: BTreeMap<String, String>,
    #[serde(rename = "ReadonlyRootfs")]
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    pub ulimits: Vec<Ulimit>,
    pub init: bool,
    pub pid_mode: String,
    pub ipc_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub network_mode: String,
    pub userns_mode: String,
    /// `--device` values as typed: "host[:container[:perms]]".
    pub devices: Vec<String>,
    pub restart_policy: RestartPolicy,
    /// json-file max-size in bytes; 0 = unbounded.
    pub log_max_size: u64,
    /// json-file max-file (>= 1).
    pub log_max_file: u32,
    /// `--log-driver` and the `--log-opt`s as typed (docker's and podman's inspect field).
    pub log_config: LogConfig,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--add-host` values, "name:ip".
    pub extra_hosts: Vec<String>,
    pub group_add: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detach_keys: Option<String>,
}

/// Bounded by default, as the issue asks: 10 MiB x 3 files.
pub const DEFAULT_LOG_MAX_SIZE: u64 = 10 * 1024 * 1024;
pub const DEFAULT_LOG_MAX_FILE: u32 = 3;

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            binds: Vec::new(),
            mounts: Vec::new(),
            tmpfs: BTreeMap::new(),
            read_only: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            privileged: false,
            security_opt: Vec::new(),
            ulimits: Vec::new(),
            init: false,
            pid_mode: String::new(),
            ipc_mode: String::new(),
            uts_mode: String::new(),
            network_mode: "host".into(),
            userns_mode: String::new(),
            devices: Vec::new(),
            restart_policy: RestartPolicy::default(),
            log_max_size: DEFAULT_LOG_MAX_SIZE,
            log_max_file: DEFAULT_LOG_MAX_FILE,
            log_config: LogConfig::default(),
            auto_remove: false,
            extra_hosts: Vec::new(),
            group_add: Vec::new(),
            dns: Vec::new(),
            dns_search: Vec::new(),
            dns_options: Vec::new(),
            detach_keys: None,
        }
    }
}

/// `--log-driver` with its options: docker's `HostConfig.LogConfig`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub driver: LogDriver,
    /// `--log-opt key=value`, as given (max-size, max-file, path).
    pub config: BTreeMap<String, String>,
}

/// Where a container's output goes; stored by its name (`ALL` is the one table of names).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(try_from = "String", into = "&'static str")]
pub enum LogDriver {
    /// docker's default: the container's log file, which `logs` reads.
    #[default]
    JsonFile,
    /// podman's name for its log file; cove writes the same file as for json-file.
    K8sFile,
    /// Nothing is kept.
    None,
    /// podman's: the container's stdio is cove's own, neither pumped nor kept; never on a
    /// terminal, which a container could type into (TIOCSTI).
    Passthrough,
    /// passthrough, a terminal allowed.
    PassthroughTty,
}

impl LogDriver {
    const ALL: [(LogDriver, &'static str); 5] = [
        (LogDriver::JsonFile, "json-file"),
        (LogDriver::K8sFile, "k8s-file"),
        (LogDriver::None, "none"),
        (LogDriver::Passthrough, "passthrough"),
        (LogDriver::PassthroughTty, "passthrough-tty"),
    ];

    /// docker's and podman's names; "" is the default.
    pub fn parse(name: &str) -> Option<LogDriver> {
        if name.is_empty() {
            return Some(LogDriver::default());
        }
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(d, _)| *d)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(d, _)| *d == self)
            .map_or("json-file", |(_, n)| n)
    }

    /// Whether output is kept in a log file that `logs` can read.
    pub fn keeps_file(self) -> bool {
        matches!(self, LogDriver::JsonFile | LogDriver::K8sFile)
    }

    /// Whether the container takes the stdio of the process that supervises it.
    pub fn is_passthrough(self) -> bool {
        matches!(self, LogDriver::Passthrough | LogDriver::PassthroughTty)
    }
}

impl TryFrom<String> for LogDriver {
    type Error = String;
    fn try_from(name: String) -> Result<LogDriver, String> {
        LogDriver::parse(&name).ok_or_else(|| format!("unknown log driver {name:?}"))
    }
}

impl From<LogDriver> for &'static str {
    fn from(d: LogDriver) -> &'static str {
        d.as_str()
    }
}

/// One `--mount` (docker's mount.Mount, flattened).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountArg {
    /// "bind" | "tmpfs" | "volume".
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// Anything else given (propagation, z/Z, tmpfs-size, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One `--ulimit`; -1 means unlimited.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// `--restart`: name is "no", "always", "unless-stopped" or "on-failure".
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub name: String,
    #[serde(rename = "MaximumRetryCount", default)]
    pub max_retry: u32,
}

impl Default for RestartPolicy {
    fn default() -> RestartPolicy {
        RestartPolicy {
            name: "no".into(),
            max_retry: 0,
        }
    }
}

impl ContainerRecord {
    /// The first 12 characters of the ID, as docker shows it.
    pub fn short_id(&self) -> &str {
        crate::fsutil::short_id(&self.id)
    }

    /// The argv the container runs: entrypoint then cmd (docker's Path + Args).
    pub fn argv(&self) -> Vec<String> {
        self.config
            .entrypoint
            .iter()
            .chain(&self.config.cmd)
            .cloned()
            .collect()
    }
}
