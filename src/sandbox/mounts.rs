//! The mount plan: what goes on top of the container's root file system, as a list of
//! operations computed from the `Spec` alone (pure, unit-tested) and applied by `mounts_apply`
//! in the child, inside its new mount namespace, before pivot_root.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::spec::{Mount, Spec};

/// One step of the plan. Targets are absolute paths inside the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountOp {
    /// A new file system of type `fstype` on `target` (created as a directory when missing).
    Fs {
        fstype: &'static str,
        target: String,
        flags: MsFlags,
        data: String,
        on_fail: OnFail,
    },
    /// A host path over `target` (created like the source, a file or a directory).
    Bind {
        source: PathBuf,
        target: String,
        recursive: bool,
        read_only: bool,
        /// Skip quietly when the source does not exist.
        optional: bool,
    },
    /// The terminal the process gets as stdin, over `target` (/dev/console).
    Console { target: String },
    /// A symlink at `link` pointing to `to`, unless something is already there.
    Symlink { link: String, to: String },
    /// Hide `target`: /dev/null over a file, an empty read-only tmpfs over a directory.
    Mask { target: String },
    /// Make `target` read-only (bound over itself); nothing when it does not exist.
    ReadOnly { target: String },
    /// Make the root itself read-only (`--read-only`), the mounts on it keep their mode.
    RootReadOnly,
}

/// What to do when an `Fs` mount fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnFail {
    Fail,
    /// Leave the target as it is (mqueue without an IPC namespace of our own).
    Skip,
    /// Try this instead (sysfs in a user namespace that does not own the network namespace:
    /// bind the host's read-only; devpts without `gid=5` when gid 5 is not mapped).
    Retry(Box<MountOp>),
}

/// Paths docker hides from a container that is not privileged.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths docker makes read-only in a container that is not privileged.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Host devices every container gets, bind-mounted (a user namespace may not mknod).
pub const DEFAULT_DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
];

/// The mounts of `spec`, in the order they must be made.
pub fn mount_plan(spec: &Spec) -> Vec<MountOp> {
    let secure = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut plan = Vec::new();

    // proc belongs to a pid namespace: with --pid host only the host's can be shown.
    if spec.namespaces.pid_host {
        plan.push(bind("/proc", "/proc", true, false));
    } else {
        plan.push(fs("proc", "/proc", secure, "", OnFail::Fail));
    }

    if spec.privileged {
        // The host's devices, as docker gives a privileged container. The host /dev is shared,
        // so nothing is created in it: its own symlinks and nodes are already there.
        plan.push(bind("/dev", "/dev", true, false));
    } else {
        plan.push(fs(
            "tmpfs",
            "/dev",
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            "mode=755,size=65536k",
            OnFail::Fail,
        ));
        for dev in DEFAULT_DEVICES {
            let path = format!("/dev/{dev}");
            plan.push(bind(&path, &path, false, false));
        }
    }
    let pts_flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    let pts = |data: &str, on_fail| fs("devpts", "/dev/pts", pts_flags, data, on_fail);
    let without_gid = pts("newinstance,ptmxmode=0666,mode=0620", OnFail::Fail);
    plan.push(pts(
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
        OnFail::Retry(Box::new(without_gid)),
    ));
    plan.push(fs(
        "tmpfs",
        "/dev/shm",
        secure,
        "mode=1777,size=65536k",
        OnFail::Fail,
    ));
    if spec.namespaces.ipc_host {
        plan.push(MountOp::Bind {
            source: PathBuf::from("/dev/mqueue"),
            target: "/dev/mqueue".to_string(),
            recursive: false,
            read_only: false,
            optional: true,
        });
    } else {
        plan.push(fs("mqueue", "/dev/mqueue", secure, "", OnFail::Skip));
    }
    if !spec.privileged {
        for (link, to) in DEV_SYMLINKS {
            plan.push(MountOp::Symlink {
                link: link.to_string(),
                to: to.to_string(),
            });
        }
    }
    if spec.process.terminal {
        plan.push(MountOp::Console {
            target: "/dev/console".to_string(),
        });
    }
    for d in &spec.devices {
        plan.push(MountOp::Bind {
            source: d.host_path.clone(),
            target: d.container_path.clone(),
            recursive: false,
            read_only: !d.permissions.contains('w'),
            optional: false,
        });
    }

    // sysfs shows the network devices of the namespace it is mounted from, so the kernel only
    // lets a user namespace mount it when it owns the network namespace: else the host's.
    let ro = if spec.privileged {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    let host_sys = bind("/sys", "/sys", true, !spec.privileged);
    plan.push(fs(
        "sysfs",
        "/sys",
        secure | ro,
        "",
        OnFail::Retry(Box::new(host_sys)),
    ));

    // Parents before children, so that a bind on /a/b is not hidden by a later one on /a.
    let mut user: Vec<&Mount> = spec.mounts.iter().collect();
    user.sort_by_key(|m| depth(m.destination()));
    for m in user {
        plan.push(match m {
            Mount::Bind {
                source,
                destination,
                read_only,
            } => MountOp::Bind {
                source: source.clone(),
                target: clean(destination),
                recursive: true,
                read_only: *read_only,
                optional: false,
            },
            Mount::Tmpfs {
                destination,
                options,
            } => {
                let (flags, data) = tmpfs_options(options);
                fs("tmpfs", &clean(destination), flags, &data, OnFail::Fail)
            }
        });
    }

    if spec.read_only_root {
        plan.push(MountOp::RootReadOnly);
    }
    if !spec.privileged {
        // podman's forms: ALL, a path, or a directory's glob (`/proc/*`).
        let masked = |p: &&&str| {
            !spec.unmasked.iter().any(|u| {
                u == "ALL"
                    || u.trim_end_matches('/') == **p
                    || u.strip_suffix("/*")
                        .is_some_and(|dir| p.starts_with(&format!("{dir}/")))
            })
        };
        for p in MASKED_PATHS.iter().filter(masked) {
            plan.push(MountOp::Mask {
                target: p.to_string(),
            });
        }
        for p in READONLY_PATHS.iter().filter(masked) {
            plan.push(MountOp::ReadOnly {
                target: p.to_string(),
            });
        }
    }
    plan
}

fn fs(fstype: &'static str, target: &str, flags: MsFlags, data: &str, on_fail: OnFail) -> MountOp {
    MountOp::Fs {
        fstype,
        target: target.to_string(),
        flags,
        data: data.to_string(),
        on_fail,
    }
}

fn bind(source: &str, target: &str, recursive: bool, read_only: bool) -> MountOp {
    MountOp::Bind {
        source: PathBuf::from(source),
        target: target.to_string(),
        recursive,
        read_only,
        optional: false,
    }
}

/// "/a//b/./c/" -> "/a/b/c": how many mounts deep a destination sits.
fn clean(dest: &str) -> String {
    let parts: Vec<&str> = dest
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

fn depth(dest: &str) -> usize {
    Path::new(&clean(dest)).components().count()
}

/// `--tmpfs` options: docker's defaults (noexec, nosuid, nodev) unless the user says otherwise;
/// flags become mount flags, the rest (size, mode, uid, gid, nr_inodes) the tmpfs data.
pub fn tmpfs_options(options: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let mut data = Vec::new();
    for opt in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match opt {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags &= !MsFlags::MS_RDONLY,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "exec" => flags &= !MsFlags::MS_NOEXEC,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "suid" => flags &= !MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "dev" => flags &= !MsFlags::MS_NODEV,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "strictatime" => flags |= MsFlags::MS_STRICTATIME,
            "tmpcopyup" | "notmpcopyup" | "z" | "Z" => {}
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

#[cfg(test)]
mod tests;
