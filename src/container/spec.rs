//! From a container record to the sandbox's `Spec`: layers, user, capabilities, seccomp,
//! mounts and namespaces, all resolved on the host side before anything is spawned.

use std::path::PathBuf;

use super::mounts::{parse_device, parse_volume};
use super::{layout, ContainerRecord};
use crate::image::ImageStore;
use crate::overlay::LayerStore;
use crate::paths::Paths;
use crate::sandbox::spec::{Device, Mount, Namespaces, NetMode, Process, Rlimit, Rootfs, Spec};
use crate::sandbox::{caps, home_in_layers, resolve_user_in_layers, seccomp, SpawnError};

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn engine(msg: impl Into<String>) -> SpawnError {
    SpawnError::engine(msg.into())
}

/// The spec the sandbox needs to start `rec`'s first process.
pub fn to_spec(paths: &Paths, rec: &ContainerRecord) -> Result<Spec, SpawnError> {
    let images = ImageStore::open(&paths.root);
    let image = images
        .load()
        .map_err(|e| engine(e.to_string()))?
        .into_iter()
        .find(|i| i.id == rec.image)
        .ok_or_else(|| engine(format!("the image {} of this container is gone", rec.image)))?;
    let layers = LayerStore::open(paths.overlay_root(), paths.rootless);
    let lower: Vec<PathBuf> = image
        .layers
        .iter()
        .rev()
        .map(|c| layers.diff_dir(c))
        .collect();
    let upper = layout::upper_dir(paths, &rec.id);
    let work = layout::work_dir(paths, &rec.id);
    let merged = layout::merged_dir(paths, &rec.id);
    for d in [&upper, &work, &merged] {
        std::fs::create_dir_all(d)
            .map_err(|e| engine(format!("cannot create {}: {e}", d.display())))?;
    }
    let process = process(paths, rec, &upper, &lower)?;
    Ok(Spec {
        rootfs: Rootfs {
            lower,
            upper,
            work,
            merged,
            userxattr: paths.rootless,
            shift_ids: rec.host.userns_mode == "keep-id",
        },
        process,
        hostname: super::userdata::hostname(rec),
        mounts: mounts(paths, rec)?,
        read_only_root: rec.host.read_only,
        namespaces: Namespaces {
            pid_host: rec.host.pid_mode == "host",
            ipc_host: rec.host.ipc_mode == "host",
            uts_host: rec.host.uts_mode == "host",
            net: if rec.host.network_mode == "none" {
                NetMode::None
            } else {
                NetMode::Host
            },
        },
        devices: devices(rec)?,
        privileged: rec.host.privileged,
        unmasked: seccomp::unmasked(&rec.host.security_opt).unwrap_or_default(),
        init: rec.host.init,
        keep_id: (rec.host.userns_mode == "keep-id").then_some((paths.uid, paths.gid)),
        // A property of one foreground run, not of the record: the keeper sets it.
        preserve_fds: 0,
    })
}

fn process(
    paths: &Paths,
    rec: &ContainerRecord,
    upper: &std::path::Path,
    lower: &[PathBuf],
) -> Result<Process, SpawnError> {
    let mut dirs = vec![upper.to_path_buf()];
    dirs.extend(lower.iter().cloned());
    // keep-id runs as the caller unless -u says otherwise, as podman does.
    let user = if rec.host.userns_mode == "keep-id" && rec.config.user.is_empty() {
        format!("{}:{}", paths.uid, paths.gid)
    } else {
        rec.config.user.clone()
    };
    let (uid, gid, mut groups) =
        resolve_user_in_layers(&dirs, &user).map_err(|e| engine(e.to_string()))?;
    for g in &rec.host.group_add {
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                resolve_user_in_layers(&dirs, &format!("0:{g}"))
                    .map_err(|e| engine(e.to_string()))?
                    .1
            }
        };
        groups.push(gid);
    }
    // As docker does, the primary group is also a supplementary one.
    if !groups.contains(&gid) {
        groups.insert(0, gid);
    }
    let mut env = rec.config.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", super::userdata::hostname(rec)));
    }
    if rec.config.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let added_home = super::passwd::write_entries(paths, rec, &dirs, uid, gid)?;
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = added_home
            .or_else(|| home_in_layers(&dirs, uid))
            .unwrap_or_else(|| "/".into());
        env.push(format!("HOME={home}"));
    }
    let caps = caps::resolve(&rec.host.cap_add, &rec.host.cap_drop, rec.host.privileged)
        .map_err(|e| engine(e.to_string()))?;
    let (mut profile, no_new_privs) =
        seccomp::parse_security_opts(&rec.host.security_opt).map_err(|e| engine(e.to_string()))?;
    if rec.host.privileged && profile == seccomp::Seccomp::Default {
        profile = seccomp::Seccomp::Unconfined;
    }
    let seccomp_bpf = match profile {
        seccomp::Seccomp::Default => Some(
            seccomp::default_bpf(&paths.runroot.join("seccomp"), &caps)
                .map_err(|e| engine(e.to_string()))?,
        ),
        _ => None,
    };
    Ok(Process {
        args: rec.argv(),
        env,
        cwd: if rec.config.working_dir.is_empty() {
            "/".into()
        } else {
            rec.config.working_dir.clone()
        },
        uid,
        gid,
        additional_gids: groups,
        terminal: rec.config.tty,
        caps,
        no_new_privs,
        rlimits: rec
            .host
            .ulimits
            .iter()
            .map(|u| Rlimit {
                name: u.name.clone(),
                soft: u64::try_from(u.soft).unwrap_or(0),
                hard: u64::try_from(u.hard).unwrap_or(0),
            })
            .collect(),
        seccomp: profile,
        seccomp_bpf,
        apparmor: None,
    })
}

fn mounts(paths: &Paths, rec: &ContainerRecord) -> Result<Vec<Mount>, SpawnError> {
    let userdata = layout::userdata_dir(paths, &rec.id);
    let mut out = Vec::new();
    let mut user_targets = Vec::new();
    let mut binds = Vec::new();
    for b in &rec.host.binds {
        let b = parse_volume(b).map_err(|e| engine(e.to_string()))?;
        user_targets.push(b.target.clone());
        binds.push(Mount::Bind {
            source: b.source,
            destination: b.target,
            read_only: b.read_only,
        });
    }
    for m in &rec.host.mounts {
        user_targets.push(m.target.clone());
        binds.push(match m.kind.as_str() {
            "tmpfs" => Mount::Tmpfs {
                destination: m.target.clone(),
                options: m.options.join(","),
            },
            _ => Mount::Bind {
                source: PathBuf::from(&m.source),
                destination: m.target.clone(),
                read_only: m.read_only,
            },
        });
    }
    for (dir, opts) in &rec.host.tmpfs {
        user_targets.push(dir.clone());
        binds.push(Mount::Tmpfs {
            destination: dir.clone(),
            options: opts.clone(),
        });
    }
    // The generated files go first so that a user's own bind over one of them wins.
    for name in ["hosts", "hostname", "resolv.conf"] {
        let target = format!("/etc/{name}");
        if !user_targets.contains(&target) {
            out.push(Mount::Bind {
                source: userdata.join(name),
                destination: target,
                read_only: false,
            });
        }
    }
    if !rec.config.timezone.is_empty() && !user_targets.iter().any(|t| t == "/etc/localtime") {
        let zone =
            super::timezone::zone_file(&rec.config.timezone).map_err(|e| engine(e.to_string()))?;
        out.push(Mount::Bind {
            source: zone,
            destination: "/etc/localtime".into(),
            read_only: true,
        });
    }
    for name in super::passwd::FILES {
        let (source, target) = (userdata.join(name), format!("/etc/{name}"));
        if source.is_file() && !user_targets.contains(&target) {
            out.push(Mount::Bind {
                source,
                destination: target,
                read_only: false,
            });
        }
    }
    // podman's marker that a process runs in a container (empty unless --privileged);
    // containers created before cove wrote it have none.
    let containerenv = userdata.join(super::userdata::CONTAINERENV);
    if containerenv.is_file() {
        out.push(Mount::Bind {
            source: containerenv,
            destination: "/run/.containerenv".into(),
            read_only: true,
        });
    }
    out.extend(binds);
    Ok(out)
}

fn devices(rec: &ContainerRecord) -> Result<Vec<Device>, SpawnError> {
    rec.host
        .devices
        .iter()
        .map(|d| {
            let (host_path, container_path, permissions) =
                parse_device(d).map_err(|e| engine(e.to_string()))?;
            Ok(Device {
                host_path,
                container_path,
                permissions,
            })
        })
        .collect()
}
