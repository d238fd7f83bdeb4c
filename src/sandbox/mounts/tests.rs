//! Unit tests of the mount plan: what a spec turns into, before anything is mounted.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::*;
use crate::sandbox::spec::{sample_spec, Device, Mount, NetMode};

fn targets(plan: &[MountOp]) -> Vec<String> {
    plan.iter()
        .map(|op| match op {
            MountOp::Fs { fstype, target, .. } => format!("{fstype} {target}"),
            MountOp::Bind { target, .. } => format!("bind {target}"),
            MountOp::Console { target } => format!("console {target}"),
            MountOp::Symlink { link, .. } => format!("link {link}"),
            MountOp::Mask { target } => format!("mask {target}"),
            MountOp::ReadOnly { target } => format!("ro {target}"),
            MountOp::RootReadOnly => "ro /".to_string(),
        })
        .collect()
}

fn find<'a>(plan: &'a [MountOp], want: &str) -> &'a MountOp {
    let all = targets(plan);
    let i = all.iter().position(|t| t == want);
    &plan[i.unwrap_or_else(|| panic!("{want} not in {all:?}"))]
}

#[test]
fn default_container_gets_proc_dev_sys_and_masks() {
    let spec = sample_spec(Path::new("/c"));
    let plan = mount_plan(&spec);
    let t = targets(&plan);
    let head: Vec<&str> = t.iter().take(10).map(String::as_str).collect();
    assert_eq!(
        head,
        [
            "proc /proc",
            "tmpfs /dev",
            "bind /dev/null",
            "bind /dev/zero",
            "bind /dev/full",
            "bind /dev/random",
            "bind /dev/urandom",
            "bind /dev/tty",
            "devpts /dev/pts",
            "tmpfs /dev/shm",
        ]
    );
    for want in [
        "mqueue /dev/mqueue",
        "link /dev/ptmx",
        "link /dev/fd",
        "link /dev/stderr",
        "sysfs /sys",
        "mask /proc/kcore",
        "mask /sys/firmware",
        "ro /proc/sys",
        "ro /proc/sysrq-trigger",
    ] {
        assert!(t.contains(&want.to_string()), "{want} missing from {t:?}");
    }
    assert!(!t.iter().any(|x| x.starts_with("console") || x == "ro /"));
    // Masks come last, after every mount they could be hidden by.
    let first_mask = t.iter().position(|x| x.starts_with("mask")).unwrap();
    assert!(t[first_mask..]
        .iter()
        .all(|x| x.starts_with("mask") || x.starts_with("ro ")));
}

#[test]
fn fallbacks_for_user_namespaces() {
    let plan = mount_plan(&sample_spec(Path::new("/c")));
    match find(&plan, "sysfs /sys") {
        MountOp::Fs {
            flags,
            on_fail: OnFail::Retry(next),
            ..
        } => {
            assert!(flags.contains(MsFlags::MS_RDONLY));
            assert_eq!(
                **next,
                MountOp::Bind {
                    source: PathBuf::from("/sys"),
                    target: "/sys".into(),
                    recursive: true,
                    read_only: true,
                    optional: false
                }
            );
        }
        other => panic!("{other:?}"),
    }
    match find(&plan, "devpts /dev/pts") {
        MountOp::Fs {
            data,
            on_fail: OnFail::Retry(next),
            ..
        } => {
            assert!(data.ends_with(",gid=5"));
            assert!(matches!(&**next, MountOp::Fs { data, .. } if !data.contains("gid")));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        find(&plan, "mqueue /dev/mqueue"),
        MountOp::Fs {
            on_fail: OnFail::Skip,
            ..
        }
    ));
}

#[test]
fn host_namespaces_bind_the_hosts_views() {
    let mut spec = sample_spec(Path::new("/c"));
    spec.namespaces.pid_host = true;
    spec.namespaces.ipc_host = true;
    spec.namespaces.net = NetMode::Host;
    let plan = mount_plan(&spec);
    assert!(matches!(
        find(&plan, "bind /proc"),
        MountOp::Bind {
            recursive: true,
            ..
        }
    ));
    assert!(matches!(
        find(&plan, "bind /dev/mqueue"),
        MountOp::Bind { optional: true, .. }
    ));
}

#[test]
fn privileged_shares_dev_and_masks_nothing() {
    let mut spec = sample_spec(Path::new("/c"));
    spec.privileged = true;
    let t = targets(&mount_plan(&spec));
    assert!(t.contains(&"bind /dev".to_string()));
    assert!(!t.iter().any(|x| x.starts_with("mask")
        || x.starts_with("ro ")
        || x.starts_with("link ")
        || x == "tmpfs /dev"));
    match find(&mount_plan(&spec), "sysfs /sys") {
        MountOp::Fs { flags, .. } => assert!(!flags.contains(MsFlags::MS_RDONLY)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn user_mounts_parents_first_then_read_only_root() {
    let mut spec = sample_spec(Path::new("/c"));
    spec.process.terminal = true;
    spec.read_only_root = true;
    spec.mounts = vec![
        Mount::Bind {
            source: "/home/u/data".into(),
            destination: "/data/inner//x/".into(),
            read_only: true,
        },
        Mount::Tmpfs {
            destination: "/run".into(),
            options: "size=64m,exec".into(),
        },
        Mount::Bind {
            source: "/home/u".into(),
            destination: "/data".into(),
            read_only: false,
        },
    ];
    spec.devices = vec![Device {
        host_path: "/dev/fuse".into(),
        container_path: "/dev/fuse".into(),
        permissions: "rm".into(),
    }];
    let plan = mount_plan(&spec);
    let t = targets(&plan);
    let pos = |w: &str| t.iter().position(|x| x == w).unwrap();
    assert!(pos("tmpfs /run") < pos("bind /data/inner/x"));
    assert!(pos("bind /data") < pos("bind /data/inner/x"));
    assert!(pos("ro /") > pos("bind /data/inner/x"));
    assert!(t.contains(&"console /dev/console".to_string()));
    assert!(matches!(
        find(&plan, "bind /dev/fuse"),
        MountOp::Bind {
            read_only: true,
            ..
        }
    ));
    match find(&plan, "tmpfs /run") {
        MountOp::Fs { flags, data, .. } => {
            assert_eq!(data, "size=64m");
            assert!(!flags.contains(MsFlags::MS_NOEXEC));
            assert!(flags.contains(MsFlags::MS_NOSUID | MsFlags::MS_NODEV));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tmpfs_options_follow_docker_defaults() {
    let (flags, data) = tmpfs_options("");
    assert_eq!(
        flags,
        MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV
    );
    assert_eq!(data, "");
    let (flags, data) = tmpfs_options("ro, mode=1777 ,uid=5,suid");
    assert!(flags.contains(MsFlags::MS_RDONLY));
    assert!(!flags.contains(MsFlags::MS_NOSUID));
    assert_eq!(data, "mode=1777,uid=5");
}

#[test]
fn unmasked_paths_are_left_uncovered() {
    let opts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        crate::sandbox::seccomp::unmasked(&opts(&["no-new-privileges"])),
        None
    );
    let all = crate::sandbox::seccomp::unmasked(&opts(&["systempaths=unconfined"]));
    assert_eq!(all, Some(vec!["ALL".to_string()]));
    let mut spec = sample_spec(Path::new("/c"));
    spec.unmasked = all.unwrap();
    let t = targets(&mount_plan(&spec));
    assert!(
        !t.iter()
            .any(|x| x.starts_with("mask") || x.starts_with("ro /proc")),
        "{t:?}"
    );

    let some = crate::sandbox::seccomp::unmasked(&opts(&["unmask=/proc/kcore:/proc/sys"])).unwrap();
    spec.unmasked = some;
    let t = targets(&mount_plan(&spec));
    assert!(!t.contains(&"mask /proc/kcore".to_string()), "{t:?}");
    assert!(!t.contains(&"ro /proc/sys".to_string()), "{t:?}");
    assert!(t.contains(&"mask /proc/keys".to_string()), "{t:?}");
}
