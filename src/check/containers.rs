//! Container records against their files: names without a record (a killed create), records
//! whose upper dir is gone, run state of a dead monitor or of a previous boot, run dirs and
//! locks of containers that do not exist, lone temp files of a killed save.

use std::collections::HashSet;

use super::{dead_temps, remove_file, settle, shown, Finding, Options, Problem};
use crate::container::{self, repair, ContainerRecord, ContainerStore};
use crate::error::Result;
use crate::fsutil::short_id;
use crate::image::ImageStore;

enum Fix {
    /// Free the name and remove what the killed create of this ID left.
    Unfinished {
        id: String,
        name: String,
    },
    /// Drop a second name of a container (a rename killed before it freed the old one).
    OldName {
        id: String,
        name: String,
    },
    TempFile(std::path::PathBuf),
    RunState(String),
    Rootfs(String),
    RunDir(String),
    /// `--force`: remove a container whose image is gone.
    Remove(String),
}

pub fn check(store: &ContainerStore, images: &ImageStore, opts: Options) -> Result<Vec<Finding>> {
    let mut problems = Vec::new();
    unfinished(store, &mut problems)?;
    let image_ids: HashSet<String> = images.load()?.into_iter().map(|i| i.id).collect();
    for rec in store.list()? {
        record(store, &rec, &image_ids, opts, &mut problems);
    }
    run_dirs(store, &mut problems);
    Ok(problems
        .into_iter()
        .map(|p| settle(opts, p, |fix| apply(store, fix)))
        .collect())
}

/// Names and directories without a record whose create is not running (its lock is free).
fn unfinished(store: &ContainerStore, out: &mut Vec<Problem<Fix>>) -> Result<()> {
    let mut named = HashSet::new();
    let records: std::collections::HashMap<String, String> =
        store.list()?.into_iter().map(|r| (r.id, r.name)).collect();
    for (name, id) in store.names() {
        if let Some(own) = records.get(&id).filter(|own| **own != name) {
            out.push(Problem {
                what: format!(
                    "name {name} points at container {own} ({}), which is named otherwise (a rename was interrupted)",
                    short_id(&id)
                ),
                fix: Ok(Fix::OldName { id, name }),
            });
        } else if id.is_empty() {
            out.push(Problem {
                what: format!("name {name} points at no container ID"),
                fix: Ok(Fix::Unfinished { id, name }),
            });
        } else if !store.has_record(&id) && !busy(store, &id) {
            out.push(Problem {
                what: format!(
                    "name {name} is reserved for container {} that has no record (a create was interrupted)",
                    short_id(&id)
                ),
                fix: Ok(Fix::Unfinished {
                    id: id.clone(),
                    name,
                }),
            });
            named.insert(id);
        }
    }
    for id in store.all_ids()? {
        let dir = container::data_dir(store.paths(), &id);
        if store.has_record(&id) {
            for temp in dead_temps(&dir) {
                out.push(Problem {
                    what: format!(
                        "leftover temp file of an interrupted write: {}",
                        shown(&temp)
                    ),
                    fix: Ok(Fix::TempFile(temp)),
                });
            }
        } else if !named.contains(&id) && !busy(store, &id) {
            out.push(Problem {
                what: format!(
                    "container directory without a record (a create was interrupted): {}",
                    shown(&dir)
                ),
                fix: Ok(Fix::Unfinished {
                    id,
                    name: String::new(),
                }),
            });
        }
    }
    Ok(())
}

/// True while someone holds the container's lock (a create or remove under way).
fn busy(store: &ContainerStore, id: &str) -> bool {
    !repair::lock_free(store, id)
}

fn record(
    store: &ContainerStore,
    rec: &ContainerRecord,
    image_ids: &HashSet<String>,
    opts: Options,
    out: &mut Vec<Problem<Fix>>,
) {
    let paths = store.paths();
    let who = format!("container {} ({})", rec.name, short_id(&rec.id));
    let running = store.live_state(rec).status.is_active();
    if let Some(run) = container::read_any_boot(paths, &rec.id) {
        if container::from_previous_boot(&run) {
            out.push(Problem {
                what: format!(
                    "{who}: run state from a previous boot: {}",
                    shown(&container::state_path(paths, &rec.id))
                ),
                fix: Ok(Fix::RunState(rec.id.clone())),
            });
        } else if let Some(pid) = repair::dead_monitor(store, rec) {
            out.push(Problem {
                what: format!("{who}: recorded as started but its monitor (pid {pid}) is dead"),
                fix: Ok(Fix::RunState(rec.id.clone())),
            });
        }
    }
    let overlay = container::overlay_dir(paths, &rec.id);
    let started = overlay.exists() || !rec.state.started_at.is_empty();
    let missing: Vec<_> = [
        container::upper_dir(paths, &rec.id),
        container::work_dir(paths, &rec.id),
    ]
    .into_iter()
    .filter(|d| !d.is_dir())
    .collect();
    if started && !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|d| shown(d)).collect();
        out.push(Problem {
            what: format!(
                "{who}: its root file system is missing {} (its changes are lost)",
                list.join(" and ")
            ),
            fix: if running {
                Err("it is running; stop it first".into())
            } else {
                Ok(Fix::Rootfs(rec.id.clone()))
            },
        });
    }
    if !image_ids.contains(&rec.image) {
        out.push(Problem {
            what: format!("{who}: its image {} is gone", short_id(&rec.image)),
            fix: match (running, opts.force) {
                (true, _) => Err("it is running".into()),
                (false, false) => Err("remove the container, or pass --force".into()),
                (false, true) => Ok(Fix::Remove(rec.id.clone())),
            },
        });
    }
}

/// Run dirs (`<runroot>/containers/<id>`) and locks (`<runroot>/container-locks/<id>` and
/// `<id>.monitor`) of containers that do not exist.
fn run_dirs(store: &ContainerStore, out: &mut Vec<Problem<Fix>>) {
    let runroot = &store.paths().runroot;
    let mut ids: Vec<String> = ["containers", "container-locks"]
        .into_iter()
        .filter_map(|sub| std::fs::read_dir(runroot.join(sub)).ok())
        .flat_map(|read| read.flatten())
        .filter_map(|e| e.file_name().into_string().ok())
        .map(|n| n.trim_end_matches(".monitor").to_string())
        .filter(|n| crate::overlay::is_sha256_hex(n))
        .collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        if repair::orphan_run_dir(store, &id) {
            let paths = store.paths();
            let at = [
                container::run_dir(paths, &id),
                container::lock_path(paths, &id),
                container::monitor_lock_path(paths, &id),
            ]
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| container::run_dir(paths, &id));
            out.push(Problem {
                what: format!(
                    "run state or lock of a container that does not exist: {}",
                    shown(&at)
                ),
                fix: Ok(Fix::RunDir(id)),
            });
        }
    }
}

fn apply(store: &ContainerStore, fix: Fix) -> std::result::Result<String, String> {
    let err = |e: container::Error| e.to_string();
    match fix {
        Fix::Unfinished { id, name } if id.is_empty() => {
            let link = store.paths().root.join("containers/names").join(&name);
            remove_file(&link).map(|_| format!("freed name {name}"))
        }
        Fix::Unfinished { id, name } => match store.reap_unfinished(&id, &name) {
            Ok(true) if name.is_empty() => Ok(format!(
                "removed {}",
                shown(&container::data_dir(store.paths(), &id))
            )),
            Ok(true) => Ok(format!("freed name {name}")),
            Ok(false) => Err(format!(
                "container {} has a record or is being created now",
                short_id(&id)
            )),
            Err(e) => Err(err(e)),
        },
        Fix::TempFile(path) => remove_file(&path),
        Fix::OldName { id, name } => repair::drop_old_name(store, &id, &name)
            .map(|()| format!("freed name {name}"))
            .map_err(err),
        Fix::RunState(id) => repair::forget_run_state(store, &id)
            .map(|()| format!("recorded container {} as exited", short_id(&id)))
            .map_err(err),
        Fix::Rootfs(id) => repair::recreate_rootfs(store, &id)
            .map(|()| {
                format!(
                    "made empty upper and work dirs for container {}",
                    short_id(&id)
                )
            })
            .map_err(err),
        Fix::RunDir(id) => match repair::remove_orphan_run_dir(store, &id) {
            Ok(true) => Ok(format!(
                "removed {}",
                shown(&container::run_dir(store.paths(), &id))
            )),
            Ok(false) => Err("its container is being created now".into()),
            Err(e) => Err(err(e)),
        },
        Fix::Remove(id) => {
            let rec = store.load(&id).map_err(err)?;
            container::remove(store, &rec, container::RemoveRequest::default())
                .map(|()| format!("removed container {}", short_id(&id)))
                .map_err(err)
        }
    }
}
