//! Where cove keeps its state: the data root (images, layers, containers), the run root
//! (pids, sockets, locks; on tmpfs so a reboot clears it) and the config directories.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use std::fmt;

/// Why the state directories cannot be worked out, already worded for the user.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    fn msg(text: impl Into<String>) -> Error {
        Error(text.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone, Debug)]
pub struct Paths {
    /// Images, layers, volumes and container records.
    pub root: PathBuf,
    /// Run state: pids, sockets, locks, exit files.
    pub runroot: PathBuf,
    /// Config directories, most specific first (cove's own, then containers-style ones).
    pub config_dirs: Vec<PathBuf>,
    /// The caller's home directory (for `~/.docker/config.json`).
    pub home: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR` when set and ours (for `containers/auth.json`).
    pub runtime_dir: Option<PathBuf>,
    /// The one auth file to read and write, when `--authfile` or `$REGISTRY_AUTH_FILE` names
    /// it (podman's override).
    pub auth_file: Option<PathBuf>,
    /// True when the caller is not root and cove works in a user namespace.
    pub rootless: bool,
    pub uid: u32,
    pub gid: u32,
}

impl Paths {
    /// Resolve the store locations for the calling user. `root` and `runroot` override the
    /// defaults (the global `--root` and `--runroot` flags).
    /// Make the store and run roots private to their owner: created 0700 when missing, and
    /// tightened to 0700 when an older cove (or anyone) left them open to other users, whose
    /// images, layers and container files would otherwise be readable through them.
    pub fn secure_roots(&self) -> Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        for dir in [&self.root, &self.runroot] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::msg(format!("cannot create {}: {e}", dir.display())))?;
            let meta = std::fs::metadata(dir)
                .map_err(|e| Error::msg(format!("cannot read {}: {e}", dir.display())))?;
            if meta.uid() == self.uid && meta.mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| Error::msg(format!("cannot protect {}: {e}", dir.display())))?;
            }
        }
        Ok(())
    }

    /// `own_namespace`: we are cove's own process inside the user namespace cove made for the
    /// caller (the monitor): the caller is the user that namespace maps uid 0 to. Otherwise a
    /// uid 0 is root for cove's purposes, in a user namespace or not: cove inside a container
    /// acts as that container's root.
    pub fn resolve(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        own_namespace: bool,
    ) -> Result<Paths> {
        let (uid, gid, rootless) = caller_ids(own_namespace);
        let home = home_dir(uid);
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let auth_file = std::env::var_os("REGISTRY_AUTH_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let owned_runtime_dir = runtime_dir.clone().filter(|d| {
            std::fs::metadata(d)
                .map(|m| m.uid() == uid)
                .unwrap_or(false)
        });

        if !rootless {
            return Ok(Paths {
                root: root.unwrap_or_else(|| PathBuf::from("/var/lib/cove")),
                runroot: runroot.unwrap_or_else(|| PathBuf::from("/run/cove")),
                config_dirs: vec![PathBuf::from("/etc/cove"), PathBuf::from("/etc/containers")],
                home,
                runtime_dir: owned_runtime_dir,
                auth_file,
                rootless,
                uid,
                gid,
            });
        }

        let root = match root {
            Some(r) => r,
            None => data_home(home.as_deref())?.join("cove"),
        };
        let runroot = match runroot {
            Some(r) => r,
            None => match (&runtime_dir, &owned_runtime_dir) {
                (_, Some(dir)) => dir.join("cove"),
                (None, None) => {
                    return Err(Error::msg(format!(
                        "XDG_RUNTIME_DIR is not set: cove needs a per-user runtime directory; \
                         log in through a session manager, or create one and export it \
                         (mkdir -m 700 /tmp/run-{uid} && export XDG_RUNTIME_DIR=/tmp/run-{uid}), \
                         or pass --runroot DIR"
                    )))
                }
                (Some(dir), None) => {
                    return Err(Error::msg(format!(
                        "XDG_RUNTIME_DIR {} is not a directory owned by uid {uid}: \
                         point it at a directory you own, or pass --runroot DIR",
                        dir.display()
                    )))
                }
            },
        };
        let mut config_dirs = Vec::new();
        if let Some(cfg) = config_home(home.as_deref()) {
            config_dirs.push(cfg.join("cove"));
            config_dirs.push(cfg.join("containers"));
        }
        config_dirs.push(PathBuf::from("/etc/cove"));
        config_dirs.push(PathBuf::from("/etc/containers"));
        Ok(Paths {
            root,
            runroot,
            config_dirs,
            home,
            runtime_dir: owned_runtime_dir,
            auth_file,
            rootless,
            uid,
            gid,
        })
    }

    /// `<root>/overlay`: the layer store (`layers/`) and the containers' upper and work dirs
    /// (`containers/`).
    pub fn overlay_root(&self) -> PathBuf {
        self.root.join("overlay")
    }

    /// The first existing file named `name` in the config directories, most specific first.
    pub fn config_file(&self, name: &str) -> Option<PathBuf> {
        self.config_dirs
            .iter()
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }

    /// cove's own writable config directory (`~/.config/cove`, or `/etc/cove` as root).
    pub fn own_config_dir(&self) -> PathBuf {
        self.config_dirs
            .first()
            .cloned()
            .unwrap_or_else(|| PathBuf::from("/etc/cove"))
    }
}

#[cfg(test)]
impl Paths {
    /// A rootless (uid 1000) layout below `dir` for tests: `data/`, `run/`, config in `cove/`.
    pub fn under(dir: &std::path::Path) -> Paths {
        Paths {
            root: dir.join("data"),
            runroot: dir.join("run"),
            config_dirs: vec![dir.join("cove")],
            home: None,
            runtime_dir: None,
            auth_file: None,
            rootless: true,
            uid: 1000,
            gid: 1000,
        }
    }
}

/// The caller's host uid and gid, and whether cove works rootless. A cove process that
/// already runs inside the user's namespace (the monitor, re-executed there) is uid 0 but
/// still rootless: its ids are read back from the namespace's maps.
fn caller_ids(own_namespace: bool) -> (u32, u32, bool) {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    if uid != 0 {
        return (uid, gid, true);
    }
    if !own_namespace {
        return (0, gid, false);
    }
    let outside = |file: &str, fallback: u32| -> Option<u32> {
        let text = std::fs::read_to_string(file).ok()?;
        let mut lines = text.lines().map(|l| {
            l.split_whitespace()
                .filter_map(|f| f.parse::<u64>().ok())
                .collect::<Vec<_>>()
        });
        let first = lines.next()?;
        // The initial namespace maps everything onto itself.
        if first == [0, 0, 4_294_967_295] {
            return None;
        }
        std::iter::once(first)
            .chain(lines)
            .find(|f| f.len() == 3 && f[0] == 0)
            .and_then(|f| u32::try_from(f[1]).ok())
            .or(Some(fallback))
    };
    match outside("/proc/self/uid_map", uid) {
        None => (0, gid, false),
        Some(host_uid) => (
            host_uid,
            outside("/proc/self/gid_map", gid).unwrap_or(gid),
            true,
        ),
    }
}

fn home_dir(uid: u32) -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    // /etc/passwd read by hand: a static glibc binary must not use NSS.
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2].parse::<u32>().ok() == Some(uid))
            .then(|| PathBuf::from(fields[5]))
    })
}

fn data_home(home: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    match home {
        Some(h) => Ok(h.join(".local/share")),
        None => Err(Error::msg(
            "cannot find a home directory: set HOME or XDG_DATA_HOME, or pass --root DIR",
        )),
    }
}

fn config_home(home: Option<&Path>) -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".config")))
}
