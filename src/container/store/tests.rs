//! The store in a temporary directory: create, conflicts, lookup, rename, remove, live state,
//! and how fast `list` is with 100 containers.

use std::fs;
use std::path::PathBuf;

use crate::container::layout::{data_dir, lock_path, log_path, overlay_dir, run_dir};
use crate::container::*;
use crate::paths::Paths;
use crate::time;

struct Tmp {
    root: PathBuf,
    paths: Paths,
}

impl Tmp {
    fn new(tag: &str) -> Tmp {
        let root = std::env::temp_dir().join(format!("cove-store-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let paths = Paths::under(&root);
        Tmp { root, paths }
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn record(name: &str) -> ContainerRecord {
    let mut rec = ContainerRecord {
        name: name.into(),
        created: time::now_rfc3339(),
        image: format!("sha256:{}", "1".repeat(64)),
        image_name: "alpine".into(),
        ..ContainerRecord::default()
    };
    rec.config.cmd = vec!["sh".into(), "-c".into(), "echo hi".into()];
    rec.config.env = vec!["PATH=/usr/bin:/bin".into()];
    rec.config.labels.insert("app".into(), "web".into());
    rec
}

#[test]
fn create_find_and_conflict() {
    let t = Tmp::new("find");
    let store = ContainerStore::open(&t.paths).unwrap();
    let bob = store.create(record("bob")).unwrap();
    assert_eq!(bob.id.len(), 64);
    assert_eq!(store.load(&bob.id).unwrap(), bob);
    assert_eq!(store.find("bob").unwrap().id, bob.id);
    assert_eq!(store.find("/bob").unwrap().id, bob.id);
    assert_eq!(store.find(&bob.id).unwrap().id, bob.id);
    assert_eq!(store.find(&bob.id[..5]).unwrap().id, bob.id);
    let err = store.create(record("bob")).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "Conflict. The container name \"/bob\" is already in use by container \"{}\". \
             You have to remove (or rename) that container to be able to reuse that name.",
            bob.id
        )
    );
    assert_eq!(
        store.list().unwrap().len(),
        1,
        "a refused create leaves nothing"
    );
    assert_eq!(
        store.find("web").unwrap_err().to_string(),
        "No such container: web"
    );
    assert!(store.create(record("bad name")).is_err());
    let generated = store.create(record("")).unwrap();
    assert!(generated.name.contains('_'), "{}", generated.name);
    assert_eq!(store.find(&generated.name).unwrap().id, generated.id);
}

#[test]
fn ambiguous_prefix() {
    let t = Tmp::new("prefix");
    let store = ContainerStore::open(&t.paths).unwrap();
    let a = store
        .create(ContainerRecord {
            id: format!("abc{}", "0".repeat(61)),
            ..record("a1")
        })
        .unwrap();
    store
        .create(ContainerRecord {
            id: format!("abd{}", "0".repeat(61)),
            ..record("a2")
        })
        .unwrap();
    assert_eq!(
        store.find("ab").unwrap_err().to_string(),
        "multiple containers found with provided prefix: ab"
    );
    assert_eq!(store.find("abc").unwrap().id, a.id);
    // A name that looks like a prefix wins over the prefix, as in docker.
    let named = store.create(record("abd")).unwrap();
    assert_eq!(store.find("abd").unwrap().id, named.id);
}

#[test]
fn rename_and_remove() {
    let t = Tmp::new("rename");
    let store = ContainerStore::open(&t.paths).unwrap();
    let bob = store.create(record("bob")).unwrap();
    let alice = store.create(record("alice")).unwrap();
    let bob_lock = store.lock(&bob.id).unwrap();
    assert!(matches!(
        store.rename(&bob_lock, "alice"),
        Err(Error::NameInUse { .. })
    ));
    assert_eq!(
        store.rename(&bob_lock, "bob").unwrap_err().to_string(),
        "Renaming a container with the same name as its current name"
    );
    store.rename(&bob_lock, "robert").unwrap();
    assert_eq!(store.find("robert").unwrap().id, bob.id);
    assert!(store.find("bob").is_err());
    store.create(record("bob")).unwrap(); // the old name is free again

    // Files in every place a container owns, then remove.
    let lock = store.lock(&alice.id).unwrap();
    create_userdata(&t.paths, &alice).unwrap();
    fs::create_dir_all(upper_dir(&t.paths, &alice.id)).unwrap();
    fs::create_dir_all(merged_dir(&t.paths, &alice.id)).unwrap();
    fs::write(log_path(&t.paths, &alice.id), b"{}\n").unwrap();
    write_exit(&t.paths, &alice.id, &ExitInfo::default()).unwrap();
    store.remove(&lock).unwrap();
    assert!(!data_dir(&t.paths, &alice.id).exists());
    assert!(!overlay_dir(&t.paths, &alice.id).exists());
    assert!(!run_dir(&t.paths, &alice.id).exists());
    assert!(store.find("alice").is_err());
    assert!(
        store.save(&lock, &alice).is_err(),
        "a removed container is not resurrected"
    );
    store.create(record("alice")).unwrap();
}

#[test]
fn stale_name_link_is_reclaimed() {
    let t = Tmp::new("stale");
    let store = ContainerStore::open(&t.paths).unwrap();
    let ghost = "f".repeat(64);
    std::os::unix::fs::symlink(&ghost, t.paths.root.join("containers/names/bob")).unwrap();
    let bob = store.create(record("bob")).unwrap();
    assert_eq!(store.find("bob").unwrap().id, bob.id);
}

/// Defect 6: a create killed between reserving the name and writing the record left
/// `names/bob` and a directory holding only a temp file; the name is not taken forever.
#[test]
fn name_of_a_killed_create_is_free() {
    let t = Tmp::new("killed");
    let store = ContainerStore::open(&t.paths).unwrap();
    let ghost = "e".repeat(64);
    let half = data_dir(&t.paths, &ghost);
    fs::create_dir_all(&half).unwrap();
    fs::write(half.join(".config.json.tmp-999999-0"), b"{").unwrap();
    std::os::unix::fs::symlink(&ghost, t.paths.root.join("containers/names/bob")).unwrap();
    assert!(store.find("bob").is_err());
    let bob = store.create(record("bob")).unwrap();
    assert_eq!(store.find("bob").unwrap().id, bob.id);
    assert!(!half.exists(), "what the killed create left is removed");

    // A create that is still running (it holds its lock) keeps its name.
    let busy = "d".repeat(64);
    fs::create_dir_all(data_dir(&t.paths, &busy)).unwrap();
    std::os::unix::fs::symlink(&busy, t.paths.root.join("containers/names/carol")).unwrap();
    let held = crate::fsutil::Lock::exclusive(&lock_path(&t.paths, &busy)).unwrap();
    assert!(matches!(
        store.create(record("carol")),
        Err(Error::NameInUse { .. })
    ));
    drop(held);
    let carol = store.create(record("carol")).unwrap();
    assert_eq!(store.find("carol").unwrap().id, carol.id);
    assert!(!run_dir(&t.paths, &busy).exists());
}

#[test]
fn live_state_from_run_files() {
    let t = Tmp::new("live");
    let store = ContainerStore::open(&t.paths).unwrap();
    let mut rec = store.create(record("bob")).unwrap();
    assert_eq!(store.live_state(&rec).status, Status::Created);
    // This test process stands in for the container and its monitor.
    let me = std::process::id() as i32;
    let start = pid_start_time(me).unwrap();
    let run = RunState {
        pid: me,
        pid_start: start,
        started_at: time::now_rfc3339(),
        monitor_pid: me,
        monitor_start: start,
        restarting: false,
        boot_id: boot_id().to_string(),
        paused: false,
    };
    write_run_state(&t.paths, &rec.id, &run).unwrap();
    rec.state.status = Status::Running;
    store.save(&store.lock(&rec.id).unwrap(), &rec).unwrap();
    let live = store.live_state(&rec);
    assert_eq!((live.status, live.pid), (Status::Running, me));
    // Pid reused by another process: not running; no exit file and no monitor: -1.
    write_run_state(
        &t.paths,
        &rec.id,
        &RunState {
            pid_start: start + 1,
            monitor_pid: 0,
            ..run.clone()
        },
    )
    .unwrap();
    let live = store.live_state(&rec);
    assert_eq!((live.status, live.exit_code), (Status::Exited, -1));
    write_exit(
        &t.paths,
        &rec.id,
        &ExitInfo {
            exit_code: 3,
            finished_at: time::now_rfc3339(),
        },
    )
    .unwrap();
    assert_eq!(store.live_state(&rec).exit_code, 3);
    // Reboot: the run root is gone.
    fs::remove_dir_all(&t.paths.runroot).unwrap();
    let live = store.live_state(&rec);
    assert_eq!((live.status, live.pid), (Status::Exited, 0));
}

#[test]
fn list_of_100_is_fast() {
    let t = Tmp::new("list");
    let store = ContainerStore::open(&t.paths).unwrap();
    for i in 0..100 {
        store.create(record(&format!("c{i:03}"))).unwrap();
    }
    let started = std::time::Instant::now();
    let all = store.list().unwrap();
    let listed = started.elapsed();
    let started = std::time::Instant::now();
    for rec in &all {
        store.live_state(rec);
    }
    let probed = started.elapsed();
    println!("list of 100: {listed:?}; live_state of 100: {probed:?}");
    assert_eq!(all.len(), 100);
    let created: Vec<_> = all
        .iter()
        .map(|r| time::parse_rfc3339(&r.created).unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(listed.as_millis() < 500, "list took {listed:?}");
}

/// The engine operations as a front end other than the CLI calls them: plain requests in,
/// results out, no clap anywhere.
#[test]
fn engine_operations_without_the_cli() {
    let t = Tmp::new("engine");
    let store = ContainerStore::open(&t.paths).unwrap();
    let a = store.create(record("web")).unwrap();
    let b = store.create(record("db")).unwrap();

    // Stopping a container that does not run only records that the user stopped it.
    stop(&store, &a, &StopRequest::default()).unwrap();
    assert!(store.load(&a.id).unwrap().state.stopped_by_user);
    assert_eq!(wait(&store, &a), 0);

    // kill of a container that does not run is docker's error.
    let sig = parse_signal("TERM").unwrap();
    let err = kill(&store, &a, sig).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "cannot kill container: web: container {} is not running",
            a.id
        )
    );

    // rm of a stopped container, then nothing of it is left.
    remove(&store, &a, RemoveRequest::default()).unwrap();
    assert!(matches!(store.find("web"), Err(Error::NoSuchContainer(_))));
    assert!(!data_dir(&t.paths, &a.id).exists());

    // prune removes what is not running and says which.
    let report = prune(&store).unwrap();
    assert_eq!(report.deleted, vec![b.id.clone()]);
    assert!(store.list().unwrap().is_empty());
}
